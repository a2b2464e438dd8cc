"""ALS solver: naive dense twin, objective, monotonicity, determinism, fold-in, stopping, errors."""

from __future__ import annotations

import numba
import numpy as np
import pytest
import scipy.sparse as sp

from mfcli.data import Matrix
from mfcli.errors import InputDataError, NumericsError, UsageError
from mfcli.solvers import als as als_mod
from mfcli.solvers.als import als, fold_in


# ------------------------------------------------------------ naive twin
def naive_init(m, n, k, implicit, seed):
    rng = np.random.default_rng(seed)
    if implicit:
        return rng.random((m, k)) * 0.01, rng.random((n, k)) * 0.01
    s = 1.0 / np.sqrt(k)
    return rng.standard_normal((m, k)) * s, rng.standard_normal((n, k)) * s


def confidence_minus_one(R, alpha, confidence, eps):
    return alpha * (R if confidence == "linear" else np.log1p(R / eps))


def naive_implicit_half(R, W, Y, reg, count):
    """Solve every row of R (dense, zeros missing) with Y fixed: exact, float64."""
    k = Y.shape[1]
    X = np.zeros((R.shape[0], k))
    for u in range(R.shape[0]):
        pos = R[u] > 0
        if not pos.any():
            continue
        c = 1.0 + W[u]
        lam = reg * pos.sum() if count else reg
        a = (Y * c[:, None]).T @ Y + lam * np.eye(k)
        X[u] = np.linalg.solve(a, Y.T @ (c * pos))
    return X


def naive_explicit_half(R, M, Y, yb, mu, reg, count, biased):
    k = Y.shape[1]
    X = np.zeros((R.shape[0], k))
    xb = np.zeros(R.shape[0])
    for u in range(R.shape[0]):
        j = np.nonzero(M[u])[0]
        if j.size == 0:
            continue
        z = Y[j]
        e = R[u, j] - (mu + yb[j] if biased else 0.0)
        if biased:
            z = np.hstack([z, np.ones((j.size, 1))])
        lam = reg * j.size if count else reg
        sol = np.linalg.solve(z.T @ z + lam * np.eye(z.shape[1]), z.T @ e)
        X[u] = sol[:k]
        if biased:
            xb[u] = sol[k]
    return X, xb


def naive_als(
    R, M, k, *, implicit, alpha=1.0, confidence="linear", eps=1.0, reg, count, biased, iters, seed=0
):
    m, n = R.shape
    U, V = naive_init(m, n, k, implicit, seed)
    ub, vb = np.zeros(m), np.zeros(n)
    mu = R[M].mean() if biased else 0.0
    for _ in range(iters):
        if implicit:
            W = confidence_minus_one(R, alpha, confidence, eps)
            U = naive_implicit_half(R, W, V, reg, count)
            V = naive_implicit_half(R.T, W.T, U, reg, count)
        else:
            U, ub = naive_explicit_half(R, M, V, vb, mu, reg, count, biased)
            V, vb = naive_explicit_half(R.T, M.T, U, ub, mu, reg, count, biased)
    return U, V, ub, vb, mu


def naive_objective(
    R, M, U, V, ub, vb, mu, *, implicit, alpha=1.0, confidence="linear", eps=1.0, reg, count, biased
):
    U = U.astype(np.float64)
    V = V.astype(np.float64)
    S = U @ V.T
    if implicit:
        C = 1.0 + confidence_minus_one(R, alpha, confidence, eps)
        data = np.sum(C * ((R > 0) - S) ** 2)
        nu, ni = (R > 0).sum(axis=1), (R > 0).sum(axis=0)
        pu, pi = (U**2).sum(axis=1), (V**2).sum(axis=1)
    else:
        if biased:
            S = S + mu + ub[:, None] + vb[None, :]
        data = np.sum(((R - S) ** 2)[M])
        nu, ni = M.sum(axis=1), M.sum(axis=0)
        pu = (U**2).sum(axis=1) + (ub**2 if biased else 0)
        pi = (V**2).sum(axis=1) + (vb**2 if biased else 0)
    if not count:
        nu, ni = np.ones_like(nu), np.ones_like(ni)
    return data + reg * (np.sum(nu * pu) + np.sum(ni * pi))


# ------------------------------------------------------------- data
def ratings(m=24, n=17, density=0.45, seed=0, empty_row=2, empty_col=5):
    rng = np.random.default_rng(seed)
    M = rng.random((m, n)) < density
    M[empty_row, :] = False
    M[:, empty_col] = False
    R = np.where(M, rng.integers(1, 6, size=(m, n)).astype(np.float64), 0.0)
    return R, M


def counts(m=24, n=17, density=0.35, seed=1, empty_row=4, empty_col=1):
    rng = np.random.default_rng(seed)
    M = rng.random((m, n)) < density
    M[empty_row, :] = False
    M[:, empty_col] = False
    R = np.where(M, rng.geometric(0.3, size=(m, n)).astype(np.float64), 0.0)
    return R, M


def csr(R):
    return sp.csr_matrix(R)


@pytest.fixture
def no_rotation(monkeypatch):
    monkeypatch.setattr(als_mod, "ROTATE_RATIO", 1e18)


# ------------------------------------------------------- naive agreement
@pytest.mark.parametrize("biased", [False, True])
@pytest.mark.parametrize("scaling", ["none", "count"])
@pytest.mark.parametrize("solver", ["cholesky", "cg"])
def test_explicit_matches_naive(biased, scaling, solver):
    R, M = ratings()
    k, iters, reg = 3, 6, 0.2
    fit = als(
        csr(R),
        k,
        biases=biased,
        reg=reg,
        reg_scaling=scaling,
        iters=iters,
        solver=solver,
        cg_steps=20,
        dtype=np.float64,
    )
    U, V, ub, vb, mu = naive_als(
        R, M, k, implicit=False, reg=reg, count=scaling == "count", biased=biased, iters=iters
    )
    np.testing.assert_allclose(fit.U, U, atol=1e-5)
    np.testing.assert_allclose(fit.V, V, atol=1e-5)
    if biased:
        assert fit.global_bias == pytest.approx(mu)
        np.testing.assert_allclose(fit.row_bias, ub, atol=1e-5)
        np.testing.assert_allclose(fit.col_bias, vb, atol=1e-5)
    else:
        assert fit.global_bias is None and fit.row_bias is None and fit.col_bias is None
    obj = naive_objective(
        R,
        M,
        fit.U,
        fit.V,
        fit.row_bias,
        fit.col_bias,
        fit.global_bias,
        implicit=False,
        reg=reg,
        count=scaling == "count",
        biased=biased,
    )
    assert fit.history["loss"][-1] == pytest.approx(obj, rel=1e-10)


@pytest.mark.parametrize("confidence", ["linear", "log"])
@pytest.mark.parametrize("scaling", ["none", "count"])
@pytest.mark.parametrize("solver,rotate", [("cholesky", False), ("cg", False), ("cg", True)])
def test_implicit_matches_naive(confidence, scaling, solver, rotate, monkeypatch):
    if not rotate:
        monkeypatch.setattr(als_mod, "ROTATE_RATIO", 1e18)
    else:
        monkeypatch.setattr(als_mod, "ROTATE_RATIO", 0.0)
    R, M = counts()
    k, iters, reg, alpha, eps = 4, 5, 0.3, 2.0, 0.5
    kw = dict(alpha=alpha, confidence=confidence, eps=eps, reg=reg)
    fit = als(
        csr(R),
        k,
        implicit=True,
        reg_scaling=scaling,
        iters=iters,
        solver=solver,
        cg_steps=25,
        dtype=np.float64,
        **kw,
    )
    U, V, *_ = naive_als(
        R, M, k, implicit=True, count=scaling == "count", biased=False, iters=iters, **kw
    )
    assert fit.row_bias is None and fit.global_bias is None
    # The rotated CG path returns the same model in a rotated basis.
    np.testing.assert_allclose(fit.U @ fit.V.T, U @ V.T, atol=1e-6)
    if not rotate:
        np.testing.assert_allclose(fit.U, U, atol=1e-6)
    obj = naive_objective(
        R,
        M,
        fit.U,
        fit.V,
        None,
        None,
        0.0,
        implicit=True,
        count=scaling == "count",
        biased=False,
        **kw,
    )
    assert fit.history["loss"][-1] == pytest.approx(obj, rel=1e-9)


def test_implicit_three_cg_steps_is_not_exact_but_close():
    R, _ = counts(m=60, n=40, seed=3)
    cg = als(csr(R), 5, implicit=True, iters=8, dtype=np.float64)
    ex = als(csr(R), 5, implicit=True, iters=8, solver="cholesky", dtype=np.float64)
    assert cg.history["loss"][-1] == pytest.approx(ex.history["loss"][-1], rel=0.05)


# --------------------------------------------------------- monotone loss
@pytest.mark.parametrize(
    "kw",
    [
        dict(implicit=False, biases=True, reg_scaling="count"),
        dict(implicit=False, biases=False, reg_scaling="none"),
        dict(implicit=True, reg_scaling="none"),
        dict(implicit=True, reg_scaling="count", confidence="log"),
    ],
)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_exact_loss_never_increases(kw, dtype):
    R, _ = counts(m=50, n=30, seed=4) if kw["implicit"] else ratings(m=50, n=30, seed=4)
    fit = als(csr(R), 4, solver="cholesky", iters=10, reg=0.05, dtype=dtype, **kw)
    loss = fit.history["loss"]
    tol = 1e-10 if dtype == np.float64 else 1e-5
    assert np.all(np.diff(loss) <= tol * loss[:-1])
    assert fit.U.dtype == dtype and fit.V.dtype == dtype
    assert fit.history["loss"].dtype == np.float64 and len(fit.history["seconds"]) == 10


# ------------------------------------------------------------ determinism
@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs 2 numba threads")
@pytest.mark.parametrize(
    "kw",
    [
        dict(implicit=True),
        dict(implicit=True, solver="cholesky"),
        dict(implicit=False),
        dict(implicit=False, solver="cholesky"),
    ],
)
def test_same_factors_on_one_and_two_threads(kw, monkeypatch):
    monkeypatch.setattr(als_mod, "MIN_WORK_PER_THREAD", 1)  # no cap: really 2 threads
    R, _ = counts(m=300, n=120, density=0.1, seed=5)
    before = numba.get_num_threads()
    try:
        fits = []
        for threads in (1, 2):
            numba.set_num_threads(threads)
            fits.append(als(csr(R), 8, iters=4, seed=3, **kw))
    finally:
        numba.set_num_threads(before)
    a, b = fits
    np.testing.assert_array_equal(a.U, b.U)
    np.testing.assert_array_equal(a.V, b.V)
    np.testing.assert_array_equal(a.history["loss"], b.history["loss"])
    if not kw["implicit"]:
        np.testing.assert_array_equal(a.row_bias, b.row_bias)


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs 2 numba threads")
def test_small_fits_run_on_one_thread_and_restore_the_count(monkeypatch):
    R, _ = counts(m=150, n=80, density=0.1, seed=5)
    before = numba.get_num_threads()
    seen = []
    try:
        numba.set_num_threads(2)
        als(csr(R), 8, iters=2, implicit=True, callback=lambda it, st: seen.append(
            numba.get_num_threads()))  # fmt: skip
        assert seen == [1, 1]
        assert numba.get_num_threads() == 2
        monkeypatch.setattr(als_mod, "MIN_WORK_PER_THREAD", 1)
        seen.clear()
        als(csr(R), 8, iters=1, implicit=True, callback=lambda it, st: seen.append(
            numba.get_num_threads()))  # fmt: skip
        assert seen == [2]
    finally:
        numba.set_num_threads(before)


def test_same_seed_same_factors_other_seed_differs():
    R, _ = ratings()
    a, b, c = (als(csr(R), 3, iters=3, seed=s) for s in (7, 7, 8))
    np.testing.assert_array_equal(a.U, b.U)
    assert not np.array_equal(a.U, c.U)


# -------------------------------------------------------------- fold-in
@pytest.mark.parametrize(
    "kw",
    [
        dict(implicit=False, biases=True),
        dict(implicit=False, biases=False, reg_scaling="none"),
        dict(implicit=True, alpha=3.0, confidence="log", eps=2.0),
    ],
)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fold_in_equals_the_user_half_step(kw, dtype):
    R, _ = counts(seed=6) if kw["implicit"] else ratings(seed=6)
    seen = []

    def validate(U, V, mu, ub, vb):
        seen.append((U.copy(), V.copy(), None if vb is None else vb.copy()))
        return {"dummy": float(len(seen))}  # rising: the last iteration is kept

    fit = als(csr(R), 4, solver="cholesky", iters=4, validate=validate, dtype=dtype, **kw)
    _, v_prev, vb_prev = seen[-2]  # the item side the last user half-step used
    u_last = seen[-1][0]
    rows = csr(R[[0, 2, 7]])  # row 2 is empty in the explicit data
    fold_kw = {name: kw[name] for name in ("implicit", "alpha", "confidence", "eps") if name in kw}
    x, xb = fold_in(
        v_prev,
        rows,
        reg=0.1,
        reg_scaling=kw.get("reg_scaling", "count"),
        global_bias=fit.global_bias,
        col_bias=vb_prev,
        **fold_kw,
    )
    np.testing.assert_array_equal(x, u_last[[0, 2, 7]])
    assert x.dtype == dtype
    if fit.row_bias is not None:
        # The row biases of the last user half-step are not passed to validate
        # after the item half-step changed nothing about them: they are final.
        np.testing.assert_array_equal(xb, fit.row_bias[[0, 2, 7]])
    else:
        assert xb is None


def test_fold_in_cg_matches_exact():
    R, _ = counts(seed=7)
    fit = als(csr(R), 4, implicit=True, iters=3, dtype=np.float64)
    ex, _ = fold_in(fit.V, csr(R[:5]), implicit=True)
    cg, _ = fold_in(fit.V, csr(R[:5]), implicit=True, solver="cg")
    np.testing.assert_allclose(cg, ex, atol=1e-8)


# ------------------------------------------------------- early stopping
def test_early_stopping_keeps_the_best_iteration():
    R, _ = ratings()
    planted = [0.1, 0.3, 0.5, 0.4, 0.45, 0.2, 0.9]
    kept = {}

    def validate(U, V, mu, ub, vb):
        it = len(kept) + 1
        kept[it] = (U.copy(), V.copy(), ub.copy(), vb.copy())
        return {"ndcg@10": planted[it - 1], "rmse": 1.0}

    fit = als(csr(R), 3, iters=7, validate=validate, patience=2)
    assert fit.n_iter == 5 and fit.best_iter == 3
    for got, want in zip((fit.U, fit.V, fit.row_bias, fit.col_bias), kept[3], strict=True):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(fit.history["ndcg@10"], planted[:5])
    assert len(fit.history["loss"]) == 5 and len(fit.history["rmse"]) == 5
    assert any("early stop" in note for note in fit.notes)


def test_early_stopping_lower_is_better_and_no_patience():
    R, _ = ratings()
    values = iter([3.0, 2.0, 2.5, 2.6, 1.0])
    fit = als(
        csr(R),
        3,
        iters=5,
        validate=lambda *a: {"rmse": next(values)},
        patience=2,
        higher_is_better=False,
    )
    assert (fit.n_iter, fit.best_iter) == (4, 2)
    fit = als(csr(R), 3, iters=3, validate=lambda *a: {"rmse": 1.0})
    assert (fit.n_iter, fit.best_iter) == (3, 1)  # no improvement: the first is kept


def test_validation_without_patience_runs_all_and_keeps_the_best():
    R, _ = ratings()
    values = iter([3.0, 2.0, 2.5, 2.6, 2.7])
    kept = {}

    def validate(U, V, mu, ub, vb):
        kept[len(kept) + 1] = (U.copy(), V.copy())
        return {"rmse": next(values)}

    fit = als(csr(R), 3, iters=5, validate=validate, higher_is_better=False)
    assert (fit.n_iter, fit.best_iter) == (5, 2)
    np.testing.assert_array_equal(fit.U, kept[2][0])
    np.testing.assert_array_equal(fit.V, kept[2][1])
    assert any("iteration 2 kept" in note for note in fit.notes)
    plain = als(csr(R), 3, iters=5)
    assert plain.best_iter == 5 and not plain.notes


def test_callback_gets_stats_and_can_stop():
    R, _ = ratings()
    calls = []

    def callback(it, stats):
        calls.append((it, sorted(stats)))
        return it == 2

    fit = als(csr(R), 3, iters=6, callback=callback, validate=lambda *a: {"mae": 0.5})
    assert fit.n_iter == 2 and fit.best_iter == 1  # constant mae: the first is the best
    assert calls == [(1, ["loss", "mae", "seconds"]), (2, ["loss", "mae", "seconds"])]
    assert any("callback" in note for note in fit.notes)
    assert np.all(np.diff(fit.history["seconds"]) >= 0)


# ------------------------------------------------------- recovery, inputs
def test_planted_low_rank_is_recovered():
    rng = np.random.default_rng(11)
    m, n, k = 150, 120, 4
    full = 3.0 + rng.normal(0, 0.5, m)[:, None] + rng.normal(0, 0.5, n)[None, :]
    full += rng.standard_normal((m, k)) @ rng.standard_normal((k, n)) * 0.5
    obs = rng.random((m, n)) < 0.4
    test = ~obs
    train = sp.csr_matrix(np.where(obs, full, 0.0))
    fit = als(train, k, reg=0.001, iters=25, solver="cholesky", dtype=np.float64)
    pred = fit.global_bias + fit.row_bias[:, None] + fit.col_bias[None, :] + fit.U @ fit.V.T
    rmse = np.sqrt(np.mean((pred - full)[test] ** 2))
    assert rmse < 0.01
    fit = als(train, k, reg=0.001, iters=40, dtype=np.float64)  # cg, 3 steps
    pred = fit.global_bias + fit.row_bias[:, None] + fit.col_bias[None, :] + fit.U @ fit.V.T
    assert np.sqrt(np.mean((pred - full)[test] ** 2)) < 0.05


@pytest.mark.parametrize("implicit", [False, True])
def test_empty_rows_and_columns_get_zero_factors(implicit):
    R, _ = counts() if implicit else ratings()
    empty_row = 4 if implicit else 2
    empty_col = 1 if implicit else 5
    fit = als(csr(R), 3, implicit=implicit, iters=3)
    assert np.all(np.isfinite(fit.U)) and np.all(np.isfinite(fit.V))
    assert np.all(fit.U[empty_row] == 0) and np.all(fit.V[empty_col] == 0)
    if not implicit:
        assert fit.row_bias[empty_row] == 0 and fit.col_bias[empty_col] == 0


def test_input_kinds_agree_and_dense_is_noted():
    R, _ = ratings()
    a = als(csr(R), 3, iters=2)
    m = Matrix.from_csr(csr(R).indptr, csr(R).indices, csr(R).data, R.shape)
    b = als(m, 3, iters=2)
    c = als(Matrix.from_dense(R), 3, iters=2)
    d = als(R, 3, iters=2)
    for other in (b, c, d):
        np.testing.assert_array_equal(a.U, other.U)
    assert not a.notes and any("dense input" in note for note in c.notes)


def test_implicit_stored_zeros_are_missing_entries():
    R, _ = counts()
    x = sp.coo_matrix(R)
    zr, zc = np.nonzero(R == 0)
    rows = np.concatenate([x.row, zr[:20]])
    cols = np.concatenate([x.col, zc[:20]])
    vals = np.concatenate([x.data, np.zeros(20)])
    with_zeros = sp.csr_matrix((vals, (rows, cols)), shape=R.shape)
    assert with_zeros.nnz == x.nnz + 20  # the zeros are stored
    a = als(sp.csr_matrix(R), 3, implicit=True, iters=2, reg_scaling="count")
    b = als(with_zeros, 3, implicit=True, iters=2, reg_scaling="count")
    np.testing.assert_array_equal(a.U, b.U)
    np.testing.assert_array_equal(a.V, b.V)


# ------------------------------------------------------------- errors
@pytest.mark.parametrize(
    "kw,match",
    [
        (dict(k=0), "k must be"),
        (dict(solver="lu"), "unknown solver"),
        (dict(confidence="exp"), "unknown confidence"),
        (dict(reg_scaling="rows"), "unknown reg_scaling"),
        (dict(reg=-1.0), "reg must be"),
        (dict(alpha=float("nan")), "alpha must be"),
        (dict(eps=0.0, implicit=True, confidence="log"), "eps must be"),
        (dict(iters=0), "iters must be"),
        (dict(cg_steps=0), "cg_steps must be"),
        (dict(dtype=np.int32), "dtype must be"),
        (dict(patience=2), "patience needs"),
    ],
)
def test_usage_errors(kw, match):
    R, _ = ratings()
    k = kw.pop("k", 3)
    with pytest.raises(UsageError, match=match) as err:
        als(csr(R), k, **kw)
    assert err.value.exit_code == 2


def test_eps_is_checked_only_where_it_is_used():
    R, _ = counts()
    a = als(csr(R), 3, implicit=True, iters=2)
    b = als(csr(R), 3, implicit=True, iters=2, eps=0.0)  # linear confidence: eps unused
    np.testing.assert_array_equal(a.U, b.U)
    fold_in(a.V, csr(R[:2]), implicit=True, eps=0.0)
    with pytest.raises(UsageError, match="eps must be"):
        fold_in(a.V, csr(R[:2]), implicit=True, confidence="log", eps=0.0)


def test_input_data_errors():
    R, _ = counts()
    bad = R.copy()
    bad[3, 2] = -1.0
    with pytest.raises(InputDataError, match="values >= 0.*row 4, column 3") as err:
        als(csr(bad), 3, implicit=True)
    assert err.value.exit_code == 65 and "alpha" in err.value.hint
    als(csr(bad), 3, iters=1)  # explicit ratings may be negative
    bad[3, 2] = np.nan
    with pytest.raises(InputDataError, match="non-finite"):
        als(csr(bad), 3)
    with pytest.raises(InputDataError, match="empty"):
        als(sp.csr_matrix((0, 4)), 2)


def test_numerics_errors(monkeypatch):
    R, _ = counts()
    huge = csr(R * 1e30)
    with pytest.raises(NumericsError, match="overflows") as err:
        als(huge, 3, implicit=True, alpha=1e20)
    assert err.value.exit_code == 4
    R2, _ = ratings()
    with pytest.raises(NumericsError, match="not positive definite"):
        als(csr(R2), 12, solver="cholesky", reg=0.0)
    monkeypatch.setattr(als_mod, "loss_rows", lambda *a: float("nan"))
    with pytest.raises(NumericsError, match="not finite at iteration 1") as err:
        als(csr(R2), 3)
    assert "--alpha" in err.value.hint and "--reg" in err.value.hint


def test_fold_in_errors():
    V = np.zeros((17, 3), dtype=np.float32)
    R, _ = ratings()
    with pytest.raises(InputDataError, match="17 items"):
        fold_in(V, csr(R[:, :10]))
    with pytest.raises(UsageError, match="go together"):
        fold_in(V, csr(R), col_bias=np.zeros(17))
    with pytest.raises(InputDataError, match="values >= 0"):
        fold_in(V, csr(-R), implicit=True)
    with pytest.raises(UsageError, match="unknown solver"):
        fold_in(V, csr(R), solver="qr")
