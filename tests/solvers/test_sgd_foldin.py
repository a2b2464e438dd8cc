"""SGD fold-in: the exact ridge solution for new users, against a naive NumPy twin."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from mfcli.data import Matrix
from mfcli.errors import InputDataError, UsageError
from mfcli.io.results import Result
from mfcli.solvers.sgd import DEFAULTS, fold_in, sgd


def naive(V, R, mu, bv, reg, reg_bias, reg_power):
    """Per user: min |r - mu - b_i - b_u - V p|^2 + reg n^(1-power) |p|^2 + reg_bias n b_u^2."""
    n, k = V.shape
    biased = bv is not None
    U, B = np.zeros((R.shape[0], k)), np.zeros(R.shape[0])
    for u in range(R.shape[0]):
        items = np.flatnonzero(R[u])
        if items.size == 0:
            continue
        nu = items.size
        A = V[items] if not biased else np.hstack([V[items], np.ones((nu, 1))])
        y = R[u, items] - mu - (bv[items] if biased else 0.0)
        pen = np.full(A.shape[1], reg * nu ** (1 - reg_power))
        if biased:
            pen[-1] = reg_bias * nu
        x = np.linalg.solve(A.T @ A + np.diag(pen), A.T @ y)
        U[u] = x[:k]
        if biased:
            B[u] = x[k]
    return U, (B if biased else None)


def _ratings(rng, r, n, density):
    R = np.where(rng.random((r, n)) < density, rng.integers(1, 6, (r, n)), 0).astype(float)
    R[3] = 0  # a user without ratings
    R[5, :2] = [4.0, 2.0]  # and one with fewer ratings than k
    R[5, 2:] = 0
    return R


@pytest.mark.parametrize(
    ("reg", "reg_bias", "reg_power"), [(1.0, 0.02, 0.5), (0.3, 0.5, 0.0), (0.05, 0.0, 1.0)]
)
@pytest.mark.parametrize("biased", [True, False])
def test_fold_in_is_the_closed_form_ridge_solution(reg, reg_bias, reg_power, biased):
    rng = np.random.default_rng(3)
    n, k = 40, 6
    V = rng.normal(scale=0.5, size=(n, k)).astype(np.float32)
    bv = rng.normal(scale=0.3, size=n) if biased else None
    R = _ratings(rng, 12, n, 0.3)
    U, B = fold_in(V, sp.csr_matrix(R), global_bias=3.2, col_bias=bv, reg=reg,
                   reg_bias=reg_bias, reg_power=reg_power)  # fmt: skip
    U0, B0 = naive(V.astype(np.float64), R, 3.2, bv, reg, reg_bias, reg_power)
    assert U.shape == (12, k) and U.dtype == np.float64
    np.testing.assert_allclose(U, U0, atol=1e-6, rtol=1e-6)
    assert (U[3] == 0).all()
    if biased:
        np.testing.assert_allclose(B, B0, atol=1e-6, rtol=1e-6)
        assert B[3] == 0
    else:
        assert B is None
    # the same rows as a dense array and as an mfcli Matrix (CSR and dense)
    for rows in (R, Matrix.from_dense(R), _csr_matrix(R)):
        U1, B1 = fold_in(V, rows, global_bias=3.2, col_bias=bv, reg=reg, reg_bias=reg_bias,
                         reg_power=reg_power)  # fmt: skip
        np.testing.assert_allclose(U1, U, rtol=1e-12, atol=1e-12)


def test_defaults_and_chunking(monkeypatch):
    rng = np.random.default_rng(5)
    V = rng.normal(size=(30, 4))
    bv = rng.normal(size=30)
    R = _ratings(rng, 10, 30, 0.4)
    want = naive(V, R, 3.0, bv, DEFAULTS["reg"], DEFAULTS["reg_bias"], DEFAULTS["reg_power"])
    monkeypatch.setattr("mfcli.solvers.sgd.FOLD_IN_CHUNK", 3)
    U, B = fold_in(V, sp.csr_matrix(R), global_bias=3.0, col_bias=bv)
    np.testing.assert_allclose(U, want[0], atol=1e-9)
    np.testing.assert_allclose(B, want[1], atol=1e-9)


def test_no_regularisation_takes_the_minimum_norm_solution():
    rng = np.random.default_rng(1)
    V = rng.normal(size=(20, 5))
    R = np.zeros((2, 20))
    R[0, [1, 4]] = [5.0, 3.0]  # 2 ratings, 6 unknowns
    R[1, :12] = rng.integers(1, 6, 12)  # well determined
    U, B = fold_in(V, R, global_bias=3.0, col_bias=np.zeros(20), reg=0.0, reg_bias=0.0)
    A = np.hstack([V[[1, 4]], np.ones((2, 1))])
    np.testing.assert_allclose(np.append(U[0], B[0]), np.linalg.pinv(A) @ (R[0, [1, 4]] - 3.0),
                               atol=1e-8)  # fmt: skip
    items = np.flatnonzero(R[1])
    A = np.hstack([V[items], np.ones((items.size, 1))])
    x = np.linalg.lstsq(A, R[1, items] - 3.0, rcond=None)[0]
    np.testing.assert_allclose(np.append(U[1], B[1]), x, atol=1e-8)


def test_planted_new_users_predict_about_as_well_as_trained_ones():
    """Users left out of the fit and folded in from their ratings score like trained users."""
    rng = np.random.default_rng(0)
    m, n, rank, new = 400, 200, 3, 60
    P = rng.standard_normal((m, rank)) * 0.5
    Q = rng.standard_normal((n, rank)) * 0.5
    bu, bi = rng.standard_normal(m) * 0.3, rng.standard_normal(n) * 0.3
    r, c = np.nonzero(rng.random((m, n)) < 0.3)
    vals = 3.0 + bu[r] + bi[c] + np.einsum("ij,ij->i", P[r], Q[c])
    vals += 0.1 * rng.standard_normal(vals.shape[0])
    test = rng.random(vals.shape[0]) < 0.2
    fitted = r < m - new  # the last `new` users are not in the fit
    tr = ~test & fitted
    train = sp.csr_matrix((vals[tr], (r[tr], c[tr])), shape=(m - new, n))
    fit = sgd(train, 5, epochs=40, seed=1, reg=0.1, decay=0.95, dtype=np.float64)
    cfg = dict(global_bias=fit.global_bias, col_bias=fit.col_bias, reg=0.1)

    def rmse(U, B, rows, cols, y):
        pred = (
            fit.global_bias
            + B[rows]
            + fit.col_bias[cols]
            + np.einsum("ij,ij->i", U[rows], fit.V[cols])
        )
        return float(np.sqrt(np.mean((np.clip(pred, *fit.clip) - y) ** 2)))

    known = test & fitted
    trained = rmse(fit.U, fit.row_bias, r[known], c[known], vals[known])
    fresh = ~test & ~fitted
    rows = sp.csr_matrix((vals[fresh], (r[fresh] - (m - new), c[fresh])), shape=(new, n))
    U, B = fold_in(fit.V, rows, **cfg)
    held = test & ~fitted
    folded = rmse(U, B, r[held] - (m - new), c[held], vals[held])
    assert trained < 0.2
    assert folded < 1.15 * trained, (folded, trained)
    # folding the trained users back in gives about the fit's own accuracy
    U2, B2 = fold_in(fit.V, train, **cfg)
    again = rmse(U2, B2, r[known], c[known], vals[known])
    assert abs(again - trained) < 0.1 * trained, (again, trained)


def test_dispatch_reads_the_stored_config():
    from mfcli.api.foldin import fold_in as dispatch
    from mfcli.api.foldin import require

    rng = np.random.default_rng(2)
    V, bv = rng.normal(size=(15, 3)), rng.normal(size=15)
    R = _ratings(rng, 8, 15, 0.5)
    result = Result(
        "sgd", config_yaml="sgd:\n  reg: 0.3\n  reg_bias: 0.2\n  reg_power: 0.0\n  lr: null\n",
        factors={"row": np.zeros((2, 3)), "col": V},
        biases={"global": 2.5, "row": np.zeros(2), "col": bv},
        extra={"sgd": {"global_mean": np.float64(2.5), "clip": np.array([1.0, 5.0])}},
    )  # fmt: skip
    folded = dispatch(result, _csr_matrix(R), command="recommend --from")
    U0, B0 = naive(V, R, 2.5, bv, 0.3, 0.2, 0.0)
    np.testing.assert_allclose(folded.coords, U0, atol=1e-9)
    np.testing.assert_allclose(folded.row_bias, B0, atol=1e-9)
    assert "ridge" in folded.rule
    # without biases: mu from /sgd/global_mean, defaults for unset keys
    bare = Result("sgd", config_yaml="sgd:\n  biases: false\n", factors={"row": V[:2], "col": V},
                  extra={"sgd": {"global_mean": np.float64(2.5)}})  # fmt: skip
    folded = dispatch(bare, R, command="recommend --from")
    U0, _ = naive(V, R, 2.5, None, DEFAULTS["reg"], 0.0, DEFAULTS["reg_power"])
    np.testing.assert_allclose(folded.coords, U0, atol=1e-9)
    assert folded.row_bias is None
    with pytest.raises(UsageError, match="transform does not support sgd"):
        require("sgd", "transform")


def test_errors():
    V = np.ones((4, 2))
    with pytest.raises(InputDataError, match="4 items"):
        fold_in(V, np.ones((1, 5)))
    with pytest.raises(InputDataError, match="NaN"):
        fold_in(V, sp.csr_matrix(([np.nan], ([0], [1])), shape=(1, 4)))
    with pytest.raises(UsageError, match="reg must be"):
        fold_in(V, np.ones((1, 4)), reg=-1.0)
    with pytest.raises(UsageError, match="col_bias"):
        fold_in(V, np.ones((1, 4)), col_bias=np.zeros(3))


def _csr_matrix(R):
    s = sp.csr_matrix(R)
    return Matrix.from_csr(s.indptr, s.indices, s.data, s.shape)
