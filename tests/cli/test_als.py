"""`mfcli als`: the result file, every option value, eval/recommend, replay and errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import yaml

from mfcli.io import read_matrix
from mfcli.io.results import read_result
from tests.cli.helpers import invoke, run_cli


def _generate_and_split(root: Path, kind: str, *args: str) -> SimpleNamespace:
    """``mfcli generate KIND`` into root/all.csv, split 70/10/20 (seeded) into root/split."""
    full, parts = root / "all.csv", root / "split"
    made = invoke("generate", kind, *args, "--seed", "1", "-o", str(full), "-q")
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
    root = tmp_path_factory.mktemp("als_ratings")
    return _generate_and_split(root, "ratings", "--rows", "200", "--cols", "100", "--nnz",
                               "4000", "-k", "3")  # fmt: skip


@pytest.fixture(scope="module")
def clicks(tmp_path_factory) -> SimpleNamespace:
    """150 users x 80 items, 2000 interaction counts."""
    root = tmp_path_factory.mktemp("als_implicit")
    return _generate_and_split(root, "implicit", "--rows", "150", "--cols", "80", "--nnz", "2000")


@pytest.fixture(autouse=True)
def one_thread(monkeypatch):
    """One thread unless a test says --threads: on a loaded machine every parallel region
    of these tiny fits waits for a descheduled thread (100x slower than one thread)."""
    monkeypatch.setenv("SLURM_CPUS_PER_TASK", "1")


def _fit(tmp_path, *args, name="m.h5"):
    out = tmp_path / name
    result = invoke("als", *args, "-o", str(out), "--json")
    assert result.exit_code == 0, result.output
    assert not result.stderr
    return out, json.loads(result.stdout)


def _factors(path):
    result = read_result(path)
    return result.factors["row"], result.factors["col"]


def _same_factors(a, b) -> None:
    for x, y in zip(_factors(a), _factors(b), strict=True):
        np.testing.assert_array_equal(x, y)


def _stored_config(path) -> dict:
    return yaml.safe_load(read_result(path).config_yaml)


def _transposed_csv(src: str, dst: Path) -> str:
    """The same triplets with the user and item columns swapped (items x users)."""
    with open(src, newline="") as f:
        rows = list(csv.reader(f))
    with open(dst, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["item", "user", *rows[0][2:]])
        out.writerows([r[1], r[0], *r[2:]] for r in rows[1:])
    return str(dst)


# ------------------------------------------------------------ the result file
def test_explicit_result_file(tmp_path, ratings):
    out, summary = _fit(tmp_path, ratings.train, "-k", "4")
    matrix = read_matrix(ratings.train)
    result = read_result(out)
    U, V = result.factors["row"], result.factors["col"]
    assert U.shape == (200, 4) and V.shape == (100, 4) and U.dtype == V.dtype == np.float32
    assert np.isfinite(U).all() and np.isfinite(V).all()
    assert result.method == "als" and set(result.factors) == {"row", "col"}
    np.testing.assert_array_equal(result.labels["row"], matrix.row_labels)
    np.testing.assert_array_equal(result.labels["col"], matrix.col_labels)
    np.testing.assert_array_equal(result.train.to_dense(), matrix.to_dense())
    # the global bias is the mean stored rating, held fixed
    assert result.biases["global"] == pytest.approx(matrix.data.mean(), rel=1e-6)
    assert result.biases["row"].shape == (200,) and result.biases["col"].shape == (100,)
    history = result.history
    assert set(history) == {"loss", "seconds"}
    assert len(history["loss"]) == len(history["seconds"]) == 15 == summary["iterations"]
    assert (np.diff(history["seconds"]) >= 0).all()
    assert history["loss"][-1] < history["loss"][0]
    assert summary["loss"] == pytest.approx(history["loss"][-1])
    extra = result.extra["als"]
    assert extra["reg"] == 0.1 and extra["reg_scaling"] == "count"
    assert extra["iterations"] == extra["best_iteration"] == 15
    assert summary["method"] == "als (explicit, cg)" and summary["k"] == 4
    assert summary["shape"] == [200, 100] and summary["nnz"] == matrix.nnz == 2800
    config = _stored_config(out)
    assert config["command"] == "als" and config["model"]["rank"] == 4
    assert config["als"]["implicit"] is False and config["als"]["iters"] == 15
    assert config["output"]["path"] == str(out)
    assert result.provenance["input_path"] == ratings.train
    assert result.provenance["input_nnz"] == 2800


def test_table_output_and_quiet(tmp_path, ratings):
    table = invoke("als", ratings.train, "-k", "2", "--iters", "2", "-o", str(tmp_path / "t.h5"))
    assert table.exit_code == 0, table.output
    assert table.stdout.startswith("wrote ") and "training loss" in table.stdout
    quiet = invoke("als", ratings.train, "-k", "2", "--iters", "2", "-q", "-o",
                   str(tmp_path / "q.h5"))  # fmt: skip
    assert quiet.exit_code == 0 and quiet.stdout == "" and (tmp_path / "q.h5").exists()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dtype(tmp_path, ratings, dtype):
    out, _ = _fit(tmp_path, ratings.train, "-k", "3", "--iters", "3", "--dtype", dtype)
    result = read_result(out)
    assert result.factors["row"].dtype == result.factors["col"].dtype == np.dtype(dtype)
    assert result.history["loss"].dtype == np.float64  # losses always in float64


@pytest.mark.parametrize("iters", ["1", "4"])
def test_iters(tmp_path, ratings, iters):
    out, summary = _fit(tmp_path, ratings.train, "-k", "3", "--iters", iters)
    result = read_result(out)
    assert len(result.history["loss"]) == summary["iterations"] == int(iters)
    assert result.extra["als"]["iterations"] == int(iters)


# rows 2 and 4 and column 3 are empty
HOLES = "%%MatrixMarket matrix coordinate real general\n5 4 5\n1 1 1\n1 2 2\n3 1 3\n3 2 1\n5 4 4\n"


@pytest.mark.parametrize("implicit", [False, True])
def test_empty_rows_and_columns_get_zero_factors(tmp_path, implicit):
    path = tmp_path / "holes.mtx"
    path.write_text(HOLES)
    flags = ["--implicit"] if implicit else []
    out, _ = _fit(tmp_path, str(path), "-k", "2", *flags, "--dtype", "float64")
    result = read_result(out)
    U, V = _factors(out)
    assert U.shape == (5, 2) and V.shape == (4, 2)
    assert np.isfinite(U).all() and np.isfinite(V).all()
    assert not U[[1, 3]].any() and not V[2].any()
    assert result.labels == {}  # a Matrix Market file has no ids
    if not implicit:
        assert not result.biases["row"][[1, 3]].any() and result.biases["col"][2] == 0


def test_stdin_input(tmp_path):
    text = "user,item,rating\nu1,i1,4\nu1,i2,3\nu2,i1,5\nu2,i3,1\nu3,i2,2\nu3,i3,4\n"
    out = tmp_path / "m.h5"
    result = invoke("als", "-", "-k", "2", "--iters", "3", "-o", str(out), "-q", input=text)
    assert result.exit_code == 0, result.output
    stored = read_result(out)
    assert stored.labels["row"].tolist() == ["u1", "u2", "u3"] and stored.train.nnz == 6


# ------------------------------------------------------------ solvers
@pytest.mark.parametrize("implicit", [False, True])
def test_cholesky_loss_never_increases(tmp_path, ratings, clicks, implicit):
    data = clicks.train if implicit else ratings.train
    flags = ["--implicit"] if implicit else []
    out, summary = _fit(tmp_path, data, "-k", "4", *flags, "--solver", "cholesky",
                        "--dtype", "float64", "--iters", "8")  # fmt: skip
    loss = read_result(out).history["loss"]
    assert len(loss) == 8 and np.isfinite(loss).all()
    assert (np.diff(loss) <= 1e-9 * np.abs(loss[:-1])).all()
    assert summary["method"] == f"als ({'implicit' if implicit else 'explicit'}, cholesky)"
    assert _stored_config(out)["als"]["solver"] == "cholesky"


def test_cg_steps_converge_to_the_exact_solve(tmp_path, ratings):
    """k + 1 = 5 unknowns per row: CG in float64 is exact after 5 steps, not after 1."""
    common = (ratings.train, "-k", "4", "--dtype", "float64", "--iters", "5")
    exact, _ = _fit(tmp_path, *common, "--solver", "cholesky", name="exact.h5")
    many, _ = _fit(tmp_path, *common, "--solver", "cg", "--cg-steps", "12", name="many.h5")
    one, _ = _fit(tmp_path, *common, "--cg-steps", "1", name="one.h5")
    default, _ = _fit(tmp_path, *common, name="default.h5")
    three, _ = _fit(tmp_path, *common, "--cg-steps", "3", name="three.h5")
    _same_factors(default, three)  # the default is 3 steps
    loss = {p.stem: read_result(p).history["loss"][-1] for p in (exact, many, one)}
    assert loss["many"] == pytest.approx(loss["exact"], rel=1e-8)
    assert abs(loss["one"] - loss["exact"]) > 1e-3 * loss["exact"]
    for x, y in zip(_factors(many), _factors(exact), strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-7)
    assert _stored_config(one)["als"]["cg_steps"] == 1


# ------------------------------------------------------------ regularisation
@pytest.mark.parametrize("implicit", [False, True])
@pytest.mark.parametrize("scaling", ["none", "count", "auto"])
def test_reg_scaling_values(tmp_path, ratings, clicks, implicit, scaling):
    data = clicks.train if implicit else ratings.train
    flags = ["--implicit"] if implicit else []
    out, summary = _fit(tmp_path, data, "-k", "3", "--iters", "3", *flags,
                        "--reg-scaling", scaling)  # fmt: skip
    resolved = scaling if scaling != "auto" else ("none" if implicit else "count")
    default_reg = 0.01 if implicit else 0.1
    assert summary["reg_scaling"] == resolved and summary["reg"] == default_reg
    extra = read_result(out).extra["als"]
    assert extra["reg_scaling"] == resolved and extra["reg"] == default_reg
    assert _stored_config(out)["als"]["reg_scaling"] == scaling  # as given; resolved in /als


@pytest.mark.parametrize("implicit", [False, True])
def test_auto_scaling_is_the_documented_one(tmp_path, ratings, clicks, implicit):
    data = clicks.train if implicit else ratings.train
    flags = ["--implicit"] if implicit else []
    common = (data, "-k", "3", "--iters", "3", *flags)
    auto, _ = _fit(tmp_path, *common, name="auto.h5")
    count, _ = _fit(tmp_path, *common, "--reg-scaling", "count", name="count.h5")
    none, _ = _fit(tmp_path, *common, "--reg-scaling", "none", name="none.h5")
    _same_factors(auto, none if implicit else count)
    assert not np.array_equal(_factors(count)[0], _factors(none)[0])


def test_reg_shrinks_the_factors(tmp_path, ratings):
    common = (ratings.train, "-k", "4", "--iters", "5", "--reg-scaling", "none")
    weak, s_weak = _fit(tmp_path, *common, "--reg", "0.01", name="weak.h5")
    strong, s_strong = _fit(tmp_path, *common, "--reg", "100", name="strong.h5")
    assert s_weak["reg"] == 0.01 and s_strong["reg"] == 100
    for w, s in zip(_factors(weak), _factors(strong), strict=True):
        assert np.linalg.norm(s) < 0.2 * np.linalg.norm(w)
    assert (
        np.abs(read_result(strong).biases["row"]).max()
        < np.abs(read_result(weak).biases["row"]).max()
    )
    assert read_result(strong).extra["als"]["reg"] == 100


def test_biases_flag(tmp_path, ratings):
    common = (ratings.train, "-k", "4", "--iters", "5")
    default, _ = _fit(tmp_path, *common, name="default.h5")
    on, _ = _fit(tmp_path, *common, "--biases", name="on.h5")
    off, _ = _fit(tmp_path, *common, "--no-biases", name="off.h5")
    _same_factors(default, on)
    assert set(read_result(on).biases) == {"global", "row", "col"}
    assert read_result(off).biases == {}  # r ~ x_u . y_i: no global mean either
    assert _stored_config(off)["als"]["biases"] is False
    # the result scores like the model it claims: eval on the training file is a good fit
    for path in (on, off):
        scored = invoke("eval", str(path), ratings.train, "--metrics", "rmse", "--json")
        assert scored.exit_code == 0, scored.output
        assert json.loads(scored.stdout)["values"]["rmse"] < 0.6  # ratings' noise sd is 0.5


# ------------------------------------------------------------ implicit feedback
def test_implicit_defaults(tmp_path, clicks):
    out, summary = _fit(tmp_path, clicks.train, "-k", "4", "--implicit", "--iters", "5")
    result = read_result(out)
    matrix = read_matrix(clicks.train)
    assert summary["method"] == "als (implicit, cg)"
    assert summary["reg"] == 0.01 and summary["reg_scaling"] == "none"
    assert result.biases == {}  # implicit ALS has no biases
    assert result.factors["row"].shape == (matrix.shape[0], 4)
    assert result.factors["col"].shape == (matrix.shape[1], 4)
    assert result.train.nnz == matrix.nnz
    config = _stored_config(out)["als"]
    assert config["implicit"] is True and config["confidence"] == "linear"
    assert config["alpha"] == 1.0 and config["eps"] == 1.0


def test_confidence_alpha_and_eps(tmp_path, clicks):
    common = (clicks.train, "-k", "4", "--implicit", "--iters", "4", "--dtype", "float64")
    linear, _ = _fit(tmp_path, *common, "--alpha", "5", name="linear.h5")
    linear_eps, _ = _fit(tmp_path, *common, "--alpha", "5", "--eps", "0.25", name="le.h5")
    log, _ = _fit(tmp_path, *common, "--alpha", "5", "--confidence", "log", name="log.h5")
    log_eps, _ = _fit(tmp_path, *common, "--alpha", "5", "--confidence", "log", "--eps",
                      "0.25", name="log_eps.h5")  # fmt: skip
    explicit_linear, _ = _fit(tmp_path, *common, "--alpha", "5", "--confidence", "linear",
                              name="el.h5")  # fmt: skip
    _same_factors(linear, linear_eps)  # eps only enters the log confidence
    linear_eps0, _ = _fit(tmp_path, *common, "--alpha", "5", "--eps", "0", name="le0.h5")
    _same_factors(linear, linear_eps0)  # ... and is only checked there
    _same_factors(linear, explicit_linear)  # linear is the default
    U = {p.stem: _factors(p)[0] for p in (linear, log, log_eps)}
    assert not np.array_equal(U["linear"], U["log"])
    assert not np.array_equal(U["log"], U["log_eps"])
    config = _stored_config(log_eps)["als"]
    assert config["confidence"] == "log" and config["eps"] == 0.25 and config["alpha"] == 5.0
    # alpha 0: confidence 1 everywhere, whichever formula
    zero_linear, _ = _fit(tmp_path, *common, "--alpha", "0", name="z1.h5")
    zero_log, _ = _fit(tmp_path, *common, "--alpha", "0", "--confidence", "log", name="z2.h5")
    _same_factors(zero_linear, zero_log)
    assert not np.array_equal(_factors(zero_linear)[0], U["linear"])


# ------------------------------------------------------------ validation
def test_validation_patience_keeps_the_best_iteration(tmp_path, ratings):
    # almost no regularisation: rank 6 on 2800 ratings overfits after a few iterations
    common = (ratings.train, "-k", "6", "--reg", "0.001", "--seed", "2")
    out, summary = _fit(tmp_path, *common, "--iters", "40", "--validation", ratings.validation,
                        "--patience", "2")  # fmt: skip
    result = read_result(out)
    rmse = result.history["rmse"]
    n, best = summary["iterations"], summary["best_iteration"]
    assert n < 40 and len(rmse) == len(result.history["loss"]) == n
    assert best == int(np.argmin(rmse)) + 1 and n == best + 2
    assert result.extra["als"]["best_iteration"] == best
    assert result.extra["als"]["iterations"] == n
    assert any("early stop" in note for note in summary["notes"])
    assert f"at iteration {best} (kept)" in summary["lines"][-1]
    # the kept factors are those of iteration `best`: the same as a plain run of `best` iterations
    plain, _ = _fit(tmp_path, *common, "--iters", str(best), name="plain.h5")
    _same_factors(out, plain)
    # and eval scores them as the history says
    scored = invoke("eval", str(out), ratings.validation, "--metrics", "rmse", "--json")
    assert json.loads(scored.stdout)["values"]["rmse"] == pytest.approx(rmse[best - 1], rel=1e-5)
    config = _stored_config(out)["als"]
    assert config["validation"] == ratings.validation and config["patience"] == 2


def test_validation_without_patience_runs_every_iteration_and_keeps_the_best(tmp_path, ratings):
    # as with --patience (and as sgd does): the best validated iteration is kept
    common = (ratings.train, "-k", "6", "--reg", "0.001", "--seed", "2")
    out, summary = _fit(tmp_path, *common, "--iters", "12", "--validation", ratings.validation)
    history = read_result(out).history
    assert set(history) == {"loss", "seconds", "rmse"}
    assert len(history["rmse"]) == 12 and summary["iterations"] == 12
    best = summary["best_iteration"]
    assert best == int(np.argmin(history["rmse"])) + 1 and best < 12  # it overfits
    assert not any("early stop" in note for note in summary["notes"])
    assert any(f"iteration {best} kept" in note for note in summary["notes"])
    plain, _ = _fit(tmp_path, *common, "--iters", str(best), name="plain.h5")
    _same_factors(out, plain)


def test_validation_metric_series_implicit(tmp_path, clicks):
    out, summary = _fit(tmp_path, clicks.train, "-k", "4", "--implicit", "--iters", "4",
                        "--validation", clicks.validation)  # fmt: skip
    history = read_result(out).history
    assert set(history) == {"loss", "seconds", "ndcg@10"}  # implicit's default metric
    assert len(history["ndcg@10"]) == 4 and np.isfinite(history["ndcg@10"]).all()
    assert summary["iterations"] == 4
    assert summary["best_iteration"] == int(np.argmax(history["ndcg@10"])) + 1


@pytest.mark.parametrize(("implicit", "metric"), [(False, "mae"), (True, "precision@5")])
def test_metric_choice(tmp_path, ratings, clicks, implicit, metric):
    data = clicks if implicit else ratings
    flags = ["--implicit"] if implicit else []
    out, summary = _fit(tmp_path, data.train, "-k", "4", *flags, "--iters", "6",
                        "--validation", data.validation, "--metric", metric,
                        "--patience", "1")  # fmt: skip
    values = read_result(out).history[metric]
    best = summary["best_iteration"]
    pick = np.argmax if implicit else np.argmin  # precision: higher is better; mae: lower
    assert best == int(pick(values)) + 1
    assert summary["lines"][-1].startswith(f"validation: {metric} ")


def test_transpose_gives_the_same_model(tmp_path, ratings):
    train_t = _transposed_csv(ratings.train, tmp_path / "train_t.csv")
    valid_t = _transposed_csv(ratings.validation, tmp_path / "valid_t.csv")
    common = ("-k", "4", "--iters", "4", "--seed", "3")
    plain, _ = _fit(tmp_path, ratings.train, *common, "--validation", ratings.validation,
                    name="plain.h5")  # fmt: skip
    flipped, summary = _fit(tmp_path, train_t, *common, "--transpose", "--validation", valid_t,
                            name="flipped.h5")  # fmt: skip
    a, b = read_result(plain), read_result(flipped)
    assert summary["shape"] == [200, 100]  # users x items, after the transpose
    _same_factors(plain, flipped)
    for side in ("row", "col"):
        np.testing.assert_array_equal(a.labels[side], b.labels[side])
        np.testing.assert_array_equal(a.biases[side], b.biases[side])
    np.testing.assert_array_equal(a.train.to_dense(), b.train.to_dense())
    np.testing.assert_array_equal(a.history["rmse"], b.history["rmse"])
    assert _stored_config(flipped)["als"]["transpose"] is True


# ------------------------------------------------------------ determinism and replay
@pytest.mark.parametrize("implicit", [False, True])
def test_same_seed_same_factors_on_any_thread_count(
    tmp_path, ratings, clicks, implicit, monkeypatch
):
    import mfcli.solvers.als as solver

    monkeypatch.setattr(solver, "MIN_WORK_PER_THREAD", 1)  # really 2 threads on tiny data
    data = clicks.train if implicit else ratings.train
    flags = ["--implicit"] if implicit else []
    common = (data, "-k", "5", "--iters", "4", "--seed", "7", *flags)
    a, sa = _fit(tmp_path, *common, "--threads", "1", name="a.h5")
    b, sb = _fit(tmp_path, *common, "--threads", "2", name="b.h5")
    assert (sa["threads"], sb["threads"]) == (1, 2)
    _same_factors(a, b)
    np.testing.assert_array_equal(read_result(a).history["loss"], read_result(b).history["loss"])
    other, _ = _fit(tmp_path, data, "-k", "5", "--iters", "4", "--seed", "8", *flags, name="c.h5")
    assert not np.array_equal(_factors(a)[0], _factors(other)[0])


def test_print_config_and_replay(tmp_path, clicks):
    flags = ("-k", "3", "--implicit", "--confidence", "log", "--eps", "2", "--alpha", "4",
             "--solver", "cholesky", "--iters", "3", "--seed", "5")  # fmt: skip
    printed = invoke("als", clicks.train, *flags, "--print-config", "-o", str(tmp_path / "p.h5"))
    assert printed.exit_code == 0, printed.output
    assert not (tmp_path / "p.h5").exists()  # printing runs nothing
    config = yaml.safe_load(printed.stdout)
    assert config["command"] == "als" and config["model"]["rank"] == 3
    assert config["als"]["confidence"] == "log" and config["als"]["eps"] == 2.0
    run_yaml = tmp_path / "run.yaml"
    run_yaml.write_text(printed.stdout)
    from_yaml = tmp_path / "from_yaml.h5"
    replay = invoke("als", "--config", str(run_yaml), "-o", str(from_yaml), "-q")
    assert replay.exit_code == 0, replay.output
    direct, _ = _fit(tmp_path, clicks.train, *flags, name="direct.h5")
    _same_factors(direct, from_yaml)
    # a result file replays its own run
    again = tmp_path / "again.h5"
    assert invoke("als", "--config", str(direct), "-o", str(again), "-q").exit_code == 0
    _same_factors(direct, again)
    # --set overrides the replayed config
    shorter = tmp_path / "shorter.h5"
    changed = invoke("als", "--config", str(direct), "--set", "als.iters=2", "-o", str(shorter),
                     "-q")  # fmt: skip
    assert changed.exit_code == 0 and len(read_result(shorter).history["loss"]) == 2
    # without -o the replay targets the original output, which it must not clobber
    before = direct.read_bytes()
    clash = invoke("als", "--config", str(direct))
    assert clash.exit_code == 73 and "output exists" in clash.stderr
    assert direct.read_bytes() == before


# ------------------------------------------------------------ eval and recommend
def test_explicit_model_through_eval_and_recommend(tmp_path, ratings):
    out, _ = _fit(tmp_path, ratings.train, "-k", "3", "--seed", "1")
    scored = invoke("eval", str(out), ratings.test, "--metrics", "rmse,mae,ndcg@10", "--json")
    assert scored.exit_code == 0, scored.output
    report = json.loads(scored.stdout)
    assert report["values"]["rmse"] < 0.9  # noise sd 0.5; the mean alone scores about 1.1
    assert report["excluded_training"] is True and report["unseen_entries"] == 0
    result = read_result(out)
    user = result.labels["row"][0]
    listed = invoke("recommend", str(out), "--user", str(user), "-n", "5", "--json")
    assert listed.exit_code == 0, listed.output
    items = json.loads(listed.stdout)["recommendations"][0]["items"]
    # the naive twin: mu + b_u + b_i + x_u . y_i, training items left out
    b = result.biases
    x_u = result.factors["row"][0].astype(np.float64)
    scores = x_u @ result.factors["col"].T + b["global"] + b["row"][0] + b["col"]
    seen = result.train.to_dense()[0] != 0
    scores[seen] = -np.inf
    expected = result.labels["col"][np.argsort(-scores, kind="stable")[:5]]
    assert [i["item"] for i in items] == expected.tolist()
    np.testing.assert_allclose([i["score"] for i in items], np.sort(scores)[::-1][:5], rtol=1e-5)


def test_implicit_model_through_eval_and_recommend(tmp_path, clicks):
    out, _ = _fit(tmp_path, clicks.train, "-k", "4", "--implicit", "--alpha", "10")
    scored = invoke("eval", str(out), clicks.test, "--metrics", "ndcg@10,auc", "--json")
    assert scored.exit_code == 0, scored.output
    values = json.loads(scored.stdout)["values"]
    assert values["auc"] > 0.6 and values["ndcg@10"] > 0.15  # random: auc 0.5, ndcg ~0.06
    listed = invoke("recommend", str(out), "--all", "-n", "3", "-o", str(tmp_path / "r.csv"))
    assert listed.exit_code == 0, listed.output
    with open(tmp_path / "r.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    result = read_result(out)
    assert len(rows) == 3 * result.factors["row"].shape[0]
    train = result.train.to_dense() != 0
    users = {str(u): i for i, u in enumerate(result.labels["row"])}
    items = {str(v): j for j, v in enumerate(result.labels["col"])}
    assert not any(train[users[r["user"]], items[r["item"]]] for r in rows)  # seen excluded


# ------------------------------------------------------------ errors
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--patience", "2", "-o", "x.h5"], "als.patience needs a validation file"),
        (["-k", "3"], "no output file given"),
        (["--solver", "lu", "-o", "x.h5"], "expected one of cg, cholesky"),
        (["--confidence", "exp", "-o", "x.h5"], "expected one of linear, log"),
        (["--reg-scaling", "all", "-o", "x.h5"], "expected one of auto, none, count"),
        (["--cg-steps", "0", "-o", "x.h5"], "als.cg_steps: must be >= 1"),
        (["--iters", "0", "-o", "x.h5"], "als.iters: must be >= 1"),
        (["--reg", "-1", "-o", "x.h5"], "als.reg: must be >= 0"),
        (["--alpha", "-1", "-o", "x.h5"], "als.alpha: must be >= 0"),
        (["--patience", "0", "-o", "x.h5"], "als.patience: must be >= 1"),
        (
            ["--implicit", "--confidence", "log", "--eps", "0", "-o", "x.h5"],
            "als.eps (--eps) must be > 0 with the log confidence, got 0.0",
        ),
        (["--metric", "foo", "--validation", "VALID", "-o", "x.h5"], "unknown metric 'foo'"),
        (["-k", "0", "-o", "x.h5"], "must be >= 1"),
        (["-k", "500", "-o", "x.h5"], "-k 500 is larger than min(users, items)"),
        (["-k", "500", "--implicit", "-o", "x.h5"], "choose -k <="),
        (["--dtype", "float16", "-o", "x.h5"], "float16"),
    ],
)
def test_usage_errors_exit_2(tmp_path, monkeypatch, ratings, args, message):
    monkeypatch.chdir(tmp_path)
    args = [ratings.validation if a == "VALID" else a for a in args]
    result = invoke("als", ratings.train, *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr and result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: ") and "Traceback" not in result.output
    assert not (tmp_path / "x.h5").exists()


def _fails(code: int, *args, contains=()):
    result = invoke("als", *args)
    assert result.exit_code == code, result.output
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert "Traceback" not in result.output
    for text in contains:
        assert text in result.stderr, result.stderr
    return result


def test_input_errors(tmp_path, ratings):
    out = tmp_path / "m.h5"
    missing = str(tmp_path / "none.csv")
    _fails(66, missing, "-k", "2", "-o", str(out), contains=("none.csv", "no such file"))
    _fails(66, ratings.train, "-k", "2", "-o", str(out), "--validation", missing,
           contains=("none.csv",))  # fmt: skip
    bad = tmp_path / "bad.csv"
    bad.write_text("user,item,rating\n1,2,3\n2,3,x\n")
    _fails(65, str(bad), "-k", "1", "-o", str(out), contains=("bad.csv:3",))
    nan = tmp_path / "nan.csv"
    nan.write_text("user,item,rating\nu1,i1,nan\nu2,i7,2\n")
    _fails(65, str(nan), "-k", "1", "-o", str(out), contains=("nan.csv: ", "non-finite"))
    empty = tmp_path / "empty.csv"
    empty.write_text("user,item,rating\n")
    _fails(65, str(empty), "-k", "1", "-o", str(out), contains=("empty.csv",))
    assert not out.exists() and not list(tmp_path.glob(".*.tmp"))


def test_implicit_negative_value_is_named_by_its_ids(tmp_path):
    bad = tmp_path / "neg.csv"
    bad.write_text("user,item,count\nu1,i1,3\nu2,i7,-2\nu3,i1,1\n")
    out = tmp_path / "m.h5"
    _fails(65, str(bad), "--implicit", "-k", "1", "-o", str(out),
           contains=("neg.csv: ", "needs values >= 0", "-2 for user 'u2', item 'i7'"))  # fmt: skip
    assert not out.exists()
    # explicit ratings may be negative
    assert invoke("als", str(bad), "-k", "1", "--iters", "2", "-o", str(out)).exit_code == 0


def test_output_exists_is_not_clobbered(tmp_path, ratings):
    out, _ = _fit(tmp_path, ratings.train, "-k", "2", "--iters", "2")
    before = out.read_bytes()
    exists = _fails(73, ratings.train, "-k", "3", "-o", str(out), contains=("m.h5", "--force"))
    assert "output exists" in exists.stderr
    assert out.read_bytes() == before
    forced = invoke("als", ratings.train, "-k", "3", "--iters", "2", "-o", str(out), "--force")
    assert forced.exit_code == 0 and read_result(out).factors["row"].shape[1] == 3
    _fails(73, ratings.train, "-k", "2", "-o", str(tmp_path / "no" / "dir" / "m.h5"))


def test_real_process_errors_are_one_line(tmp_path, ratings):
    bad = tmp_path / "bad.csv"
    bad.write_text("user,item,rating\n1,2,3\n2,3,x\n")
    out = tmp_path / "m.h5"
    proc = run_cli("als", str(bad), "-k", "1", "-o", str(out))
    assert proc.returncode == 65 and b"bad.csv:3" in proc.stderr
    assert proc.stderr.decode().count("\n") == 1 and b"Traceback" not in proc.stderr
    proc = run_cli("als", ratings.train, "-k", "1", "--patience", "3", "-o", str(out))
    assert proc.returncode == 2 and b"--validation" in proc.stderr
    assert proc.stderr.decode().count("\n") == 1 and not out.exists()
