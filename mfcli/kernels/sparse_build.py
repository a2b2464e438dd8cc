"""Building CSR arrays from coordinate triplets, with a duplicate policy.

The build writes straight into the output arrays, so no nnz-sized permutation
is ever held:

1. :func:`count_rows` — a counting sort by row gives ``indptr`` and, for
   each slice ("chunk") of the input, where its entries of each row go;
2. :func:`scatter` — columns, values and timestamps are copied to those
   positions, already in their output dtype (entries of a row stay in file
   order: the sort is stable);
3. :func:`sort_dedupe_rows` — each row is sorted by column (stably, so equal
   columns stay in file order) and equal-column runs are collapsed in place;
4. :func:`compact_rows` — rows that lost entries are moved left to close the
   gaps; the caller then shrinks the arrays.

Small inputs take serial kernels instead: :func:`build_serial` (the range
check and steps 1-2) and, only when a row is out of order,
:func:`sort_dedupe_serial`. A parallel region costs a thread hand-off
(milliseconds on a busy machine, several per kernel) and each kernel some
milliseconds to load from the cache on its first call: more than the work
itself below a few million entries.

The output never depends on the number of threads or chunks. Parallel
kernels are only called from Python, never from another jitted function:
cached nested parallel kernels can segfault (numba issues 8578, 10128).
"""

import numpy as np
from numba import get_num_threads, njit, prange

# Duplicate policies, as integers so kernels can take them.
DUP_SUM = 0
DUP_LAST = 1
DUP_ERROR = 2

# Rows up to this length are sorted by insertion, longer ones by radix.
INSERTION_MAX = 20
# Row blocks for load balance: rows have power-law lengths.
BLOCKS_PER_THREAD = 8
# Inputs up to this many entries are built by build_serial.
SERIAL_MAX = 1 << 22


# --------------------------------------------------------------- range check
@njit(cache=True, parallel=True)
def first_out_of_range(rows, cols, n_rows, n_cols):
    """First entry whose row or column index is outside the shape.

    Parameters
    ----------
    rows, cols : (nnz,) int32 or int64
    n_rows, n_cols : int

    Returns
    -------
    int
        The entry's position, or -1 when every entry is in range.
    """
    nnz = rows.shape[0]
    n_chunks = 64 if nnz >= 1 << 20 else 1
    first = np.full(n_chunks, -1, dtype=np.int64)
    for c in prange(n_chunks):
        lo = nnz * c // n_chunks
        first[c] = _first_bad(rows, cols, n_rows, n_cols, lo, nnz * (c + 1) // n_chunks)
    for c in range(n_chunks):
        if first[c] >= 0:
            return first[c]
    return -1


@njit(cache=True)
def _first_bad(rows, cols, n_rows, n_cols, lo, hi):
    for i in range(lo, hi):
        r = rows[i]
        k = cols[i]
        if r < 0 or r >= n_rows or k < 0 or k >= n_cols:
            return i
    return -1


def rows_grouped(rows: np.ndarray, chunk: int = 1 << 20) -> bool:
    """Are the entries grouped by row already (rows non-decreasing)? Then the
    counting sort moves nothing.

    NumPy in slices of ``chunk`` (small temporaries, an early exit): as fast as
    a kernel, and a fresh process does not pay a kernel load for it.
    """
    n = rows.shape[0]
    for start in range(0, n - 1, chunk):
        end = min(start + chunk, n - 1)
        if (rows[start + 1 : end + 1] < rows[start:end]).any():
            return False
    return True


# ------------------------------------------------------ counting sort by row
def scatter_chunks(nnz: int, n_rows: int) -> int:
    """How many input slices to count and scatter in parallel.

    One per thread, but the (chunks, n_rows) offset table is kept small next
    to the data (at most nnz / 16 entries).
    """
    limit = nnz // (16 * max(n_rows, 1))
    return int(max(1, min(get_num_threads(), limit)))


@njit(cache=True, parallel=True)
def count_rows(rows, n_rows, n_chunks):
    """Counting-sort offsets: where each input slice's entries of each row go.

    The input is cut into ``n_chunks`` consecutive slices counted in parallel;
    row ``r``'s entries from slice ``c`` go after those from earlier slices,
    so the result does not depend on ``n_chunks``.

    Parameters
    ----------
    rows : (nnz,) int32 or int64, all in ``0..n_rows-1``
    n_rows, n_chunks : int

    Returns
    -------
    indptr : (n_rows + 1,) int64
    starts : (n_chunks, n_rows) int64
        First output position of slice ``c``'s entries of row ``r``.
    """
    nnz = rows.shape[0]
    starts = np.zeros((n_chunks, n_rows), dtype=np.int64)
    for c in prange(n_chunks):
        _count_slice(rows, nnz * c // n_chunks, nnz * (c + 1) // n_chunks, starts[c])
    return _offsets(starts), starts


@njit(cache=True)
def _count_slice(rows, lo, hi, counts):
    for i in range(lo, hi):
        counts[rows[i]] += 1


@njit(cache=True)
def _offsets(starts):
    """Turn per-slice row counts into first output positions, in place; the indptr."""
    n_chunks, n_rows = starts.shape
    indptr = np.empty(n_rows + 1, dtype=np.int64)
    indptr[0] = 0
    pos = 0
    for r in range(n_rows):
        for c in range(n_chunks):
            k = starts[c, r]
            starts[c, r] = pos
            pos += k
        indptr[r + 1] = pos
    return indptr


@njit(cache=True, parallel=True)
def scatter(rows, cols, values, timestamps, starts, indices, data, out_stamps):
    """Copy the entries into the output arrays grouped by row, in file order.

    Each array is written in its own dtype, so no converted copy of an input
    is made.

    Parameters
    ----------
    rows : (nnz,) int32 or int64
    cols : (nnz,) int32 or int64
    values : (nnz,) float32 or float64, or None (``data`` is left as it is)
    timestamps : (nnz,) numbers, or None
    starts : (n_chunks, n_rows) int64 from :func:`count_rows` (not modified)
    indices : (nnz,) int32 or int64, output
    data : (nnz,) float32 or float64, output
    out_stamps : (nnz,) timestamps' dtype, output, or None
    """
    nnz = rows.shape[0]
    n_chunks = starts.shape[0]
    for c in prange(n_chunks):
        lo, hi = nnz * c // n_chunks, nnz * (c + 1) // n_chunks
        fill = starts[c].copy()
        _scatter_slice(rows, cols, values, timestamps, lo, hi, fill, indices, data, out_stamps)


@njit(cache=True)
def _scatter_slice(rows, cols, values, timestamps, lo, hi, fill, indices, data, out_stamps):
    """Entries lo..hi-1 to their rows' next free positions ``fill`` (advanced)."""
    for i in range(lo, hi):
        r = rows[i]
        p = fill[r]
        fill[r] = p + 1
        indices[p] = cols[i]
        if values is not None:
            data[p] = values[i]
        if timestamps is not None:
            out_stamps[p] = timestamps[i]


# --------------------------------------------------- per-row sort and dedupe
def row_blocks(indptr: np.ndarray) -> np.ndarray:
    """Boundaries of row blocks holding about equal numbers of entries.

    Parameters
    ----------
    indptr : (n_rows + 1,) int64

    Returns
    -------
    (n_blocks + 1,) int64 row numbers, first 0 and last n_rows
    """
    n_rows = indptr.shape[0] - 1
    n_blocks = max(1, min(n_rows, BLOCKS_PER_THREAD * get_num_threads()))
    targets = np.linspace(0, indptr[-1], n_blocks + 1)[1:-1]
    inner = np.searchsorted(indptr, targets, side="left")
    return np.unique(np.concatenate(([0], inner, [n_rows]))).astype(np.int64)


@njit(cache=True)
def _insertion_sort(indices, data, timestamps, a, b):
    # Stable: an entry moves left only past strictly larger columns.
    for t in range(a + 1, b):
        k = indices[t]
        v = data[t]
        if timestamps is not None:
            s = timestamps[t]
        u = t
        while u > a and indices[u - 1] > k:
            indices[u] = indices[u - 1]
            data[u] = data[u - 1]
            if timestamps is not None:
                timestamps[u] = timestamps[u - 1]
            u -= 1
        indices[u] = k
        data[u] = v
        if timestamps is not None:
            timestamps[u] = s


@njit(cache=True)
def _radix_order(indices, a, b, col_bits, keys, order):
    # LSD radix sort of indices[a:b] (8-bit digits), carrying each entry's
    # position in the segment: stable, and several times faster than
    # comparison sorts on shuffled rows (no branch mispredictions).
    # Returns the sorted columns and the positions, views into the scratch.
    n = b - a
    src, dst = keys[0], keys[1]
    pos, pos_dst = order[0], order[1]
    counts = np.empty(257, dtype=np.int64)
    for t in range(n):
        src[t] = indices[a + t]
        pos[t] = t
    digit = 0
    while digit < col_bits:
        counts[:] = 0
        for t in range(n):
            counts[((src[t] >> digit) & 255) + 1] += 1
        for k in range(256):
            counts[k + 1] += counts[k]
        for t in range(n):
            k = (src[t] >> digit) & 255
            q = counts[k]
            counts[k] = q + 1
            dst[q] = src[t]
            pos_dst[q] = pos[t]
        src, dst = dst, src
        pos, pos_dst = pos_dst, pos
        digit += 8
    return src, pos


@njit(cache=True)
def _radix_sort(indices, data, timestamps, a, b, col_bits, keys, order, vals, stamps):
    n = b - a
    cols, pos = _radix_order(indices, a, b, col_bits, keys, order)
    for t in range(n):
        vals[t] = data[a + t]
    for t in range(n):
        indices[a + t] = cols[t]
        data[a + t] = vals[pos[t]]
    if timestamps is not None:
        for t in range(n):
            stamps[t] = timestamps[a + t]
        for t in range(n):
            timestamps[a + t] = stamps[pos[t]]


@njit(cache=True)
def _scratch_like(array, size):
    if array is None:
        return None
    return np.empty(size, dtype=array.dtype)


@njit(cache=True)
def _collapse(indices, data, timestamps, a, b, policy):
    # Equal-column runs of a sorted row hold their entries in file order.
    w = a
    t = a
    while t < b:
        k = indices[t]
        u = t + 1
        while u < b and indices[u] == k:
            u += 1
        if policy == DUP_SUM:
            acc = 0.0  # float64 accumulator: float32 data would lose small terms
            for q in range(t, u):
                acc += data[q]
            data[w] = acc
            if timestamps is not None:
                best = timestamps[t]
                for q in range(t + 1, u):
                    if timestamps[q] > best:
                        best = timestamps[q]
                timestamps[w] = best
        elif policy == DUP_LAST:
            data[w] = data[u - 1]
            if timestamps is not None:
                timestamps[w] = timestamps[u - 1]
        indices[w] = k
        w += 1
        t = u
    return w - a


@njit(cache=True, parallel=True)
def sort_dedupe_rows(indptr, blocks, indices, data, timestamps, n_cols, policy):
    """Sort every row by column and collapse duplicate columns in place.

    Rows already sorted are left as they are. Within a row the sort is stable,
    so equal columns stay in file order; then ``sum`` adds their values
    (float64 accumulator) and keeps the latest timestamp, ``last`` keeps the
    value and timestamp of the entry last in file order. ``error`` sorts and
    counts but moves nothing.

    Parameters
    ----------
    indptr : (n_rows + 1,) int64
    blocks : (n_blocks + 1,) int64 row boundaries from :func:`row_blocks`
    indices : (nnz,) int32 or int64 column indices in ``0..n_cols-1``,
        grouped by row
    data : (nnz,) float32 or float64, aligned with ``indices``
    timestamps : (nnz,) numeric, aligned with ``indices``, or None
    n_cols : int
    policy : DUP_SUM, DUP_LAST or DUP_ERROR

    Returns
    -------
    kept : (n_rows,) int64
        Distinct columns per row; row ``r``'s result is
        ``[indptr[r], indptr[r] + kept[r])`` (``sum``/``last``).
    """
    n_rows = indptr.shape[0] - 1
    kept = np.empty(n_rows, dtype=np.int64)
    col_bits = _col_bits(n_cols)
    for blk in prange(blocks.shape[0] - 1):
        _sort_dedupe_block(
            blocks[blk], blocks[blk + 1], indptr, indices, data, timestamps, col_bits, policy, kept
        )
    return kept


@njit(cache=True)
def _col_bits(n_cols):
    """Bits the radix sort needs for columns 0..n_cols-1."""
    bits = 0
    while (np.int64(1) << bits) < n_cols:
        bits += 1
    return bits


@njit(cache=True)
def _sort_dedupe_block(lo, hi, indptr, indices, data, timestamps, col_bits, policy, kept):
    longest = 0
    for r in range(lo, hi):
        longest = max(longest, indptr[r + 1] - indptr[r])
    # Scratch for the whole block, so long rows allocate nothing.
    size = longest if longest > INSERTION_MAX else 0
    keys = np.empty((2, size), dtype=indices.dtype)
    order = np.empty((2, size), dtype=np.int64)
    vals = np.empty(size, dtype=data.dtype)
    stamps = _scratch_like(timestamps, size)
    for r in range(lo, hi):
        a = indptr[r]
        b = indptr[r + 1]
        ordered = True
        distinct = b - a
        for t in range(a + 1, b):
            if indices[t] < indices[t - 1]:
                ordered = False
                break
            if indices[t] == indices[t - 1]:
                distinct -= 1
        if not ordered:
            if b - a <= INSERTION_MAX:
                _insertion_sort(indices, data, timestamps, a, b)
            else:
                _radix_sort(indices, data, timestamps, a, b, col_bits, keys, order, vals, stamps)
            distinct = b - a
            for t in range(a + 1, b):
                if indices[t] == indices[t - 1]:
                    distinct -= 1
        if distinct < b - a and policy != DUP_ERROR:
            distinct = _collapse(indices, data, timestamps, a, b, policy)
        kept[r] = distinct


# ----------------------------------------------------------- small inputs
@njit(cache=True)
def build_serial(rows, cols, values, timestamps, n_cols, indptr, fill, indices, data, out_stamps):
    """Steps 1 and 2 for a small input, serially, after the range check.

    Arguments as for :func:`first_out_of_range` and :func:`scatter`, plus
    ``indptr`` (n_rows + 1, zeros) to fill and ``fill`` (n_rows) scratch: the
    caller allocates, as a kernel that returns arrays costs milliseconds more
    to load from the cache. The per-row sort is left to
    :func:`sort_dedupe_serial`, loaded only when a row needs it (sorted
    input, e.g. ratings by user then item, does not).

    Returns
    -------
    int
        The first entry out of range (then nothing else is done); else -1
        when every row's columns are strictly increasing already, -2 when not.
    """
    nnz = rows.shape[0]
    n_rows = fill.shape[0]
    bad = _first_bad(rows, cols, n_rows, n_cols, 0, nnz)
    if bad >= 0:
        return bad
    _count_slice(rows, 0, nnz, indptr[1:])
    for r in range(n_rows):
        fill[r] = indptr[r]
        indptr[r + 1] += indptr[r]
    _scatter_slice(rows, cols, values, timestamps, 0, nnz, fill, indices, data, out_stamps)
    for r in range(n_rows):
        for t in range(indptr[r] + 1, indptr[r + 1]):
            if indices[t] <= indices[t - 1]:
                return -2
    return -1


@njit(cache=True)
def sort_dedupe_serial(indptr, indices, data, timestamps, n_cols, policy):
    """:func:`sort_dedupe_rows` in one thread (no parallel region to start)."""
    n_rows = indptr.shape[0] - 1
    kept = np.empty(n_rows, dtype=np.int64)
    bits = _col_bits(n_cols)
    _sort_dedupe_block(0, n_rows, indptr, indices, data, timestamps, bits, policy, kept)
    return kept


# ------------------------------------------------------------------ compaction
@njit(cache=True)
def compact_rows(indptr, kept, indices, data, timestamps):
    """Close the gaps left by :func:`sort_dedupe_rows`, in place.

    Row ``r``'s first ``kept[r]`` entries move from ``indptr[r]`` to the final
    offset. Every move goes left, so one forward pass in row order never
    overwrites an entry not yet moved. It runs at memcpy speed; a parallel
    in-place move would need batches of rows whose sources and destinations
    cannot overlap and measured slower on a busy machine.

    Parameters
    ----------
    indptr : (n_rows + 1,) int64, before de-duplication
    kept : (n_rows,) int64
    indices, data, timestamps : (nnz,) arrays as in :func:`sort_dedupe_rows`

    Returns
    -------
    new_indptr : (n_rows + 1,) int64; the result is the first
        ``new_indptr[-1]`` entries of each array
    """
    n_rows = kept.shape[0]
    new_indptr = np.empty(n_rows + 1, dtype=np.int64)
    new_indptr[0] = 0
    for r in range(n_rows):
        new_indptr[r + 1] = new_indptr[r] + kept[r]
    for r in range(n_rows):
        src = indptr[r]
        dst = new_indptr[r]
        if src == dst:
            continue
        for t in range(kept[r]):
            indices[dst + t] = indices[src + t]
            data[dst + t] = data[src + t]
            if timestamps is not None:
                timestamps[dst + t] = timestamps[src + t]
    return new_indptr


# ------------------------------------------------------- first duplicate
@njit(cache=True)
def first_duplicate(rows, cols, indptr, indices):
    """First entry, in file order, whose (row, col) appeared earlier.

    A second pass for the ``error`` policy over the sorted, not collapsed,
    rows from :func:`sort_dedupe_rows`. The columns that repeat in each row
    are listed first (few, in a small array); then the entries are scanned in
    file order, and the second one to reach a listed (row, col) is the answer.
    The scan stops there, so an early duplicate is found at once.

    Parameters
    ----------
    rows, cols : (nnz,) int32 or int64, in range, file order
    indptr : (n_rows + 1,) int64
    indices : (nnz,) int32 or int64, each row sorted

    Returns
    -------
    int
        The entry's position, or -1 when there is none.
    """
    n_rows = indptr.shape[0] - 1
    runs = np.zeros(n_rows + 1, dtype=np.int64)
    for r in range(n_rows):
        n = 0
        for t in range(indptr[r] + 1, indptr[r + 1]):
            if indices[t] == indices[t - 1] and (
                t - 1 == indptr[r] or indices[t - 2] != indices[t]
            ):
                n += 1
        runs[r + 1] = runs[r] + n
    repeated = np.empty(runs[n_rows], dtype=indices.dtype)
    for r in range(n_rows):
        k = runs[r]
        for t in range(indptr[r] + 1, indptr[r + 1]):
            if indices[t] == indices[t - 1] and (
                t - 1 == indptr[r] or indices[t - 2] != indices[t]
            ):
                repeated[k] = indices[t]
                k += 1
    seen = np.zeros(runs[n_rows], dtype=np.bool_)
    for i in range(rows.shape[0]):
        r = rows[i]
        lo = runs[r]
        end = runs[r + 1]
        if lo == end:
            continue
        c = cols[i]
        hi = end
        while lo < hi:
            mid = (lo + hi) >> 1
            if repeated[mid] < c:
                lo = mid + 1
            else:
                hi = mid
        if lo < end and repeated[lo] == c:
            if seen[lo]:
                return i
            seen[lo] = True
    return -1
