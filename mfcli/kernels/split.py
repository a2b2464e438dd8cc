"""Kernels of ``mfcli split``: walking text lines, grouping and ranking entries.

Entries are the data lines of a file, numbered in file order. A line is
classified exactly like the text scanner does (:mod:`mfcli.io.textscan`):
blank when it holds only blanks (space, tab, CR, VT, FF), a comment when its
first non-blank bytes match a comment prefix, data otherwise. Every kernel
takes plain arrays; none touches a file. Outputs never depend on threads.

Ranking convention: within a group, entries are ordered by ``(key, position)``
ascending; "newest" means last in that order (so equal times are broken by
file order: the later line is the newer).
"""

import numpy as np
from numba import njit

from mfcli.kernels.lines import line_class as _line_kind

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_FLIP = np.int64(0x7FFFFFFFFFFFFFFF)


# ------------------------------------------------------------------ lines
@njit(cache=True, inline="always")
def _line_end(buf, p, hi):
    """Position of the newline ending the line at ``p`` (or ``hi``)."""
    while p < hi and buf[p] != 10:
        p += 1
    return p


@njit(cache=True, nogil=True)
def gather_lines(buf, lo, hi, row0, group, table, out, ends, cmt, cmt_len):
    """Copy each data line of ``buf[lo:hi]`` to the output its entry belongs to.

    Data line ``r`` (counted from ``row0`` at ``lo``) goes to output
    ``table[group[r]]`` (none when negative), byte for byte, newline included;
    a last line without a newline gets one. Comment and blank lines go nowhere.

    Parameters
    ----------
    buf : (n_bytes,) uint8
    lo, hi : byte range starting at a line start
    row0 : entry number of the first data line in the range
    group : (n_entries,) int8, the part or fold of every entry
    table : (n_groups,) int64, group -> output index or -1
    out : (n_outputs, capacity) uint8, capacity >= hi - lo + 1
    ends : (n_outputs,) int64, bytes used in each output row (updated)

    Returns
    -------
    int
        The entry number after the range (the caller checks it against the
        scanner's count, so both agree on which lines are data).
    """
    r = row0
    p = lo
    while p < hi:
        e = _line_end(buf, p, hi)
        if _line_kind(buf, p, hi, cmt, cmt_len) == 0:
            o = table[group[r]]
            if o >= 0:
                pos = ends[o]
                for t in range(p, e):
                    out[o, pos] = buf[t]
                    pos += 1
                out[o, pos] = 10
                ends[o] = pos + 1
            r += 1
        p = e + 1
    return r


# ------------------------------------------------------------------- keys
_SIGN = np.uint64(0x8000000000000000)


@njit(cache=True, inline="always")
def _mix(base, i):
    """SplitMix64 of position ``i`` in the stream ``base``, as a non-negative int64."""
    z = base + np.uint64(i) * _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    z = z ^ (z >> np.uint64(31))
    return np.int64(z >> np.uint64(1))


@njit(cache=True, inline="always")
def _key(keys, base, i):
    """The ranking key of entry ``i``: ``keys[i]``, or a seeded hash when ``keys`` is empty."""
    if keys.shape[0] == 0:
        return _mix(base, i)
    return keys[i]


@njit(cache=True)
def random_keys(n, base):
    """(n,) int64 pseudo-random keys, a pure function of ``(base, position)``.

    SplitMix64 of the position in a seeded stream: no state to carry, so any
    subset of entries gets the same keys in any run. Kernels taking ``keys``
    compute the same values on the fly when given an empty array.
    """
    out = np.empty(n, dtype=np.int64)
    for i in range(n):
        out[i] = _mix(base, i)
    return out


@njit(cache=True)
def float_time_keys(times, out):
    """Order-preserving int64 keys of float times (``-0.0`` equals ``0.0``).

    Returns the first position holding NaN, or -1.
    """
    bits = times.view(np.int64)
    for i in range(times.shape[0]):
        t = times[i]
        if t != t:
            return i
        b = bits[i] if t != 0.0 else np.int64(0)
        out[i] = b ^ _FLIP if b < 0 else b
    return -1


# -------------------------------------------------------------------- ids
@njit(cache=True)
def mark_ids(ids, lo, table):
    """``table[v - lo] = 1`` for every id ``v`` (``table`` starts zeroed)."""
    for t in range(ids.shape[0]):
        table[ids[t] - lo] = 1


@njit(cache=True)
def number_ids(table):
    """Number the marked slots in ascending order (-1 elsewhere); returns how many."""
    n = 0
    for v in range(table.shape[0]):
        if table[v]:
            table[v] = n
            n += 1
        else:
            table[v] = -1
    return n


@njit(cache=True, nogil=True)
def relabel_ids(ids, lo, table, out):
    """``out[t] = table[ids[t] - lo]``: ids to their codes."""
    for t in range(ids.shape[0]):
        out[t] = table[ids[t] - lo]


# --------------------------------------------------------------- grouping
@njit(cache=True)
def group_entries(ids, n_ids, order):
    """Stable counting sort of entries by id.

    Parameters
    ----------
    ids : (n,) int32 or int64 codes in ``0..n_ids-1``
    order : (n,) int32 or int64, filled with the entry positions grouped by
        id, file order within a group (int32 halves it when ``n`` fits)

    Returns
    -------
    indptr : (n_ids + 1,) int64
    """
    n = ids.shape[0]
    indptr = np.zeros(n_ids + 1, dtype=np.int64)
    for i in range(n):
        indptr[ids[i] + 1] += 1
    for u in range(n_ids):
        indptr[u + 1] += indptr[u]
    fill = indptr[:-1].copy()
    for i in range(n):
        u = ids[i]
        order[fill[u]] = i
        fill[u] += 1
    return indptr


@njit(cache=True)
def _ranked(order, a, b, keys, base):
    """Positions ``order[a:b]`` sorted by key (stable: file order breaks ties)."""
    seg = np.empty(b - a, dtype=np.int64)
    for j in range(b - a):
        seg[j] = _key(keys, base, order[a + j])
    rank = np.argsort(seg, kind="mergesort")
    out = np.empty(b - a, dtype=np.int64)
    for j in range(b - a):
        out[j] = order[a + rank[j]]
    return out


@njit(cache=True)
def mark_newest_per_group(indptr, order, keys, base, n_test, n_val, part, test, val):
    """Per group: the ``n_test[g]`` newest entries get ``test``, the next ``n_val[g]`` ``val``.

    Parameters
    ----------
    indptr, order : from :func:`group_entries`
    keys, base : (n,) int64 ranking keys, or an empty array for hashes of ``base``
    n_test, n_val : (n_groups,) int64 counts, with ``n_test + n_val`` <= group size
    part : (n,) int8, updated
    """
    for g in range(indptr.shape[0] - 1):
        a = indptr[g]
        b = indptr[g + 1]
        h = n_test[g]
        v = n_val[g]
        if h + v == 0:
            continue
        ranked = _ranked(order, a, b, keys, base)
        m = b - a
        for t in range(h):
            part[ranked[m - 1 - t]] = test
        for t in range(h, h + v):
            part[ranked[m - 1 - t]] = val


@njit(cache=True)
def folds_per_group(indptr, order, keys, base, offsets, n_folds, fold):
    """Spread each group's entries over the folds, round robin in key order.

    Entry of rank ``t`` in group ``g`` goes to fold ``(t + offsets[g]) % n_folds``,
    so every fold gets ``floor`` or ``ceil`` of ``size / n_folds`` of each group.
    """
    for g in range(indptr.shape[0] - 1):
        ranked = _ranked(order, indptr[g], indptr[g + 1], keys, base)
        off = offsets[g]
        for t in range(ranked.shape[0]):
            fold[ranked[t]] = (t + off) % n_folds


@njit(cache=True)
def newest_threshold(keys, base, n, count):
    """The key of the ``count``-th newest of ``n`` entries (``1 <= count <= n``).

    A radix select over 16-bit digits (at most four passes, no copy of the keys).
    """
    hist = np.zeros(1 << 16, dtype=np.int64)
    prefix = np.uint64(0)
    mask = np.uint64(0)
    digit_mask = np.uint64(0xFFFF)
    need = count
    shift = 48
    while shift >= 0:
        sh = np.uint64(shift)
        hist[:] = 0
        for i in range(n):
            u = np.uint64(_key(keys, base, i)) ^ _SIGN  # int64 order as unsigned order
            if (u & mask) == prefix:
                hist[np.int64((u >> sh) & digit_mask)] += 1
        d = (1 << 16) - 1
        while d > 0 and hist[d] < need:
            need -= hist[d]
            d -= 1
        prefix |= np.uint64(d) << sh
        mask |= digit_mask << sh
        shift -= 16
    return np.int64(prefix ^ _SIGN)


@njit(cache=True)
def mark_newest(keys, base, n, threshold, count, part, value):
    """Give ``value`` to the ``count`` newest entries, ``threshold`` being the key of the last.

    Every entry with a key above ``threshold`` is taken, then entries with key
    equal to it from the end of the file until ``count`` are taken.
    """
    above = 0
    for i in range(n):
        if _key(keys, base, i) > threshold:
            above += 1
    ties = count - above
    for i in range(n - 1, -1, -1):
        k = _key(keys, base, i)
        if k > threshold:
            part[i] = value
        elif k == threshold and ties > 0:
            part[i] = value
            ties -= 1


@njit(cache=True)
def tally(group, ids, n_groups, n_ids):
    """(n_groups, n_ids) int64: entries of each id in each group."""
    out = np.zeros((n_groups, n_ids), dtype=np.int64)
    for i in range(group.shape[0]):
        out[group[i], ids[i]] += 1
    return out
