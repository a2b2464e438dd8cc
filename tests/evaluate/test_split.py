"""Split assignment and its kernels, against naive NumPy/Python twins."""

from __future__ import annotations

import numpy as np
import pytest

from mfcli.errors import InputDataError, UsageError
from mfcli.evaluate import split as sp
from mfcli.io import textscan as ts
from mfcli.kernels import split as ks

EMPTY = np.zeros(0, dtype=np.int64)


# ------------------------------------------------------------ naive twins
def naive_newest(keys: np.ndarray, count: int) -> set[int]:
    """The ``count`` last entries in (key, position) order."""
    order = sorted(range(len(keys)), key=lambda i: (int(keys[i]), i))
    return set(order[len(order) - count :]) if count else set()


def naive_classes(text: bytes, comments=(b"#", b"//", b"%")) -> list[str]:
    """Per line: data, blank or comment, as the scanner's docs define them."""
    out = []
    for line in text.split(b"\n")[: -1 if text.endswith(b"\n") else None]:
        stripped = line.lstrip(b" \t\r\x0b\x0c")
        if not stripped:
            out.append("blank")
        elif stripped.startswith(comments):
            out.append("comment")
        else:
            out.append("data")
    return out


def entries(users, items=None, keys=None, time_kind="int") -> sp.Entries:
    users = np.asarray(users, dtype=np.int32)
    items = np.arange(users.size, dtype=np.int32) % 7 if items is None else np.asarray(items)
    return sp.Entries(
        users,
        items.astype(np.int32),
        int(users.max()) + 1,
        int(items.max()) + 1,
        keys=None if keys is None else np.asarray(keys, dtype=np.int64),
        time_kind=time_kind if keys is not None else None,
    )


# ------------------------------------------------------------------ lines
def _random_text(rng, n_lines: int) -> bytes:
    pieces = []
    for _ in range(n_lines):
        kind = rng.integers(0, 8)
        if kind == 0:
            pieces.append(b"  \t")
        elif kind == 1:
            pieces.append(b"  # note")
        elif kind == 2:
            pieces.append(b"//x,y")
        elif kind == 3:
            pieces.append(b"3,4,5\r")
        else:
            pieces.append(b"%d,%d,%d" % tuple(rng.integers(0, 99, 3)))
    text = b"\n".join(pieces)
    return text if rng.integers(0, 2) else text + b"\n"


@pytest.mark.parametrize("seed", range(4))
def test_line_kernels_match_the_naive_classification(seed):
    rng = np.random.default_rng(seed)
    text = _random_text(rng, 300)
    buf = ts.as_buffer(text)
    cmt, cmt_len = ts.Dialect(sep=",", comments=("#", "//", "%")).comment_table()
    classes = naive_classes(text)
    data_lines = [ln for ln, c in zip(text.split(b"\n"), classes, strict=False) if c == "data"]
    rows = len(data_lines)
    group = rng.integers(0, 3, rows).astype(np.int8)
    table = np.array([0, -1, 1], dtype=np.int64)
    out = np.zeros((2, len(text) + 1), dtype=np.uint8)
    ends = np.zeros(2, dtype=np.int64)
    assert ks.gather_lines(buf, 0, len(text), 0, group, table, out, ends, cmt, cmt_len) == rows
    for o, g in ((0, 0), (1, 2)):
        expected = b"".join(ln + b"\n" for ln, x in zip(data_lines, group, strict=True) if x == g)
        assert bytes(out[o, : ends[o]]) == expected
    # and the scanner agrees on which lines are data
    result = ts.scan(text, [ts.SKIP] * 3, dialect=ts.Dialect(sep=",", comments=("#", "//", "%")),
                     n_fields=3)  # fmt: skip
    assert result.n_rows == rows


# ------------------------------------------------------------------- keys
def test_factorize_chunks_matches_numpy_unique():
    from mfcli.evaluate.split_input import factorize_chunks

    rng = np.random.default_rng(1)
    for high in (50, 1 << 40):  # a lookup table, then the sort fallback
        ids = rng.integers(-high, high, 500)
        chunks = [ids[:100].copy(), ids[100:101].copy(), ids[101:].copy()]
        codes, n = factorize_chunks(chunks, 500)
        uniques, inverse = np.unique(ids, return_inverse=True)
        assert n == len(uniques) and np.array_equal(codes, inverse)
        assert codes.dtype == np.int32


def test_random_keys_are_a_function_of_seed_and_position():
    a = ks.random_keys(1000, np.uint64(7))
    assert np.array_equal(a, ks.random_keys(1000, np.uint64(7)))
    assert np.array_equal(a[:10], ks.random_keys(10, np.uint64(7)))
    assert not np.array_equal(a, ks.random_keys(1000, np.uint64(8)))
    assert a.min() >= 0 and len(np.unique(a)) == 1000


def test_float_time_keys_keep_the_order():
    times = np.array([3.5, -2.0, -0.0, 0.0, 1e-300, -1e300, np.inf, -np.inf, 2.25])
    keys = np.empty_like(times, dtype=np.int64)
    assert ks.float_time_keys(times, keys) == -1
    assert np.array_equal(np.argsort(keys, kind="stable"), np.argsort(times, kind="stable"))
    assert keys[2] == keys[3]  # -0.0 == 0.0
    assert ks.float_time_keys(np.array([1.0, np.nan]), np.empty(2, dtype=np.int64)) == 1


@pytest.mark.parametrize("seed", range(3))
def test_newest_selection_matches_a_sort(seed):
    rng = np.random.default_rng(seed)
    keys = rng.integers(-5, 5, 400) * (1 << 40) + rng.integers(0, 3, 400)  # many ties
    for count in (1, 7, 200, 400):
        part = np.zeros(400, dtype=np.int8)
        t = ks.newest_threshold(keys, np.uint64(0), 400, count)
        ks.mark_newest(keys, np.uint64(0), 400, t, count, part, 2)
        assert set(np.flatnonzero(part == 2)) == naive_newest(keys, count)
    # hashed keys: the same as the materialized ones
    base = np.uint64(12345)
    hashed = ks.random_keys(300, base)
    part = np.zeros(300, dtype=np.int8)
    t = ks.newest_threshold(EMPTY, base, 300, 30)
    ks.mark_newest(EMPTY, base, 300, t, 30, part, 1)
    assert set(np.flatnonzero(part)) == naive_newest(hashed, 30)


def test_grouping_and_per_group_marks_match_naive():
    rng = np.random.default_rng(3)
    users = rng.integers(0, 9, 200).astype(np.int32)
    keys = rng.integers(0, 20, 200)
    order = np.empty(200, dtype=np.int32)
    indptr = ks.group_entries(users, 10, order)
    assert indptr[-1] == 200 and np.array_equal(np.diff(indptr), np.bincount(users, minlength=10))
    assert np.array_equal(order, np.argsort(users, kind="stable"))
    n_test = rng.integers(0, 3, 10)
    n_val = rng.integers(0, 2, 10)
    sizes = np.diff(indptr)
    n_test, n_val = np.minimum(n_test, sizes), np.minimum(n_val, sizes - np.minimum(n_test, sizes))
    part = np.zeros(200, dtype=np.int8)
    ks.mark_newest_per_group(indptr, order, keys, np.uint64(0), n_test, n_val, part, 2, 1)
    for u in range(10):
        mine = np.flatnonzero(users == u)
        top = naive_newest(keys[mine], n_test[u] + n_val[u])
        test = naive_newest(keys[mine], n_test[u])
        assert {int(mine[i]) for i in test} == set(np.flatnonzero((part == 2) & (users == u)))
        val = {int(mine[i]) for i in top - test}
        assert val == set(np.flatnonzero((part == 1) & (users == u)))


# -------------------------------------------------------------- strategies
def test_random_gives_exact_counts_and_depends_on_the_seed():
    e = entries(np.arange(1000) % 37)
    p = sp.assign(e, sp.SplitParams("random", test_frac=0.25, validation_frac=0.1, seed=1))
    assert np.bincount(p, minlength=3).tolist() == [650, 100, 250]
    again = sp.assign(e, sp.SplitParams("random", test_frac=0.25, validation_frac=0.1, seed=1))
    other = sp.assign(e, sp.SplitParams("random", test_frac=0.25, validation_frac=0.1, seed=2))
    assert np.array_equal(p, again) and not np.array_equal(p, other)


def test_temporal_global_fraction_takes_the_newest_with_file_order_ties():
    keys = np.array([5, 1, 5, 3, 9, 5, 0, 2, 5, 7])
    p = sp.assign(entries(np.zeros(10), keys=keys), sp.SplitParams("temporal", test_frac=0.3))
    # newest three: 9, 7, then the last of the 5s
    assert set(np.flatnonzero(p == sp.TEST)) == {4, 9, 8}
    p = sp.assign(
        entries(np.zeros(10), keys=keys),
        sp.SplitParams("temporal", test_frac=0.3, validation_frac=0.2),
    )
    assert set(np.flatnonzero(p == sp.VALIDATION)) == {5, 2}


def test_temporal_cut_time():
    keys = np.array([10, 20, 30, 40, 25, 5])
    e = entries(np.zeros(6), keys=keys)
    p = sp.assign(e, sp.SplitParams("temporal", cut_time=25.0))
    assert set(np.flatnonzero(p == sp.TEST)) == {2, 3, 4}
    p = sp.assign(e, sp.SplitParams("temporal", cut_time=24.5, validation_frac=0.34))
    assert set(np.flatnonzero(p == sp.TEST)) == {2, 3, 4}
    assert set(np.flatnonzero(p == sp.VALIDATION)) == {1, 0}
    floats = np.empty(3, dtype=np.int64)
    ks.float_time_keys(np.array([1.5, 2.5, 3.5]), floats)
    e = entries(np.zeros(3), keys=floats, time_kind="float")
    p = sp.assign(e, sp.SplitParams("temporal", cut_time=2.5))
    assert p.tolist() == [0, 2, 2]


def test_per_user_counts_respect_fractions_and_min_train():
    sizes = np.array([0, 1, 2, 3, 5, 10, 11])
    params = sp.SplitParams("user", test_frac=0.2, validation_frac=0.1, min_train=3)
    n_test, n_val = sp.per_user_counts(sizes, params)
    assert n_test.tolist() == [0, 0, 0, 0, 1, 2, 2]
    assert n_val.tolist() == [0, 0, 0, 0, 1, 1, 1]
    n_test, _ = sp.per_user_counts(sizes, sp.SplitParams("leave-k-out", leave_k=2))
    assert n_test.tolist() == [0, 0, 1, 2, 2, 2, 2]


@pytest.mark.parametrize("strategy", ["user", "temporal", "leave-k-out"])
def test_per_user_strategies(strategy):
    rng = np.random.default_rng(5)
    users = rng.integers(0, 40, 2000)
    keys = rng.integers(0, 50, 2000)
    e = entries(users, keys=keys)
    params = sp.SplitParams(strategy, test_frac=0.3, validation_frac=0.1, per_user=True,
                            min_train=4, leave_k=2, seed=3)  # fmt: skip
    p = sp.assign(e, params)
    sizes = np.bincount(users, minlength=40)
    n_test, n_val = sp.per_user_counts(sizes, params)
    for u in range(40):
        mine = np.flatnonzero(users == u)
        assert np.count_nonzero(p[mine] == sp.TEST) == n_test[u]
        assert np.count_nonzero(p[mine] == sp.VALIDATION) == n_val[u]
        assert np.count_nonzero(p[mine] == sp.TRAIN) >= min(4, len(mine))
        if strategy != "user":  # newest first, file order breaking ties
            assert set(mine[list(naive_newest(keys[mine], n_test[u]))]) == set(
                np.flatnonzero((p == sp.TEST) & (users == u))
            )


def test_leave_k_out_without_times_is_random_and_seeded():
    e = entries(np.arange(300) % 30)
    a = sp.assign(e, sp.SplitParams("leave-k-out", leave_k=1, seed=0))
    b = sp.assign(e, sp.SplitParams("leave-k-out", leave_k=1, seed=1))
    assert np.bincount(e.users[a == sp.TEST], minlength=30).tolist() == [1] * 30
    assert not np.array_equal(a, b)


def test_kfold_is_stratified_by_user():
    rng = np.random.default_rng(2)
    users = rng.integers(0, 25, 1000)
    e = entries(users)
    fold = sp.assign_folds(e, sp.SplitParams("kfold", folds=4, seed=9))
    assert fold.min() == 0 and fold.max() == 3
    for u in range(25):
        counts = np.bincount(fold[users == u], minlength=4)
        assert counts.max() - counts.min() <= 1
    assert np.array_equal(fold, sp.assign_folds(e, sp.SplitParams("kfold", folds=4, seed=9)))


def test_time_strategies_refuse_entries_without_times():
    with pytest.raises(InputDataError, match="needs a time column"):
        sp.assign(entries([0, 1]), sp.SplitParams("temporal"))
    with pytest.raises(UsageError):
        sp.assign(entries([0, 1]), sp.SplitParams("kfold"))


def test_counts_and_unseen():
    e = entries([0, 0, 1, 2], items=[0, 1, 1, 3])
    part = np.array([0, 2, 0, 2], dtype=np.int8)
    c = sp.part_counts(part, e, 3)
    assert c["entries"].tolist() == [2, 0, 2]
    users, items = c["users_by_group"], c["items_by_group"]
    assert sp.summarize(users[2], items[2], 2) == {"entries": 2, "users": 2, "items": 2}
    assert sp.unseen(users[2], items[2], users[0], items[0]) == {"users": 1, "items": 1}


def test_parse_time():
    assert sp.parse_time("1500000000") == 1.5e9
    assert sp.parse_time("1970-01-02") == 86400.0
    assert sp.parse_time("1970-01-01T00:01:00Z") == 60.0
    assert sp.time_key(2.5, "int") == 3
    for bad in ("soon", "nan", "inf"):
        with pytest.raises(UsageError):
            sp.parse_time(bad)
