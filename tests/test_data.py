"""Matrix.from_coo against the naive twin: policies, dtypes, orders, errors."""

from __future__ import annotations

import numba
import numpy as np
import pytest

from mfcli.data import Matrix
from mfcli.errors import InputDataError
from mfcli.kernels import sparse_build as sb
from tests.kernels.test_sparse_build import naive_coo_to_csr, naive_first_duplicate


def coo(seed, n_rows=60, n_cols=45, nnz=3000, dup_share=0.1, order="random", idx=np.int64):
    """Random triplets with duplicates and empty rows, in the given order."""
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, n_rows, nnz)
    rows[rows % 7 == 3] = 0  # empty rows
    cols = rng.integers(0, n_cols, nnz)
    dup = np.flatnonzero(rng.random(nnz) < dup_share)
    src = rng.integers(0, nnz, dup.size)
    rows[dup], cols[dup] = rows[src], cols[src]
    if order != "random":
        key = np.lexsort((cols, rows))
        if order == "reverse":
            key = key[::-1]
        elif order == "rows":  # sorted by row only, columns in file order
            key = np.argsort(rows, kind="stable")
        rows, cols = rows[key], cols[key]
    values = rng.integers(1, 11, nnz) / 2 + rng.random(nnz) * 1e-3
    stamps = rng.integers(0, 10**9, nnz)
    return rows.astype(idx), cols.astype(idx), values, stamps, (n_rows, n_cols)


@pytest.fixture(params=["serial", "parallel"])
def build_path(request, monkeypatch):
    """from_coo's serial kernels (inputs up to SERIAL_MAX entries) or its parallel ones."""
    if request.param == "parallel":
        monkeypatch.setattr(sb, "SERIAL_MAX", -1)
    return request.param


def check_against_twin(m, rows, cols, values, stamps, shape, policy, dtype):
    indptr, indices, data, ts = naive_coo_to_csr(
        rows, cols, values, stamps, shape[0], policy, dtype
    )
    np.testing.assert_array_equal(m.indptr, indptr)
    np.testing.assert_array_equal(m.indices, indices)
    want = data.astype(dtype).astype(np.float64)
    np.testing.assert_array_equal(m.data.astype(np.float64), want)
    if stamps is None:
        assert m.timestamps is None
    else:
        assert m.timestamps.dtype == stamps.dtype
        np.testing.assert_array_equal(m.timestamps, ts)
    assert m.meta["duplicates_merged"] == len(rows) - len(indices)
    assert m.meta["duplicate_policy"] == policy


@pytest.mark.parametrize("order", ["random", "sorted", "reverse", "rows"])
@pytest.mark.parametrize("policy", ["sum", "last"])
@pytest.mark.parametrize(
    "idx, dtype, stamps_kind",
    [
        (np.int64, np.float32, "int64"),  # a CSV file today
        (np.int32, np.float64, None),
        (np.int32, np.float32, "float64"),
        (np.int64, np.float64, "int64"),
    ],
)
def test_from_coo_matches_twin(order, policy, idx, dtype, stamps_kind, build_path):
    rows, cols, values, stamps, shape = coo(1, order=order, idx=idx)
    stamps = None if stamps_kind is None else stamps.astype(stamps_kind)
    kept = [a.copy() for a in (rows, cols, values)]
    m = Matrix.from_coo(
        rows, cols, values, shape, duplicates=policy, dtype=dtype, timestamps=stamps
    )
    check_against_twin(m, rows, cols, values, stamps, shape, policy, dtype)
    assert m.indices.dtype == np.int32 and m.indptr.dtype == np.int32
    assert m.data.dtype == dtype
    for before, after in zip(kept, (rows, cols, values), strict=True):
        np.testing.assert_array_equal(before, after)  # inputs untouched


@pytest.mark.parametrize("values_dtype", [np.float32, np.int64, np.bool_])
@pytest.mark.parametrize("policy", ["sum", "last"])
def test_from_coo_value_dtypes(values_dtype, policy):
    rows, cols, values, _, shape = coo(2, nnz=800)
    values = (values * 2).astype(values_dtype)
    m = Matrix.from_coo(rows, cols, values, shape, duplicates=policy, dtype=np.float64)
    check_against_twin(m, rows, cols, values, None, shape, policy, np.float64)


@pytest.mark.parametrize("policy", ["sum", "last"])
def test_from_coo_without_values_counts_ones(policy):
    rows, cols, _, _, shape = coo(3, nnz=500, dup_share=0.2)
    m = Matrix.from_coo(rows, cols, None, shape, duplicates=policy, dtype=np.float32)
    check_against_twin(m, rows, cols, None, None, shape, policy, np.float32)
    assert m.data.dtype == np.float32
    if policy == "sum":
        assert m.data.sum() == len(rows)
    else:
        assert np.all(m.data == 1.0)


def test_from_coo_scipy_agrees_for_sum():
    sp = pytest.importorskip("scipy.sparse")
    rows, cols, values, _, shape = coo(4)
    m = Matrix.from_coo(rows, cols, values, shape, duplicates="sum")
    ref = sp.coo_matrix((values, (rows, cols)), shape=shape).tocsr()
    ref.sum_duplicates()
    np.testing.assert_array_equal(m.indptr, ref.indptr)
    np.testing.assert_array_equal(m.indices, ref.indices)
    np.testing.assert_allclose(m.data, ref.data, rtol=1e-13)


def test_from_coo_int64_indices_for_wide_matrices():
    rows = np.array([1, 0, 1, 0])
    cols = np.array([2**31 + 5, 7, 3, 2**31 + 5])
    m = Matrix.from_coo(rows, cols, np.arange(4.0), (2, 2**32))
    assert m.indices.dtype == np.int64
    np.testing.assert_array_equal(m.indptr, [0, 2, 4])
    np.testing.assert_array_equal(m.indices, [7, 2**31 + 5, 3, 2**31 + 5])
    np.testing.assert_array_equal(m.data, [1.0, 3.0, 2.0, 0.0])


def test_from_coo_empty_and_sorted_edge_cases():
    m = Matrix.from_coo(np.array([], int), np.array([], int), None, (3, 4), duplicates="error")
    assert m.nnz == 0 and m.indptr.tolist() == [0, 0, 0, 0]
    m = Matrix.from_coo(np.array([], int), np.array([], int), None, (0, 0))
    assert m.shape == (0, 0) and m.indptr.tolist() == [0]
    m = Matrix.from_coo([0, 0], [1, 1], [1.0, 2.0], (1, 2), duplicates="last")
    assert m.data.tolist() == [2.0] and m.meta["duplicates_merged"] == 1


def test_from_coo_other_output_dtype():
    m = Matrix.from_coo([1, 0, 1], [0, 1, 0], [1.5, 2.0, 3.0], (2, 2), dtype=np.float16)
    assert m.data.dtype == np.float16 and m.data.tolist() == [2.0, 4.5]


def test_from_coo_datetime_timestamps_keep_their_dtype():
    stamps = np.array(["2020-01-02", "2020-01-01", "2021-05-05"], dtype="datetime64[s]")
    m = Matrix.from_coo([0, 0, 1], [1, 1, 0], [1.0, 2.0, 3.0], (2, 2), timestamps=stamps)
    assert m.timestamps.dtype == stamps.dtype
    assert m.timestamps.tolist() == stamps[[0, 2]].tolist()  # sum keeps the latest time
    assert m.data.tolist() == [3.0, 3.0]


# ------------------------------------------------------------------ errors
def test_error_policy_names_first_duplicate_in_file_order():
    # Row 5's duplicate (entry 3) comes before row 0's (entry 4) in the file,
    # though row 0 sorts first.
    rows = np.array([5, 0, 5, 0, 2, 2], dtype=np.int32)
    cols = np.array([1, 2, 1, 2, 0, 0], dtype=np.int32)
    with pytest.raises(InputDataError) as info:
        Matrix.from_coo(rows, cols, None, (6, 3), duplicates="error")
    assert info.value.message == "duplicate entry (6, 2) at entry 3"
    with pytest.raises(InputDataError) as info:
        Matrix.from_coo(
            rows, cols, None, (6, 3), duplicates="error", entry_label=lambda i: f"line {i + 10}"
        )
    assert info.value.message == "duplicate entry (6, 2) at line 12"
    assert "--duplicates sum" in info.value.hint


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("order", ["random", "sorted", "rows"])
def test_error_policy_matches_twin(seed, order, build_path):
    rows, cols, values, _, shape = coo(seed, nnz=400, dup_share=0.01 * seed, order=order)
    first = naive_first_duplicate(rows, cols)
    if first < 0:
        m = Matrix.from_coo(rows, cols, values, shape, duplicates="error")
        assert m.meta["duplicates_merged"] == 0 and m.nnz == len(rows)
        return
    with pytest.raises(InputDataError) as info:
        Matrix.from_coo(rows, cols, values, shape, duplicates="error")
    r, c = rows[first] + 1, cols[first] + 1
    assert info.value.message == f"duplicate entry ({r}, {c}) at entry {first + 1}"


@pytest.mark.parametrize("idx", [np.int32, np.int64])
def test_out_of_range_names_first_bad_entry(idx, build_path):
    rows = np.array([0, 1, 2, 1, 9], dtype=idx)
    cols = np.array([0, 1, 3, 7, 0], dtype=idx)
    with pytest.raises(InputDataError) as info:
        Matrix.from_coo(rows, cols, None, (3, 4))
    assert info.value.message == "column index 8 out of range 1..4 at entry 4"
    rows[1] = -1
    with pytest.raises(InputDataError) as info:
        Matrix.from_coo(rows, cols, None, (3, 4))
    assert info.value.message == "row index 0 out of range 1..3 at entry 2"


def test_bad_arguments():
    with pytest.raises(ValueError, match="same length"):
        Matrix.from_coo([0, 1], [0], None, (2, 2))
    with pytest.raises(ValueError, match="one entry per coordinate"):
        Matrix.from_coo([0, 1], [0, 1], [1.0], (2, 2))
    with pytest.raises(ValueError, match="integers"):
        Matrix.from_coo([0.0, 1.5], [0, 1], None, (2, 2))
    with pytest.raises(ValueError, match="timestamps must be"):
        Matrix.from_coo([0], [0], None, (1, 1), timestamps=np.array(["x"], dtype=object))
    with pytest.raises(ValueError, match="unknown duplicate policy"):
        Matrix.from_coo([0], [0], None, (1, 1), duplicates="first")


# ------------------------------------------------- threads and memory
@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs 2 numba threads")
@pytest.mark.parametrize("policy", ["sum", "last"])
@pytest.mark.parametrize("order", ["random", "rows"])
def test_same_result_on_any_thread_count(policy, order, monkeypatch):
    # Large enough for several scatter chunks, row blocks and parallel moves.
    rows, cols, values, stamps, shape = coo(
        7, n_rows=400, n_cols=3000, nnz=400_000, dup_share=0.3, order=order, idx=np.int32
    )
    results = []
    previous = numba.get_num_threads()
    try:
        for threads in (None, 1, 2):  # None: the serial kernels
            if threads is not None:
                monkeypatch.setattr(sb, "SERIAL_MAX", -1)
                numba.set_num_threads(threads)
                assert sb.scatter_chunks(len(rows), shape[0]) == threads
            results.append(
                Matrix.from_coo(
                    rows,
                    cols,
                    values,
                    shape,
                    duplicates=policy,
                    dtype=np.float32,
                    timestamps=stamps,
                )
            )
    finally:
        numba.set_num_threads(previous)
    serial, one, two = results
    for name in ("indptr", "indices", "data", "timestamps"):
        np.testing.assert_array_equal(getattr(one, name), getattr(two, name))
        np.testing.assert_array_equal(getattr(serial, name), getattr(two, name))
    check_against_twin(two, rows, cols, values, stamps, shape, policy, np.float32)


@pytest.mark.parametrize("order", ["random", "rows", "sorted"])
@pytest.mark.parametrize("policy", ["sum", "last", "error"])
def test_handed_over_arrays_are_kept_when_grouped(order, policy, build_path):
    rows, cols, values, stamps, shape = coo(3, nnz=2000, dup_share=0.2, order=order)
    if policy == "error":  # no duplicates then
        _, first = np.unique(rows * shape[1] + cols, return_index=True)
        keep = np.sort(first)
        rows, cols, values, stamps = rows[keep], cols[keep], values[keep], stamps[keep]
    want = Matrix.from_coo(rows, cols, values, shape, duplicates=policy, timestamps=stamps)
    given = values.copy(), stamps.copy()
    m = Matrix.from_coo(
        rows, cols, given[0], shape, duplicates=policy, timestamps=given[1], copy=False
    )
    for name in ("indptr", "indices", "data", "timestamps"):
        np.testing.assert_array_equal(getattr(m, name), getattr(want, name))
    grouped = order != "random"  # then sorted and merged in place (and shrunk)
    assert (m.data is given[0]) == grouped and (m.timestamps is given[1]) == grouped


def test_handed_over_views_are_copied_when_merged():
    rows, cols, values, stamps, shape = coo(4, nnz=2000, dup_share=0.3, order="rows")
    want = Matrix.from_coo(rows, cols, values, shape, duplicates="last", timestamps=stamps)
    block = np.append(values, 0.0)
    view = block[:-1]  # owns nothing, holds little besides its own: kept, then copied
    m = Matrix.from_coo(rows, cols, view, shape, duplicates="last", copy=False)
    assert m.meta["duplicates_merged"] > 0
    np.testing.assert_array_equal(m.data, want.data)
    assert not np.shares_memory(m.data, block)
    table = np.stack([values, values])  # a row of a table: never kept
    m = Matrix.from_coo(rows, cols, table[0], shape, duplicates="last", copy=False)
    np.testing.assert_array_equal(m.data, want.data)
    assert not np.shares_memory(m.data, table)


def test_merged_arrays_are_shrunk_not_sliced():
    rows, cols, values, stamps, shape = coo(8, nnz=20_000, dup_share=0.3)
    m = Matrix.from_coo(rows, cols, values, shape, duplicates="last", timestamps=stamps)
    assert m.meta["duplicates_merged"] > 0
    for a in (m.indices, m.data, m.timestamps):
        assert a.base is None and a.flags.owndata and a.shape == (m.nnz,)


def test_from_coo_in_range_skips_only_the_range_check(monkeypatch):
    import scipy.sparse as sp

    from mfcli import data as mdata

    monkeypatch.setattr(sb, "SERIAL_MAX", 10)  # take the large-input path
    calls = []
    real = mdata._check_coords
    monkeypatch.setattr(mdata, "_check_coords", lambda *a: calls.append(a) or real(*a))
    rng = np.random.default_rng(0)
    rows, cols = rng.integers(0, 30, 500), rng.integers(0, 20, 500)
    vals = rng.random(500)
    want = sp.coo_matrix((vals, (rows, cols)), shape=(30, 20)).tocsr()
    for in_range, n_checks in ((False, 1), (True, 0)):
        calls.clear()
        m = Matrix.from_coo(rows, cols, vals, (30, 20), in_range=in_range)
        assert len(calls) == n_checks
        assert np.allclose(m.to_scipy().toarray(), want.toarray())
