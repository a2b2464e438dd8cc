"""Fold-in: `mfcli transform` and its two rules against naive twins."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from mfcli.io.results import Result, write_result
from tests.cli.helpers import invoke

RNG = np.random.default_rng(3)
M, N, K = 30, 12, 4


def _svd_model(tmp_path, *, center=False, name="svd.h5"):
    """An exact rank-K SVD of a dense matrix with item labels, as a result file."""
    X = RNG.normal(size=(M, K)) @ RNG.normal(size=(K, N)) + 3.0
    mean = X.mean(axis=0) if center else None
    U, s, Vt = np.linalg.svd(X - mean if center else X, full_matrices=False)
    result = Result(
        "svd",
        factors={"row": U[:, :K], "col": Vt[:K].T, "singular_values": s[:K]},
        biases={"col": mean} if center else {},
        labels={"row": np.arange(M) + 1, "col": np.array([f"i{j}" for j in range(N)])},
    )
    write_result(result, tmp_path / name)
    return tmp_path / name, X, U[:, :K]


def _triplets(path, X, rows, cols):
    lines = ["user,item,value"]
    for r in rows:
        for c in cols:
            lines.append(f"u{r},i{c},{float(X[r, c])!r}")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("center", [False, True])
def test_training_rows_fold_back_onto_their_factors(tmp_path, center):
    model, X, U = _svd_model(tmp_path, center=center)
    picked = [3, 17, 29]
    rows = _triplets(tmp_path / "rows.csv", X, picked, range(N))
    out = tmp_path / "proj.h5"
    result = invoke("transform", str(model), str(rows), "-o", str(out), "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["rule"] == "projection" and summary["columns_unknown"] == 0
    with h5py.File(out) as f:
        coords = f["projections"][()]
        labels = [x.decode() for x in f["labels/row"][()]]
    assert labels == [f"u{r}" for r in sorted(picked, key=str)]  # read in id order
    order = [int(label[1:]) for label in labels]
    np.testing.assert_allclose(coords, U[order], atol=1e-6)


def test_columns_matched_by_label_and_unknown_ones_left_out(tmp_path):
    model, X, U = _svd_model(tmp_path)
    rows = tmp_path / "rows.csv"
    lines = ["user,item,value"] + [f"a,i{c},{float(X[5, c])!r}" for c in reversed(range(N))]
    lines.append("a,not-an-item,100")
    rows.write_text("\n".join(lines) + "\n")
    result = invoke("transform", str(model), str(rows), "-o", str(tmp_path / "p.csv"), "--json")
    summary = json.loads(result.stdout)
    assert summary["columns_matched"] == N and summary["columns_unknown"] == 1
    text = (tmp_path / "p.csv").read_text().splitlines()
    assert text[0] == "row," + ",".join(f"f{j}" for j in range(K))
    values = np.array([float(v) for v in text[1].split(",")[1:]])
    np.testing.assert_allclose(values, U[5], atol=1e-6)
    assert text[1].startswith("a,")


def test_soft_impute_models_fit_only_the_stored_entries(tmp_path):
    V = np.linalg.qr(RNG.normal(size=(N, K)))[0]
    s = np.array([5.0, 4.0, 3.0, 2.0])
    u = RNG.normal(size=(2, K))
    full = 3.5 + (u * s) @ V.T
    model = tmp_path / "si.h5"
    write_result(
        Result(
            "svd", factors={"row": u, "col": V, "singular_values": s}, biases={"global": 3.5}
        ),  # fmt: skip
        model,
    )
    seen = [0, 2, 3, 5, 7, 8, 10]  # more entries than factors, not all columns
    rows = tmp_path / "rows.mtx"
    entries = [(i + 1, j + 1, full[i, j]) for i in range(2) for j in seen]
    rows.write_text(
        f"%%MatrixMarket matrix coordinate real general\n2 {N} {len(entries)}\n"
        + "".join(f"{i} {j} {float(v)!r}\n" for i, j, v in entries)
    )
    result = invoke("transform", str(model), str(rows), "-o", str(tmp_path / "p.h5"), "--json")
    assert json.loads(result.stdout)["rule"] == "observed least squares"
    with h5py.File(tmp_path / "p.h5") as f:
        np.testing.assert_allclose(f["projections"][()], u, atol=1e-5)


def test_output_and_model_errors(tmp_path):
    model, X, _ = _svd_model(tmp_path)
    rows = _triplets(tmp_path / "rows.csv", X, [1], range(N))
    out = tmp_path / "p.h5"
    assert invoke("transform", str(model), str(rows), "-o", str(out)).exit_code == 0
    again = invoke("transform", str(model), str(rows), "-o", str(out))
    assert again.exit_code == 73 and "p.h5" in again.stderr
    assert invoke("transform", str(model), str(rows), "-o", str(out), "--force").exit_code == 0
    mtx = invoke("transform", str(model), str(rows), "-o", str(tmp_path / "p.mtx"))
    assert mtx.exit_code == 2 and "not mtx" in mtx.stderr
    missing = invoke(
        "transform", str(tmp_path / "none.h5"), str(rows), "-o", str(tmp_path / "q.h5")
    )
    assert missing.exit_code == 66
    assert not (tmp_path / "q.h5").exists()
    no_out = invoke("transform", str(model), str(rows))
    assert no_out.exit_code == 2 and "no output file" in no_out.stderr
    sgd = tmp_path / "sgd.h5"
    write_result(Result("sgd", factors={"row": np.ones((2, 2)), "col": np.ones((N, 2))}), sgd)
    other = invoke("transform", str(sgd), str(rows), "-o", str(tmp_path / "r.h5"))
    assert other.exit_code == 2 and "does not support sgd" in other.stderr


def test_print_config(tmp_path):
    model, X, _ = _svd_model(tmp_path)
    rows = _triplets(tmp_path / "rows.csv", X, [1], range(N))
    result = invoke("transform", str(model), str(rows), "-o", "x.h5", "--print-config")
    assert result.exit_code == 0
    assert "command: transform" in result.stdout and f"model: {model}" in result.stdout
