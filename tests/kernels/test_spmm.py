"""Sparse x dense kernels against naive NumPy twins (float64) and scipy."""

from __future__ import annotations

import numba
import numpy as np
import pytest
import scipy.sparse as sp

from mfcli.kernels import spmm


# ------------------------------------------------------------ naive twins
def naive_csr_matmul(indptr, indices, data, dense):
    out = np.zeros((len(indptr) - 1, dense.shape[1]))
    rows = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
    np.add.at(out, rows, data[:, None].astype(np.float64) * dense[indices])
    return out


def naive_csr_t_matmul(indptr, indices, data, dense, n_cols):
    out = np.zeros((n_cols, dense.shape[1]))
    rows = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
    np.add.at(out, indices, data[:, None].astype(np.float64) * dense[rows])
    return out


def naive_sampled_residual(indptr, indices, data, left, right, offset):
    rows = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
    return data - offset - np.sum(left[rows] * right[indices], axis=1)


# ------------------------------------------------------------- inputs
def random_csr(m, n, density, seed, *, empty_rows=(), empty_cols=(), idx=np.int32):
    x = sp.random(m, n, density=density, random_state=seed, format="csr")
    x.data = x.data * 4 - 2
    x = x.tolil()
    for r in empty_rows:
        x[r, :] = 0
    for c in empty_cols:
        x[:, c] = 0
    x = x.tocsr()
    x.eliminate_zeros()
    x.sort_indices()
    return x.indptr.astype(idx), x.indices.astype(np.int32), x.data.astype(np.float64), x


@pytest.fixture
def small_bands(monkeypatch):
    """Many bands and one band per pass, so banding and grouping are exercised."""
    monkeypatch.setattr(spmm, "BAND_ROWS", 7)
    monkeypatch.setattr(spmm, "BAND_BYTES", 1)


# ------------------------------------------------------------- X @ B
@pytest.mark.parametrize("idx", [np.int32, np.int64])
@pytest.mark.parametrize("width", [1, 7, 60])
def test_csr_matmul_matches_twin(idx, width):
    indptr, indices, data, x = random_csr(90, 70, 0.1, width, empty_rows=[0, 5, 89], idx=idx)
    dense = np.random.default_rng(width).standard_normal((70, width))
    out = np.full((90, width), np.nan)
    spmm.csr_matmul(indptr, indices, data, dense, spmm.balanced_blocks(indptr), out)
    np.testing.assert_allclose(out, naive_csr_matmul(indptr, indices, data, dense), atol=1e-12)
    np.testing.assert_allclose(out, x @ dense, atol=1e-12)
    assert np.all(out[[0, 5, 89]] == 0)


def test_csr_matmul_float32_factor_from_float64_values():
    indptr, indices, data, _ = random_csr(60, 40, 0.2, 1)
    dense = np.random.default_rng(1).standard_normal((40, 12)).astype(np.float32)
    out = np.empty((60, 12), np.float32)
    spmm.csr_matmul(indptr, indices, data, dense, spmm.balanced_blocks(indptr), out)
    ref = naive_csr_matmul(indptr, indices, data, dense.astype(np.float64))
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)


def test_blocks_do_not_change_results():
    indptr, indices, data, _ = random_csr(200, 50, 0.1, 2)
    dense = np.random.default_rng(2).standard_normal((50, 9)).astype(np.float32)
    outs = []
    for n_blocks in (1, 3, 200):
        out = np.empty((200, 9), np.float32)
        blocks = spmm.balanced_blocks(indptr, n_blocks)
        assert blocks[0] == 0 and blocks[-1] == 200 and np.all(np.diff(blocks) > 0)
        spmm.csr_matmul(indptr, indices, data, dense, blocks, out)
        outs.append(out)
    for out in outs[1:]:
        np.testing.assert_array_equal(out, outs[0])


# ------------------------------------------------------------- X.T @ B
@pytest.mark.parametrize("banded", [False, True])
@pytest.mark.parametrize("idx", [np.int32, np.int64])
def test_transpose_holds_the_csc_arrays(banded, idx, request):
    if banded:
        request.getfixturevalue("small_bands")
    indptr, indices, data, x = random_csr(50, 30, 0.2, 3, empty_cols=[0, 29], idx=idx)
    xt = spmm.transpose(indptr, indices, data, 30, np.float64, with_perm=True)
    assert xt.band_ptr.shape[1] == 31 and (xt.band_ptr.shape[0] > 1) == banded
    dense = np.zeros((30, 50))
    for b in range(xt.band_ptr.shape[0]):
        for j in range(30):
            lo, hi = xt.band_ptr[b, j], xt.band_ptr[b, j + 1]
            rows = xt.rows[lo:hi]
            assert np.all(np.diff(rows) > 0)  # increasing rows within a band
            assert np.all(rows // xt.band_rows == b)
            dense[j, rows] = xt.data[lo:hi]
    np.testing.assert_array_equal(dense, x.toarray().T)
    np.testing.assert_array_equal(xt.data, data[xt.perm])


@pytest.mark.parametrize("banded", [False, True])
@pytest.mark.parametrize("width", [1, 5, 33])
def test_csr_t_matmul_matches_twin(banded, width, request):
    if banded:
        request.getfixturevalue("small_bands")
    indptr, indices, data, x = random_csr(120, 45, 0.1, width, empty_rows=[3], empty_cols=[7])
    dense = np.random.default_rng(width).standard_normal((120, width))
    xt = spmm.transpose(indptr, indices, data, 45, np.float64)
    out = np.full((45, width), np.nan)
    spmm.csr_t_matmul(xt, dense, out)
    np.testing.assert_allclose(
        out, naive_csr_t_matmul(indptr, indices, data, dense, 45), atol=1e-12
    )
    np.testing.assert_allclose(out, x.T @ dense, atol=1e-12)
    assert np.all(out[7] == 0)


def test_banded_product_depends_on_the_shape_not_on_threads(monkeypatch):
    # Bands are cut from the shape and constants only, so the sum order (entries
    # are paired within a band) is the same on any thread count (tested below);
    # other band sizes change only the rounding.
    indptr, indices, data, _ = random_csr(300, 40, 0.2, 4)
    dense = np.random.default_rng(4).standard_normal((300, 20)).astype(np.float32)
    expected = naive_csr_t_matmul(indptr, indices, data, dense, 40)
    for rows, size in ((10**9, 1 << 30), (16, 1), (16, 1 << 30), (5, 4096)):
        monkeypatch.setattr(spmm, "BAND_ROWS", rows)
        monkeypatch.setattr(spmm, "BAND_BYTES", size)
        xt = spmm.transpose(indptr, indices, data, 40, np.float32)
        out = np.empty((40, 20), np.float32)
        spmm.csr_t_matmul(xt, dense, out)
        np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


def test_band_pointers_stay_small_next_to_the_entries():
    # A very sparse tall matrix: bands are merged so pointers do not outgrow entries.
    indptr, indices, data, _ = random_csr(40_000, 2000, 0.0005, 5)
    xt = spmm.transpose(indptr, indices, data, 2000, np.float32)
    assert xt.band_ptr.size * 8 <= max(4 * len(data), 8 * 2001)


# --------------------------------------------------- gather, sampled entries
def test_gather_matches_indexing():
    values = np.random.default_rng(6).standard_normal(100)
    perm = np.random.default_rng(7).permutation(100).astype(np.int64)
    out = np.empty(100, np.float32)
    spmm.gather(values, perm, out)
    np.testing.assert_array_equal(out, values[perm].astype(np.float32))


@pytest.mark.parametrize("rank", [1, 4])
def test_sampled_residual_matches_twin(rank):
    indptr, indices, data, _ = random_csr(40, 30, 0.3, rank, empty_rows=[2])
    rng = np.random.default_rng(rank)
    left, right = rng.standard_normal((40, rank)), rng.standard_normal((30, rank))
    out = np.empty_like(data)
    spmm.sampled_residual(
        indptr, indices, data, left, right, 0.5, spmm.balanced_blocks(indptr), out
    )
    ref = naive_sampled_residual(indptr, indices, data, left, right, 0.5)
    np.testing.assert_allclose(out, ref, atol=1e-12)


# --------------------------------------------------------- determinism
def test_products_identical_on_any_thread_count():
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs 2 numba threads")
    indptr, indices, data, _ = random_csr(3000, 800, 0.01, 8)
    rng = np.random.default_rng(8)
    right = rng.standard_normal((800, 24)).astype(np.float32)
    left = rng.standard_normal((3000, 24)).astype(np.float32)
    before = numba.get_num_threads()
    results = []
    try:
        for threads in (1, 2):
            numba.set_num_threads(threads)
            out = np.empty((3000, 24), np.float32)
            spmm.csr_matmul(indptr, indices, data, right, spmm.balanced_blocks(indptr), out)
            xt = spmm.transpose(indptr, indices, data, 800, np.float32)
            out_t = np.empty((800, 24), np.float32)
            spmm.csr_t_matmul(xt, left, out_t)
            results.append((out, out_t, xt.rows, xt.data))
    finally:
        numba.set_num_threads(before)
    for a, b in zip(results[0], results[1], strict=True):
        np.testing.assert_array_equal(a, b)
