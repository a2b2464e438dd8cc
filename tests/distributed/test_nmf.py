"""Distributed HALS NMF (mfcli.distributed.nmf) against the local solver."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from mfcli.data import Matrix
from mfcli.errors import InputDataError, UsageError
from mfcli.solvers.nmf import nmf
from mfcli.solvers.nmf_init import initialize
from mfcli.solvers.svd import as_input

pytest.importorskip("distributed")

from mfcli.distributed.blocks import scatter_rows  # noqa: E402
from mfcli.distributed.nmf import (  # noqa: E402
    bytes_per_iteration,
    hals,
    initial_factors,
    traffic_parts,
)

RTOL64 = 1e-5  # W, H: relative Frobenius distance, float64
RTOL32 = 1e-3  # float32
HIST_RTOL64 = 1e-9


def _rel(a, b) -> float:
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300))


def _sparse(m=90, n=60, density=0.12, seed=0, empty_rows=(), empty_cols=()) -> Matrix:
    rng = np.random.default_rng(seed)
    X = sp.random(m, n, density=density, random_state=rng, format="lil")
    X = X.tocsr()
    X.data = rng.uniform(0.1, 5.0, X.data.shape[0])
    X = X.tolil()
    for i in empty_rows:
        X[i, :] = 0
    for j in empty_cols:
        X[:, j] = 0
    X = X.tocsr()
    X.eliminate_zeros()
    X.sort_indices()
    return Matrix.from_csr(X.indptr, X.indices, X.data, X.shape)


def _dense(m=70, n=50, r=4, seed=1) -> Matrix:
    rng = np.random.default_rng(seed)
    X = rng.uniform(size=(m, r)) @ rng.uniform(size=(r, n)) + 0.1 * rng.uniform(size=(m, n))
    return Matrix.from_dense(X)


def _start(M: Matrix, k: int, dtype=np.float64, seed=0):
    return initialize(as_input(M), k, "nndsvda", observed=False, seed=seed, dtype=dtype)


def _compare(client, M, k, n_blocks, *, dtype=np.float64, **options):
    W0, H0 = _start(M, k, dtype)
    blocks = scatter_rows(client, M, n_blocks)
    local = nmf(M, k, dtype=dtype, W0=W0, H0=H0, **options)
    dist = hals(client, blocks, k, dtype=dtype, W0=W0, H0=H0, **options)
    return local, dist, blocks


def _assert_same(local, dist, w_tol=RTOL64, hist_tol=HIST_RTOL64):
    assert dist.n_iter == local.n_iter
    assert dist.converged == local.converged
    assert dist.W.dtype == local.W.dtype and dist.H.dtype == local.H.dtype
    assert _rel(dist.W, local.W) < w_tol
    assert _rel(dist.H, local.H) < w_tol
    for name in ("objective", "error"):
        np.testing.assert_allclose(dist.history[name], local.history[name], rtol=hist_tol)
    assert dist.objective == pytest.approx(local.objective, rel=hist_tol)
    assert dist.relative_error == pytest.approx(local.relative_error, rel=hist_tol)
    assert (dist.solver, dist.loss, dist.mask, dist.init) == (
        local.solver,
        local.loss,
        local.mask,
        local.init,
    )


# ------------------------------------------------------------------ equality
@pytest.mark.parametrize("n_blocks", [1, 2, 5])
def test_sparse_matches_local(client, n_blocks):
    M = _sparse()
    local, dist, _ = _compare(client, M, 6, n_blocks, tol=1e-6, max_iter=60)
    _assert_same(local, dist)
    if n_blocks == 1:  # one block: the local kernels' products, bit for bit
        np.testing.assert_array_equal(dist.W, local.W)
        np.testing.assert_array_equal(dist.H, local.H)


@pytest.mark.parametrize("n_blocks", [1, 2, 5])
def test_sparse_penalties_match_local(client, n_blocks):
    M = _sparse(seed=3)
    pens = {"l1_w": 0.3, "l1_h": 0.1, "l2_w": 0.5, "l2_h": 0.2}
    local, dist, _ = _compare(client, M, 5, n_blocks, tol=1e-6, max_iter=60, **pens)
    _assert_same(local, dist)


@pytest.mark.parametrize("n_blocks", [1, 2, 5])
def test_dense_matches_local(client, n_blocks):
    M = _dense()
    local, dist, _ = _compare(client, M, 4, n_blocks, tol=1e-7, max_iter=60, l2_w=0.1, l1_h=0.05)
    _assert_same(local, dist)


@pytest.mark.parametrize("n_blocks", [2, 5])
def test_empty_rows_and_columns_match_local(client, n_blocks):
    M = _sparse(seed=5, empty_rows=(0, 7, 8, 40, 89), empty_cols=(0, 13, 59))
    assert np.sum(np.diff(M.indptr) == 0) >= 5
    local, dist, _ = _compare(client, M, 5, n_blocks, tol=1e-6, max_iter=60)
    _assert_same(local, dist)
    assert np.all(dist.W[[0, 7, 8, 40, 89]] == 0)
    assert np.all(dist.H[[0, 13, 59]] == 0)


def test_block_of_empty_rows(client):
    M = _sparse(m=40, n=30, seed=6, empty_rows=tuple(range(20, 40)))
    local, dist, blocks = _compare(client, M, 3, 4, tol=1e-6, max_iter=40)
    assert blocks.n_blocks >= 3
    _assert_same(local, dist)


@pytest.mark.parametrize("make", [_sparse, _dense])
def test_float32_matches_local_loosely(client, make):
    M = make()
    local, dist, _ = _compare(client, M, 4, 3, dtype=np.float32, tol=1e-5, max_iter=40)
    assert dist.W.dtype == np.float32
    assert dist.n_iter == local.n_iter
    assert _rel(dist.W, local.W) < RTOL32
    assert _rel(dist.H, local.H) < RTOL32
    # the objective is 0.5 (||X||^2 - 2 <X, W H.T> + ...), float32 products: relative
    # rounding of ||X||^2 over a small objective
    np.testing.assert_allclose(dist.history["objective"], local.history["objective"], rtol=1e-3)


def test_random_init_matches_local(client):
    M = _sparse(seed=7)
    blocks = scatter_rows(client, M, 3)
    local = nmf(M, 4, init="random", seed=11, dtype=np.float64, tol=1e-6, max_iter=50)
    dist = hals(client, blocks, 4, init="random", seed=11, dtype=np.float64, tol=1e-6, max_iter=50)
    assert dist.init == "random"
    _assert_same(local, dist)


def test_callback_and_max_iter_match_local(client):
    M = _sparse(seed=8)
    seen_l, seen_d = [], []

    def cb(seen):
        def inner(it, stats):
            seen.append((it, stats["objective"]))
            return it == 7

        return inner

    W0, H0 = _start(M, 4)
    blocks = scatter_rows(client, M, 2)
    opts = {"W0": W0, "H0": H0, "tol": 0.0, "max_iter": 100, "dtype": np.float64}
    local = nmf(M, 4, callback=cb(seen_l), **opts)
    dist = hals(client, blocks, 4, callback=cb(seen_d), **opts)
    assert dist.n_iter == local.n_iter == 7
    assert not dist.converged and dist.notes == local.notes
    np.testing.assert_allclose([o for _, o in seen_d], [o for _, o in seen_l], rtol=1e-9)
    capped = hals(client, blocks, 4, **{**opts, "max_iter": 5})
    assert capped.n_iter == 5 and not capped.converged and "max_iter=5" in capped.notes[0]


def test_repeatable(client):
    M = _sparse(seed=9)
    W0, H0 = _start(M, 4)
    blocks = scatter_rows(client, M, 5)
    a = hals(client, blocks, 4, W0=W0, H0=H0, dtype=np.float64, max_iter=30, tol=1e-8)
    b = hals(client, blocks, 4, W0=W0, H0=H0, dtype=np.float64, max_iter=30, tol=1e-8)
    np.testing.assert_array_equal(a.W, b.W)
    np.testing.assert_array_equal(a.H, b.H)
    np.testing.assert_array_equal(a.history["objective"], b.history["objective"])


# ------------------------------------------------------------------ behaviour
def test_objective_never_increases(client):
    M = _sparse(m=120, n=80, density=0.2, seed=10)
    blocks = scatter_rows(client, M, 3)
    fit = hals(client, blocks, 8, init="random", seed=2, tol=0.0, max_iter=80, l1_w=0.05)
    obj = fit.history["objective"]
    assert obj.shape == (80,)
    assert np.all(np.diff(obj) <= 1e-12 * obj[:-1])


def test_planted_low_rank_recovered(client):
    rng = np.random.default_rng(12)
    m, n, r = 80, 60, 3
    Wt = rng.uniform(size=(m, r)) * (rng.uniform(size=(m, r)) < 0.6)
    Ht = rng.uniform(size=(n, r)) * (rng.uniform(size=(n, r)) < 0.6)
    Wt[np.arange(r), np.arange(r)] = 2.0  # every component present
    Ht[np.arange(r), np.arange(r)] = 2.0
    M = Matrix.from_dense(Wt @ Ht.T)
    blocks = scatter_rows(client, M, 3)
    fit = hals(client, blocks, r, init="random", seed=1, dtype=np.float64, tol=1e-12, max_iter=2000)
    assert fit.relative_error < 1e-3
    recon = fit.W @ fit.H.T
    assert _rel(recon, Wt @ Ht.T) < 1e-3


# ------------------------------------------------------------------ traffic
@pytest.mark.parametrize(("n_blocks", "dtype"), [(1, np.float64), (2, np.float64), (5, np.float32)])
def test_bytes_model_matches_what_is_sent(client, n_blocks, dtype):
    M = _sparse(seed=13)
    m, n = M.shape
    k = 4
    blocks = scatter_rows(client, M, n_blocks)
    traffic: list = []
    fit = hals(client, blocks, k, init="random", dtype=dtype, max_iter=4, tol=0.0, traffic=traffic)
    assert len(traffic) == fit.n_iter == 4
    n_workers = len(set(blocks.workers))  # H goes to the workers holding blocks only
    assert n_workers == min(n_blocks, 2)
    itemsize = np.dtype(dtype).itemsize
    parts = traffic_parts(m, n, k, n_workers, itemsize, blocks.n_blocks)
    for it in traffic:
        assert it == parts
        assert sum(it.values()) == bytes_per_iteration(m, n, k, n_workers, itemsize, n_blocks)
    # the formula of the docstring
    b = blocks.n_blocks
    expected = itemsize * k * (2 * m + (n_workers + b) * n) + 8 * b * k * k
    assert bytes_per_iteration(m, n, k, n_workers, itemsize, b) == expected


def test_bytes_model_default_blocks():
    assert bytes_per_iteration(100, 50, 5, 4, 8) == bytes_per_iteration(100, 50, 5, 4, 8, 4)


# ------------------------------------------------------------------ errors
def test_negative_value_reported_with_its_position(client):
    X = np.abs(np.random.default_rng(0).normal(size=(30, 20)))
    X[17, 3] = -1.5
    blocks = scatter_rows(client, Matrix.from_dense(X), 3)
    with pytest.raises(InputDataError, match="row 18, column 4"):
        hals(client, blocks, 2, init="random")


def test_non_finite_and_all_zero_refused(client):
    X = np.ones((20, 10))
    X[5, 5] = np.nan
    with pytest.raises(InputDataError, match="non-finite"):
        hals(client, scatter_rows(client, Matrix.from_dense(X), 2), 2, init="random")
    Z = Matrix.from_dense(np.zeros((20, 10)))
    with pytest.raises(InputDataError, match="all zeros"):
        hals(client, scatter_rows(client, Z, 2), 2, init="random")


def test_usage_errors(client):
    M = _sparse(m=30, n=20, seed=14)
    blocks = scatter_rows(client, M, 2)
    with pytest.raises(UsageError, match="k=21"):
        hals(client, blocks, 21, init="random")
    with pytest.raises(UsageError, match="together"):
        hals(client, blocks, 2, W0=np.ones((30, 2)))
    with pytest.raises(UsageError, match="shape"):
        hals(client, blocks, 2, W0=np.ones((30, 3)), H0=np.ones((20, 2)))
    with pytest.raises(UsageError, match="init"):
        hals(client, blocks, 2, init="svd")


def test_svd_init_without_distributed_svd(client, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "mfcli.distributed.svd", None)  # import fails
    blocks = scatter_rows(client, _sparse(m=30, n=20, seed=15), 2)
    with pytest.raises(UsageError, match="distributed SVD"):
        hals(client, blocks, 2)


def test_svd_init_needs_k_below_min_dim(client):
    blocks = scatter_rows(client, _sparse(m=30, n=20, seed=15), 2)
    with pytest.raises(UsageError, match="k < 20"):
        hals(client, blocks, 20, init="nndsvd")
    fit = hals(client, blocks, 20, init="random", max_iter=3)
    assert fit.W.shape == (30, 20)


# ------------------------------------------------------------------ nndsvd inits
def _separated(m=80, n=60, r=4, seed=16) -> Matrix:
    """Rank r plus small noise: the top r singular values are well separated."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(size=(m, r)) @ np.diag([8.0, 4.0, 2.0, 1.0][:r]) @ rng.uniform(size=(r, n))
    return Matrix.from_dense(X + 0.001 * rng.uniform(size=(m, n)))


@pytest.mark.parametrize("init", ["nndsvd", "nndsvda", "nndsvdar"])
def test_svd_inits_agree_with_local_when_separated(client, init):
    M = _separated()
    m, n = M.shape
    blocks = scatter_rows(client, M, 3)
    mean = float(np.mean(M.data))
    W, H = initial_factors(client, blocks, 4, init, seed=5, dtype=np.float64, mean=mean)
    Wl, Hl = initialize(as_input(M), 4, init, observed=False, seed=5, dtype=np.float64)
    assert W.shape == (m, 4) and H.shape == (n, 4)
    assert np.all(W >= 0) and np.all(H >= 0)
    assert _rel(W, Wl) < 1e-4
    assert _rel(H, Hl) < 1e-4


def test_auto_init_fit_close_to_local(client):
    M = _separated()
    blocks = scatter_rows(client, M, 2)
    local = nmf(M, 4, dtype=np.float64, tol=1e-6, max_iter=100)
    dist = hals(client, blocks, 4, dtype=np.float64, tol=1e-6, max_iter=100)
    assert dist.init == local.init == "nndsvda"
    assert dist.objective == pytest.approx(local.objective, rel=1e-3)
