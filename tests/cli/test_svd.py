"""`mfcli svd`: the result file, its options, replay and every error path."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mfcli.io import read_matrix
from mfcli.io.results import read_result
from tests.cli.helpers import invoke, run_cli
from tests.conftest import REPO

SAMPLE = REPO / "sample_data"
DENSE = str(SAMPLE / "lowrank_dense.csv")
RATINGS = str(SAMPLE / "ratings.csv")


def _fit(tmp_path, *args, name="m.h5"):
    out = tmp_path / name
    result = invoke("svd", *args, "-o", str(out), "--json")
    assert result.exit_code == 0, result.output
    return out, json.loads(result.stdout)


def test_dense_file_matches_numpy(tmp_path):
    out, summary = _fit(tmp_path, DENSE, "-k", "5", "--dtype", "float64")
    X = read_matrix(DENSE).data
    expected = np.linalg.svd(X, compute_uv=False)[:5]
    result = read_result(out)
    np.testing.assert_allclose(result.factors["singular_values"], expected, rtol=1e-8)
    assert summary["singular_values"] == pytest.approx(expected.tolist(), rel=1e-8)
    U, s, V = (result.factors[n] for n in ("row", "singular_values", "col"))
    assert U.shape == (200, 5) and V.shape == (50, 5) and U.dtype == np.float64
    np.testing.assert_allclose(U @ np.diag(s) @ V.T, X, atol=0.1)  # rank 5 + noise 0.01
    assert result.method == "svd" and result.labels["col"][0] == "c1"
    ratio = result.extra["svd"]["explained_variance_ratio"]
    assert ratio.shape == (5,) and 0.99 < ratio.sum() <= 1.0 + 1e-9
    assert result.provenance["input_shape"] == [200, 50] and result.train is None


def test_center_stores_the_column_means_as_the_column_bias(tmp_path):
    out, _ = _fit(tmp_path, DENSE, "-k", "3", "--center", "--dtype", "float64")
    result = read_result(out)
    X = read_matrix(DENSE).data
    np.testing.assert_allclose(result.biases["col"], X.mean(axis=0), rtol=1e-10)
    expected = np.linalg.svd(X - X.mean(axis=0), compute_uv=False)[:3]
    np.testing.assert_allclose(result.factors["singular_values"], expected, rtol=1e-6)


@pytest.mark.parametrize("method", ["randomized", "lanczos"])
def test_sparse_ratings_keep_labels_and_train(tmp_path, method):
    out, summary = _fit(tmp_path, RATINGS, "-k", "4", "--method", method)
    result = read_result(out)
    matrix = read_matrix(RATINGS)
    assert result.train.shape == matrix.shape and result.train.nnz == 35000
    np.testing.assert_array_equal(result.labels["row"], matrix.row_labels)
    expected = np.linalg.svd(matrix.to_dense(), compute_uv=False)[:4]
    # a slowly decaying spectrum: randomized is approximate, lanczos converges
    rtol = 1e-2 if method == "randomized" else 1e-5
    np.testing.assert_allclose(result.factors["singular_values"], expected, rtol=rtol)
    assert summary["method"] == f"svd ({method})"


def test_same_seed_same_factors_on_any_thread_count(tmp_path):
    a, _ = _fit(tmp_path, RATINGS, "-k", "6", "--seed", "3", "--threads", "1", name="a.h5")
    b, _ = _fit(tmp_path, RATINGS, "-k", "6", "--seed", "3", "--threads", "2", name="b.h5")
    ra, rb = read_result(a), read_result(b)
    for name in ("row", "col", "singular_values"):
        np.testing.assert_array_equal(ra.factors[name], rb.factors[name])


def test_missing_completes_ratings_and_eval_scores_it(tmp_path):
    out, summary = _fit(tmp_path, RATINGS, "-k", "5", "--missing", "--max-iter", "30")
    result = read_result(out)
    assert summary["method"] == "svd (soft-impute)" and "global" in result.biases
    scored = invoke("eval", str(out), RATINGS, "--metrics", "rmse", "--json")
    assert scored.exit_code == 0, scored.output
    assert json.loads(scored.stdout)["values"]["rmse"] < 1.0  # the training fit


def test_config_replay_gives_the_same_factors(tmp_path):
    first, _ = _fit(tmp_path, DENSE, "-k", "4", "--power-iters", "3", name="first.h5")
    again = tmp_path / "again.h5"
    replay = invoke("svd", "--config", str(first), "-o", str(again))
    assert replay.exit_code == 0, replay.output
    np.testing.assert_array_equal(
        read_result(first).factors["row"], read_result(again).factors["row"]
    )
    printed = invoke("svd", "--config", str(first), "--print-config").stdout
    assert "power_iters: 3" in printed and "rank: 4" in printed


def test_table_output(tmp_path):
    result = invoke("svd", DENSE, "-k", "2", "-o", str(tmp_path / "t.h5"))
    assert result.exit_code == 0
    assert "singular values:" in result.stdout and "explained variance" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-k", "3"], "no output file given"),
        (["-k", "3", "--shrink", "1", "-o", "x.h5"], "svd.shrink applies to --missing only"),
        (["-k", "3", "--center", "--missing", "-o", "x.h5"], "exclude each other"),
        (["-k", "3", "--method", "arpack", "-o", "x.h5"], "expected one of randomized, lanczos"),
        (["-k", "0", "-o", "x.h5"], "must be >= 1"),
    ],
)
def test_usage_errors_exit_2(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    result = invoke("svd", DENSE, *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr and result.stderr.count("\n") == 1
    assert not (tmp_path / "x.h5").exists()


def test_input_and_output_errors(tmp_path):
    out = tmp_path / "m.h5"
    assert invoke("svd", str(tmp_path / "none.csv"), "-k", "2", "-o", str(out)).exit_code == 66
    bad = tmp_path / "bad.csv"
    bad.write_text("user,item,rating\n1,2,3\n2,3,x\n")
    broken = invoke("svd", str(bad), "-k", "1", "-o", str(out))
    assert broken.exit_code == 65 and "bad.csv:3" in broken.stderr
    assert not out.exists()
    _fit(tmp_path, DENSE, "-k", "2")
    before = out.read_bytes()
    exists = invoke("svd", DENSE, "-k", "3", "-o", str(out))
    assert exists.exit_code == 73 and "--force" in exists.stderr
    assert out.read_bytes() == before
    assert invoke("svd", DENSE, "-k", "3", "-o", str(out), "--force").exit_code == 0


def test_k_beyond_the_matrix_is_exact_when_small(tmp_path):
    out, summary = _fit(tmp_path, DENSE, "-k", "80", "--dtype", "float64")
    assert summary["k"] <= 50 and summary["notes"]
    expected = np.linalg.svd(read_matrix(DENSE).data, compute_uv=False)
    got = read_result(out).factors["singular_values"]
    np.testing.assert_allclose(got, expected[: got.shape[0]], rtol=1e-10)


def test_real_process_exit_code_and_single_line(tmp_path):
    proc = run_cli("svd", str(tmp_path / "none.csv"), "-k", "2", "-o", str(tmp_path / "m.h5"))
    assert proc.returncode == 66
    assert proc.stderr.decode().count("\n") == 1 and b"Traceback" not in proc.stderr
