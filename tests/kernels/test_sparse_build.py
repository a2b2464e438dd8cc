"""COO -> CSR kernels against naive NumPy twins."""

from __future__ import annotations

import numpy as np
import pytest

from mfcli.kernels import sparse_build as sb

POLICIES = {"sum": sb.DUP_SUM, "last": sb.DUP_LAST, "error": sb.DUP_ERROR}


# ------------------------------------------------------------ naive twins
def naive_first_out_of_range(rows, cols, n_rows, n_cols) -> int:
    bad = np.flatnonzero((rows < 0) | (rows >= n_rows) | (cols < 0) | (cols >= n_cols))
    return int(bad[0]) if bad.size else -1


def naive_scatter(rows, src, out_dtype):
    """``src`` grouped by row, file order within a row (a stable sort)."""
    return src[np.argsort(rows, kind="stable")].astype(out_dtype)


def naive_first_duplicate(rows, cols) -> int:
    seen = set()
    for i, key in enumerate(zip(rows.tolist(), cols.tolist(), strict=True)):
        if key in seen:
            return i
        seen.add(key)
    return -1


def naive_collapse_row(cols, vals, stamps, policy):
    """One row's entries in file order -> sorted, de-duplicated lists (float64)."""
    order = np.argsort(cols, kind="stable")
    cols, vals = cols[order], vals[order].astype(np.float64)
    stamps = None if stamps is None else stamps[order]
    out_c, out_v, out_t = [], [], []
    t = 0
    while t < len(cols):
        u = t + 1
        while u < len(cols) and cols[u] == cols[t]:
            u += 1
        if policy == "sum":
            acc = 0.0
            for q in range(t, u):
                acc += float(vals[q])
            out_v.append(acc)
            if stamps is not None:
                out_t.append(stamps[t:u].max())
        else:
            out_v.append(float(vals[u - 1]))
            if stamps is not None:
                out_t.append(stamps[u - 1])
        out_c.append(cols[t])
        t = u
    return out_c, out_v, out_t


def naive_coo_to_csr(rows, cols, values, timestamps, n_rows, policy, dtype=np.float64):
    """Reference build: lexsort by (row, col, file position) and Python loops.

    Values are converted to ``dtype`` first and added in float64, like the
    kernels. Returns ``(indptr, indices, data, timestamps)``.
    """
    nnz = len(rows)
    vals = np.ones(nnz, dtype) if values is None else np.asarray(values).astype(dtype)
    order = np.lexsort((np.arange(nnz), cols, rows))
    r, c, v = rows[order], cols[order], vals[order].astype(np.float64)
    ts = None if timestamps is None else timestamps[order]
    out_r, out_c, out_v, out_t = [], [], [], []
    t = 0
    while t < nnz:
        u = t + 1
        while u < nnz and r[u] == r[t] and c[u] == c[t]:
            u += 1
        if policy == "sum":
            acc = 0.0
            for q in range(t, u):
                acc += float(v[q])
            out_v.append(acc)
            if ts is not None:
                out_t.append(ts[t:u].max())
        else:
            out_v.append(float(v[u - 1]))
            if ts is not None:
                out_t.append(ts[u - 1])
        out_r.append(r[t])
        out_c.append(c[t])
        t = u
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(np.asarray(out_r, dtype=np.int64), minlength=n_rows), out=indptr[1:])
    stamps = None if ts is None else np.asarray(out_t, dtype=ts.dtype)
    return indptr, np.asarray(out_c, dtype=np.int64), np.asarray(out_v, dtype=np.float64), stamps


# ------------------------------------------------------------- inputs
def grouped_rows(rng, lengths, n_cols, order):
    """Rows of the given lengths (entries grouped by row), columns in ``order``.

    Columns repeat within a row about a quarter of the time.
    """
    parts = []
    for n in lengths:
        c = rng.integers(0, n_cols, n)
        if n > 1:
            dup = rng.random(n) < 0.25
            c[dup] = rng.choice(c, int(dup.sum()))
        if order == "sorted":
            c = np.sort(c)
        elif order == "reverse":
            c = np.sort(c)[::-1]
        parts.append(c)
    indptr = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    cols = np.concatenate(parts) if parts else np.empty(0, np.int64)
    return indptr, cols


LENGTHS = [0, 1, 2, 3, 0, 5, 19, 20, 21, 33, 64, 200, 1000, 0, 7, 300, 2, 257]


# ------------------------------------------------------------- range check
@pytest.mark.parametrize("nnz", [0, 10, 1 << 20])
@pytest.mark.parametrize("idx", [np.int32, np.int64])
def test_first_out_of_range_matches_twin(nnz, idx):
    rng = np.random.default_rng(nnz)
    rows = rng.integers(0, 50, nnz).astype(idx)
    cols = rng.integers(0, 40, nnz).astype(idx)
    assert sb.first_out_of_range(rows, cols, 50, 40) == -1
    if nnz:
        for where, arr, bad in [(nnz // 2, cols, 40), (nnz - 1, rows, -1), (nnz // 3, rows, 50)]:
            arr[where] = bad
            got = sb.first_out_of_range(rows, cols, 50, 40)
            assert got == naive_first_out_of_range(rows, cols, 50, 40)


# ---------------------------------------------------- counting sort by row
@pytest.mark.parametrize("n_chunks", [1, 3, 8])
@pytest.mark.parametrize("idx", [np.int32, np.int64])
def test_count_rows_matches_bincount(n_chunks, idx):
    rng = np.random.default_rng(n_chunks)
    n_rows, nnz = 37, 5000
    rows = rng.integers(0, n_rows, nnz).astype(idx)
    rows[rows == 5] = 6  # an empty row
    indptr, starts = sb.count_rows(rows, n_rows, n_chunks)
    counts = np.bincount(rows, minlength=n_rows)
    np.testing.assert_array_equal(indptr, np.concatenate(([0], np.cumsum(counts))))
    assert starts.shape == (n_chunks, n_rows)
    for c in range(n_chunks):
        earlier = rows[: nnz * c // n_chunks]
        np.testing.assert_array_equal(
            starts[c], indptr[:-1] + np.bincount(earlier, minlength=n_rows)
        )


@pytest.mark.parametrize("n_chunks", [1, 3, 8])
@pytest.mark.parametrize(
    "idx, values_dtype, dtype, stamps_dtype",
    [
        (np.int64, np.float64, np.float32, np.int64),  # a CSV file today
        (np.int32, np.float64, np.float64, None),
        (np.int32, np.float32, np.float64, np.float64),
        (np.int64, None, np.float32, None),
    ],
)
def test_scatter_matches_stable_sort(n_chunks, idx, values_dtype, dtype, stamps_dtype):
    rng = np.random.default_rng(n_chunks)
    n_rows, nnz = 37, 5000
    rows = rng.integers(0, n_rows, nnz).astype(idx)
    cols = rng.integers(0, 1000, nnz).astype(idx)
    values = None if values_dtype is None else (rng.random(nnz) * 100).astype(values_dtype)
    stamps = None if stamps_dtype is None else rng.permutation(nnz).astype(stamps_dtype)
    _, starts = sb.count_rows(rows, n_rows, n_chunks)
    before = starts.copy()
    indices = np.empty(nnz, dtype=np.int32)
    data = np.full(nnz, 7.0, dtype=dtype)
    out_stamps = None if stamps is None else np.empty(nnz, dtype=stamps.dtype)
    sb.scatter(rows, cols, values, stamps, starts, indices, data, out_stamps)
    np.testing.assert_array_equal(starts, before)  # read-only
    np.testing.assert_array_equal(indices, naive_scatter(rows, cols, np.int32))
    if values is None:
        assert np.all(data == 7.0)  # left alone
    else:
        np.testing.assert_array_equal(data, naive_scatter(rows, values, dtype))
    if stamps is not None:
        np.testing.assert_array_equal(out_stamps, naive_scatter(rows, stamps, stamps.dtype))


# ------------------------------------------------------ sort and dedupe
def run_sort_dedupe(indptr, cols, vals, stamps, n_cols, policy, idx=np.int64):
    indices = cols.astype(idx)
    data = vals.copy()
    ts = None if stamps is None else stamps.copy()
    kept = sb.sort_dedupe_rows(
        indptr, sb.row_blocks(indptr), indices, data, ts, n_cols, POLICIES[policy]
    )
    return kept, indices, data, ts


@pytest.mark.parametrize("order", ["random", "sorted", "reverse"])
@pytest.mark.parametrize("policy", ["sum", "last", "error"])
@pytest.mark.parametrize("n_cols", [7, 300, 70_000, 2**31 - 1, 2**62])
@pytest.mark.parametrize("stamp_dtype", [None, np.int64, np.float64])
def test_sort_dedupe_matches_twin(order, policy, n_cols, stamp_dtype):
    rng = np.random.default_rng(n_cols % 1000 + len(order))
    indptr, cols = grouped_rows(rng, LENGTHS, n_cols, order)
    nnz = cols.shape[0]
    vals = rng.integers(1, 11, nnz).astype(np.float32) / 2
    stamps = None if stamp_dtype is None else rng.permutation(nnz).astype(stamp_dtype)
    idx = np.int32 if n_cols < 2**31 else np.int64
    kept, indices, data, ts = run_sort_dedupe(indptr, cols, vals, stamps, n_cols, policy, idx)
    for r in range(len(LENGTHS)):
        a, b = indptr[r], indptr[r + 1]
        seg_ts = None if stamps is None else stamps[a:b]
        want_c, want_v, want_t = naive_collapse_row(cols[a:b], vals[a:b], seg_ts, policy)
        if policy == "error":  # sorted, nothing collapsed
            assert kept[r] == len(want_c)
            np.testing.assert_array_equal(indices[a:b], np.sort(cols[a:b], kind="stable"))
            continue
        k = kept[r]
        assert k == len(want_c)
        np.testing.assert_array_equal(indices[a : a + k], want_c)
        want_v = np.asarray(want_v).astype(data.dtype).astype(np.float64)
        np.testing.assert_array_equal(data[a : a + k].astype(np.float64), want_v)
        if stamps is not None:
            np.testing.assert_array_equal(ts[a : a + k], want_t)


def test_sort_carries_values_and_timestamps_stably():
    # Equal columns keep file order: the last one's value wins under "last".
    indptr = np.array([0, 40], dtype=np.int64)
    cols = np.tile(np.arange(20)[::-1], 2)
    vals = np.arange(40, dtype=np.float64)
    stamps = np.arange(40, dtype=np.int64) * 10
    kept, indices, data, ts = run_sort_dedupe(indptr, cols, vals, stamps, 20, "last")
    assert kept[0] == 20
    np.testing.assert_array_equal(indices[:20], np.arange(20))
    np.testing.assert_array_equal(data[:20], 39 - np.arange(20))
    np.testing.assert_array_equal(ts[:20], (39 - np.arange(20)) * 10)


# ------------------------------------------------------------- compaction
def naive_compact(indptr, kept, arrays):
    parts = [[a[indptr[r] : indptr[r] + kept[r]] for r in range(len(kept))] for a in arrays]
    return [np.concatenate(p) if p else a[:0] for p, a in zip(parts, arrays, strict=True)]


@pytest.mark.parametrize("pattern", ["one_early", "one_late", "many", "all_dup", "none"])
@pytest.mark.parametrize("with_ts", [True, False])
def test_compact_rows_matches_twin(pattern, with_ts):
    rng = np.random.default_rng(len(pattern))
    n_rows = 3000
    lengths = rng.integers(0, 150, n_rows)
    indptr = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
    kept = lengths.copy()
    if pattern == "one_early":
        kept[np.flatnonzero(lengths)[0]] -= 1
    elif pattern == "one_late":
        kept[np.flatnonzero(lengths)[-1]] -= 1
    elif pattern == "many":
        kept = (lengths * rng.uniform(0.5, 1.0, n_rows)).astype(np.int64)
    elif pattern == "all_dup":
        kept = np.minimum(lengths, 1)
    nnz = int(indptr[-1])
    arrays = [
        rng.integers(0, 1000, nnz).astype(np.int32),
        rng.random(nnz),
        rng.integers(0, 1 << 40, nnz) if with_ts else None,
    ]
    want = naive_compact(indptr, kept, [a for a in arrays if a is not None])
    new_indptr = sb.compact_rows(indptr, kept, *arrays)
    np.testing.assert_array_equal(new_indptr, np.concatenate(([0], np.cumsum(kept))))
    n = int(new_indptr[-1])
    for got, w in zip([a for a in arrays if a is not None], want, strict=True):
        np.testing.assert_array_equal(got[:n], w)


# -------------------------------------------------------- first duplicate
@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("n_cols", [30, 70_000])
@pytest.mark.parametrize("idx", [np.int32, np.int64])
def test_first_duplicate_matches_twin(seed, n_cols, idx):
    rng = np.random.default_rng(seed)
    n_rows, nnz = 40, 300 if n_cols < 100 else 20_000
    rows = rng.integers(0, n_rows, nnz).astype(idx)
    cols = rng.integers(0, n_cols, nnz).astype(idx)
    order = np.lexsort((cols, rows))
    indptr = np.concatenate(([0], np.cumsum(np.bincount(rows, minlength=n_rows))))
    indices = cols[order]
    assert sb.first_duplicate(rows, cols, indptr, indices) == naive_first_duplicate(rows, cols)
    once = np.unique(rows.astype(np.int64) * n_cols + cols, return_index=True)[1]
    rows, cols = rows[np.sort(once)], cols[np.sort(once)]
    order = np.lexsort((cols, rows))
    indptr = np.concatenate(([0], np.cumsum(np.bincount(rows, minlength=n_rows))))
    assert sb.first_duplicate(rows, cols, indptr, cols[order]) == -1


def test_naive_twin_agrees_with_scipy_for_sum():
    sp = pytest.importorskip("scipy.sparse")
    rng = np.random.default_rng(3)
    rows = rng.integers(0, 20, 500)
    cols = rng.integers(0, 15, 500)
    vals = rng.random(500)
    indptr, indices, data, _ = naive_coo_to_csr(rows, cols, vals, None, 20, "sum")
    ref = sp.coo_matrix((vals, (rows, cols)), shape=(20, 15)).tocsr()
    ref.sum_duplicates()
    np.testing.assert_array_equal(indptr, ref.indptr)
    np.testing.assert_array_equal(indices, ref.indices)
    np.testing.assert_allclose(data, ref.data, rtol=1e-14)


@pytest.mark.parametrize("chunk", [1, 2, 3, 1 << 20])
def test_rows_grouped_checks_every_neighbour_pair(chunk):
    rows = np.repeat(np.arange(5, dtype=np.int32), 3)
    assert sb.rows_grouped(rows, chunk=chunk)
    for i in range(1, rows.shape[0]):  # a drop at every position, chunk edges included
        bad = rows.copy()
        bad[i] = bad[i - 1] - 1
        assert not sb.rows_grouped(bad, chunk=chunk), i
    for short in ([], [7]):
        assert sb.rows_grouped(np.array(short, dtype=np.int64), chunk=chunk)
