"""Kernels for evaluating a model: pair predictions, top-K selection, hits, AUC.

Scores come in blocks of users (rows) by all items (columns), computed by
BLAS outside the kernels. A score of ``-inf`` marks an item that cannot be
recommended to that user (a training item, or an item without factors);
NaN is treated the same way. Every parallel loop runs over independent rows,
and no result depends on the number of threads.

Signatures are kept few on purpose (cold compile is paid by every user):
scores and factors are float32 or float64; users, items and the relevance
CSR are int64; an exclusion CSR has int64 ``indptr`` and int32 ``indices``.
Parallel kernels are only called from Python, never from another kernel
(cached nested parallel kernels can segfault; numba issues 8578, 10128).
"""

import numpy as np
from numba import njit, prange

NO_ITEM = -1
# Items per block in the top-K scan (8 measured best for float32 on AVX2).
SKIP_BLOCK = 8


# --------------------------------------------------------------- predictions
@njit(cache=True, parallel=True)
def predict_pairs(user_factors, item_factors, users, items):
    """Dot products ``user_factors[u] @ item_factors[i]`` for (user, item) pairs.

    Parameters
    ----------
    user_factors : (n_users, k) float32 or float64
    item_factors : (n_items, k), same dtype
    users, items : (n,) int64, valid rows of the factor arrays

    Returns
    -------
    (n,) float64, each product accumulated in float64
    """
    n = users.shape[0]
    k = user_factors.shape[1]
    out = np.empty(n, dtype=np.float64)
    for t in prange(n):
        u = users[t]
        i = items[t]
        acc = 0.0
        for f in range(k):
            acc += np.float64(user_factors[u, f]) * np.float64(item_factors[i, f])
        out[t] = acc
    return out


# ------------------------------------------------------------- membership
@njit(cache=True, parallel=True)
def contains_pairs(indptr, indices, users, items):
    """Whether each (user, item) pair is stored in a CSR matrix.

    Parameters
    ----------
    indptr : (n_users + 1,) int64
    indices : (nnz,) int32, sorted within each row
    users, items : (n,) int64, valid row and column numbers

    Returns
    -------
    (n,) bool
    """
    n = users.shape[0]
    out = np.empty(n, dtype=np.bool_)
    for t in prange(n):
        u = users[t]
        out[t] = _binary_find(indices, indptr[u], indptr[u + 1], items[t])
    return out


# ------------------------------------------------------------------ masking
@njit(cache=True, parallel=True)
def mask_excluded(scores, users, indptr, indices):
    """Set each row's excluded items to ``-inf``, in place.

    Parameters
    ----------
    scores : (n, n_items) float32 or float64, row ``r`` scores user ``users[r]``
    users : (n,) int64, rows of the exclusion CSR
    indptr : (n_users + 1,) int64
    indices : (nnz,) int32, item columns to exclude per user
    """
    minus_inf = -np.inf
    for r in prange(users.shape[0]):
        u = users[r]
        for t in range(indptr[u], indptr[u + 1]):
            scores[r, indices[t]] = minus_inf


# ---------------------------------------------------------------- selection
@njit(cache=True)
def _worse(score_a, item_a, score_b, item_b):
    # The ranking order: higher score first, then lower item index.
    return score_a < score_b or (score_a == score_b and item_a > item_b)


@njit(cache=True)
def _sift_down(heap_s, heap_i, start, size):
    # Min-heap on the ranking order: the root is the worst item kept.
    pos = start
    while True:
        child = 2 * pos + 1
        if child >= size:
            return
        if child + 1 < size and _worse(
            heap_s[child + 1], heap_i[child + 1], heap_s[child], heap_i[child]
        ):
            child += 1
        if not _worse(heap_s[child], heap_i[child], heap_s[pos], heap_i[pos]):
            return
        heap_s[pos], heap_s[child] = heap_s[child], heap_s[pos]
        heap_i[pos], heap_i[child] = heap_i[child], heap_i[pos]
        pos = child


@njit(cache=True)
def _sift_up(heap_s, heap_i, pos):
    while pos > 0:
        parent = (pos - 1) // 2
        if not _worse(heap_s[pos], heap_i[pos], heap_s[parent], heap_i[parent]):
            return
        heap_s[pos], heap_s[parent] = heap_s[parent], heap_s[pos]
        heap_i[pos], heap_i[parent] = heap_i[parent], heap_i[pos]
        pos = parent


@njit(cache=True)
def _block_max(row, start, stop):
    # NaN-blind: numba's max(a, b) keeps a unless b > a, and a starts at -inf.
    m = -np.inf
    for j in range(start, stop):
        m = max(m, row[j])
    return m


@njit(cache=True)
def _select_row(row, k, heap_s, heap_i):
    # Items are scanned in increasing index, so an item whose score equals
    # the root's loses the tie and needs no second comparison.
    n = row.shape[0]
    size = 0
    j = 0
    while j < n and size < k:
        s = row[j]
        if s > -np.inf:  # not excluded, not NaN
            heap_s[size] = s
            heap_i[size] = j
            _sift_up(heap_s, heap_i, size)
            size += 1
        j += 1
    worst = heap_s[0] if size == k else np.inf
    # Most items lose to the root: test SKIP_BLOCK of them with one
    # vectorized max, and only look inside blocks that hold a winner.
    while j < n:
        stop = min(j + SKIP_BLOCK, n)
        if _block_max(row, j, stop) > worst:
            for t in range(j, stop):
                s = row[t]
                if s > worst:
                    heap_s[0] = s
                    heap_i[0] = t
                    _sift_down(heap_s, heap_i, 0, size)
                    worst = heap_s[0]
        j = stop
    # Heap sort: moving the worst to the end leaves the best first.
    for end in range(size - 1, 0, -1):
        heap_s[0], heap_s[end] = heap_s[end], heap_s[0]
        heap_i[0], heap_i[end] = heap_i[end], heap_i[0]
        _sift_down(heap_s, heap_i, 0, end)
    for t in range(size, k):
        heap_s[t] = -np.inf
        heap_i[t] = NO_ITEM


@njit(cache=True, parallel=True)
def select_top_k(scores, k):
    """The ``k`` best items of every row, best first.

    Ranking order: higher score first, equal scores by lower item index, so
    the result is deterministic. ``-inf`` and NaN scores are never selected;
    a row with fewer than ``k`` candidates is padded with item ``-1`` and
    score ``-inf``. Selection keeps a ``k``-item heap per row (O(n_items log k)),
    then sorts it.

    Parameters
    ----------
    scores : (n, n_items) float32 or float64
    k : int >= 1

    Returns
    -------
    items : (n, k) int64
    top_scores : (n, k), the dtype of ``scores``
    """
    n = scores.shape[0]
    items = np.empty((n, k), dtype=np.int64)
    top_scores = np.empty((n, k), dtype=scores.dtype)
    for r in prange(n):
        _select_row(scores[r], k, top_scores[r], items[r])
    return items, top_scores


# --------------------------------------------------------------------- hits
@njit(cache=True)
def mark_hits(top_items, rel_indptr, rel_indices):
    """Which recommended items are relevant.

    Parameters
    ----------
    top_items : (n, k) int64, ``-1`` for padding
    rel_indptr : (n + 1,) int64
    rel_indices : (nnz,) int64, each row's relevant items sorted ascending

    Returns
    -------
    (n, k) bool
    """
    n, k = top_items.shape
    hits = np.zeros((n, k), dtype=np.bool_)
    for r in range(n):  # cheap next to scoring: serial compiles much faster
        lo = rel_indptr[r]
        hi = rel_indptr[r + 1]
        for t in range(k):
            item = top_items[r, t]
            if item != NO_ITEM and lo < hi:
                hits[r, t] = _binary_find(rel_indices, lo, hi, item)
    return hits


@njit(cache=True)
def _binary_find(sorted_values, lo, hi, value):
    end = hi
    while lo < hi:
        mid = (lo + hi) >> 1
        if sorted_values[mid] < value:
            lo = mid + 1
        else:
            hi = mid
    return lo < end and sorted_values[lo] == value


# ---------------------------------------------------------------------- AUC
@njit(cache=True)
def _count_greater(descending, value):
    # Entries strictly greater than value, in an array sorted high to low.
    lo, hi = 0, descending.shape[0]
    while lo < hi:
        mid = (lo + hi) >> 1
        if descending[mid] > value:
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(cache=True)
def _count_not_below(descending, value):
    # Entries greater than or equal to value, in an array sorted high to low.
    lo, hi = 0, descending.shape[0]
    while lo < hi:
        mid = (lo + hi) >> 1
        if descending[mid] >= value:
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(cache=True)
def _sort_descending(values, items):
    # Heap sort with the top-K heap's helpers (np.sort here would triple
    # this kernel's compile time).
    n = values.shape[0]
    for start in range(n // 2 - 1, -1, -1):
        _sift_down(values, items, start, n)
    for end in range(n - 1, 0, -1):
        values[0], values[end] = values[end], values[0]
        items[0], items[end] = items[end], items[0]
        _sift_down(values, items, 0, end)


@njit(cache=True, parallel=True)
def auc_rows(scores, rel_indptr, rel_indices, n_unreachable):
    """Per-row AUC: relevant items against non-relevant candidates.

    For each row, the share of (relevant, non-relevant candidate) pairs in
    which the relevant item scores higher, ties counting 1/2. Candidates are
    the items with a score above ``-inf``. Relevant items that cannot be
    scored (``-inf``/NaN, or counted in ``n_unreachable``) lose every pair.

    Parameters
    ----------
    scores : (n, n_items) float32 or float64, excluded items at ``-inf``
    rel_indptr : (n + 1,) int64
    rel_indices : (nnz,) int64, each row's relevant items sorted ascending
    n_unreachable : (n,) int64, further relevant items per row without a score

    Returns
    -------
    (n,) float64; NaN where a row has no relevant or no non-relevant candidate
    """
    n, n_items = scores.shape
    out = np.empty(n, dtype=np.float64)
    for r in prange(n):
        lo = rel_indptr[r]
        hi = rel_indptr[r + 1]
        row = scores[r]
        rel_scores = np.empty(hi - lo, dtype=np.float64)
        rel_items = np.empty(hi - lo, dtype=np.int64)
        n_rel = 0
        for t in range(lo, hi):
            s = row[rel_indices[t]]
            if s > -np.inf:
                rel_scores[n_rel] = s
                rel_items[n_rel] = rel_indices[t]
                n_rel += 1
        rel_scores = rel_scores[:n_rel]
        _sort_descending(rel_scores, rel_items[:n_rel])
        total_rel = (hi - lo) + n_unreachable[r]
        above = 0  # (relevant, negative) pairs won by the relevant item
        ties = 0
        n_neg = 0
        t = lo
        for j in range(n_items):
            while t < hi and rel_indices[t] < j:
                t += 1
            if t < hi and rel_indices[t] == j:
                continue
            s = row[j]
            if not s > -np.inf:
                continue
            n_neg += 1
            if n_rel == 0 or s > rel_scores[0]:
                continue
            if s < rel_scores[n_rel - 1]:  # the common case: below every relevant item
                above += n_rel
                continue
            greater = _count_greater(rel_scores, s)
            above += greater
            ties += _count_not_below(rel_scores, s) - greater
        if total_rel == 0 or n_neg == 0:
            out[r] = np.nan
        else:
            out[r] = (above + 0.5 * ties) / (np.float64(total_rel) * n_neg)
    return out
