"""nmf, its init and fold_in: contract tests and agreement with scikit-learn."""

from __future__ import annotations

import warnings

import numba
import numpy as np
import pytest
import scipy.sparse as sp

from mfcli.data import Matrix
from mfcli.errors import (
    EXIT_DATA,
    EXIT_NUMERICS,
    EXIT_USAGE,
    InputDataError,
    NumericsError,
    UsageError,
)
from mfcli.solvers import nmf as nmf_module
from mfcli.solvers import nmf_init
from mfcli.solvers.nmf import (
    INITS,
    LOSSES,
    MASKS,
    SOLVERS,
    NMFFit,
    evaluate,
    first_negative,
    fold_in,
    nmf,
)
from mfcli.solvers.svd import as_input


# ------------------------------------------------------------- inputs
def planted(m=60, n=40, k=5, seed=0, zero=0.5):
    """Non-negative factors with zeros (an identifiable NMF) and their product."""
    rng = np.random.default_rng(seed)
    W = rng.random((m, k)) * (rng.random((m, k)) > zero)
    H = rng.random((n, k)) * (rng.random((n, k)) > zero)
    return W, H, W @ H.T


def noisy_sparse(m=80, n=50, seed=1):
    """A sparse non-negative matrix: planted rank 4 plus noise, 40% of entries kept."""
    rng = np.random.default_rng(seed)
    _, _, X = planted(m, n, 4, seed, zero=0.3)
    X = X + 0.3 * rng.random((m, n))
    X[rng.random((m, n)) > 0.4] = 0.0
    return sp.csr_matrix(X)


def observed_sample(X, fraction, seed):
    rng = np.random.default_rng(seed)
    seen = rng.random(X.shape) < fraction
    rows, cols = np.nonzero(seen)
    return sp.csr_matrix((X[rows, cols], (rows, cols)), shape=X.shape), seen


def one_and_two_threads(fn):
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs 2 numba threads")
    before = numba.get_num_threads()
    try:
        out = []
        for threads in (1, 2):
            numba.set_num_threads(threads)
            out.append(fn())
        return out
    finally:
        numba.set_num_threads(before)


# ------------------------------------------------------------- the fit
def test_fit_fields_and_types():
    X = noisy_sparse()
    fit = nmf(X, 4, max_iter=30)
    assert isinstance(fit, NMFFit)
    assert fit.W.shape == (80, 4) and fit.H.shape == (50, 4)
    assert fit.W.dtype == np.float32 and fit.H.dtype == np.float32
    assert fit.W.flags.c_contiguous and fit.H.flags.c_contiguous
    assert (fit.solver, fit.loss, fit.init, fit.mask) == ("hals", "frobenius", "nndsvda", "none")
    assert 1 <= fit.n_iter <= 30
    for name in ("objective", "error", "seconds"):
        assert fit.history[name].shape == (fit.n_iter,)
        assert fit.history[name].dtype == np.float64
    assert np.all(np.diff(fit.history["seconds"]) >= 0)
    assert fit.objective == fit.history["objective"][-1]
    assert fit.error == fit.history["error"][-1]
    assert fit.relative_error == pytest.approx(fit.error / sp.linalg.norm(X))
    assert (fit.W >= 0).all() and (fit.H >= 0).all()
    fit64 = nmf(X, 4, max_iter=3, dtype=np.float64)
    assert fit64.W.dtype == np.float64 and fit64.H.dtype == np.float64


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("mask", MASKS)
def test_reported_objective_is_the_objective_of_the_factors(solver, loss, mask):
    X = noisy_sparse()
    pens = {"l1_w": 0.1, "l1_h": 0.2, "l2_w": 0.3, "l2_h": 0.4}
    fit = nmf(X, 3, solver=solver, loss=loss, mask=mask, max_iter=5, dtype=np.float64, **pens)
    direct = evaluate(X, fit.W, fit.H, loss=loss, mask=mask, **pens)
    assert fit.objective == pytest.approx(direct["objective"], rel=1e-9)
    assert fit.error == pytest.approx(direct["error"], rel=1e-9)
    assert fit.relative_error == pytest.approx(direct["relative_error"], rel=1e-9)
    assert fit.init == ("random" if mask == "observed" else "nndsvda")


@pytest.fixture
def one_sweep(monkeypatch):
    """Plain HALS (one sweep per half-step): no stopping decision a rounding can flip."""
    monkeypatch.setattr(nmf_module, "ALPHA", 0.0)


def test_dense_and_sparse_inputs_agree(one_sweep):
    X = noisy_sparse()
    rng = np.random.default_rng(0)
    start = {"W0": rng.random((80, 3)), "H0": rng.random((50, 3))}
    for kwargs in ({}, {"solver": "mu"}, {"loss": "kl"}, {"solver": "mu", "loss": "kl"}):
        a = nmf(X, 3, max_iter=20, dtype=np.float64, **start, **kwargs)
        b = nmf(X.toarray(), 3, max_iter=20, dtype=np.float64, **start, **kwargs)
        np.testing.assert_allclose(a.W, b.W, rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(a.H, b.H, rtol=1e-6, atol=1e-9)
        assert a.objective == pytest.approx(b.objective, rel=1e-9)


def test_matrix_input(one_sweep):
    X = noisy_sparse()
    csr = X.tocsr()
    matrix = Matrix(shape=X.shape, data=csr.data, indptr=csr.indptr, indices=csr.indices)
    a = nmf(matrix, 3, max_iter=10)
    b = nmf(X, 3, max_iter=10)
    np.testing.assert_array_equal(a.W, b.W)
    np.testing.assert_array_equal(a.H, b.H)
    start = {"W0": a.W, "H0": a.H}
    dense = nmf(Matrix(shape=X.shape, data=X.toarray()), 3, max_iter=5, **start)
    sparse = nmf(matrix, 3, max_iter=5, **start)
    np.testing.assert_allclose(dense.W, sparse.W, rtol=1e-4, atol=1e-5)


# ------------------------------------------------------- monotone objective
@pytest.mark.parametrize("mask", MASKS)
@pytest.mark.parametrize("pens", [{}, {"l1_w": 0.5, "l1_h": 0.2}, {"l2_w": 1.0, "l2_h": 2.0},
                                  {"l1_w": 0.3, "l2_h": 0.7}])  # fmt: skip
def test_hals_objective_never_increases(mask, pens):
    X = noisy_sparse()
    fit = nmf(X, 4, mask=mask, init="random", tol=0.0, max_iter=50, dtype=np.float64, **pens)
    obj = fit.history["objective"]
    assert len(obj) >= 10
    assert np.all(np.diff(obj) <= 1e-12 * obj[:-1])


@pytest.mark.parametrize("loss", LOSSES)
def test_mu_and_kl_objective_never_increases(loss):
    X = noisy_sparse()
    for solver in SOLVERS:
        fit = nmf(X, 4, solver=solver, loss=loss, tol=0.0, max_iter=30, dtype=np.float64)
        obj = fit.history["objective"]
        assert np.all(np.diff(obj) <= 1e-9 * obj[:-1]), (solver, loss)


# ------------------------------------------------------------ recovery
@pytest.mark.parametrize("init", ["nndsvda", "nndsvd", "random"])
def test_exact_recovery_of_planted_rank_5(init):
    W, H, X = planted()
    fit = nmf(X, 5, init=init, tol=1e-10, max_iter=1000, dtype=np.float64)
    assert fit.converged
    assert fit.relative_error < 1e-5
    # the solver's error comes from Gram matrices: exact to ~sqrt(eps) of ||X|| here
    rel = np.linalg.norm(fit.W @ fit.H.T - X) / np.linalg.norm(X)
    assert rel < 1e-5 and rel == pytest.approx(fit.relative_error, abs=1e-7)


def test_exact_recovery_float32():
    _, _, X = planted()
    fit = nmf(sp.csr_matrix(X), 5, tol=1e-8, max_iter=1000)
    assert fit.relative_error < 1e-3


@pytest.mark.parametrize("solver, bound", [("hals", 1e-3), ("mu", 0.05)])
def test_masked_recovery_from_40_percent(solver, bound):
    _, _, X = planted(80, 60, 3, seed=1, zero=0.3)
    sample, seen = observed_sample(X, 0.4, seed=2)
    fit = nmf(sample, 3, solver=solver, mask="observed", tol=1e-10, max_iter=1000,
              dtype=np.float64)  # fmt: skip
    P = fit.W @ fit.H.T
    held = ~seen
    assert np.linalg.norm((P - X)[held]) / np.linalg.norm(X[held]) < bound


def test_observed_dense_nan_is_missing():
    _, _, X = planted(50, 40, 3, seed=3, zero=0.3)
    sample, seen = observed_sample(X, 0.5, seed=4)
    dense = np.where(seen, X, np.nan)
    a = nmf(dense, 3, mask="observed", max_iter=40, dtype=np.float64)
    b = nmf(sample, 3, mask="observed", max_iter=40, dtype=np.float64)
    np.testing.assert_array_equal(a.W, b.W)
    np.testing.assert_array_equal(a.H, b.H)


def test_kl_recovers_planted_counts():
    W, H, X = planted(50, 30, 3, seed=5, zero=0.3)
    for solver in SOLVERS:
        fit = nmf(X * 10, 3, solver=solver, loss="kl", tol=1e-9, max_iter=500,
                  dtype=np.float64)  # fmt: skip
        assert fit.relative_error < (1e-4 if solver == "hals" else 1e-2), solver


# ------------------------------------------------------ scikit-learn
@pytest.mark.filterwarnings("ignore:Maximum number of iterations")  # the reference, 50 steps
def test_objective_matches_sklearn_beta_divergence():
    pytest.importorskip("sklearn")
    from sklearn.decomposition import NMF
    from sklearn.decomposition._nmf import _beta_divergence

    X = noisy_sparse()
    model = NMF(n_components=4, init="nndsvda", solver="cd", max_iter=50, random_state=0)
    Wsk = model.fit_transform(X)
    Hsk = model.components_
    want = _beta_divergence(X, Wsk, Hsk, 2)  # 0.5 * ||X - W H||^2
    got = evaluate(X, Wsk, Hsk.T)
    assert got["objective"] == pytest.approx(want, rel=1e-10)
    assert got["error"] == pytest.approx(model.reconstruction_err_, rel=1e-10)
    dense = evaluate(X.toarray(), Wsk, Hsk.T)
    assert dense["objective"] == pytest.approx(want, rel=1e-10)
    kl_want = _beta_divergence(X, Wsk, Hsk, 1)
    assert evaluate(X, Wsk, Hsk.T, loss="kl")["objective"] == pytest.approx(kl_want, rel=1e-8)


def test_penalties_match_sklearn_conversion():
    """sklearn alpha_W * l1_ratio * n_features == our l1_w (etc.): same optimum."""
    pytest.importorskip("sklearn")
    from sklearn.decomposition import NMF

    X = noisy_sparse().toarray()
    m, n = X.shape
    alpha_w, alpha_h, ratio = 0.01, 0.02, 0.4
    model = NMF(n_components=4, init="nndsvda", solver="cd", alpha_W=alpha_w, alpha_H=alpha_h,
                l1_ratio=ratio, tol=1e-10, max_iter=3000, random_state=0)  # fmt: skip
    Wsk = model.fit_transform(X)
    pens = {
        "l1_w": alpha_w * ratio * n,
        "l2_w": alpha_w * (1 - ratio) * n,
        "l1_h": alpha_h * ratio * m,
        "l2_h": alpha_h * (1 - ratio) * m,
    }
    fit = nmf(X, 4, W0=Wsk, H0=model.components_.T, tol=1e-12, max_iter=50, dtype=np.float64,
              **pens)  # fmt: skip
    # sklearn's optimum is a fixed point of our updates for the same objective.
    start = evaluate(X, Wsk, model.components_.T, **pens)["objective"]
    assert fit.objective <= start * (1 + 1e-12)
    assert fit.objective == pytest.approx(start, rel=1e-6)


def test_converged_objective_close_to_sklearn_cd():
    pytest.importorskip("sklearn")
    from sklearn.decomposition import NMF

    W, H, X = planted(40, 30, 4, seed=7)
    X = X + 0.05 * np.random.default_rng(8).random(X.shape)
    model = NMF(n_components=4, init="nndsvda", solver="cd", tol=1e-8, max_iter=2000,
                random_state=0)  # fmt: skip
    model.fit_transform(X)
    want = 0.5 * model.reconstruction_err_**2
    fit = nmf(X, 4, tol=1e-12, max_iter=2000, dtype=np.float64)
    assert fit.objective == pytest.approx(want, rel=0.01)


def sklearn_init(X, k, init):
    from sklearn.decomposition._nmf import _initialize_nmf

    W, H = _initialize_nmf(X, k, init=init, random_state=0)
    return W, H.T


@pytest.mark.parametrize("init", ["nndsvd", "nndsvda"])
def test_nndsvd_inits_match_sklearn(init):
    pytest.importorskip("sklearn")
    _, _, X = planted(70, 50, 4, seed=9)  # well-separated spectrum: both SVDs are exact
    Wsk, Hsk = sklearn_init(X, 4, init)
    inp = as_input(X)
    W, H = nmf_init.initialize(inp, 4, init, observed=False, seed=0, dtype=np.float64)
    # same order (descending singular values); NNDSVD does not depend on SVD signs
    np.testing.assert_allclose(W, Wsk, atol=1e-8)
    np.testing.assert_allclose(H, Hsk, atol=1e-8)


def test_nndsvdar_matches_sklearn_structure():
    """Same NNDSVD part; the filled zeros are drawn by other generators (|N| mean/100)."""
    pytest.importorskip("sklearn")
    _, _, X = planted(70, 50, 4, seed=9)
    Wsk, Hsk = sklearn_init(X, 4, "nndsvd")
    W, H = nmf_init.initialize(as_input(X), 4, "nndsvdar", observed=False, seed=0,
                               dtype=np.float64)  # fmt: skip
    bound = X.mean() / 100 * 6  # six standard deviations of |N(0, 1)| * mean / 100
    for ours, ref in ((W, Wsk), (H, Hsk)):
        kept = ref > 0
        np.testing.assert_allclose(ours[kept], ref[kept], atol=1e-8)
        filled = ours[~kept]
        assert (filled > 0).all() and (filled < bound).all()


def _svd_methods(monkeypatch) -> list[str]:
    """The methods of the init's truncated_svd calls, recorded."""
    seen = []
    real = nmf_init.truncated_svd

    def spy(X, k, **kw):
        seen.append(kw["method"])
        return real(X, k, **kw)

    monkeypatch.setattr(nmf_init, "truncated_svd", spy)
    return seen


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dense_init_keeps_a_converged_sketch(monkeypatch, dtype):
    _, _, X = planted(300, 200, 4, seed=9)  # rank 4, k = 4: a 1-pass sketch is exact
    inp = as_input(X)
    seen = _svd_methods(monkeypatch)
    dense = np.ascontiguousarray(X, dtype=dtype)
    W, H = nmf_init.initialize(inp, 4, "nndsvda", observed=False, seed=0, dtype=dtype,
                               dense=dense)  # fmt: skip
    assert seen == ["randomized"]
    Wl, Hl = nmf_init.initialize(inp, 4, "nndsvda", observed=False, seed=0, dtype=dtype)
    assert seen == ["randomized", "lanczos"]  # without the dense copy: Lanczos
    tol = 1e-4 if dtype == np.float32 else 1e-7
    np.testing.assert_allclose(W, Wl, atol=tol * np.abs(Wl).max())
    np.testing.assert_allclose(H, Hl, atol=tol * np.abs(Hl).max())


def test_dense_init_falls_back_to_lanczos(monkeypatch):
    X = np.random.default_rng(3).random((120, 90))  # flat spectrum: the sketch is off
    inp = as_input(X)
    seen = _svd_methods(monkeypatch)
    W, H = nmf_init.initialize(inp, 8, "nndsvd", observed=False, seed=0, dtype=np.float64,
                               dense=X)  # fmt: skip
    assert seen == ["randomized", "lanczos"]
    Wl, Hl = nmf_init.initialize(inp, 8, "nndsvd", observed=False, seed=0, dtype=np.float64)
    np.testing.assert_allclose(W, Wl, atol=1e-6)
    np.testing.assert_allclose(H, Hl, atol=1e-6)


def test_dense_hals_fit_shares_one_copy_with_the_init(monkeypatch):
    _, _, X = planted(100, 70, 4, seed=2)
    seen = _svd_methods(monkeypatch)
    fit = nmf(X, 4, max_iter=3)
    assert seen == ["randomized"]
    assert fit.W.dtype == np.float32


def test_random_init_scale_and_seed():
    X = noisy_sparse()
    inp = as_input(X)
    W, H = nmf_init.initialize(inp, 4, "random", observed=False, seed=3, dtype=np.float64)
    W2, _ = nmf_init.initialize(inp, 4, "random", observed=False, seed=3, dtype=np.float64)
    np.testing.assert_array_equal(W, W2)
    scale = np.sqrt(X.sum() / (80 * 50) / 4)
    expected = scale * np.sqrt(2 / np.pi)  # mean of |N(0, 1)|
    assert np.mean(np.concatenate([W.ravel(), H.ravel()])) == pytest.approx(expected, rel=0.1)
    Wo, _ = nmf_init.initialize(inp, 4, "random", observed=True, seed=3, dtype=np.float64)
    ratio = np.sqrt((X.sum() / X.nnz) / (X.sum() / (80 * 50)))
    np.testing.assert_allclose(Wo, W * ratio, rtol=1e-12)  # mean over stored entries


@pytest.mark.parametrize("init", INITS)
def test_every_init_runs(init):
    fit = nmf(noisy_sparse(), 3, init=init, max_iter=5)
    assert fit.init == ("nndsvda" if init == "auto" else init)
    assert np.isfinite(fit.objective)


def test_w0_h0_override_init():
    X = noisy_sparse()
    rng = np.random.default_rng(0)
    W0 = rng.random((80, 3))
    H0 = rng.random((50, 3))
    kept = W0.copy()
    a = nmf(X, 3, W0=W0, H0=H0, max_iter=5, dtype=np.float64)
    b = nmf(X, 3, W0=W0, H0=H0, init="random", seed=9, max_iter=5, dtype=np.float64)
    np.testing.assert_array_equal(a.W, b.W)
    np.testing.assert_array_equal(W0, kept)  # the caller's arrays are not changed


# ------------------------------------------------------------ contract
@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"mask": "observed"},
        {"solver": "mu"},
        {"loss": "kl"},
        {"solver": "mu", "loss": "kl", "mask": "observed"},
    ],
)
def test_identical_factors_on_one_and_two_threads(kwargs, monkeypatch):
    monkeypatch.setattr(nmf_module, "MIN_WORK_PER_THREAD", 1)  # no cap: really 2 threads
    X = noisy_sparse(400, 150, seed=11)
    fits = one_and_two_threads(lambda: nmf(X, 6, max_iter=15, tol=0.0, **kwargs))
    np.testing.assert_array_equal(fits[0].W, fits[1].W)
    np.testing.assert_array_equal(fits[0].H, fits[1].H)
    np.testing.assert_array_equal(fits[0].history["objective"], fits[1].history["objective"])


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("mask", MASKS)
def test_all_zero_rows_and_columns(solver, loss, mask):
    X = noisy_sparse().toarray()
    X[[0, 7], :] = 0.0
    X[:, [3, 49]] = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for data in (sp.csr_matrix(X), X):
            if mask == "observed" and not sp.issparse(data):
                continue  # a dense array's zeros are observed values
            fit = nmf(data, 3, solver=solver, loss=loss, mask=mask, max_iter=20,
                      dtype=np.float64)  # fmt: skip
            assert np.isfinite(fit.W).all() and np.isfinite(fit.H).all()
            assert np.isfinite(fit.objective)
            if solver == "hals" or mask == "none":
                np.testing.assert_allclose(fit.W[[0, 7]], 0.0, atol=1e-12)
                np.testing.assert_allclose(fit.H[[3, 49]], 0.0, atol=1e-12)


def test_callback_stops_the_fit():
    seen = []

    def callback(iteration, stats):
        seen.append((iteration, dict(stats)))
        return iteration == 3

    fit = nmf(noisy_sparse(), 3, tol=0.0, max_iter=50, callback=callback)
    assert fit.n_iter == 3 and not fit.converged
    assert [it for it, _ in seen] == [1, 2, 3]
    assert set(seen[0][1]) == {"objective", "error", "relative_error", "seconds"}
    assert seen[-1][1]["error"] == fit.error
    assert any("callback" in note for note in fit.notes)


def test_callback_none_or_false_continues():
    fit = nmf(noisy_sparse(), 3, tol=0.0, max_iter=4, callback=lambda it, st: None)
    assert fit.n_iter == 4
    assert any("max_iter" in note for note in fit.notes)


def test_tol_stops_on_relative_decrease():
    fit = nmf(noisy_sparse(), 3, tol=1e-3, max_iter=500, dtype=np.float64)
    assert fit.converged and fit.n_iter < 500
    obj = fit.history["objective"]
    assert (obj[-2] - obj[-1]) / obj[-1] < 1e-3
    assert np.all((obj[:-2] - obj[1:-1]) / obj[1:-1] >= 1e-3)


# ------------------------------------------------------------ fold_in
@pytest.mark.parametrize("mask", MASKS)
def test_fold_in_returns_the_fitted_rows(mask):
    X = noisy_sparse()
    fit = nmf(X, 3, mask=mask, tol=1e-13, max_iter=3000, dtype=np.float64)
    W = fold_in(fit.H, X, mask=mask, tol=1e-12, max_iter=1000)
    assert W.dtype == np.float64 and W.shape == (80, 3)
    np.testing.assert_allclose(W, fit.W, atol=1e-5 * fit.W.max())


def test_fold_in_with_penalties_and_dense_rows():
    X = noisy_sparse()
    # penalties on both factors (on W alone, W -> 0 and H -> inf never converges)
    pens = {"l1_w": 0.2, "l2_w": 0.5, "l1_h": 0.1, "l2_h": 0.3}
    fit = nmf(X, 3, tol=1e-13, max_iter=3000, dtype=np.float64, **pens)
    assert fit.converged
    W = fold_in(fit.H, X.toarray(), tol=1e-12, max_iter=1000, l1_w=0.2, l2_w=0.5)
    np.testing.assert_allclose(W, fit.W, atol=1e-5 * fit.W.max())


def test_fold_in_kl():
    X = noisy_sparse()
    fit = nmf(X, 3, loss="kl", tol=1e-12, max_iter=2000, dtype=np.float64)
    W = fold_in(fit.H, X, loss="kl", tol=1e-10, max_iter=2000)
    np.testing.assert_allclose(W, fit.W, atol=1e-3 * fit.W.max())


def test_fold_in_empty_rows_and_dtype():
    fit = nmf(noisy_sparse(), 3, max_iter=20)
    rows = sp.csr_matrix((2, 50))
    for loss in LOSSES:
        for mask in MASKS:
            W = fold_in(fit.H, rows, loss=loss, mask=mask)
            assert W.dtype == np.float32
            np.testing.assert_array_equal(W, 0.0)


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs 2 numba threads")
def test_small_fits_run_on_one_thread_and_restore_the_count(monkeypatch):
    X = noisy_sparse(150, 80, seed=11)
    before = numba.get_num_threads()
    seen = []
    try:
        numba.set_num_threads(2)
        nmf(X, 5, max_iter=2, tol=0.0, callback=lambda it, st: seen.append(
            numba.get_num_threads()))  # fmt: skip
        assert seen == [1, 1]
        assert numba.get_num_threads() == 2
        monkeypatch.setattr(nmf_module, "MIN_WORK_PER_THREAD", 1)
        seen.clear()
        nmf(X, 5, max_iter=1, tol=0.0, callback=lambda it, st: seen.append(
            numba.get_num_threads()))  # fmt: skip
        assert seen == [2]
    finally:
        numba.set_num_threads(before)


def test_fold_in_deterministic_across_threads():
    X = noisy_sparse(300, 50, seed=12)
    fit = nmf(X, 4, max_iter=20)
    outs = one_and_two_threads(lambda: [fold_in(fit.H, X, loss=loss, mask=mask)
                                        for loss in LOSSES for mask in MASKS])  # fmt: skip
    for a, b in zip(*outs, strict=True):
        np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------ errors
def test_first_negative():
    assert first_negative(np.ones((3, 3))) is None
    dense = np.ones((3, 4))
    dense[1, 2] = -2.0
    dense[2, 0] = -1.0
    assert first_negative(dense) == (1, 2, -2.0)
    x = sp.csr_matrix(dense)
    assert first_negative(x) == (1, 2, -2.0)
    # unsorted indices within a row: the smallest column wins
    unsorted = sp.csr_matrix(
        (np.array([1.0, -3.0, -4.0]), np.array([0, 3, 1]), np.array([0, 1, 3])), shape=(2, 4)
    )
    assert first_negative(unsorted) == (1, 1, -4.0)
    matrix = Matrix(shape=(2, 4), data=unsorted.data, indptr=unsorted.indptr,
                    indices=unsorted.indices)  # fmt: skip
    assert first_negative(matrix) == (1, 1, -4.0)


@pytest.mark.parametrize(
    "data, message",
    [
        (np.array([[1.0, np.nan], [0.0, 1.0]]), "non-finite value (nan) at row 1, column 2"),
        (np.array([[1.0, 2.0], [np.inf, 1.0]]), "non-finite value (inf) at row 2, column 1"),
        (np.array([[1.0, 2.0], [1.0, -0.5]]), "negative value (-0.5) at row 2, column 2"),
        (np.zeros((3, 3)), "all zeros"),
        (np.zeros((0, 3)), "empty"),
    ],
)
def test_input_errors(data, message):
    with pytest.raises(InputDataError) as info:
        nmf(data, 1)
    assert message in info.value.message
    assert info.value.exit_code == EXIT_DATA


def test_sparse_negative_and_nan_errors():
    x = sp.csr_matrix(np.array([[1.0, 0.0, 2.0], [0.0, -1.0, 0.0]]))
    with pytest.raises(InputDataError, match=r"negative value \(-1\) at row 2, column 2"):
        nmf(x, 1)
    with pytest.raises(InputDataError, match="negative"):
        nmf(x, 1, mask="observed")
    x.data[0] = np.nan
    with pytest.raises(InputDataError, match="NaN"):
        nmf(x, 1, mask="observed")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"k": 0}, "k must be an integer >= 1"),
        ({"k": 6}, "k=6 is larger than min(m, n)=5"),
        ({"k": 2.5}, "k must be an integer"),
        ({"solver": "als"}, "unknown solver 'als'"),
        ({"loss": "itakura"}, "unknown loss 'itakura'"),
        ({"init": "svd"}, "unknown init 'svd'"),
        ({"mask": "missing"}, "unknown mask 'missing'"),
        ({"dtype": np.int32}, "dtype must be float32 or float64"),
        ({"tol": -1.0}, "tol must be a finite number >= 0"),
        ({"l1_w": -0.1}, "l1_w must be a finite number >= 0"),
        ({"l2_h": float("nan")}, "l2_h must be a finite number >= 0"),
        ({"max_iter": 0}, "max_iter must be an integer >= 1"),
        ({"seed": -1}, "seed must be an integer >= 0"),
        ({"W0": np.ones((8, 2))}, "W0 and H0 must be given together"),
        ({"W0": np.ones((7, 2)), "H0": np.ones((5, 2))}, "W0 must have shape (8, 2)"),
        ({"W0": -np.ones((8, 2)), "H0": np.ones((5, 2))}, "W0 holds negative values"),
        ({"W0": np.ones((8, 2)), "H0": np.full((5, 2), np.nan)}, "H0 holds NaN or inf"),
    ],
)
def test_usage_errors(kwargs, message):
    X = np.random.default_rng(0).random((8, 5))
    kwargs = {"k": 2, **kwargs}
    with pytest.raises(UsageError) as info:
        nmf(X, **kwargs)
    assert message in info.value.message
    assert info.value.exit_code == EXIT_USAGE


def test_numerics_error_on_overflow():
    X = np.full((6, 5), 1e30)
    X[0, 0] = 3e30
    with pytest.raises(NumericsError) as info:
        nmf(X, 2, dtype=np.float32)
    assert "NaN or inf" in info.value.message and info.value.hint
    assert info.value.exit_code == EXIT_NUMERICS


def test_fold_in_errors():
    fit = nmf(noisy_sparse(), 3, max_iter=5)
    with pytest.raises(InputDataError, match="the rows have 49 columns but the model has 50"):
        fold_in(fit.H, np.ones((2, 49)))
    with pytest.raises(InputDataError, match="negative value"):
        fold_in(fit.H, -np.ones((2, 50)))
    with pytest.raises(UsageError, match="unknown loss"):
        fold_in(fit.H, np.ones((2, 50)), loss="l1")
    with pytest.raises(UsageError, match="H must be a 2-D float32 or float64 array"):
        fold_in(fit.H.ravel(), np.ones((2, 50)))
