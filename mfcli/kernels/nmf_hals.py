"""HALS / coordinate-descent kernels for non-negative least squares (NMF, Frobenius).

Each kernel updates the rows of a factor ``F`` with the other factor fixed,
one row per thread (``prange`` over blocks of rows), so no two threads write
the same memory and no result depends on the number of threads.

Row ``f`` (length ``k``) of ``F`` solves, approximately,

    min_{f >= 0}  0.5 f B f.T - a f + l1 sum(f) + 0.5 l2 ||f||**2

where ``B`` (k, k) is a Gram matrix of the other factor and ``a`` the row's
products with it: the Frobenius NMF objective restricted to one row. A
*sweep* minimises over ``f_0, ..., f_{k-1}`` in turn (Gauss-Seidel), each
exactly:

    f_l = max(0, (a_l - l1 - sum_{j != l} f_j B_jl) / (B_ll + l2))

and ``f_l = 0`` when ``B_ll + l2 == 0`` (the other factor's column ``l`` is
all zeros, so ``f_l`` only changes the L1 term). This is HALS (Cichocki &
Phan 2009) written per row instead of per column: with ``B`` and ``a`` fixed
the rows are independent, so the sweep over all rows of ``F`` is the column
sweep of HALS in a different, cache-friendly order with the same result.

Several sweeps may reuse ``a`` and ``B`` (accelerated HALS, Gillis & Glineur
2012): a row stops after ``max_sweeps`` sweeps, or when a sweep changed it by
at most ``rel_first`` times the change of its first sweep, or by at most
``rel_norm`` times its norm (both measured in the Euclidean norm). Per row,
not per matrix as in the paper: rows that settle stop early, and the
decision is still independent of the thread count.

Where ``a`` and ``B`` come from:

* :func:`hals_rows` -- all entries count (``mask none``): ``A = X @ G`` and
  ``B = G.T @ G`` are computed once per half-step by the caller (sparse or
  BLAS products) and shared by every row.
* :func:`hals_observed_rows` -- only stored entries count (``mask
  observed``): row ``i`` builds its own ``B_i = sum_{j in row i} g_j g_j.T``
  and ``a_i = sum_j x_ij g_j`` (float64), then sweeps. Its sweep cap grows
  with the row's entries (``1 + per_entry * nnz_i``), as the cost of ``B_i``.

Everything inside a row is computed in float64 (``B`` and ``a`` included)
and stored back in the factor dtype. Objectives: :func:`cross_sum` (``sum(F *
A)``, for ``<X, W H.T>`` without forming ``W H.T``) and :func:`entry_sums`
(per-row sums at the stored entries, summed by the caller in a fixed order).

Signatures are kept few: factors and ``A`` share one dtype (float32 or
float64), ``B`` is float64, CSR arrays are ``indptr`` int64, ``indices``
int32 (int64 for huge matrices) and ``data`` in the factor dtype (the
solver converts once per fit). Parallel kernels are only called from
Python, never from another kernel (cached nested parallel kernels can
segfault; numba issues 8578, 10128).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from mfcli.kernels.spmm import _cast_like

ROW_GROUP = 32  # rows swept together by hals_rows (vectorised across the rows)


@njit(cache=True)
def _cd_row(f, a, B, l1, l2, max_sweeps, rel_first, rel_norm, g):
    """Coordinate-descent sweeps on one row, in place; returns the sweeps done.

    The gradient ``g = f (B + l2 I) - a + l1`` is formed once and updated
    after each coordinate move (``g += delta * B[c]``, a vectorised axpy that
    is skipped when the coordinate did not move, as for factors held at 0);
    recomputing ``f . B[c]`` per coordinate is a serial float reduction
    several times slower. ``f_c - g_c / (B_cc + l2)`` is then the exact
    coordinate minimiser of the module docstring.

    Parameters
    ----------
    f : (k,) float64, the row (non-negative), updated
    a : (k,) float64
    B : (k, k) float64, symmetric positive semi-definite
    l1, l2 : penalties (>= 0)
    max_sweeps : >= 1
    rel_first, rel_norm : stopping fractions (see the module docstring)
    g : (k,) float64 work space
    """
    k = f.shape[0]
    for c in range(k):
        g[c] = l1 - a[c] + l2 * f[c]
    for j in range(k):
        fj = f[j]
        if fj != 0.0:
            row = B[j]
            for c in range(k):
                g[c] += fj * row[c]
    first = 0.0
    first2 = rel_first * rel_first
    norm2 = rel_norm * rel_norm
    done = 0
    for s in range(max_sweeps):
        delta = 0.0
        size = 0.0
        for c in range(k):
            d = B[c, c] + l2
            old = f[c]
            new = 0.0
            if d > 0.0:
                new = old - g[c] / d
                if new < 0.0:
                    new = 0.0
            step = new - old
            if step != 0.0:
                f[c] = new
                row = B[c]
                for j in range(k):
                    g[j] += step * row[j]
                g[c] += l2 * step
                delta += step * step
            size += new * new
        done = s + 1
        if s == 0:
            first = delta
        if delta <= first2 * first or delta <= norm2 * size:
            break
    return done


@njit(cache=True, parallel=True)
def hals_rows(A, B, l1, l2, max_sweeps, rel_first, rel_norm, group, blocks, F, sweeps):
    """HALS sweeps on every row of ``F`` with a shared Gram matrix.

    Rows are swept ``group`` at a time, held transposed (``k`` x group) so
    that coordinate ``c`` of every row of the group is updated by operations
    vectorised across the rows: ``(f B)_c`` is recomputed as ``k``
    multiply-adds per row (no running gradient). On 9635 x 20 (k = 20) a
    sweep took 0.9 ms instead of 3.5 ms a row at a time, where each
    coordinate waits on the previous one. A row that has met its stopping
    criterion keeps its values while the rest of its group sweeps on; a row's
    arithmetic never depends on the other rows of its group, so the grouping
    changes no result.

    Parameters
    ----------
    A : (r, k) float32 or float64, C-contiguous: ``X @ G`` (rows of ``X``
        aligned with the rows of ``F``)
    B : (k, k) float64, ``G.T @ G``
    l1, l2 : float penalties on ``F`` (>= 0)
    max_sweeps : int >= 1, sweeps per row at most
    rel_first, rel_norm : float stopping fractions (module docstring)
    group : int, rows swept together (``ROW_GROUP``); an argument because a
        compile-time constant made LLVM unroll the group loops, 1.8x slower
    blocks : (n_blocks + 1,) int64 row boundaries
    F : (r, k) same dtype as ``A``, C-contiguous, non-negative; updated
    sweeps : (r,) int32; overwritten with the sweeps each row took
    """
    k = F.shape[1]
    first2 = rel_first * rel_first
    norm2 = rel_norm * rel_norm
    inv = np.zeros(k)
    live = np.zeros(k)  # 0 where G's column c is zero: f_c then only adds to the L1 term
    for c in range(k):
        d = B[c, c] + l2
        if d > 0.0:
            inv[c] = 1.0 / d
            live[c] = 1.0
    for b in prange(blocks.shape[0] - 1):
        ft = np.empty((k, group))
        at = np.empty((k, group))
        acc = np.empty(group)
        active = np.empty(group, dtype=np.bool_)
        first = np.empty(group)
        delta = np.empty(group)
        size = np.empty(group)
        for i0 in range(blocks[b], blocks[b + 1], group):
            nr = min(group, blocks[b + 1] - i0)
            for r in range(group):
                active[r] = r < nr
                if r < nr:
                    src = F[i0 + r]
                    arow = A[i0 + r]
                    for c in range(k):
                        ft[c, r] = src[c]
                        at[c, r] = arow[c]
                else:
                    for c in range(k):
                        ft[c, r] = 0.0
                        at[c, r] = 0.0
            left = nr
            for s in range(max_sweeps):
                delta[:] = 0.0
                size[:] = 0.0
                for c in range(k):
                    fc = ft[c]
                    ac = at[c]
                    for r in range(group):
                        acc[r] = l1 - ac[r] + l2 * fc[r]
                    # Four coordinates per pass over acc: one load and store of acc
                    # per four multiply-adds (1.5-1.7x faster sweeps at k = 20).
                    brow = B[c]
                    j = 0
                    while j + 4 <= k:
                        b0 = brow[j]
                        b1 = brow[j + 1]
                        b2 = brow[j + 2]
                        b3 = brow[j + 3]
                        f0 = ft[j]
                        f1 = ft[j + 1]
                        f2 = ft[j + 2]
                        f3 = ft[j + 3]
                        for r in range(group):
                            acc[r] += (b0 * f0[r] + b1 * f1[r]) + (b2 * f2[r] + b3 * f3[r])
                        j += 4
                    while j < k:
                        bj = brow[j]
                        fj = ft[j]
                        for r in range(group):
                            acc[r] += bj * fj[r]
                        j += 1
                    ic = inv[c]
                    lc = live[c]
                    for r in range(group):
                        old = fc[r]
                        new = max(old - acc[r] * ic, 0.0) * lc
                        new = new if active[r] else old
                        fc[r] = new
                        delta[r] += (new - old) * (new - old)
                        size[r] += new * new
                for r in range(nr):
                    if active[r]:
                        sweeps[i0 + r] = s + 1
                        if s == 0:
                            first[r] = delta[r]
                        if delta[r] <= first2 * first[r] or delta[r] <= norm2 * size[r]:
                            active[r] = False
                            left -= 1
                if left == 0:
                    break
            for r in range(nr):
                dst = F[i0 + r]
                for c in range(k):
                    dst[c] = _cast_like(ft[c, r], F)


@njit(cache=True, parallel=True)
def hals_observed_rows(
    indptr, indices, data, G, l1, l2, max_sweeps, per_entry, rel_first, rel_norm, blocks, F, sweeps
):
    """HALS sweeps on every row of ``F``, fitted to the stored entries only.

    Row ``i`` uses ``B_i = sum_t g_{j_t} g_{j_t}.T`` and
    ``a_i = sum_t x_t g_{j_t}`` over its stored entries ``t`` (column
    ``j_t``, value ``x_t``). A row without entries becomes 0 (0 sweeps).

    Parameters
    ----------
    indptr : (r + 1,) int64
    indices : (nnz,) int32 or int64, rows of ``G``
    data : (nnz,) same dtype as ``F``
    G : (n, k) float32 or float64, C-contiguous, the fixed factor
    l1, l2 : float penalties on ``F``
    max_sweeps : int >= 1, sweeps per row at most ...
    per_entry : float ... and at most ``1 + per_entry * nnz_i``
    rel_first, rel_norm : float stopping fractions (module docstring)
    blocks : (n_blocks + 1,) int64 row boundaries balancing entries
    F : (r, k) same dtype as ``G``, C-contiguous, non-negative; updated
    sweeps : (r,) int32; overwritten with the sweeps each row took
    """
    k = F.shape[1]
    for b in prange(blocks.shape[0] - 1):
        f = np.empty(k)
        a = np.empty(k)
        w = np.empty(k)
        gram = np.empty((k, k))
        for i in range(blocks[b], blocks[b + 1]):
            if indptr[i + 1] == indptr[i]:  # nothing stored: the minimiser is 0
                F[i, :] = 0
                sweeps[i] = 0
                continue
            gram[:] = 0.0
            a[:] = 0.0
            for t in range(indptr[i], indptr[i + 1]):
                g = G[indices[t]]
                x = np.float64(data[t])
                for p in range(k):
                    gp = np.float64(g[p])
                    a[p] += x * gp
                    gr = gram[p]
                    for q in range(p, k):
                        gr[q] += gp * g[q]
            for p in range(k):
                for q in range(p):
                    gram[p, q] = gram[q, p]
            src = F[i]
            for c in range(k):
                f[c] = src[c]
            cap = 1 + int(per_entry * (indptr[i + 1] - indptr[i]))
            cap = min(max(cap, 1), max_sweeps)
            sweeps[i] = _cd_row(f, a, gram, l1, l2, cap, rel_first, rel_norm, w)
            for c in range(k):
                src[c] = _cast_like(f[c], F)


@njit(cache=True)
def cross_sum(F, A):
    """``sum(F * A)`` in float64, serially in row-major order.

    Parameters
    ----------
    F, A : (r, k) float32 or float64, same dtype

    Returns
    -------
    float
    """
    total = 0.0
    for i in range(F.shape[0]):
        for c in range(F.shape[1]):
            total += np.float64(F[i, c]) * np.float64(A[i, c])
    return total


@njit(cache=True, parallel=True)
def entry_sums(indptr, indices, data, W, H, blocks, cross, sq):
    """Per-row sums at the stored entries of ``X``, in float64.

    ``cross[i] = sum_t x_t (w_i . h_{j_t})`` and
    ``sq[i] = sum_t (x_t - w_i . h_{j_t})**2`` over the stored entries ``t``
    of row ``i``; the caller sums the rows (``np.sum``, a fixed order).

    Parameters
    ----------
    indptr : (m + 1,) int64
    indices : (nnz,) int32 or int64
    data : (nnz,) same dtype as ``W``
    W : (m, k) float32 or float64, C-contiguous
    H : (n, k) same dtype, C-contiguous
    blocks : (n_blocks + 1,) int64 row boundaries
    cross, sq : (m,) float64; overwritten
    """
    k = W.shape[1]
    for b in prange(blocks.shape[0] - 1):
        for i in range(blocks[b], blocks[b + 1]):
            w = W[i]
            c_acc = 0.0
            s_acc = 0.0
            for t in range(indptr[i], indptr[i + 1]):
                h = H[indices[t]]
                dot = 0.0
                for c in range(k):
                    dot += np.float64(w[c]) * np.float64(h[c])
                x = np.float64(data[t])
                c_acc += x * dot
                s_acc += (x - dot) * (x - dot)
            cross[i] = c_acc
            sq[i] = s_acc
