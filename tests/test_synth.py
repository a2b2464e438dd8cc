"""mfcli.synth: determinism, shapes, no duplicate pairs, planted structure, errors."""

from __future__ import annotations

import numpy as np
import pytest

from mfcli import synth
from mfcli.errors import UsageError


def _pairs_ok(m) -> None:
    """CSR with strictly increasing columns per row: sorted, no duplicate pairs."""
    assert m.indptr[0] == 0 and m.indptr[-1] == m.indices.shape[0] == m.data.shape[0]
    rows = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))
    keys = rows.astype(np.int64) * m.shape[1] + m.indices
    assert np.all(np.diff(keys) > 0)
    assert m.indices.min() >= 0 and m.indices.max() < m.shape[1]


def _same(a, b) -> None:
    assert a.shape == b.shape
    for name in ("data", "indptr", "indices", "timestamps", "row_labels", "col_labels"):
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None) == (y is None), name
        if x is not None:
            assert np.array_equal(x, y), name


# ---------------------------------------------------------------- ratings


def test_ratings_shape_scale_and_pairs():
    m, truth = synth.ratings(200, 300, 5000, rank=4, seed=1)
    assert m.shape == (200, 300) and m.nnz == 5000
    _pairs_ok(m)
    assert set(np.unique(m.data)) <= {1.0, 2.0, 3.0, 4.0, 5.0}
    assert np.array_equal(m.row_labels, np.arange(1, 201))
    assert np.array_equal(m.col_labels, np.arange(1, 301))
    assert truth["user_factors"].shape == (200, 4) and truth["item_factors"].shape == (300, 4)
    assert truth["user_bias"].shape == (200,) and truth["item_bias"].shape == (300,)
    assert 2.5 < m.data.mean() < 4.5


def test_ratings_half_steps_and_custom_scale():
    m, _ = synth.ratings(100, 100, 2000, scale=(0.5, 5.0), step=0.5, seed=2)
    assert set(np.unique(m.data)) <= set(np.arange(0.5, 5.01, 0.5))
    assert m.data.min() >= 0.5 and m.data.max() <= 5.0
    assert len(np.unique(m.data)) > 5


def test_ratings_are_deterministic_and_seed_dependent():
    a, _ = synth.ratings(150, 120, 3000, seed=7)
    b, _ = synth.ratings(150, 120, 3000, seed=7)
    c, _ = synth.ratings(150, 120, 3000, seed=8)
    _same(a, b)
    assert not np.array_equal(a.indices, c.indices)


def test_ratings_timestamps_inside_the_span():
    start, days = 1_000_000_000, 30
    m, _ = synth.ratings(100, 80, 1500, start=start, span_days=days, seed=3)
    assert m.timestamps.dtype == np.int64 and m.timestamps.shape == (1500,)
    assert m.timestamps.min() >= start and m.timestamps.max() <= start + days * 86400
    assert len(np.unique(m.timestamps)) > 1000
    no_time, _ = synth.ratings(100, 80, 1500, timestamps=False, seed=3)
    assert no_time.timestamps is None


def test_power_law_activity_and_minimum_per_user():
    m, _ = synth.ratings(500, 400, 20_000, user_exponent=0.8, item_exponent=1.0, seed=4)
    users, items = np.diff(m.indptr), m.col_degrees()
    assert users.min() >= 8  # automatic minimum: min(20, nnz // (5 * users))
    assert users.max() > 5 * np.median(users)
    assert items.max() > 10 * np.median(items)
    flat, _ = synth.ratings(500, 400, 20_000, user_exponent=0, item_exponent=0, seed=4)
    assert np.diff(flat.indptr).max() < 3 * np.median(np.diff(flat.indptr))
    fixed, _ = synth.ratings(50, 40, 1000, min_per_user=15, seed=4)
    assert np.diff(fixed.indptr).min() >= 15


def test_nearly_full_and_full_matrices():
    # Heavy rows exhaust the popular columns: the uniform fallback and the
    # degree cap must still give exact, duplicate-free rows.
    m, _ = synth.ratings(20, 30, 590, user_exponent=2.0, item_exponent=2.0, seed=5)
    _pairs_ok(m)
    assert m.nnz == 590 and np.diff(m.indptr).max() <= 30
    full, _ = synth.ratings(15, 12, 180, seed=6)
    _pairs_ok(full)
    assert np.all(np.diff(full.indptr) == 12)


def test_pair_sampler_restarts_across_uniform_chunks(monkeypatch):
    # Tiny chunks force rows to run out of uniforms and be redrawn.
    monkeypatch.setattr(synth, "UNIFORM_CHUNK", 16)
    rng = np.random.default_rng(0)
    degrees = np.array([5, 0, 30, 1, 40, 7] * 20)
    probs = synth.zipf_probabilities(50, 1.2, rng)
    indptr, indices = synth.distinct_pairs(degrees, probs, rng)
    assert np.array_equal(np.diff(indptr), degrees)
    for r in range(degrees.size):
        row = indices[indptr[r] : indptr[r + 1]]
        assert np.all(np.diff(row) > 0)


def test_alias_table_reproduces_the_distribution():
    rng = np.random.default_rng(1)
    p = synth.zipf_probabilities(1000, 1.1, rng)
    threshold, alias = synth._alias_table(p)
    effective = threshold / p.size
    np.add.at(effective, alias, (1 - threshold) / p.size)
    np.testing.assert_allclose(effective, p, atol=1e-12)


def test_activity_degrees_sum_and_cap():
    rng = np.random.default_rng(2)
    p = synth.zipf_probabilities(100, 1.5, rng)
    d = synth.activity_degrees(100, 50, 4000, p, 3, rng)
    assert d.sum() == 4000 and d.max() <= 50 and d.min() >= 3


def test_zipf_probabilities():
    rng = np.random.default_rng(3)
    p = synth.zipf_probabilities(10, 1.0, rng)
    assert p.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(
        np.sort(p)[::-1], (1 / np.arange(1, 11)) / (1 / np.arange(1, 11)).sum()
    )
    np.testing.assert_allclose(synth.zipf_probabilities(4, 0.0, rng), 0.25)


# ---------------------------------------------------------------- implicit


@pytest.mark.parametrize("distribution", ["poisson", "geometric"])
def test_implicit_counts(distribution):
    m, truth = synth.implicit(300, 400, 6000, rank=5, distribution=distribution, seed=1)
    assert m.shape == (300, 400) and m.nnz == 6000
    _pairs_ok(m)
    assert m.data.min() >= 1 and np.all(m.data == np.rint(m.data))
    assert 2.0 < m.data.mean() < 4.0
    assert m.timestamps is None
    assert truth["user_factors"].shape == (300, 5)


def test_implicit_timestamps_and_determinism():
    a, _ = synth.implicit(100, 100, 1000, timestamps=True, seed=4)
    b, _ = synth.implicit(100, 100, 1000, timestamps=True, seed=4)
    _same(a, b)
    assert a.timestamps.shape == (1000,) and a.timestamps.min() >= synth.DEFAULT_START


# ---------------------------------------------------------------- low rank


def test_dense_spectrum_is_recovered_by_svd():
    s = np.array([50.0, 20.0, 10.0, 5.0])
    m, truth = synth.lowrank_dense(120, 60, 4, singular_values=s, noise=1e-3, seed=1)
    assert m.shape == (120, 60) and not m.is_sparse
    found = np.linalg.svd(m.data, compute_uv=False)
    np.testing.assert_allclose(found[:4], s, rtol=1e-3)
    assert found[4] < 0.05  # noise floor ~ noise * (sqrt(m) + sqrt(n))
    u, v = truth["U"], truth["V"]
    np.testing.assert_allclose(u.T @ u, np.eye(4), atol=1e-12)
    np.testing.assert_allclose(v.T @ v, np.eye(4), atol=1e-12)
    np.testing.assert_array_equal(truth["singular_values"], s)


def test_dense_exact_without_noise_and_default_spectrum():
    m, truth = synth.lowrank_dense(40, 30, 3, noise=0.0, seed=2)
    np.testing.assert_allclose(truth["singular_values"], synth.default_spectrum(3, 40, 30))
    found = np.linalg.svd(m.data, compute_uv=False)
    np.testing.assert_allclose(found[:3], truth["singular_values"], rtol=1e-10)
    assert found[3] < 1e-9
    # Unsorted input is sorted (descending).
    _, t2 = synth.lowrank_dense(10, 8, 3, singular_values=[1, 3, 2], seed=0)
    np.testing.assert_array_equal(t2["singular_values"], [3, 2, 1])


def test_dense_decimals_and_determinism():
    a, _ = synth.lowrank_dense(30, 20, 2, decimals=3, seed=5)
    b, _ = synth.lowrank_dense(30, 20, 2, decimals=3, seed=5)
    assert np.array_equal(a.data, b.data)
    assert np.array_equal(np.round(a.data, 3), a.data)


def test_sparse_lowrank_values_come_from_the_planted_matrix():
    m, truth = synth.lowrank_sparse(200, 150, 3000, 4, seed=3)
    assert m.shape == (200, 150) and m.nnz == 3000
    _pairs_ok(m)
    full = (truth["U"] * truth["singular_values"]) @ truth["V"].T
    rows = np.repeat(np.arange(200), np.diff(m.indptr))
    np.testing.assert_allclose(m.data, full[rows, m.indices], rtol=1e-12, atol=1e-12)
    assert truth["density"] == pytest.approx(3000 / (200 * 150))
    np.testing.assert_allclose(
        np.linalg.svd(full, compute_uv=False)[:4], truth["singular_values"], rtol=1e-10
    )
    # Uniform pattern: no row or column hogs the entries.
    assert np.diff(m.indptr).max() < 4 * 15


def test_sparse_lowrank_noise_and_rounding():
    m, _ = synth.lowrank_sparse(50, 40, 300, 2, noise=0.1, decimals=2, seed=1)
    assert np.array_equal(np.round(m.data, 2), m.data)


# ---------------------------------------------------------------- docterm


def test_vocabulary_words_are_unique_and_readable():
    words = synth.vocabulary()
    assert len(words) == len(set(words)) == sum(map(len, synth.THEMES.values())) + len(synth.FILLER)
    assert words == sorted(words)
    assert all(w.isalpha() and w.islower() for w in words)
    assert len(synth.THEMES) >= 6 and all(len(t) >= 20 for t in synth.THEMES.values())


def test_docterm_matrix_and_topics():
    m, truth = synth.docterm(200, 4, doc_length=80, seed=1)
    terms = truth["terms"]
    assert m.shape == (200, len(terms)) and m.is_sparse
    _pairs_ok(m)
    assert list(m.col_labels) == terms
    assert np.all(m.data >= 1) and np.all(m.data == np.rint(m.data))
    assert np.asarray(m.to_scipy().sum(axis=1)).min() >= 5
    assert truth["themes"] == list(synth.THEMES)[:4]
    np.testing.assert_allclose(truth["topic_word"].sum(axis=1), 1.0)
    np.testing.assert_allclose(truth["doc_topics"].sum(axis=1), 1.0)
    # A single-topic document spends most of its words on its theme.
    dense = m.to_dense()
    single = np.flatnonzero(truth["doc_topics"].max(axis=1) == 1.0)
    assert single.size > 50
    for d in single[:20]:
        t = int(np.argmax(truth["doc_topics"][d]))
        theme = [terms.index(w) for w in synth.THEMES[truth["themes"][t]]]
        assert dense[d, theme].sum() > 0.6 * dense[d].sum()


def test_docterm_is_deterministic():
    a, _ = synth.docterm(50, 3, seed=9)
    b, _ = synth.docterm(50, 3, seed=9)
    _same(a, b)


# ------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: synth.ratings(0, 10, 5), "users must be a positive integer, got 0"),
        (lambda: synth.ratings(10, 2.5, 5), "items must be a positive integer, got 2.5"),
        (lambda: synth.ratings(10, 10, 101), "101 ratings do not fit in 10 x 10 = 100 cells"),
        (lambda: synth.ratings(10, 10, 50, rank=11), "rank 11 is larger than the matrix allows"),
        (lambda: synth.ratings(10, 10, 50, noise=-1), "noise must be a finite number >= 0"),
        (lambda: synth.ratings(10, 10, 50, scale=(5, 1)), "rating scale 5..1 is empty"),
        (lambda: synth.ratings(10, 10, 50, step=0), "rating step 0 must be > 0 and at most 4"),
        (lambda: synth.ratings(10, 10, 50, user_exponent=-1), "user exponent must be"),
        (lambda: synth.ratings(10, 10, 50, item_exponent=np.nan), "item exponent must be"),
        (lambda: synth.ratings(10, 10, 50, min_per_user=6), "a minimum of 6 entries per row"),
        (lambda: synth.ratings(10, 10, 50, min_per_user=-1), "minimum entries per row must be"),
        (lambda: synth.implicit(10, 10, 200), "200 interactions do not fit"),
        (lambda: synth.implicit(10, 10, 20, distribution="zipf"), "unknown count distribution"),
        (lambda: synth.implicit(10, 10, 20, mean_count=1), "mean count must be > 1"),
        (lambda: synth.lowrank_dense(10, 5, 6), "rank 6 is larger than the matrix allows"),
        (lambda: synth.lowrank_dense(10, 5, 2, singular_values=[1]), "1 singular values given"),
        (lambda: synth.lowrank_dense(10, 5, 2, singular_values=[1, 0]), "must be finite and > 0"),
        (lambda: synth.lowrank_dense(10, 5, 2, decimals=-1), "decimals must be an integer"),
        (lambda: synth.lowrank_sparse(10, 5, 51, 2), "51 entries do not fit in 10 x 5"),
        (lambda: synth.docterm(10, 7), "7 topics asked but the vocabulary has 6 themes"),
        (lambda: synth.docterm(10, 0), "topics must be a positive integer"),
        (lambda: synth.docterm(0, 2), "documents must be a positive integer"),
        (lambda: synth.docterm(10, 2, doc_length=0), "document length must be >= 1"),
    ],
)
def test_errors(call, message):
    with pytest.raises(UsageError) as info:
        call()
    assert message in info.value.message
    assert info.value.exit_code == 2


def test_error_hints():
    with pytest.raises(UsageError) as info:
        synth.ratings(10, 10, 101)
    assert info.value.hint == "lower --ratings or raise --users/--items"
    with pytest.raises(UsageError) as info:
        synth.docterm(10, 9)
    assert info.value.hint == "use at most 6 topics"
