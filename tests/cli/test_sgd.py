"""`mfcli sgd`: the result file, every option value, resume, eval/recommend, replay and errors."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numba
import numpy as np
import pytest
import yaml

from mfcli.io import read_matrix
from mfcli.io.results import read_result
from tests.cli.helpers import invoke, run_cli


def _generate_and_split(root: Path, *args: str) -> SimpleNamespace:
    """``mfcli generate ratings`` into root/all.csv, split 70/10/20 (seeded) into root/split."""
    full, parts = root / "all.csv", root / "split"
    made = invoke("generate", "ratings", *args, "--seed", "1", "-o", str(full), "-q")
    assert made.exit_code == 0, made.output
    split = invoke("split", str(full), "-o", str(parts), "--seed", "1", "--validation-frac",
                   "0.1", "-q")  # fmt: skip
    assert split.exit_code == 0, split.output
    return SimpleNamespace(
        full=str(full), train=str(parts / "train.csv"),
        validation=str(parts / "validation.csv"), test=str(parts / "test.csv"),
    )  # fmt: skip


@pytest.fixture(scope="module")
def ratings(tmp_path_factory) -> SimpleNamespace:
    """200 users x 100 items, 4000 ratings 1..5 (rank 3 + noise 0.5) with timestamps."""
    root = tmp_path_factory.mktemp("sgd_ratings")
    return _generate_and_split(root, "--rows", "200", "--cols", "100", "--nnz", "4000", "-k", "3")


@pytest.fixture(scope="module")
def untimed(tmp_path_factory) -> str:
    """Ratings without a timestamp column."""
    path = tmp_path_factory.mktemp("sgd_untimed") / "untimed.csv"
    made = invoke("generate", "ratings", "--rows", "40", "--cols", "30", "--nnz", "300",
                  "--no-timestamps", "-o", str(path), "-q")  # fmt: skip
    assert made.exit_code == 0, made.output
    return str(path)


@pytest.fixture(autouse=True)
def one_thread(monkeypatch):
    """One thread unless a test says --threads (the solver uses one anyway below 20,000
    ratings per thread, but eval and recommend would not)."""
    monkeypatch.setenv("SLURM_CPUS_PER_TASK", "1")


def _fit(tmp_path, *args, name="m.h5"):
    out = tmp_path / name
    result = invoke("sgd", *args, "-o", str(out), "--json")
    assert result.exit_code == 0, result.output
    assert not result.stderr
    return out, json.loads(result.stdout)


def _factors(path):
    result = read_result(path)
    return result.factors["row"], result.factors["col"]


def _same_model(a, b) -> None:
    ra, rb = read_result(a), read_result(b)
    for side in ("row", "col"):
        np.testing.assert_array_equal(ra.factors[side], rb.factors[side])
    assert set(ra.biases) == set(rb.biases)
    for name in ra.biases:
        np.testing.assert_array_equal(ra.biases[name], rb.biases[name])


def _stored_config(path) -> dict:
    return yaml.safe_load(read_result(path).config_yaml)


def _rmse(path, test) -> float:
    scored = invoke("eval", str(path), str(test), "--metrics", "rmse", "--json")
    assert scored.exit_code == 0, scored.output
    return json.loads(scored.stdout)["values"]["rmse"]


# ------------------------------------------------------------ the result file
def test_result_file(tmp_path, ratings):
    out, summary = _fit(tmp_path, ratings.train, "-k", "4")
    matrix = read_matrix(ratings.train)
    result = read_result(out)
    U, V = result.factors["row"], result.factors["col"]
    assert U.shape == (200, 4) and V.shape == (100, 4) and U.dtype == V.dtype == np.float32
    assert result.method == "sgd" and np.isfinite(U).all() and np.isfinite(V).all()
    np.testing.assert_array_equal(result.labels["row"], matrix.row_labels)
    np.testing.assert_array_equal(result.labels["col"], matrix.col_labels)
    np.testing.assert_array_equal(result.train.to_dense(), matrix.to_dense())
    assert result.biases["global"] == pytest.approx(matrix.data.mean(), rel=1e-6)
    assert result.biases["row"].shape == (200,) and result.biases["col"].shape == (100,)
    extra = result.extra["sgd"]
    np.testing.assert_array_equal(extra["clip"], [matrix.data.min(), matrix.data.max()])
    assert extra["global_mean"] == pytest.approx(matrix.data.mean())
    assert extra["epochs"] == extra["best_epoch"] == 20 and "time" not in extra
    history = result.history
    assert set(history) == {"loss", "train_rmse", "lr", "seconds"}
    assert all(len(v) == 20 for v in history.values())
    np.testing.assert_array_equal(history["loss"], history["train_rmse"])
    doc = (Path(__file__).resolve().parents[2] / "docs" / "result-file.md").read_text("utf-8")
    history_doc = doc.split("## `/history`", 1)[1].split("\n## ", 1)[0]
    assert all(f"`{name}`" in history_doc for name in history)  # every series is documented
    assert (np.diff(history["loss"]) < 0).all()  # the default schedule decreases it every epoch
    assert (np.diff(history["seconds"]) >= 0).all()
    # the documented defaults: decay schedule, lr 0.04, decay 0.9
    np.testing.assert_allclose(history["lr"], 0.04 * 0.9 ** np.arange(20))
    assert summary["method"] == "sgd" and summary["k"] == 4 and summary["shape"] == [200, 100]
    assert summary["iterations"] == summary["best_iteration"] == 20
    assert summary["loss"] == pytest.approx(history["loss"][-1]) and summary["nnz"] == 2800
    config = _stored_config(out)
    assert config["command"] == "sgd" and config["model"]["rank"] == 4
    assert config["sgd"]["epochs"] == 20 and config["sgd"]["lr"] is None
    assert result.provenance["input_path"] == ratings.train


def test_table_output_and_quiet(tmp_path, ratings):
    table = invoke("sgd", ratings.train, "-k", "2", "--epochs", "2", "-o", str(tmp_path / "t.h5"))
    assert table.exit_code == 0, table.output
    assert table.stdout.startswith("wrote ") and "training loss" in table.stdout
    quiet = invoke("sgd", ratings.train, "-k", "2", "--epochs", "2", "-q", "-o",
                   str(tmp_path / "q.h5"))  # fmt: skip
    assert quiet.exit_code == 0 and quiet.stdout == "" and (tmp_path / "q.h5").exists()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dtype(tmp_path, ratings, dtype):
    out, _ = _fit(tmp_path, ratings.train, "-k", "3", "--epochs", "2", "--dtype", dtype)
    result = read_result(out)
    assert result.factors["row"].dtype == result.biases["row"].dtype == np.dtype(dtype)


@pytest.mark.parametrize("epochs", ["1", "7"])
def test_epochs(tmp_path, ratings, epochs):
    out, summary = _fit(tmp_path, ratings.train, "-k", "3", "--epochs", epochs)
    result = read_result(out)
    assert summary["iterations"] == result.extra["sgd"]["epochs"] == int(epochs)
    assert all(len(v) == int(epochs) for v in result.history.values())


def test_predictions_are_clipped_to_the_training_range(tmp_path, ratings):
    """eval scores the clipped predictions, as the solver trains them."""
    out, _ = _fit(tmp_path, ratings.train, "-k", "4", "--epochs", "30")
    result = read_result(out)
    low, high = result.extra["sgd"]["clip"]
    assert (low, high) == (1.0, 5.0)
    train = result.train.to_scipy().tocoo()
    U, V = (result.factors[s].astype(np.float64) for s in ("row", "col"))
    b = result.biases
    raw = (np.einsum("ij,ij->i", U[train.row], V[train.col]) + b["global"]
           + b["row"][train.row] + b["col"][train.col])  # fmt: skip
    assert ((raw > high) | (raw < low)).any()  # else the test would prove nothing
    clipped = np.sqrt(np.mean((np.clip(raw, low, high) - train.data) ** 2))
    unclipped = np.sqrt(np.mean((raw - train.data) ** 2))
    assert _rmse(out, ratings.train) == pytest.approx(clipped, rel=1e-5)
    assert clipped < unclipped


def test_empty_rows_and_columns_get_zero_factors(tmp_path):
    path = _write(tmp_path / "holes.mtx", "%%MatrixMarket matrix coordinate real general\n"
                  "5 4 5\n1 1 1\n1 2 2\n3 1 3\n3 2 1\n5 4 4\n")  # fmt: skip
    out, _ = _fit(tmp_path, path, "-k", "2")
    result = read_result(out)
    U, V = _factors(out)
    assert U.shape == (5, 2) and V.shape == (4, 2) and result.labels == {}
    # rows 2 and 4 and column 3 have no ratings: zero factors and biases (they predict mu)
    assert not U[[1, 3]].any() and not V[2].any()
    assert not result.biases["row"][[1, 3]].any() and result.biases["col"][2] == 0
    np.testing.assert_array_equal(result.extra["sgd"]["clip"], [1, 4])


def test_stdin_input(tmp_path):
    text = "user,item,rating\nu1,i1,4\nu1,i2,3\nu2,i1,5\nu2,i3,1\nu3,i2,2\nu3,i3,4\n"
    out = tmp_path / "m.h5"
    result = invoke("sgd", "-", "-k", "2", "--epochs", "3", "-o", str(out), "-q", input=text)
    assert result.exit_code == 0, result.output
    stored = read_result(out)
    assert stored.labels["row"].tolist() == ["u1", "u2", "u3"] and stored.train.nnz == 6


# ------------------------------------------------------------ schedules and steps
@pytest.mark.parametrize("schedule", ["constant", "decay", "adagrad"])
def test_every_schedule(tmp_path, ratings, schedule):
    out, _ = _fit(tmp_path, ratings.train, "-k", "4", "--epochs", "8", "--lr", "0.03",
                  "--schedule", schedule, "--decay", "0.5")  # fmt: skip
    history = read_result(out).history
    if schedule == "decay":
        np.testing.assert_allclose(history["lr"], 0.03 * 0.5 ** np.arange(8))
    else:  # constant: the step; adagrad: the base step of per-parameter steps
        np.testing.assert_allclose(history["lr"], np.full(8, 0.03))
    assert history["loss"][-1] < history["loss"][0] and np.isfinite(history["loss"]).all()
    assert _stored_config(out)["sgd"]["schedule"] == schedule


def test_schedules_differ_and_decay_applies_to_decay_only(tmp_path, ratings):
    common = (ratings.train, "-k", "4", "--epochs", "4", "--lr", "0.03")
    runs = {
        name: _fit(tmp_path, *common, *args, name=f"{name}.h5")[0]
        for name, args in (
            ("constant", ["--schedule", "constant"]),
            ("constant_decay", ["--schedule", "constant", "--decay", "0.5"]),
            ("decay", ["--schedule", "decay"]),
            ("adagrad", ["--schedule", "adagrad"]),
            ("default", []),
        )
    }
    _same_model(runs["constant"], runs["constant_decay"])  # --decay is for --schedule decay
    _same_model(runs["decay"], runs["default"])  # decay is the default
    U = {name: _factors(path)[0] for name, path in runs.items()}
    assert not np.array_equal(U["constant"], U["decay"])
    assert not np.array_equal(U["constant"], U["adagrad"])


def test_lr(tmp_path, ratings):
    out, _ = _fit(tmp_path, ratings.train, "-k", "4", "--epochs", "3", "--lr", "0.01")
    np.testing.assert_allclose(read_result(out).history["lr"], 0.01 * 0.9 ** np.arange(3))
    assert _stored_config(out)["sgd"]["lr"] == 0.01


# ------------------------------------------------------------ regularisation and init
def test_reg_shrinks_the_factors(tmp_path, ratings):
    weak, _ = _fit(tmp_path, ratings.train, "-k", "4", "--reg", "0.01", name="weak.h5")
    strong, _ = _fit(tmp_path, ratings.train, "-k", "4", "--reg", "5", name="strong.h5")
    for w, s in zip(_factors(weak), _factors(strong), strict=True):
        assert np.linalg.norm(s) < 0.1 * np.linalg.norm(w)
    assert _stored_config(strong)["sgd"]["reg"] == 5


def test_reg_bias_shrinks_the_biases(tmp_path, ratings):
    free, _ = _fit(tmp_path, ratings.train, "-k", "4", "--reg-bias", "0", name="free.h5")
    tight, _ = _fit(tmp_path, ratings.train, "-k", "4", "--reg-bias", "5", name="tight.h5")
    for side in ("row", "col"):
        loose_norm = np.linalg.norm(read_result(free).biases[side])
        assert np.linalg.norm(read_result(tight).biases[side]) < 0.5 * loose_norm
    assert _stored_config(tight)["sgd"]["reg_bias"] == 5


def test_reg_power(tmp_path, ratings):
    """reg * n**-reg_power per update: power 0 penalises every update with the full reg."""
    classic, _ = _fit(tmp_path, ratings.train, "-k", "4", "--reg-power", "0", name="p0.h5")
    flat, _ = _fit(tmp_path, ratings.train, "-k", "4", "--reg-power", "1", name="p1.h5")
    default, _ = _fit(tmp_path, ratings.train, "-k", "4", name="pd.h5")
    half, _ = _fit(tmp_path, ratings.train, "-k", "4", "--reg-power", "0.5", name="p05.h5")
    _same_model(default, half)  # 0.5 is the default
    for c, f in zip(_factors(classic), _factors(flat), strict=True):
        assert np.linalg.norm(c) < 0.5 * np.linalg.norm(f)
    assert _stored_config(classic)["sgd"]["reg_power"] == 0


def test_init_scale(tmp_path, ratings):
    # zero initial factors get zero gradients: what is left is the biases-only model
    zero, summary = _fit(tmp_path, ratings.train, "-k", "4", "--init-scale", "0", name="zero.h5")
    U, V = _factors(zero)
    assert not U.any() and not V.any()
    assert np.abs(read_result(zero).biases["row"]).max() > 0.1
    assert _rmse(zero, ratings.test) < 1.0  # the biases alone beat the global mean (~1.1)
    small, _ = _fit(tmp_path, ratings.train, "-k", "4", "--epochs", "1", "--init-scale", "0.05",
                    name="small.h5")  # fmt: skip
    large, _ = _fit(tmp_path, ratings.train, "-k", "4", "--epochs", "1", "--init-scale", "0.5",
                    name="large.h5")  # fmt: skip
    assert np.linalg.norm(_factors(small)[0]) < 0.5 * np.linalg.norm(_factors(large)[0])
    assert _stored_config(small)["sgd"]["init_scale"] == 0.05


def test_biases_flag(tmp_path, ratings):
    default, _ = _fit(tmp_path, ratings.train, "-k", "4", name="default.h5")
    on, _ = _fit(tmp_path, ratings.train, "-k", "4", "--biases", name="on.h5")
    off, summary = _fit(tmp_path, ratings.train, "-k", "4", "--no-biases", name="off.h5")
    _same_model(default, on)
    result = read_result(off)
    # no user or item biases; the global mean stays: the solver fits mu + p_u . q_i
    assert set(result.biases) == {"global"}
    assert result.biases["global"] == pytest.approx(result.extra["sgd"]["global_mean"])
    assert _stored_config(off)["sgd"]["biases"] is False
    # eval scores the model that was trained: the training RMSE it reports, not mu-less scores
    assert _rmse(off, ratings.train) == pytest.approx(summary["loss"], abs=0.1)
    assert _rmse(off, ratings.test) < 1.1


# ------------------------------------------------------------ blocks and determinism
def test_blocks(tmp_path, ratings):
    common = (ratings.train, "-k", "4", "--epochs", "4", "--seed", "2")
    one, _ = _fit(tmp_path, *common, "--blocks", "1", name="one.h5")
    three, _ = _fit(tmp_path, *common, "--blocks", "3", name="three.h5")
    three_again, _ = _fit(tmp_path, *common, "--blocks", "3", name="three_again.h5")
    default, _ = _fit(tmp_path, *common, name="default.h5")
    eight, _ = _fit(tmp_path, *common, "--blocks", "8", name="eight.h5")
    _same_model(three, three_again)
    _same_model(default, eight)
    assert not np.array_equal(_factors(one)[0], _factors(three)[0])  # another (valid) run
    for path in (one, three):
        assert read_result(path).history["loss"][-1] < 1.0
    assert _stored_config(three)["sgd"]["blocks"] == 3


def test_same_seed_same_factors_on_any_thread_count(tmp_path, ratings, monkeypatch):
    """Thread-count invariance, with the threads really used on this small input."""
    import mfcli.kernels.sgd as kern
    import mfcli.solvers.sgd as solver

    monkeypatch.setattr(solver, "MIN_RATINGS_PER_THREAD", 1)
    used = []
    epoch = kern.sgd_epoch

    def counting_epoch(*args):
        used.append(numba.get_num_threads())
        return epoch(*args)

    monkeypatch.setattr(kern, "sgd_epoch", counting_epoch)
    common = (ratings.train, "-k", "5", "--epochs", "5", "--seed", "7", "--blocks", "4")
    a, sa = _fit(tmp_path, *common, "--threads", "1", name="a.h5")
    assert set(used) == {1}
    used.clear()
    b, sb = _fit(tmp_path, *common, "--threads", "2", name="b.h5")
    assert set(used) == {2} and (sa["threads"], sb["threads"]) == (1, 2)
    _same_model(a, b)
    np.testing.assert_array_equal(read_result(a).history["loss"], read_result(b).history["loss"])
    other, _ = _fit(tmp_path, *common[:-4], "--seed", "8", "--blocks", "4", name="c.h5")
    assert not np.array_equal(_factors(a)[0], _factors(other)[0])


# ------------------------------------------------------------ time bins
def test_time_bins(tmp_path, ratings):
    out, summary = _fit(tmp_path, ratings.train, "-k", "4", "--time-bins", "5")
    result = read_result(out)
    time = result.extra["sgd"]["time"]
    assert time["item_bin_bias"].shape == (100, 5) and time["bin_edges"].shape == (6,)
    assert time["user_alpha"].shape == (200,) and time["user_mean_time"].shape == (200,)
    assert np.abs(time["item_bin_bias"]).max() > 0 and float(time["dev_scale"]) > 0
    stamps = read_matrix(ratings.train).timestamps
    np.testing.assert_allclose(time["bin_edges"][[0, -1]], [stamps.min(), stamps.max()])
    assert _stored_config(out)["sgd"]["time_bins"] == 5
    static, _ = _fit(tmp_path, ratings.train, "-k", "4", "--time-bins", "0", name="static.h5")
    assert "time" not in read_result(static).extra["sgd"]
    assert summary["loss"] < read_result(static).history["loss"][-1]  # more parameters
    assert _rmse(out, ratings.test) < 1.0  # eval scores the static part


@pytest.mark.parametrize("which", ["no time column", "time column not selected"])
def test_time_bins_without_timestamps_exit_2(tmp_path, ratings, untimed, which):
    data = [untimed] if which == "no time column" else [ratings.train, "--columns",
                                                        "user,item,rating"]  # fmt: skip
    out = tmp_path / "m.h5"
    result = _fails(2, *data, "-k", "2", "--time-bins", "3", "-o", str(out),
                    contains=("--time-bins 3 needs timestamps", Path(data[0]).name))  # fmt: skip
    assert "--columns user,item,rating,time" in result.stderr
    assert not out.exists()


# ------------------------------------------------------------ validation
def test_validation_patience_keeps_the_best_epoch(tmp_path, ratings):
    common = (ratings.train, "-k", "4", "--lr", "0.1", "--schedule", "constant", "--seed", "1")
    out, summary = _fit(tmp_path, *common, "--epochs", "40", "--validation", ratings.validation,
                        "--patience", "2")  # fmt: skip
    result = read_result(out)
    history = result.history
    n, best = summary["iterations"], summary["best_iteration"]
    assert n < 40
    # one value per epoch in every series: the validation rmse is not mixed into the training one
    assert set(history) == {"loss", "train_rmse", "lr", "seconds", "rmse"}
    assert all(len(v) == n for v in history.values())
    np.testing.assert_array_equal(history["loss"], history["train_rmse"])
    assert best == int(np.argmin(history["rmse"])) + 1 and n == best + 2
    assert result.extra["sgd"]["best_epoch"] == best and result.extra["sgd"]["epochs"] == n
    assert any("early stop" in note for note in summary["notes"])
    assert summary["lines"][-1] == (
        f"validation: rmse {history['rmse'][best - 1]:.4f} at epoch {best} (kept)"
    )
    # the kept model is epoch `best`'s: a plain run of `best` epochs gives it
    plain, _ = _fit(tmp_path, *common, "--epochs", str(best), name="plain.h5")
    _same_model(out, plain)
    assert _rmse(out, ratings.validation) == pytest.approx(history["rmse"][best - 1], rel=1e-6)
    config = _stored_config(out)["sgd"]
    assert config["validation"] == ratings.validation and config["patience"] == 2


@pytest.mark.parametrize(("metric", "higher"), [("mae", False), ("ndcg@10", True)])
def test_metric_choice_without_patience_keeps_the_best_epoch(tmp_path, ratings, metric, higher):
    out, summary = _fit(tmp_path, ratings.train, "-k", "4", "--epochs", "6", "--validation",
                        ratings.validation, "--metric", metric)  # fmt: skip
    history = read_result(out).history
    assert set(history) == {"loss", "train_rmse", "lr", "seconds", metric}
    assert len(history[metric]) == summary["iterations"] == 6  # no patience: every epoch
    pick = np.argmax if higher else np.argmin
    assert summary["best_iteration"] == int(pick(history[metric])) + 1
    assert summary["lines"][-1].startswith(f"validation: {metric} ")


# ------------------------------------------------------------ divergence
def test_too_large_a_step_is_halved_and_says_so(tmp_path, ratings):
    common = (ratings.train, "-k", "4", "--epochs", "5", "--schedule", "constant")
    out, summary = _fit(tmp_path, *common, "--lr", "1", name="big.h5")
    restarts = [note for note in summary["notes"] if "restarted from the initial state" in note]
    assert restarts and "lr=1;" in restarts[0]
    used = read_result(out).history["lr"]
    assert len(used) == 5 and used[0] < 1 and np.isfinite(read_result(out).factors["row"]).all()
    # a restart starts afresh: the same model as a run with the final step from the start
    direct, direct_summary = _fit(tmp_path, *common, "--lr", f"{used[0]:g}", name="direct.h5")
    _same_model(out, direct)
    assert direct_summary["notes"] == []


def test_divergence_exits_4_with_a_hint_and_no_file(tmp_path, ratings):
    out = tmp_path / "m.h5"
    result = _fails(4, ratings.train, "-k", "4", "--lr", "1e6", "-o", str(out),
                    contains=("SGD diverged", "lower --lr"))  # fmt: skip
    assert not out.exists() and not list(tmp_path.glob(".*.tmp"))
    assert "nan" not in result.stderr.lower()


def test_real_process_divergence_is_one_line(tmp_path, ratings):
    out = tmp_path / "m.h5"
    proc = run_cli("sgd", ratings.train, "-k", "2", "--lr", "1e6", "--epochs", "2", "-o",
                   str(out))  # fmt: skip
    assert proc.returncode == 4 and b"lower --lr" in proc.stderr
    assert proc.stderr.decode().count("\n") == 1 and b"Traceback" not in proc.stderr
    assert not out.exists()


# ------------------------------------------------------------ resume
def _write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def test_resume_adds_new_users_and_items(tmp_path, ratings):
    base, _ = _fit(tmp_path, ratings.train, "-k", "4", "--seed", "3", name="base.h5")
    old = read_result(base)
    old_users, old_items = old.labels["row"].tolist(), old.labels["col"].tolist()
    u0, u1 = old_users[0], old_users[1]
    i0, i1 = old_items[0], old_items[1]
    seen = old.train.to_dense()
    rated = int(np.flatnonzero(seen[0])[0])  # an item user 0 rated: the new rating replaces it
    more = _write(tmp_path / "more.csv", "user,item,rating,timestamp\n" + "".join(
        f"{u},{i},{r},1262304000\n" for u, i, r in [
            (u0, old_items[rated], 1), (u0, 9001, 5), (9100, i0, 4), (9100, i1, 2),
            (9100, 9001, 3), (9200, i1, 5), (u1, i1, 3),
        ]
    ))  # fmt: skip
    out, summary = _fit(tmp_path, more, "-k", "4", "--seed", "3", "--resume", str(base),
                        "--epochs", "5", name="resumed.h5")  # fmt: skip
    new = read_result(out)
    assert summary["method"] == f"sgd (resumed from {base})"
    assert summary["shape"] == [202, 101] and summary["nnz"] == 7
    # old ids keep their rows and columns, new ones are appended in order of appearance
    assert new.labels["row"].tolist() == old_users + [9100, 9200]
    assert new.labels["col"].tolist() == old_items + [9001]
    assert new.factors["row"].shape == (202, 4) and new.factors["col"].shape == (101, 4)
    # users and items without new ratings keep their factors and biases exactly
    touched_users, touched_items = {0, 1}, {rated, 0, 1}
    keep_u = [r for r in range(200) if r not in touched_users]
    keep_i = [c for c in range(100) if c not in touched_items]
    np.testing.assert_array_equal(new.factors["row"][keep_u], old.factors["row"][keep_u])
    np.testing.assert_array_equal(new.factors["col"][keep_i], old.factors["col"][keep_i])
    np.testing.assert_array_equal(new.biases["row"][keep_u], old.biases["row"][keep_u])
    assert not np.array_equal(new.factors["row"][0], old.factors["row"][0])
    assert np.abs(new.factors["row"][200:]).min(axis=1).max() > 0  # new rows are fitted
    assert new.biases["global"] == old.biases["global"]  # mu is the model's, kept
    # /train is the union; a new rating of a known pair replaces the old one
    union = new.train.to_dense()
    assert new.train.nnz == old.train.nnz + 6
    np.testing.assert_array_equal(union[2:200, :100], seen[2:])
    assert union[0, rated] == 1 and union[200, 100] == 3 and union[201, 1] == 5
    # the resumed model works end to end, new user included
    listed = invoke("recommend", str(out), "--user", "9100", "-n", "3", "--json")
    assert listed.exit_code == 0, listed.output
    items = [i["item"] for i in json.loads(listed.stdout)["recommendations"][0]["items"]]
    assert len(items) == 3 and not {i0, i1, 9001} & set(items)
    assert _rmse(out, ratings.test) < 1.0
    # and can be resumed again
    again, _ = _fit(tmp_path, more, "-k", "4", "--resume", str(out), "--epochs", "2",
                    name="again.h5")  # fmt: skip
    assert read_result(again).labels["row"].tolist() == old_users + [9100, 9200]


def test_resume_keeps_text_ids_whole(tmp_path):
    base_csv = _write(tmp_path / "base.csv", "user,item,rating\nu1,i1,4\nu1,i2,3\nu2,i1,5\n"
                      "u2,i3,1\nu3,i2,2\nu3,i3,4\n")  # fmt: skip
    base, _ = _fit(tmp_path, base_csv, "-k", "2", name="base.h5")
    # longer ids than any stored one must not be cut to the stored width (u10 -> u1)
    more = _write(tmp_path / "more.csv", "user,item,rating\nu10,i1,5\nu4,i100,3\nu1,i100,2\n")
    out, _ = _fit(tmp_path, more, "-k", "2", "--resume", str(base), name="resumed.h5")
    result = read_result(out)
    assert result.labels["row"].tolist() == ["u1", "u2", "u3", "u10", "u4"]
    assert result.labels["col"].tolist() == ["i1", "i2", "i3", "i100"]
    dense = result.train.to_dense()
    assert dense.shape == (5, 4) and dense[3, 0] == 5 and dense[0, 3] == 2
    np.testing.assert_array_equal(result.factors["row"][1:3], read_result(base).factors["row"][1:3])


def test_resume_matches_numeric_and_text_ids(tmp_path):
    base_csv = _write(tmp_path / "base.csv", "user,item,rating\n5,7,3\n6,8,4\n6,7,2\n")
    base, _ = _fit(tmp_path, base_csv, "-k", "2", name="base.h5")
    # this file's ids are text (one is not a number): "6" is the stored user 6
    more = _write(tmp_path / "more.csv", "user,item,rating\nx1,7,5\n6,x2,1\n")
    out, _ = _fit(tmp_path, more, "-k", "2", "--resume", str(base), name="resumed.h5")
    result = read_result(out)
    assert [str(v) for v in result.labels["row"]] == ["5", "6", "x1"]
    assert [str(v) for v in result.labels["col"]] == ["7", "8", "x2"]
    np.testing.assert_array_equal(result.factors["row"][0], read_result(base).factors["row"][0])
    assert result.train.nnz == 5


def test_resume_errors(tmp_path, ratings):
    out = tmp_path / "m.h5"
    als = tmp_path / "als.h5"
    assert invoke("als", ratings.train, "-k", "2", "--iters", "1", "-o", str(als)).exit_code == 0
    _fails(2, ratings.train, "-k", "2", "--resume", str(als), "-o", str(out),
           contains=("als.h5: ", "cannot resume SGD from a model fitted by als"))  # fmt: skip
    sgd, _ = _fit(tmp_path, ratings.train, "-k", "2", "--epochs", "1", name="sgd.h5")
    _fails(2, ratings.train, "-k", "3", "--resume", str(sgd), "-o", str(out),
           contains=("sgd.h5: ", "rank 2, not 3", "-k 2"))  # fmt: skip
    _fails(66, ratings.train, "-k", "2", "--resume", str(tmp_path / "gone.h5"), "-o", str(out),
           contains=("gone.h5", "no such file"))  # fmt: skip
    _fails(65, ratings.train, "-k", "2", "--resume", ratings.test, "-o", str(out),
           contains=("test.csv", "not an HDF5 file"))  # fmt: skip
    assert not out.exists()


# ------------------------------------------------------------ eval, recommend, replay
def test_model_through_eval_and_recommend(tmp_path, ratings):
    out, _ = _fit(tmp_path, ratings.train, "-k", "4")
    scored = invoke("eval", str(out), ratings.test, "--metrics", "rmse,mae,ndcg@10", "--json")
    assert scored.exit_code == 0, scored.output
    report = json.loads(scored.stdout)
    assert report["values"]["rmse"] < 0.9  # noise sd 0.5; the global mean alone ~1.1
    assert report["values"]["mae"] < report["values"]["rmse"]
    result = read_result(out)
    user = result.labels["row"][3]
    listed = invoke("recommend", str(out), "--user", str(user), "-n", "5", "--json")
    assert listed.exit_code == 0, listed.output
    items = json.loads(listed.stdout)["recommendations"][0]["items"]
    b = result.biases
    x_u = result.factors["row"][3].astype(np.float64)
    scores = x_u @ result.factors["col"].T + b["global"] + b["row"][3] + b["col"]
    scores[result.train.to_dense()[3] != 0] = -np.inf
    expected = result.labels["col"][np.argsort(-scores, kind="stable")[:5]]
    assert [i["item"] for i in items] == expected.tolist()


def test_print_config_and_replay(tmp_path, ratings):
    flags = ("-k", "3", "--lr", "0.02", "--reg", "0.5", "--reg-bias", "0.1", "--reg-power",
             "0.3", "--epochs", "5", "--schedule", "decay", "--decay", "0.8", "--init-scale",
             "0.05", "--blocks", "3", "--seed", "4", "--time-bins", "2")  # fmt: skip
    printed = invoke("sgd", ratings.train, *flags, "--print-config", "-o", str(tmp_path / "p.h5"))
    assert printed.exit_code == 0, printed.output
    assert not (tmp_path / "p.h5").exists()
    config = yaml.safe_load(printed.stdout)
    assert config["command"] == "sgd"
    assert config["sgd"] | {"resume": None} == {
        "lr": 0.02, "reg": 0.5, "reg_bias": 0.1, "reg_power": 0.3, "epochs": 5,
        "schedule": "decay", "decay": 0.8, "init_scale": 0.05, "biases": True, "blocks": 3,
        "time_bins": 2, "resume": None, "validation": None, "metric": None, "patience": None,
    }  # fmt: skip
    run_yaml = tmp_path / "run.yaml"
    run_yaml.write_text(printed.stdout)
    from_yaml = tmp_path / "from_yaml.h5"
    replay = invoke("sgd", "--config", str(run_yaml), "-o", str(from_yaml), "-q")
    assert replay.exit_code == 0, replay.output
    direct, _ = _fit(tmp_path, ratings.train, *flags, name="direct.h5")
    _same_model(direct, from_yaml)
    again = tmp_path / "again.h5"
    assert invoke("sgd", "--config", str(direct), "-o", str(again), "-q").exit_code == 0
    _same_model(direct, again)
    np.testing.assert_array_equal(
        read_result(direct).extra["sgd"]["time"]["item_bin_bias"],
        read_result(again).extra["sgd"]["time"]["item_bin_bias"],
    )
    shorter = tmp_path / "shorter.h5"
    changed = invoke("sgd", "--config", str(direct), "--set", "sgd.epochs=2", "-o", str(shorter),
                     "-q")  # fmt: skip
    assert changed.exit_code == 0 and len(read_result(shorter).history["loss"]) == 2
    before = direct.read_bytes()
    clash = invoke("sgd", "--config", str(direct))
    assert clash.exit_code == 73 and "output exists" in clash.stderr
    assert direct.read_bytes() == before


# ------------------------------------------------------------ errors
def _fails(code: int, *args, contains=()):
    result = invoke("sgd", *args)
    assert result.exit_code == code, result.output
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert "Traceback" not in result.output
    for text in contains:
        assert text in result.stderr, result.stderr
    return result


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--patience", "2", "-o", "x.h5"], "sgd.patience needs a validation file"),
        (["-k", "3"], "no output file given"),
        (["--schedule", "cosine", "-o", "x.h5"], "expected one of constant, decay, adagrad"),
        (["--decay", "1.5", "-o", "x.h5"], "sgd.decay (--decay) must be at most 1"),
        (["--decay", "0", "-o", "x.h5"], "sgd.decay: must be > 0, got 0.0"),
        (["--set", "sgd.decay=0", "-o", "x.h5"], "sgd.decay: must be > 0, got 0.0"),
        (["--lr", "0", "-o", "x.h5"], "sgd.lr: must be > 0, got 0.0"),
        (["--lr", "-1", "-o", "x.h5"], "sgd.lr: must be > 0"),
        (["--reg", "-1", "-o", "x.h5"], "sgd.reg: must be >= 0"),
        (["--reg-bias", "-1", "-o", "x.h5"], "sgd.reg_bias: must be >= 0"),
        (["--reg-power", "-1", "-o", "x.h5"], "sgd.reg_power: must be >= 0"),
        (["--init-scale", "-1", "-o", "x.h5"], "sgd.init_scale: must be >= 0"),
        (["--epochs", "0", "-o", "x.h5"], "sgd.epochs: must be >= 1"),
        (["--blocks", "0", "-o", "x.h5"], "sgd.blocks: must be >= 1"),
        (["--time-bins", "-1", "-o", "x.h5"], "sgd.time_bins: must be >= 0"),
        (["--patience", "0", "-o", "x.h5"], "sgd.patience: must be >= 1"),
        (["--metric", "foo", "--validation", "VALID", "-o", "x.h5"], "unknown metric 'foo'"),
        (["-k", "0", "-o", "x.h5"], "must be >= 1"),
    ],
)
def test_usage_errors_exit_2(tmp_path, monkeypatch, ratings, args, message):
    monkeypatch.chdir(tmp_path)
    args = [ratings.validation if a == "VALID" else a for a in args]
    _fails(2, ratings.train, *args, contains=(message,))
    assert not (tmp_path / "x.h5").exists()


def test_input_errors(tmp_path, ratings):
    out = tmp_path / "m.h5"
    missing = str(tmp_path / "none.csv")
    _fails(66, missing, "-k", "2", "-o", str(out), contains=("none.csv", "no such file"))
    _fails(66, ratings.train, "-k", "2", "-o", str(out), "--validation", missing,
           contains=("none.csv",))  # fmt: skip
    bad = _write(tmp_path / "bad.csv", "user,item,rating\n1,2,3\n2,3,x\n")
    _fails(65, bad, "-k", "1", "-o", str(out), contains=("bad.csv:3",))
    nan = _write(tmp_path / "nan.csv", "user,item,rating\nu1,i1,nan\nu2,i7,2\n")
    _fails(65, nan, "-k", "1", "-o", str(out), contains=("nan.csv: ", "NaN or infinite"))
    empty = _write(tmp_path / "empty.csv", "user,item,rating\n")
    _fails(65, empty, "-k", "1", "-o", str(out), contains=("empty.csv",))
    assert not out.exists() and not list(tmp_path.glob(".*.tmp"))


def test_output_exists_is_not_clobbered(tmp_path, ratings):
    out, _ = _fit(tmp_path, ratings.train, "-k", "2", "--epochs", "1")
    before = out.read_bytes()
    exists = _fails(73, ratings.train, "-k", "3", "-o", str(out), contains=("m.h5", "--force"))
    assert "output exists" in exists.stderr and out.read_bytes() == before
    forced = invoke("sgd", ratings.train, "-k", "3", "--epochs", "1", "-o", str(out), "--force")
    assert forced.exit_code == 0 and read_result(out).factors["row"].shape[1] == 3
    _fails(73, ratings.train, "-k", "2", "-o", str(tmp_path / "no" / "dir" / "m.h5"))


def test_help_texts_match_the_model():
    sgd_help = invoke("sgd", "--help").stdout
    assert "--no-biases: mu + p_u . q_i" in " ".join(sgd_help.split())
    assert "best epoch's model is kept" in " ".join(sgd_help.split())
    rec = " ".join(invoke("recommend", "--help").stdout.split())
    assert "sgd: the ridge solution for the user's factors and bias" in rec
