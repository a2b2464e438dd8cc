"""Evaluation kernels against naive NumPy twins (float64 references)."""

from __future__ import annotations

import numpy as np
import pytest

from mfcli.kernels import metrics as km

DTYPES = [np.float64, np.float32]


# ------------------------------------------------------------ naive twins
def naive_predict_pairs(user_factors, item_factors, users, items):
    u = user_factors.astype(np.float64)[users]
    v = item_factors.astype(np.float64)[items]
    return (u * v).sum(axis=1)


def naive_contains_pairs(indptr, indices, users, items):
    stored = {
        (r, int(c)) for r in range(len(indptr) - 1) for c in indices[indptr[r] : indptr[r + 1]]
    }
    return np.array([(int(u), int(i)) in stored for u, i in zip(users, items, strict=True)])


def naive_mask_excluded(scores, users, indptr, indices):
    out = scores.copy()
    for r, u in enumerate(users):
        out[r, indices[indptr[u] : indptr[u + 1]]] = -np.inf
    return out


def naive_select_top_k(scores, k):
    """Sort candidates by (score descending, item ascending); pad with -1 / -inf."""
    n, n_items = scores.shape
    items = np.full((n, k), -1, dtype=np.int64)
    top = np.full((n, k), -np.inf, dtype=np.float64)
    for r in range(n):
        row = scores[r].astype(np.float64)
        candidates = np.flatnonzero(row > -np.inf)
        order = candidates[np.lexsort((candidates, -row[candidates]))][:k]
        items[r, : order.size] = order
        top[r, : order.size] = row[order]
    return items, top


def naive_mark_hits(top_items, rel_indptr, rel_indices):
    hits = np.zeros(top_items.shape, dtype=bool)
    for r in range(top_items.shape[0]):
        relevant = rel_indices[rel_indptr[r] : rel_indptr[r + 1]]
        hits[r] = np.isin(top_items[r], relevant) & (top_items[r] >= 0)
    return hits


def naive_auc_rows(scores, rel_indptr, rel_indices, n_unreachable):
    out = np.full(scores.shape[0], np.nan)
    for r in range(scores.shape[0]):
        row = scores[r].astype(np.float64)
        relevant = rel_indices[rel_indptr[r] : rel_indptr[r + 1]]
        is_rel = np.zeros(row.size, dtype=bool)
        is_rel[relevant] = True
        pos = row[is_rel & (row > -np.inf)]
        neg = row[~is_rel & (row > -np.inf)]
        total = relevant.size + n_unreachable[r]
        if total == 0 or neg.size == 0:
            continue
        wins = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
        out[r] = wins / (total * neg.size)
    return out


# ------------------------------------------------------------- inputs
def random_csr(rng, n_rows, n_cols, density, index_dtype=np.int64):
    mask = rng.random((n_rows, n_cols)) < density
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(mask.sum(axis=1), out=indptr[1:])
    indices = np.nonzero(mask)[1].astype(index_dtype)
    return indptr, indices


def tied_scores(rng, n, n_items, dtype):
    """Few distinct values (many ties), some -inf and NaN."""
    scores = rng.integers(-3, 4, (n, n_items)).astype(dtype)
    scores[rng.random((n, n_items)) < 0.15] = -np.inf
    scores[rng.random((n, n_items)) < 0.03] = np.nan
    return scores


# --------------------------------------------------------------- tests
@pytest.mark.parametrize("dtype", DTYPES)
def test_predict_pairs_matches_twin(dtype):
    rng = np.random.default_rng(1)
    u = rng.normal(size=(40, 7)).astype(dtype)
    v = rng.normal(size=(25, 7)).astype(dtype)
    users = rng.integers(0, 40, 500)
    items = rng.integers(0, 25, 500)
    got = km.predict_pairs(u, v, users, items)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, naive_predict_pairs(u, v, users, items), rtol=1e-12)


def test_predict_pairs_empty():
    u = np.ones((3, 2))
    assert km.predict_pairs(u, u, np.empty(0, np.int64), np.empty(0, np.int64)).shape == (0,)


def test_contains_pairs_matches_twin():
    rng = np.random.default_rng(2)
    indptr, indices = random_csr(rng, 30, 40, 0.2, np.int32)
    users = rng.integers(0, 30, 800)
    items = rng.integers(0, 40, 800)
    got = km.contains_pairs(indptr, indices, users, items)
    np.testing.assert_array_equal(got, naive_contains_pairs(indptr, indices, users, items))


@pytest.mark.parametrize("dtype", DTYPES)
def test_mask_excluded_matches_twin(dtype):
    rng = np.random.default_rng(3)
    indptr, indices = random_csr(rng, 20, 15, 0.3, np.int32)
    users = np.array([4, 0, 19, 4, 7], dtype=np.int64)
    scores = rng.normal(size=(5, 15)).astype(dtype)
    want = naive_mask_excluded(scores, users, indptr, indices)
    km.mask_excluded(scores, users, indptr, indices)
    np.testing.assert_array_equal(scores, want)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k", [1, 3, 10, 40])
def test_select_top_k_matches_twin_with_ties(dtype, k):
    rng = np.random.default_rng(k)
    scores = tied_scores(rng, 30, 33, dtype)
    scores[5] = -np.inf  # no candidate at all
    scores[6, 3:] = -np.inf  # fewer candidates than k
    items, top = km.select_top_k(scores, k)
    want_items, want_top = naive_select_top_k(scores, k)
    assert items.dtype == np.int64 and top.dtype == dtype
    np.testing.assert_array_equal(items, want_items)
    np.testing.assert_array_equal(top.astype(np.float64), want_top)


def test_select_top_k_continuous_scores():
    rng = np.random.default_rng(7)
    scores = rng.normal(size=(50, 301))  # not a whole number of scan blocks
    scores[:, ::8] = np.nan  # at block starts: must not hide a block's winners
    scores[rng.random(scores.shape) < 0.1] = -np.inf
    scores[3, 290:] = 50.0  # winners in the last, partial block
    items, top = km.select_top_k(scores, 17)
    want_items, want_top = naive_select_top_k(scores, 17)
    np.testing.assert_array_equal(items, want_items)
    np.testing.assert_array_equal(top, want_top)


def test_mark_hits_matches_twin():
    rng = np.random.default_rng(4)
    top = rng.integers(-1, 20, (25, 6)).astype(np.int64)
    indptr, indices = random_csr(rng, 25, 20, 0.25)
    np.testing.assert_array_equal(
        km.mark_hits(top, indptr, indices), naive_mark_hits(top, indptr, indices)
    )


@pytest.mark.parametrize("dtype", DTYPES)
def test_auc_rows_matches_twin(dtype):
    rng = np.random.default_rng(5)
    scores = tied_scores(rng, 40, 30, dtype)
    indptr, indices = random_csr(rng, 40, 30, 0.2)
    n_unreachable = rng.integers(0, 3, 40).astype(np.int64)
    n_unreachable[:5] = 0
    scores[7] = -np.inf  # no negative candidate -> NaN
    got = km.auc_rows(scores, indptr, indices, n_unreachable)
    want = naive_auc_rows(scores, indptr, indices, n_unreachable)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12, equal_nan=True)
    assert np.isnan(got[7])
