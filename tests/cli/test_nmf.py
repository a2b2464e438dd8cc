"""`mfcli nmf`: the result file, every option value, topics, fold-in, replay and errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mfcli.io import read_matrix
from mfcli.io.results import read_result
from tests.cli.helpers import invoke, run_cli
from tests.conftest import REPO

SAMPLE = REPO / "sample_data"
DOCTERM = str(SAMPLE / "docterm.mtx")
DENSE = str(SAMPLE / "lowrank_dense.csv")  # has negative values


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> str:
    """A 120 x 40 non-negative rank-5 matrix plus a little noise, as a dense CSV with a header."""
    rng = np.random.default_rng(5)
    X = rng.random((120, 5)) @ rng.random((5, 40)) + 0.01 * rng.random((120, 40))
    path = tmp_path_factory.mktemp("nmf") / "planted.csv"
    header = ",".join(f"c{j + 1}" for j in range(40))
    np.savetxt(path, X, delimiter=",", header=header, comments="", fmt="%.10g")
    return str(path)


RATINGS = str(SAMPLE / "ratings.csv")


def _fit(tmp_path, *args, name="m.h5"):
    out = tmp_path / name
    result = invoke("nmf", *args, "-o", str(out), "--json")
    assert result.exit_code == 0, result.output
    return out, json.loads(result.stdout)


def _planted_topics() -> list[set[str]]:
    """The theme words of each planted topic of the sample docterm.mtx."""
    from mfcli.synth import THEMES

    return [set(words) for words in list(THEMES.values())[:6]]


def test_docterm_topics_are_the_planted_ones(tmp_path):
    out, summary = _fit(tmp_path, DOCTERM, "-k", "6", "--top", "5")
    result = read_result(out)
    W, H = result.factors["row"], result.factors["col"]
    assert W.shape == (300, 6) and H.shape == (192, 6) and W.dtype == np.float32
    assert (W >= 0).all() and (H >= 0).all()
    assert result.method == "nmf" and result.train.nnz == read_matrix(DOCTERM).nnz
    topics = summary["top"]["col"]
    assert len(topics) == 6 and all(len(words) == 5 for words in topics)
    stored = result.extra["nmf"]["top"]["col"]
    np.testing.assert_array_equal(stored["labels"], np.asarray(topics))
    assert stored["index"].shape == (6, 5) and (np.diff(stored["weight"], axis=1) <= 0).all()
    themes = _planted_topics()
    # every component's top words come from one planted theme, and all six are found
    matched = {next(i for i, theme in enumerate(themes) if set(w) <= theme) for w in topics}
    assert matched == set(range(6))
    assert "row" not in summary["top"]  # documents have no labels


def test_objective_history_never_increases(tmp_path, planted):
    out, summary = _fit(tmp_path, planted, "-k", "5", "--dtype", "float64", "--tol", "0")
    history = read_result(out).history
    objective = history["objective"]
    # tol 0: only max_iter (200) or a stall (an unextrapolated step got worse) stops it
    assert len(objective) == summary["iterations"] <= 200
    assert (np.diff(objective) <= 1e-9 * objective[:-1]).all()
    assert set(history) >= {"objective", "error", "seconds"}
    assert summary["objective"] == pytest.approx(objective[-1])


def test_dense_planted_low_rank_is_recovered(tmp_path, planted):
    out, summary = _fit(tmp_path, planted, "-k", "5", "--dtype", "float64", "--max-iter", "500")
    X = read_matrix(planted).data
    result = read_result(out)
    W, H = result.factors["row"], result.factors["col"]
    assert np.linalg.norm(X - W @ H.T) / np.linalg.norm(X) == pytest.approx(
        summary["relative_error"], rel=1e-6
    )
    assert summary["relative_error"] < 0.01  # the noise is about 0.5% of X
    assert result.train is None and result.labels["col"][0] == "c1"


@pytest.mark.parametrize("solver", ["hals", "mu"])
@pytest.mark.parametrize("loss", ["frobenius", "kl"])
@pytest.mark.parametrize("mask", ["none", "observed"])
def test_every_solver_loss_and_mask(tmp_path, solver, loss, mask):
    out, summary = _fit(
        tmp_path, RATINGS, "-k", "4", "--solver", solver, "--loss", loss, "--mask", mask,
        "--max-iter", "30",
    )  # fmt: skip
    assert summary["method"].startswith(f"nmf ({solver}, {loss}")
    assert ("observed" in summary["method"]) == (mask == "observed")
    result = read_result(out)
    assert np.isfinite(result.factors["row"]).all() and (result.factors["row"] >= 0).all()
    assert np.isfinite(result.history["objective"]).all()


@pytest.mark.parametrize("init", ["auto", "nndsvd", "nndsvda", "nndsvdar", "random"])
def test_every_init(tmp_path, init):
    _, summary = _fit(tmp_path, DOCTERM, "-k", "6", "--init", init, "--max-iter", "50")
    assert summary["init"] == ("nndsvda" if init == "auto" else init)
    assert summary["relative_error"] < 0.8


def test_penalties_make_sparser_factors(tmp_path):
    plain, _ = _fit(tmp_path, DOCTERM, "-k", "6", name="plain.h5")
    sparse, _ = _fit(
        tmp_path, DOCTERM, "-k", "6", "--l1-w", "2", "--l1-h", "2", "--l2-w", "0.1",
        "--l2-h", "0.1", name="l1.h5",
    )  # fmt: skip
    zeros = [np.mean(read_result(p).factors["row"] == 0) for p in (plain, sparse)]
    assert zeros[1] > zeros[0]


def test_masked_ratings_are_scored_by_eval(tmp_path):
    split = tmp_path / "split"
    assert invoke("split", RATINGS, "-o", str(split), "--seed", "1").exit_code == 0
    out, summary = _fit(tmp_path, str(split / "train.csv"), "-k", "5", "--mask", "observed")
    assert summary["init"] == "random"
    np.testing.assert_array_equal(read_result(out).extra["nmf"]["clip"], [1.0, 5.0])
    test = str(split / "test.csv")
    scored = invoke("eval", str(out), test, "--metrics", "rmse", "--json")
    assert scored.exit_code == 0, scored.output
    # zeros-as-data would predict near 0 for unseen pairs: rmse about 3.5 on 1..5 ratings
    assert json.loads(scored.stdout)["values"]["rmse"] < 1.2
    ridge, _ = _fit(
        tmp_path, str(split / "train.csv"), "-k", "5", "--mask", "observed", "--l2-w", "1",
        "--l2-h", "1", name="ridge.h5",
    )  # fmt: skip
    scored = invoke("eval", str(ridge), test, "--metrics", "rmse", "--json")
    assert json.loads(scored.stdout)["values"]["rmse"] < 0.95  # the ratings' noise is 0.5


def test_same_seed_same_factors_on_any_thread_count(tmp_path, monkeypatch):
    from mfcli.solvers import nmf as solver

    monkeypatch.setattr(solver, "MIN_WORK_PER_THREAD", 1)  # tiny data: else one thread both times
    a, _ = _fit(tmp_path, RATINGS, "-k", "5", "--seed", "3", "--threads", "1", name="a.h5")
    b, _ = _fit(tmp_path, RATINGS, "-k", "5", "--seed", "3", "--threads", "2", name="b.h5")
    for name in ("row", "col"):
        np.testing.assert_array_equal(read_result(a).factors[name], read_result(b).factors[name])


def test_transform_folds_rows_in_with_h_fixed(tmp_path):
    out, _ = _fit(tmp_path, DOCTERM, "-k", "6", "--dtype", "float64", "--tol", "1e-8",
                  "--max-iter", "500")  # fmt: skip
    projected = tmp_path / "p.h5"
    result = invoke("transform", str(out), DOCTERM, "-o", str(projected), "--json")
    assert result.exit_code == 0, result.output
    assert "H fixed" in json.loads(result.stdout)["rule"]
    W = read_result(out).factors["row"]
    coords = read_matrix(f"{projected}:/projections").data
    assert (coords >= 0).all()
    np.testing.assert_allclose(coords, W, atol=1e-3 * np.abs(W).max())


def test_config_replay_gives_the_same_factors(tmp_path):
    first, _ = _fit(tmp_path, DOCTERM, "-k", "4", "--loss", "kl", "--solver", "mu",
                    "--max-iter", "20", name="first.h5")  # fmt: skip
    again = tmp_path / "again.h5"
    replay = invoke("nmf", "--config", str(first), "-o", str(again))
    assert replay.exit_code == 0, replay.output
    np.testing.assert_array_equal(
        read_result(first).factors["row"], read_result(again).factors["row"]
    )
    printed = invoke("nmf", "--config", str(first), "--print-config").stdout
    assert "loss: kl" in printed and "rank: 4" in printed and "solver: mu" in printed


def test_top_zero_stores_no_topics_and_the_table_prints_them(tmp_path):
    out, summary = _fit(tmp_path, DOCTERM, "-k", "3", "--top", "0", name="none.h5")
    assert summary["top"] == {} and "top" not in read_result(out).extra["nmf"]
    table = invoke("nmf", DOCTERM, "-k", "3", "--top", "4", "-o", str(tmp_path / "t.h5"))
    assert table.exit_code == 0
    assert "top columns per component" in table.stdout and "relative error" in table.stdout


def test_all_zero_rows_and_columns(tmp_path):
    path = tmp_path / "holes.mtx"
    path.write_text(
        "%%MatrixMarket matrix coordinate real general\n5 4 5\n1 1 1\n1 2 2\n3 1 3\n3 2 1\n5 4 4\n"
    )  # row 2, row 4 and column 3 are empty
    out, _ = _fit(tmp_path, str(path), "-k", "2", "--dtype", "float64")
    W, H = (read_result(out).factors[n] for n in ("row", "col"))
    assert np.isfinite(W).all() and np.isfinite(H).all()
    assert (W[[1, 3]] == 0).all() and (H[2] == 0).all()


def test_negative_entry_is_named_by_its_labels(tmp_path):
    bad = tmp_path / "neg.csv"
    bad.write_text("user,item,rating\nu1,i1,3\nu2,i7,-2.5\nu3,i1,1\n")
    out = tmp_path / "m.h5"
    result = invoke("nmf", str(bad), "-k", "1", "-o", str(out))
    assert result.exit_code == 65, result.output
    assert "neg.csv: negative value -2.5 at row 'u2', column 'i7'" in result.stderr
    assert result.stderr.count("\n") == 1 and not out.exists()


def test_negative_entry_without_labels_is_named_by_position(tmp_path):
    bad = tmp_path / "neg.mtx"
    bad.write_text("%%MatrixMarket matrix coordinate real general\n3 3 2\n1 1 1\n2 3 -1\n")
    result = invoke("nmf", str(bad), "-k", "1", "-o", str(tmp_path / "m.h5"))
    assert result.exit_code == 65 and "negative value -1 at row 2, column 3" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-k", "3"], "no output file given"),
        (["-k", "3", "--solver", "als", "-o", "x.h5"], "expected one of hals, mu"),
        (["-k", "3", "--loss", "is", "-o", "x.h5"], "expected one of frobenius, kl"),
        (["-k", "3", "--init", "svd", "-o", "x.h5"], "expected one of auto, nndsvd"),
        (["-k", "3", "--mask", "nan", "-o", "x.h5"], "expected one of none, observed"),
        (["-k", "3", "--l1-w", "-1", "-o", "x.h5"], "must be >= 0"),
        (["-k", "0", "-o", "x.h5"], "must be >= 1"),
        (["-k", "41", "-o", "x.h5"], "41"),
    ],
)
def test_usage_errors_exit_2(tmp_path, monkeypatch, planted, args, message):
    monkeypatch.chdir(tmp_path)
    result = invoke("nmf", planted, *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr and result.stderr.count("\n") == 1
    assert not (tmp_path / "x.h5").exists()


def test_input_and_output_errors(tmp_path):
    out = tmp_path / "m.h5"
    assert invoke("nmf", str(tmp_path / "none.csv"), "-k", "2", "-o", str(out)).exit_code == 66
    _fit(tmp_path, DOCTERM, "-k", "2")
    before = out.read_bytes()
    exists = invoke("nmf", DOCTERM, "-k", "3", "-o", str(out))
    assert exists.exit_code == 73 and "--force" in exists.stderr
    assert out.read_bytes() == before
    assert invoke("nmf", DOCTERM, "-k", "3", "-o", str(out), "--force").exit_code == 0


def test_real_process_negative_input_single_line(tmp_path):
    bad = tmp_path / "neg.mtx"
    bad.write_text("%%MatrixMarket matrix coordinate real general\n2 2 1\n1 1 -3\n")
    proc = run_cli("nmf", str(bad), "-k", "1", "-o", str(tmp_path / "m.h5"))
    assert proc.returncode == 65
    assert proc.stderr.decode().count("\n") == 1 and b"Traceback" not in proc.stderr
