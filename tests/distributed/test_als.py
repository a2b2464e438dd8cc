"""ALS on a 2-process LocalCluster gives the factors of a single-process fit."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from mfcli.data import Matrix
from mfcli.distributed import als as dals
from mfcli.solvers.als import als

pytest.importorskip("distributed")


def ratings(m=300, n=120, density=0.05, seed=1):
    X = sp.random(m, n, density=density, format="csr", random_state=seed, dtype=np.float64)
    X.data = np.ceil(X.data * 5)
    X.indices = X.indices.astype(np.int32)
    return Matrix(X.shape, X.data, X.indptr, X.indices)


# a covering set of the options (each fit costs cluster round trips), not their product
@pytest.mark.parametrize(
    ("implicit", "solver", "dtype"),
    [
        (True, "cg", np.float32),
        (True, "cholesky", np.float64),
        (False, "cg", np.float64),
        (False, "cholesky", np.float32),
    ],
)
def test_cluster_factors_equal_local(client, implicit, solver, dtype):
    M = ratings()
    options = dict(implicit=implicit, solver=solver, dtype=dtype, iters=4, seed=3)
    ref = als(M, 6, **options)
    fit = dals.als_from_matrix(client, M, 6, n_blocks=3, **options)
    np.testing.assert_allclose(fit.U, ref.U, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fit.V, ref.V, rtol=1e-5, atol=1e-6)
    if not implicit:
        np.testing.assert_allclose(fit.row_bias, ref.row_bias, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(fit.col_bias, ref.col_bias, rtol=1e-5, atol=1e-6)
        assert fit.global_bias == ref.global_bias
    # the loss sums the same terms over item rows instead of user rows
    np.testing.assert_allclose(fit.history["loss"], ref.history["loss"], rtol=1e-9)
    assert fit.n_iter == ref.n_iter == 4


@pytest.mark.parametrize("n_blocks", [1, 2, 5])
def test_block_count_does_not_change_the_factors(client, n_blocks):
    M = ratings(m=200, n=90, seed=4)
    ref = als(M, 5, implicit=True, iters=3)
    fit = dals.als_from_matrix(client, M, 5, n_blocks=n_blocks, implicit=True, iters=3)
    np.testing.assert_array_equal(fit.U, ref.U)
    np.testing.assert_array_equal(fit.V, ref.V)


def test_empty_rows_and_columns(client):
    M = ratings(m=150, n=60, seed=5)
    dense = M.to_dense() if hasattr(M, "to_dense") else None
    X = sp.csr_matrix((M.data, M.indices, M.indptr), shape=M.shape).tolil()
    X[10:20, :] = 0
    X[:, 5:9] = 0
    X = X.tocsr()
    X.eliminate_zeros()
    E = Matrix(X.shape, X.data, X.indptr, X.indices)
    del dense
    for implicit in (True, False):
        ref = als(E, 4, implicit=implicit, iters=3)
        fit = dals.als_from_matrix(client, E, 4, n_blocks=4, implicit=implicit, iters=3)
        np.testing.assert_allclose(fit.U, ref.U, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(fit.V, ref.V, rtol=1e-5, atol=1e-6)


def test_validation_and_early_stopping_run_on_the_client(client):
    M = ratings(seed=6)
    seen = []

    def validate(U, V, mu, ub, vb):
        seen.append(U.shape)
        return {"score": -float(np.abs(U).sum())}

    ref = als(M, 4, iters=6, validate=validate, patience=2)
    calls = len(seen)
    fit = dals.als_from_matrix(client, M, 4, iters=6, validate=validate, patience=2)
    assert len(seen) == 2 * calls and fit.best_iter == ref.best_iter
    np.testing.assert_allclose(fit.U, ref.U, rtol=1e-5, atol=1e-6)


def test_negative_implicit_value_names_the_global_row(client):
    M = ratings(m=100, n=50, seed=7)
    data = M.data.copy()
    data[-1] = -2.0  # the last stored entry: in the last block
    row = int(np.searchsorted(M.indptr, data.shape[0] - 1, side="right"))
    col = int(M.indices[-1]) + 1
    bad = Matrix(M.shape, data, M.indptr, M.indices)
    from mfcli.errors import InputDataError

    with pytest.raises(InputDataError, match=f"at row {row}, column {col}"):
        dals.als_from_matrix(client, bad, 3, n_blocks=3, implicit=True, iters=1)


def test_cost_model_counts_what_is_sent(client):
    M = ratings(m=400, n=150, seed=8)
    fit = dals.als_from_matrix(client, M, 8, implicit=True, iters=2)
    moved = int(fit.notes[-1].rsplit(" ", 1)[1])
    model = dals.bytes_per_iteration(400, 150, 8, workers=2, itemsize=4) * 2
    first = (400 + 150) * 8 * 4  # each side's starting rows, sent once
    rotations = moved - model - first  # k x k rotations sent to the blocks
    # at most one rotation per half-step, applied to both sides' blocks (2 + 2)
    assert 0 <= rotations <= 2 * 2 * (2 + 2) * (8 * 8 * 4)
