"""HALS kernels against naive NumPy twins (float64), scipy's NNLS and each other."""

from __future__ import annotations

import numba
import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import nnls

from mfcli.kernels import nmf_hals


# ------------------------------------------------------------ naive twins
def naive_cd_row(f, a, B, l1, l2, max_sweeps, rel_first, rel_norm):
    """Exact coordinate minimisation, one coordinate at a time, with the stopping rule."""
    f = np.array(f, dtype=np.float64)
    k = f.shape[0]
    first = 0.0
    done = 0
    for s in range(max_sweeps):
        delta = size = 0.0
        for c in range(k):
            d = B[c, c] + l2
            others = B[c] @ f - B[c, c] * f[c]
            new = max(0.0, (a[c] - l1 - others) / d) if d > 0 else 0.0
            delta += (new - f[c]) ** 2
            size += new * new
            f[c] = new
        done = s + 1
        if s == 0:
            first = delta
        if delta <= rel_first**2 * first or delta <= rel_norm**2 * size:
            break
    return f, done


def naive_hals_rows(A, B, l1, l2, max_sweeps, rel_first, rel_norm, F):
    out = np.empty_like(F, dtype=np.float64)
    sweeps = np.empty(F.shape[0], dtype=np.int64)
    for i in range(F.shape[0]):
        out[i], sweeps[i] = naive_cd_row(F[i], A[i], B, l1, l2, max_sweeps, rel_first, rel_norm)
    return out, sweeps


def naive_observed_rows(csr, G, l1, l2, max_sweeps, per_entry, rel_first, rel_norm, F):
    out = np.empty_like(F, dtype=np.float64)
    sweeps = np.empty(F.shape[0], dtype=np.int64)
    for i in range(F.shape[0]):
        lo, hi = csr.indptr[i], csr.indptr[i + 1]
        g = G[csr.indices[lo:hi]].astype(np.float64)
        B = g.T @ g
        a = g.T @ csr.data[lo:hi]
        if hi == lo:
            out[i], sweeps[i] = 0.0, 0
            continue
        cap = min(max(1 + int(per_entry * (hi - lo)), 1), max_sweeps)
        out[i], sweeps[i] = naive_cd_row(F[i], a, B, l1, l2, cap, rel_first, rel_norm)
    return out, sweeps


# ------------------------------------------------------------- inputs
def dense_problem(r=70, k=6, seed=0, zero_col=None):
    rng = np.random.default_rng(seed)
    G = rng.random((50, k))
    if zero_col is not None:
        G[:, zero_col] = 0.0
    X = rng.random((r, 50)) * (rng.random((r, 50)) < 0.3)
    X[3] = 0.0  # an empty row
    A = X @ G
    B = G.T @ G
    F = rng.random((r, k))
    return A, B, F


def blocks_of(r, n_blocks):
    return np.linspace(0, r, n_blocks + 1).astype(np.int64)


def random_csr(m, n, density, seed, *, empty_rows=()):
    x = sp.random(m, n, density=density, random_state=seed, format="lil")
    for i in empty_rows:
        x[i, :] = 0
    x = x.tocsr()
    x.eliminate_zeros()
    x.indptr = x.indptr.astype(np.int64)
    return x


# ------------------------------------------------------------- hals_rows
@pytest.mark.parametrize(
    "l1, l2, max_sweeps, rel_first, rel_norm",
    [
        (0.0, 0.0, 1, 0.0, 0.0),
        (0.0, 0.0, 6, 0.1, 0.0),
        (0.3, 0.0, 4, 0.1, 0.0),
        (0.0, 2.0, 4, 0.1, 0.0),
        (0.5, 1.0, 50, 0.0, 1e-6),
    ],
)
def test_hals_rows_matches_twin(l1, l2, max_sweeps, rel_first, rel_norm):
    A, B, F = dense_problem()
    want, want_sweeps = naive_hals_rows(A, B, l1, l2, max_sweeps, rel_first, rel_norm, F)
    got = F.copy()
    sweeps = np.empty(F.shape[0], dtype=np.int32)
    nmf_hals.hals_rows(
        A, B, l1, l2, max_sweeps, rel_first, rel_norm, 32, blocks_of(70, 3), got, sweeps
    )
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(sweeps, want_sweeps)
    np.testing.assert_array_equal(got[3], 0.0)  # an empty row of X ends at 0


@pytest.mark.parametrize("k", [1, 3, 4, 8, 11, 21])
def test_hals_rows_matches_twin_any_k(k):
    """Every remainder of the kernel's four-coordinate passes."""
    A, B, F = dense_problem(k=k, seed=k)
    want, want_sweeps = naive_hals_rows(A, B, 0.1, 0.3, 5, 0.05, 0.0, F)
    got = F.copy()
    sweeps = np.empty(F.shape[0], dtype=np.int32)
    nmf_hals.hals_rows(A, B, 0.1, 0.3, 5, 0.05, 0.0, 32, blocks_of(70, 3), got, sweeps)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(sweeps, want_sweeps)


def test_hals_rows_zero_component_goes_to_zero():
    A, B, F = dense_problem(zero_col=2)
    got = F.copy()
    sweeps = np.empty(F.shape[0], dtype=np.int32)
    nmf_hals.hals_rows(A, B, 0.0, 0.0, 3, 0.1, 0.0, 32, blocks_of(70, 1), got, sweeps)
    want, _ = naive_hals_rows(A, B, 0.0, 0.0, 3, 0.1, 0.0, F)
    np.testing.assert_array_equal(got[:, 2], 0.0)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    assert np.isfinite(got).all()


def test_hals_rows_same_result_for_any_group_and_blocks():
    A, B, F = dense_problem(r=101)
    results = []
    for group, n_blocks in [(1, 1), (3, 4), (32, 2), (64, 7)]:
        got = F.copy()
        sweeps = np.empty(101, dtype=np.int32)
        nmf_hals.hals_rows(
            A, B, 0.1, 0.2, 5, 0.1, 0.0, group, blocks_of(101, n_blocks), got, sweeps
        )
        results.append((got, sweeps))
    for got, sweeps in results[1:]:
        np.testing.assert_array_equal(got, results[0][0])
        np.testing.assert_array_equal(sweeps, results[0][1])


def test_hals_rows_converges_to_nnls():
    """Many sweeps solve min ||M f - y|| s.t. f >= 0, as scipy's NNLS does."""
    rng = np.random.default_rng(3)
    M = rng.standard_normal((40, 5))
    Y = rng.standard_normal((8, 40))
    A = Y @ M
    B = M.T @ M
    got = np.zeros((8, 5))
    sweeps = np.empty(8, dtype=np.int32)
    nmf_hals.hals_rows(A, B, 0.0, 0.0, 2000, 0.0, 1e-14, 32, blocks_of(8, 2), got, sweeps)
    for i in range(8):
        want, _ = nnls(M, Y[i])
        np.testing.assert_allclose(got[i], want, atol=1e-8)


def test_hals_rows_float32_close_to_float64():
    A, B, F = dense_problem()
    want, _ = naive_hals_rows(A, B, 0.1, 0.1, 3, 0.1, 0.0, F)
    got = F.astype(np.float32)
    sweeps = np.empty(F.shape[0], dtype=np.int32)
    nmf_hals.hals_rows(
        A.astype(np.float32), B, 0.1, 0.1, 3, 0.1, 0.0, 32, blocks_of(70, 2), got, sweeps
    )
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


# ----------------------------------------------------- hals_observed_rows
@pytest.mark.parametrize(
    "l1, l2, max_sweeps, per_entry, rel_first, rel_norm",
    [
        (0.0, 0.0, 1, 0.0, 0.0, 0.0),
        (0.0, 0.0, 50, 0.25, 0.1, 0.0),
        (0.2, 0.5, 50, 0.25, 0.1, 0.0),
        (0.0, 0.1, 300, 1e9, 0.0, 1e-8),
    ],
)
def test_hals_observed_rows_matches_twin(l1, l2, max_sweeps, per_entry, rel_first, rel_norm):
    x = random_csr(60, 45, 0.2, 1, empty_rows=[0, 17])
    rng = np.random.default_rng(2)
    G = rng.random((45, 4))
    F = rng.random((60, 4))
    want, want_sweeps = naive_observed_rows(
        x, G, l1, l2, max_sweeps, per_entry, rel_first, rel_norm, F
    )
    got = F.copy()
    sweeps = np.empty(60, dtype=np.int32)
    nmf_hals.hals_observed_rows(
        x.indptr, x.indices, x.data, G, l1, l2, max_sweeps, per_entry, rel_first, rel_norm,
        blocks_of(60, 5), got, sweeps,
    )  # fmt: skip
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(sweeps, want_sweeps)
    np.testing.assert_array_equal(got[[0, 17]], 0.0)  # rows with nothing stored


# ------------------------------------------------------------- objectives
def test_cross_sum_and_entry_sums_match_numpy():
    x = random_csr(40, 30, 0.25, 4, empty_rows=[5])
    rng = np.random.default_rng(5)
    W = rng.random((40, 3))
    H = rng.random((30, 3))
    A = rng.random((40, 3))
    assert nmf_hals.cross_sum(W, A) == pytest.approx(np.sum(W * A), rel=1e-13)
    cross = np.empty(40)
    sq = np.empty(40)
    nmf_hals.entry_sums(x.indptr, x.indices, x.data, W, H, blocks_of(40, 3), cross, sq)
    rows = np.repeat(np.arange(40), np.diff(x.indptr))
    pred = np.sum(W[rows] * H[x.indices], axis=1)
    want_cross = np.bincount(rows, weights=x.data * pred, minlength=40)
    want_sq = np.bincount(rows, weights=(x.data - pred) ** 2, minlength=40)
    np.testing.assert_allclose(cross, want_cross, rtol=1e-12)
    np.testing.assert_allclose(sq, want_sq, rtol=1e-12)


def test_kernels_identical_on_one_and_two_threads():
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs 2 numba threads")
    x = random_csr(300, 80, 0.1, 6)
    rng = np.random.default_rng(7)
    G = rng.random((80, 5)).astype(np.float32)
    F0 = rng.random((300, 5)).astype(np.float32)
    A = (x @ G).astype(np.float32)
    B = G.astype(np.float64).T @ G.astype(np.float64)
    data = x.data.astype(np.float32)
    before = numba.get_num_threads()
    outs = []
    try:
        for threads in (1, 2):
            numba.set_num_threads(threads)
            blocks = blocks_of(300, 8 * threads)
            f1 = F0.copy()
            f2 = F0.copy()
            sw = np.empty(300, dtype=np.int32)
            nmf_hals.hals_rows(A, B, 0.0, 0.0, 4, 0.1, 0.0, 32, blocks, f1, sw)
            nmf_hals.hals_observed_rows(
                x.indptr, x.indices, data, G, 0.0, 0.0, 10, 0.25, 0.1, 0.0, blocks, f2, sw
            )
            outs.append((f1, f2))
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(outs[0][0], outs[1][0])
    np.testing.assert_array_equal(outs[0][1], outs[1][1])
