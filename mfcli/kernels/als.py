"""Alternating least squares half-steps: every row of one factor solved in parallel.

A half-step solves, for each row ``u`` of ``X`` (users, or items on the
transposed matrix) with the other factor ``Y`` fixed, a small regularised
least-squares problem over the row's stored entries ``t = indptr[u] ..
indptr[u + 1]`` (columns ``j = indices[t]``):

implicit (Hu, Koren & Volinsky 2008), ``w_t = c_t - 1`` (confidence minus one)::

    (Y.T Y + lam_u I + sum_t w_t y_j y_j.T) x_u = sum_t (1 + w_t) y_j

Only the positive entries are stored (``p = 1``); the ``c = 1, p = 0``
entries everywhere else come in through ``G = Y.T Y`` (the Gram trick), so
no dense matrix is formed.

explicit, with ``z_j = [y_j, 1]`` and unknowns ``[x_u, b_u]`` when ``biased``
(else ``z_j = y_j``, unknowns ``x_u``), target ``e_t = data[t] - offset -
col_bias[j]`` (``col_bias`` only when ``biased``)::

    (sum_t z_j z_j.T + lam_u I) [x_u, b_u] = sum_t e_t z_j

``lam_u = reg * n_u`` (``count``: ALS-WR) or ``reg`` (plain); rows without
entries get zero factors (and bias).

Solvers: ``*_cg`` runs ``steps`` conjugate-gradient steps per row starting
from the row's current value (as implicit's ``least_squares_cg`` does);
``*_exact`` builds the row's matrix and solves it by Cholesky. Each row is
written by one thread only and its arithmetic does not depend on the thread
that runs it, so no result depends on the number of threads. Scratch vectors
and matrices are allocated once per block of rows, never per row.

Blocks (:func:`cost_blocks`) hold about equal work (per row ``k`` units for
the ``G`` products, per entry about 2); the solver also hands them out one
at a time (``numba.parallel_chunksize(1)``) so a core slowed by another
process does not hold up the half-step.

``implicit_cg`` with ``diagonal`` takes ``G`` diagonal: the solver rotates
both factors to the eigenvectors of ``Y.T Y`` first (a symmetry of the
model, see :mod:`mfcli.solvers.als`), and :func:`rotate_rows` does that.

Grams (:func:`gram_partials`) are summed in float64 over fixed row chunks
whose partial sums the caller adds in chunk order: again independent of the
thread count. Losses are per-row float64 sums (:func:`implicit_row_losses`,
:func:`explicit_row_losses`) that the caller adds in row order.

Signatures are kept few: ``indptr`` int64 (the solver widens it),
``indices`` int32 or int64, values and factors float32 or float64 (values
in the factors' dtype). Parallel kernels are only called from Python, never
from another kernel (cached nested parallel kernels can segfault).

Sums (dot products) are never accumulated in a loop that also stores: LLVM
guards such loops with run-time overlap checks between the arrays, and when
two scratch buffers happen to lie close together it falls back to a scalar
loop that sums in another order, so a row's result would depend on where
its thread's buffers were allocated.

``FASTMATH`` lets LLVM reassociate sums (vectorised dot products) and fuse
multiply-adds; it leaves out ``nnan``/``ninf`` so non-finite values still
propagate and can be detected. Reassociation is fixed at compile time: the
same build gives the same result on any thread count. (``arcp``/``nsz``
are left out too: with them the code loaded from numba's cache gave other
roundings than the freshly compiled code.)
"""

from __future__ import annotations

import numpy as np
from numba import get_num_threads, njit, prange

FASTMATH = {"reassoc", "contract"}
BLOCKS_PER_THREAD = 16
GRAM_CHUNK = 2048  # rows per float64 partial Gram
CG_TINY = 1e-20  # a squared residual below this is converged (as in implicit)


def cost_blocks(
    indptr: np.ndarray, row_cost: float, entry_cost: float, n_blocks: int | None = None
) -> np.ndarray:
    """Boundaries of row blocks of about equal work.

    The work of row ``u`` is ``row_cost + entry_cost * n_u``. Blocks only
    balance threads: no result depends on them.

    Parameters
    ----------
    indptr : (n_rows + 1,) int64
    row_cost, entry_cost : work per row and per stored entry
    n_blocks : wanted number of blocks; default 16 per numba thread

    Returns
    -------
    (n_blocks + 1,) int64 row numbers, first 0 and last n_rows
    """
    n_rows = indptr.shape[0] - 1
    if n_blocks is None:
        n_blocks = BLOCKS_PER_THREAD * get_num_threads()
    n_blocks = max(1, min(n_rows, n_blocks))
    work = entry_cost * indptr.astype(np.float64) + row_cost * np.arange(n_rows + 1)
    targets = np.linspace(0.0, work[-1], n_blocks + 1)[1:-1]
    inner = np.searchsorted(work, targets, side="left")
    return np.unique(np.concatenate(([0], inner, [n_rows]))).astype(np.int64)


# ------------------------------------------------------------ small helpers
@njit(cache=True, fastmath=FASTMATH)
def _dot(a, b, n):
    acc = a[0] * np.float32(0.0)  # the arrays' dtype, float32 stays float32
    for c in range(n):
        acc += a[c] * b[c]
    return acc


@njit(cache=True, fastmath=FASTMATH)
def _symv(G, v, out, lam, k):
    """``out = G v + lam v`` for symmetric ``G``."""
    # Four dot products per pass over v: the accumulators stay in registers
    # (twice the speed of axpy updates of out, which are bound by stores).
    k4 = k - k % 4
    for c in range(0, k4, 4):
        g0 = G[c]
        g1 = G[c + 1]
        g2 = G[c + 2]
        g3 = G[c + 3]
        a0 = lam * v[c]
        a1 = lam * v[c + 1]
        a2 = lam * v[c + 2]
        a3 = lam * v[c + 3]
        for j in range(k):
            vj = v[j]
            a0 += g0[j] * vj
            a1 += g1[j] * vj
            a2 += g2[j] * vj
            a3 += g3[j] * vj
        out[c] = a0
        out[c + 1] = a1
        out[c + 2] = a2
        out[c + 3] = a3
    for c in range(k4, k):
        out[c] = lam * v[c] + _dot(G[c], v, k)


@njit(cache=True, fastmath=FASTMATH)
def _cholesky_solve(A, b, d):
    """Solve ``A x = b`` in place (``x`` into ``b``) from ``A``'s lower triangle.

    ``A`` (at least d x d) is overwritten by its Cholesky factor. Returns
    False (``b`` untouched beyond partial work) when ``A`` is not positive
    definite.
    """
    for j in range(d):
        s = A[j, j]
        for p in range(j):
            s -= A[j, p] * A[j, p]
        if not s > 0.0:
            return False
        ljj = np.sqrt(s)
        A[j, j] = ljj
        for i in range(j + 1, d):
            s = A[i, j]
            for p in range(j):
                s -= A[i, p] * A[j, p]
            A[i, j] = s / ljj
    for i in range(d):  # L y = b
        s = b[i]
        for p in range(i):
            s -= A[i, p] * b[p]
        b[i] = s / A[i, i]
    for i in range(d - 1, -1, -1):  # L.T x = y
        s = b[i]
        for p in range(i + 1, d):
            s -= A[p, i] * b[p]
        b[i] = s / A[i, i]
    return True


# ------------------------------------------------------------------ Grams
@njit(cache=True, parallel=True, fastmath=FASTMATH)
def gram_partials(Y, chunk, out):
    """Per-chunk ``Y[a:a+chunk].T @ Y[a:a+chunk]`` in float64.

    Parameters
    ----------
    Y : (n, k) float32 or float64, C-contiguous
    chunk : rows per partial sum
    out : (ceil(n / chunk), k, k) float64; overwritten. ``out.sum(axis=0)``
        (in chunk order) is the Gram matrix.
    """
    n, k = Y.shape
    for c in prange(out.shape[0]):
        part = out[c]
        part[:, :] = 0.0
        q = np.empty((4, k), dtype=np.float64)
        lo = c * chunk
        hi = min(n, lo + chunk)
        i = lo
        # Four rows per pass over ``part``: a quarter of its loads and stores.
        while i < hi:
            rows = min(4, hi - i)
            q[:, :] = 0.0
            for s in range(rows):
                for a in range(k):
                    q[s, a] = Y[i + s, a]
            q0 = q[0]
            q1 = q[1]
            q2 = q[2]
            q3 = q[3]
            for a in range(k):
                y0 = q0[a]
                y1 = q1[a]
                y2 = q2[a]
                y3 = q3[a]
                pa = part[a]
                for b in range(k):
                    pa[b] += y0 * q0[b] + y1 * q1[b] + y2 * q2[b] + y3 * q3[b]
            i += rows


@njit(cache=True, parallel=True, fastmath=FASTMATH)
def row_sq_norms(X, out):
    """``out[u] = ||X[u]||**2`` in float64.

    Parameters
    ----------
    X : (m, k) float32 or float64
    out : (m,) float64; overwritten
    """
    m, k = X.shape
    for u in prange(m):
        x = X[u]
        acc = 0.0
        for c in range(k):
            acc += np.float64(x[c]) * np.float64(x[c])
        out[u] = acc


ROTATE_ROWS = 256  # rows per parallel task of rotate_rows (a multiple of 4)


@njit(cache=True, parallel=True, fastmath=FASTMATH)
def rotate_rows(X, QT):
    """``X = X @ QT.T`` in place (rotate every row; ``QT`` is ``Q.T``).

    Rows go four at a time (each entry of ``QT`` loaded once for four rows)
    in tasks of ``ROTATE_ROWS`` rows; which rows share a pass is fixed by the
    row number, so results do not depend on the thread count.

    Parameters
    ----------
    X : (m, k) float32 or float64, C-contiguous; overwritten
    QT : (k, k) same dtype, C-contiguous
    """
    m, k = X.shape
    zero = X[0, 0] * np.float32(0.0) if m > 0 else QT[0, 0] * np.float32(0.0)
    for task in prange((m + ROTATE_ROWS - 1) // ROTATE_ROWS):
        buf = np.empty((4, k), dtype=X.dtype)
        lo = task * ROTATE_ROWS
        hi = min(m, lo + ROTATE_ROWS)
        u = lo
        while u + 4 <= hi:
            x0 = X[u]
            x1 = X[u + 1]
            x2 = X[u + 2]
            x3 = X[u + 3]
            for c in range(k):
                q = QT[c]
                a0 = zero
                a1 = zero
                a2 = zero
                a3 = zero
                for j in range(k):
                    qj = q[j]
                    a0 += qj * x0[j]
                    a1 += qj * x1[j]
                    a2 += qj * x2[j]
                    a3 += qj * x3[j]
                buf[0, c] = a0
                buf[1, c] = a1
                buf[2, c] = a2
                buf[3, c] = a3
            X[u : u + 4] = buf
            u += 4
        while u < hi:  # the last rows of the matrix only
            x0 = X[u]
            for c in range(k):
                buf[0, c] = _dot(QT[c], x0, k)
            x0[:] = buf[0]
            u += 1


# ------------------------------------------------------------- implicit
@njit(cache=True, fastmath=FASTMATH)
def _entry_products(Y, indices, weight, lo, hi, v, out, first, k):
    """``out += sum_t coef_t Y[j_t]`` over the entries ``lo:hi`` of one row.

    ``coef_t = w_t (y_j . v)`` (the entries' part of ``A v``), or with
    ``first`` ``coef_t = (1 + w_t) - w_t (y_j . v)`` (their part of ``b - A v``).
    Entries go four at a time: four dot products share each load of ``v``
    and one pass over ``out`` takes four updates. The grouping depends on the
    row alone, never on the thread.
    """
    zero = out[0] * np.float32(0.0)
    one = zero + np.float32(1.0)
    t = lo
    while t + 4 <= hi:
        j0 = indices[t]
        j1 = indices[t + 1]
        j2 = indices[t + 2]
        j3 = indices[t + 3]
        s0 = zero
        s1 = zero
        s2 = zero
        s3 = zero
        for c in range(k):
            vc = v[c]
            s0 += Y[j0, c] * vc
            s1 += Y[j1, c] * vc
            s2 += Y[j2, c] * vc
            s3 += Y[j3, c] * vc
        w0 = weight[t]
        w1 = weight[t + 1]
        w2 = weight[t + 2]
        w3 = weight[t + 3]
        if first:
            c0 = (one + w0) - w0 * s0
            c1 = (one + w1) - w1 * s1
            c2 = (one + w2) - w2 * s2
            c3 = (one + w3) - w3 * s3
        else:
            c0 = w0 * s0
            c1 = w1 * s1
            c2 = w2 * s2
            c3 = w3 * s3
        for c in range(k):
            out[c] += c0 * Y[j0, c] + c1 * Y[j1, c] + c2 * Y[j2, c] + c3 * Y[j3, c]
        t += 4
    while t < hi:
        j0 = indices[t]
        s0 = zero
        for c in range(k):
            s0 += Y[j0, c] * v[c]
        w0 = weight[t]
        c0 = (one + w0) - w0 * s0 if first else w0 * s0
        for c in range(k):
            out[c] += c0 * Y[j0, c]
        t += 1


@njit(cache=True, parallel=True, fastmath=FASTMATH)
def implicit_cg(indptr, indices, weight, Y, G, diagonal, reg, count_scaled, steps, blocks, X):
    """Implicit half-step by ``steps`` CG steps per row from the current ``X``.

    Parameters
    ----------
    indptr : (m + 1,) int64
    indices : (nnz,) int32 or int64, column numbers of the positive entries
    weight : (nnz,) confidence minus one ``w = c - 1 >= 0``, dtype of ``X``
    Y : (n, k) fixed factor, C-contiguous, dtype of ``X``
    G : (k, k) ``Y.T @ Y`` (symmetric), dtype of ``X``
    diagonal : ``G`` is diagonal (factors rotated to the eigenvectors of
        ``Y.T @ Y``): its products cost ``k``, not ``k**2``
    reg : lambda
    count_scaled : lambda times the row's entry count (else plain lambda)
    steps : CG steps per row
    blocks : (n_blocks + 1,) int64 row boundaries (:func:`cost_blocks`)
    X : (m, k) factor being solved, C-contiguous; updated in place
    """
    k = X.shape[1]
    zero = X.dtype.type(0.0)
    for blk in prange(blocks.shape[0] - 1):
        x = np.empty(k, dtype=X.dtype)
        r = np.empty(k, dtype=X.dtype)
        p = np.empty(k, dtype=X.dtype)
        ap = np.empty(k, dtype=X.dtype)
        gd = np.empty(k, dtype=X.dtype)
        for c in range(k):
            gd[c] = G[c, c]
        for u in range(blocks[blk], blocks[blk + 1]):
            lo = indptr[u]
            hi = indptr[u + 1]
            if lo == hi:
                for c in range(k):
                    X[u, c] = zero
                continue
            lam = X.dtype.type(reg * (hi - lo) if count_scaled else reg)
            for c in range(k):
                x[c] = X[u, c]
            # r = b - A x
            if diagonal:
                for c in range(k):
                    r[c] = -(gd[c] + lam) * x[c]
            else:
                _symv(G, x, r, lam, k)
                for c in range(k):
                    r[c] = -r[c]
            _entry_products(Y, indices, weight, lo, hi, x, r, True, k)
            for c in range(k):
                p[c] = r[c]
            rs_old = _dot(r, r, k)
            if rs_old >= CG_TINY:
                for _ in range(steps):
                    if diagonal:
                        for c in range(k):
                            ap[c] = (gd[c] + lam) * p[c]
                    else:
                        _symv(G, p, ap, lam, k)
                    _entry_products(Y, indices, weight, lo, hi, p, ap, False, k)
                    pap = _dot(p, ap, k)
                    if not pap > zero:
                        break
                    step = rs_old / pap
                    for c in range(k):
                        x[c] += step * p[c]
                        r[c] -= step * ap[c]
                    rs_new = _dot(r, r, k)
                    if rs_new < CG_TINY:
                        break
                    beta = rs_new / rs_old
                    for c in range(k):
                        p[c] = r[c] + beta * p[c]
                    rs_old = rs_new
            for c in range(k):
                X[u, c] = x[c]


@njit(cache=True, parallel=True, fastmath=FASTMATH)
def implicit_exact(indptr, indices, weight, Y, G, reg, count_scaled, blocks, X, failed):
    """Implicit half-step solved exactly (Cholesky of each row's k x k matrix).

    The matrix is built and factorised in float64 whatever the factors' dtype
    (float32 normal equations of large counts lose definiteness to roundoff).

    Parameters are those of :func:`implicit_cg` (without ``steps`` and
    ``diagonal``) except ``G`` : (k, k) float64; plus ``failed`` : (m,)
    uint8, set to 1 where the row's matrix is not positive definite (the row
    is then left unchanged), else 0.
    """
    k = X.shape[1]
    for blk in prange(blocks.shape[0] - 1):
        A = np.empty((k, k), dtype=np.float64)
        b = np.empty(k, dtype=np.float64)
        z = np.empty(k, dtype=np.float64)
        for u in range(blocks[blk], blocks[blk + 1]):
            lo = indptr[u]
            hi = indptr[u + 1]
            failed[u] = 0
            if lo == hi:
                X[u, :] = 0
                continue
            lam = reg * (hi - lo) if count_scaled else reg
            for a in range(k):
                for c in range(a + 1):
                    A[a, c] = G[a, c]
                A[a, a] += lam
                b[a] = 0.0
            for t in range(lo, hi):
                y = Y[indices[t]]
                w = np.float64(weight[t])
                for c in range(k):
                    z[c] = y[c]
                for a in range(k):
                    wa = w * z[a]
                    row = A[a]
                    for c in range(a + 1):
                        row[c] += wa * z[c]
                    b[a] += (1.0 + w) * z[a]
            if _cholesky_solve(A, b, k):
                for c in range(k):
                    X[u, c] = b[c]
            else:
                failed[u] = 1


@njit(cache=True, parallel=True, fastmath=FASTMATH)
def implicit_row_losses(indptr, indices, weight, X, Y, blocks, out):
    """Stored-entry part of the implicit loss, per row, in float64.

    ``out[u] = sum_t (1 + w_t) (1 - s_t)**2 - s_t**2`` with ``s_t = x_u . y_j``:
    adding ``sum(X.T X * Y.T Y)`` (every entry at ``c = 1, p = 0``) gives
    ``sum_{u,i} c_ui (p_ui - x_u . y_i)**2``.

    Parameters
    ----------
    indptr, indices, weight, X, Y, blocks : as in :func:`implicit_cg`
    out : (m,) float64; overwritten
    """
    k = X.shape[1]
    for blk in prange(blocks.shape[0] - 1):
        for u in range(blocks[blk], blocks[blk + 1]):
            x = X[u]
            acc = 0.0
            for t in range(indptr[u], indptr[u + 1]):
                s = np.float64(_dot(Y[indices[t]], x, k))
                d = 1.0 - s
                acc += (1.0 + np.float64(weight[t])) * d * d - s * s
            out[u] = acc


# ------------------------------------------------------------- explicit
@njit(cache=True, fastmath=FASTMATH)
def _target(data, t, j, offset, col_bias, biased):
    if biased:
        return data[t] - offset - col_bias[j]
    return data[t] - offset


@njit(cache=True, parallel=True, fastmath=FASTMATH)
def explicit_cg(
    indptr,
    indices,
    data,
    Y,
    col_bias,
    offset,
    reg,
    count_scaled,
    biased,
    steps,
    blocks,
    X,
    row_bias,
):
    """Explicit half-step by ``steps`` CG steps per row from the current value.

    Parameters
    ----------
    indptr : (m + 1,) int64
    indices : (nnz,) int32 or int64
    data : (nnz,) ratings, dtype of ``X``
    Y : (n, k) fixed factor, C-contiguous, dtype of ``X``
    col_bias : (n,) fixed biases of the other side (read when ``biased``)
    offset : global bias subtracted from every rating (0 when not biased)
    reg : lambda
    count_scaled : lambda times the row's entry count (else plain lambda)
    biased : solve ``[x_u, b_u]`` against ``[y_j, 1]``
    steps : CG steps per row
    blocks : (n_blocks + 1,) int64 row boundaries (:func:`cost_blocks`)
    X : (m, k) factor being solved, C-contiguous; updated in place
    row_bias : (m,) biases being solved (written when ``biased``)
    """
    k = X.shape[1]
    d = k + 1 if biased else k
    zero = X.dtype.type(0.0)
    off = X.dtype.type(offset)
    for blk in prange(blocks.shape[0] - 1):
        v = np.empty(d, dtype=X.dtype)
        r = np.empty(d, dtype=X.dtype)
        p = np.empty(d, dtype=X.dtype)
        ap = np.empty(d, dtype=X.dtype)
        for u in range(blocks[blk], blocks[blk + 1]):
            lo = indptr[u]
            hi = indptr[u + 1]
            if lo == hi:
                X[u, :] = zero
                if biased:
                    row_bias[u] = zero
                continue
            lam = X.dtype.type(reg * (hi - lo) if count_scaled else reg)
            x = X[u]
            for c in range(k):
                v[c] = x[c]
            if biased:
                v[k] = row_bias[u]
            for c in range(d):
                r[c] = -lam * v[c]
            for t in range(lo, hi):
                j = indices[t]
                y = Y[j]
                pred = _dot(y, v, k)
                if biased:
                    pred += v[k]
                coef = _target(data, t, j, off, col_bias, biased) - pred
                for c in range(k):
                    r[c] += coef * y[c]
                if biased:
                    r[k] += coef
            for c in range(d):
                p[c] = r[c]
            rs_old = _dot(r, r, d)
            if rs_old >= CG_TINY:
                for _ in range(steps):
                    for c in range(d):
                        ap[c] = lam * p[c]
                    for t in range(lo, hi):
                        y = Y[indices[t]]
                        coef = _dot(y, p, k)
                        if biased:
                            coef += p[k]
                        for c in range(k):
                            ap[c] += coef * y[c]
                        if biased:
                            ap[k] += coef
                    pap = _dot(p, ap, d)
                    if not pap > zero:
                        break
                    step = rs_old / pap
                    for c in range(d):
                        v[c] += step * p[c]
                        r[c] -= step * ap[c]
                    rs_new = _dot(r, r, d)
                    if rs_new < CG_TINY:
                        break
                    beta = rs_new / rs_old
                    for c in range(d):
                        p[c] = r[c] + beta * p[c]
                    rs_old = rs_new
            for c in range(k):
                x[c] = v[c]
            if biased:
                row_bias[u] = v[k]


@njit(cache=True, parallel=True, fastmath=FASTMATH)
def explicit_exact(
    indptr,
    indices,
    data,
    Y,
    col_bias,
    offset,
    reg,
    count_scaled,
    biased,
    blocks,
    X,
    row_bias,
    failed,
):
    """Explicit half-step solved exactly (Cholesky of each row's normal equations).

    The equations are built and factorised in float64 whatever the factors'
    dtype.

    Parameters are those of :func:`explicit_cg` (without ``steps``), plus
    ``failed`` : (m,) uint8, set to 1 where the row's matrix is not positive
    definite (the row is then left unchanged), else 0.
    """
    k = X.shape[1]
    d = k + 1 if biased else k
    for blk in prange(blocks.shape[0] - 1):
        A = np.empty((d, d), dtype=np.float64)
        b = np.empty(d, dtype=np.float64)
        z = np.empty(d, dtype=np.float64)
        for u in range(blocks[blk], blocks[blk + 1]):
            lo = indptr[u]
            hi = indptr[u + 1]
            failed[u] = 0
            if lo == hi:
                X[u, :] = 0
                if biased:
                    row_bias[u] = 0
                continue
            lam = reg * (hi - lo) if count_scaled else reg
            for a in range(d):
                for c in range(a + 1):
                    A[a, c] = 0.0
                A[a, a] = lam
                b[a] = 0.0
            if biased:
                z[k] = 1.0
            for t in range(lo, hi):
                j = indices[t]
                y = Y[j]
                for c in range(k):
                    z[c] = y[c]
                e = np.float64(data[t]) - offset
                if biased:
                    e -= np.float64(col_bias[j])
                for a in range(d):
                    za = z[a]
                    row = A[a]
                    for c in range(a + 1):
                        row[c] += za * z[c]
                    b[a] += e * za
            if _cholesky_solve(A, b, d):
                for c in range(k):
                    X[u, c] = b[c]
                if biased:
                    row_bias[u] = b[k]
            else:
                failed[u] = 1


@njit(cache=True, parallel=True, fastmath=FASTMATH)
def explicit_row_losses(
    indptr, indices, data, X, Y, row_bias, col_bias, offset, biased, blocks, out
):
    """Squared errors over each row's stored ratings, in float64.

    ``out[u] = sum_t (data[t] - offset - b_u - c_j - x_u . y_j)**2`` (biases
    only when ``biased``).

    Parameters
    ----------
    indptr, indices, data, Y, col_bias, offset, biased, blocks : as in
        :func:`explicit_cg`
    X : (m, k) row factors; row_bias : (m,) row biases
    out : (m,) float64; overwritten
    """
    k = X.shape[1]
    for blk in prange(blocks.shape[0] - 1):
        for u in range(blocks[blk], blocks[blk + 1]):
            x = X[u]
            acc = 0.0
            for t in range(indptr[u], indptr[u + 1]):
                j = indices[t]
                e = np.float64(data[t]) - offset - np.float64(_dot(Y[j], x, k))
                if biased:
                    e -= np.float64(row_bias[u]) + np.float64(col_bias[j])
                acc += e * e
            out[u] = acc
