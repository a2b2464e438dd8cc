"""Building CSR arrays from coordinate triplets, with a duplicate policy."""

import numpy as np
from numba import njit, prange

# Duplicate policies, as integers so kernels can take them.
DUP_SUM = 0
DUP_LAST = 1
DUP_ERROR = 2


@njit(cache=True)
def row_sort_order(rows, cols, n_rows):
    """Stable permutation that orders entries by (row, col).

    Counting sort by row (O(nnz)), then a stable sort of each row's columns.
    Returns ``(indptr, order)`` where ``indptr`` counts entries before
    de-duplication.
    """
    nnz = rows.shape[0]
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    for i in range(nnz):
        indptr[rows[i] + 1] += 1
    for r in range(n_rows):
        indptr[r + 1] += indptr[r]
    fill = indptr[:-1].copy()
    order = np.empty(nnz, dtype=np.int64)
    for i in range(nnz):
        r = rows[i]
        order[fill[r]] = i
        fill[r] += 1
    _sort_rows(indptr, order, cols)
    return indptr, order


@njit(cache=True, parallel=True)
def _sort_rows(indptr, order, cols):
    n_rows = indptr.shape[0] - 1
    for r in prange(n_rows):
        a = indptr[r]
        b = indptr[r + 1]
        if b - a < 2:
            continue
        seg = order[a:b].copy()
        already = True
        for t in range(1, b - a):
            if cols[seg[t]] < cols[seg[t - 1]]:
                already = False
                break
        if already:
            continue
        keys = np.empty(b - a, dtype=np.int64)
        for t in range(b - a):
            keys[t] = cols[seg[t]]
        perm = np.argsort(keys, kind="mergesort")
        for t in range(b - a):
            order[a + t] = seg[perm[t]]


@njit(cache=True)
def dedupe_sorted(indptr, order, cols, policy):
    """Collapse equal (row, col) runs in a sorted order.

    Returns ``(new_indptr, keep_start, keep_end, first_dup)``: each output
    entry ``e`` covers ``order[keep_start[e]:keep_end[e]]`` (sum) or its last
    element (last). ``first_dup`` is the original index of the first duplicate
    in file order, or -1; with the error policy the caller raises on it.
    """
    n_rows = indptr.shape[0] - 1
    nnz = order.shape[0]
    starts = np.empty(nnz, dtype=np.int64)
    ends = np.empty(nnz, dtype=np.int64)
    new_indptr = np.zeros(n_rows + 1, dtype=np.int64)
    first_dup = -1
    out = 0
    for r in range(n_rows):
        t = indptr[r]
        b = indptr[r + 1]
        while t < b:
            u = t + 1
            while u < b and cols[order[u]] == cols[order[t]]:
                u += 1
            if u - t > 1 and (first_dup < 0 or order[t + 1] < first_dup):
                first_dup = order[t + 1]
            starts[out] = t
            ends[out] = u
            out += 1
            t = u
        new_indptr[r + 1] = out
    return new_indptr, starts[:out], ends[:out], first_dup


@njit(cache=True, parallel=True)
def gather_sum(order, starts, ends, values):
    """Sum of ``values[order[s:e]]`` for each run, in float64."""
    n = starts.shape[0]
    out = np.empty(n, dtype=np.float64)
    for e in prange(n):
        acc = 0.0
        for t in range(starts[e], ends[e]):
            acc += values[order[t]]
        out[e] = acc
    return out


@njit(cache=True, parallel=True)
def gather_last(order, ends, values):
    """``values[order[e - 1]]`` for each run end: the last entry in file order."""
    n = ends.shape[0]
    out = np.empty(n, dtype=values.dtype)
    for e in prange(n):
        out[e] = values[order[ends[e] - 1]]
    return out


@njit(cache=True, parallel=True)
def gather_max(order, starts, ends, values):
    """Largest ``values[order[s:e]]`` for each run (timestamps under ``sum``)."""
    n = starts.shape[0]
    out = np.empty(n, dtype=values.dtype)
    for e in prange(n):
        best = values[order[starts[e]]]
        for t in range(starts[e] + 1, ends[e]):
            v = values[order[t]]
            if v > best:
                best = v
        out[e] = best
    return out
