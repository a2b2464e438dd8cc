"""Multiplicative updates and KL coordinate descent for NMF, and its losses.

The model is ``X ~ W @ H.T`` with ``W`` (m, k) and ``H`` (n, k) non-negative.
Each update changes the rows of one factor ``F`` in place, the other factor
``G`` fixed; row ``i`` of ``F`` goes with row ``i`` of a matrix ``R`` whose
columns go with the rows of ``G``. A solver calls it with ``(X, W, H)`` for
the W half-step and with ``(X.T, H, W)`` for the H half-step. *Masked* means
only the stored entries of ``R`` are fitted (missing is not zero); otherwise
the zeros of a sparse ``R`` are data. Penalties add
``l1 * sum(F) + 0.5 * l2 * ||F||^2`` to the objective.

Sparse inputs never get an nnz x k or m x n temporary (scikit-learn's mu with
KL builds nnz x k): every row is worked on by one thread from the CSR arrays,
with buffers of one row's length. No result depends on the number of threads:
losses are summed per row in parallel, then over rows in row order.

Where a prediction ``wh`` is below ``EPSILON`` at an entry ``x > 0`` it is
taken as ``EPSILON`` (scikit-learn's floor), and a zero denominator of a
multiplicative update is replaced by ``EPSILON``: nothing becomes NaN or inf,
and a zero row of ``F`` stays zero under the multiplicative updates.

Signatures are kept few (cold compile is paid by every user): ``indptr`` and
``indices`` are int32 or int64, ``data`` float32 or float64, factors
C-contiguous float32 or float64 (the same for ``F`` and ``G``); the Python
wrappers bring every other argument to one type. Parallel kernels are only
called from Python, never from another kernel (cached nested parallel kernels
can segfault; numba issues 8578, 10128).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from mfcli.kernels.spmm import _cast_like, balanced_blocks

# scikit-learn's floor for predictions and denominators.
EPSILON = float(np.finfo(np.float32).eps)
# Elements of the (rows x n) block of predictions in the dense updates and losses.
DENSE_BLOCK = 1 << 20
# Step halvings in the KL coordinate descent before a coordinate is left alone.
MAX_HALVINGS = 40


def _check_factors(F: np.ndarray, G: np.ndarray) -> None:
    if F.dtype != G.dtype or F.dtype not in (np.float32, np.float64):
        raise TypeError("F and G must both be float32 or both float64")
    if not (F.flags.c_contiguous and G.flags.c_contiguous):
        raise ValueError("F and G must be C-contiguous")
    if F.shape[1] != G.shape[1]:
        raise ValueError("F and G must have the same number of columns")


# ------------------------------------------------------- multiplicative updates
@njit(cache=True, parallel=True)
def _mu_sparse(indptr, indices, data, F, G, kl, masked, l1, l2, aux, blocks):
    k = F.shape[1]
    eps = _cast_like(EPSILON, F)
    c1 = _cast_like(l1, F)
    c2 = _cast_like(l2, F)
    gram = (not kl) and (not masked)
    for b in prange(blocks.shape[0] - 1):
        num = np.empty(k, dtype=F.dtype)
        den = np.empty(k, dtype=F.dtype)
        for i in range(blocks[b], blocks[b + 1]):
            f = F[i]
            num[:] = 0
            den[:] = 0
            for t in range(indptr[i], indptr[i + 1]):
                g = G[indices[t]]
                x = _cast_like(data[t], F)
                if kl:
                    if x > 0:
                        wh = _cast_like(0.0, F)
                        for c in range(k):
                            wh += f[c] * g[c]
                        r = x / max(wh, eps)
                        for c in range(k):
                            num[c] += r * g[c]
                    if masked:
                        for c in range(k):
                            den[c] += g[c]
                else:
                    for c in range(k):
                        num[c] += x * g[c]
                    if masked:
                        wh = _cast_like(0.0, F)
                        for c in range(k):
                            wh += f[c] * g[c]
                        for c in range(k):
                            den[c] += wh * g[c]
            if gram:
                for a in range(k):
                    fa = f[a]
                    row = aux[a]
                    for c in range(k):
                        den[c] += fa * row[c]
            elif kl and not masked:
                for c in range(k):
                    den[c] = aux[0, c]
            for c in range(k):
                d = den[c] + c1 + c2 * f[c]
                if d == 0:
                    d = eps
                f[c] *= num[c] / d


def mu_update_sparse(indptr, indices, data, F, G, kl, masked, l1, l2, aux) -> None:
    """One multiplicative (Lee-Seung) update of every row of ``F``, in place.

    Frobenius: ``F *= (R G) / (F G'G + l1 + l2 F)``, the sum in ``F G'G``
    running over the stored entries only when masked. KL:
    ``F_i *= (sum_j r_ij / (f_i.g_j) g_j) / (sum_j g_j + l1 + l2 f_i)``, the
    ``sum_j g_j`` over all ``j`` (``aux``) or, masked, over the stored ones.

    Parameters
    ----------
    indptr : (m + 1,) int32 or int64, CSR row pointers of ``R`` (m, n)
    indices : (nnz,) int32 or int64, column numbers in ``0..n-1``
    data : (nnz,) float32 or float64, non-negative
    F : (m, k) float32 or float64, C-contiguous, non-negative; updated
    G : (n, k) same dtype, C-contiguous, non-negative
    kl : generalized Kullback-Leibler objective instead of Frobenius
    masked : fit only the stored entries of ``R``
    l1, l2 : penalty weights, non-negative
    aux : ``G.T @ G`` (k, k) for Frobenius not masked, ``G.sum(0)`` (k,) for
        KL not masked, ignored (pass ``np.empty(0)``) when masked
    """
    _check_factors(F, G)
    k = F.shape[1]
    if masked:
        aux2 = np.empty((0, k), dtype=F.dtype)
    else:
        aux2 = np.ascontiguousarray(np.asarray(aux, dtype=F.dtype).reshape(-1, k))
        if aux2.shape[0] != (1 if kl else k):
            raise ValueError("aux must be G.T @ G (Frobenius) or G.sum(0) (KL)")
    _mu_sparse(
        indptr, indices, data, F, G, bool(kl), bool(masked), float(l1), float(l2), aux2,
        balanced_blocks(indptr),
    )


def _row_block(n: int) -> int:
    return max(1, DENSE_BLOCK // max(n, 1))


def mu_update_dense(X, F, G, kl, l1, l2) -> None:
    """One multiplicative update of every row of ``F`` for a dense ``X``, in place.

    Frobenius uses two BLAS products, ``X G`` and ``F (G'G)``. KL forms the
    ratio ``X / (F G')`` a block of rows at a time, so memory stays
    ``O(block * n)`` instead of ``O(m n)``.

    Parameters
    ----------
    X : (m, n) float32 or float64, non-negative, every entry fitted
    F : (m, k) float32 or float64, C-contiguous, non-negative; updated
    G : (n, k) same dtype, C-contiguous, non-negative
    kl : generalized Kullback-Leibler objective instead of Frobenius
    l1, l2 : penalty weights, non-negative
    """
    _check_factors(F, G)
    eps = F.dtype.type(EPSILON)
    if not kl:
        num = np.asarray(X @ G, dtype=F.dtype)
        den = F @ (G.T @ G)
        den += F.dtype.type(l1)
        den += F.dtype.type(l2) * F
        den[den == 0] = eps
        num /= den
        F *= num
        return
    colsum = G.sum(axis=0)
    step = _row_block(X.shape[1])
    for lo in range(0, X.shape[0], step):
        hi = min(lo + step, X.shape[0])
        f = F[lo:hi]
        wh = f @ G.T
        np.maximum(wh, eps, out=wh)
        np.divide(X[lo:hi], wh, out=wh, casting="unsafe")
        num = wh @ G
        den = colsum + F.dtype.type(l1) + F.dtype.type(l2) * f
        den[den == 0] = eps
        num /= den
        f *= num


# ------------------------------------------------------ KL coordinate descent
@njit(cache=True)
def _curvature(xs, gc, wh, cnt, s, ra, rb, gp, pending):
    """Log-term sums of the 1-D KL objective at step ``s``.

    First adds ``pending * gp`` to ``wh`` (the previous component's last step,
    applied here to save a pass). Returns ``sum x g / q``, ``sum x g^2 / q^2``
    with ``q = wh + s g`` floored at ``EPSILON``, and how many ``q`` were
    floored. The terms go through ``ra``/``rb`` so the divisions vectorize;
    the sums keep four partial sums.
    """
    low = 0
    for t in range(cnt):
        w = wh[t] + pending * gp[t]
        wh[t] = w
        q = w + s * gc[t]
        low += q < EPSILON
        inv = 1.0 / max(q, EPSILON)
        r = xs[t] * gc[t] * inv
        ra[t] = r
        rb[t] = r * gc[t] * inv
    a0 = a1 = a2 = a3 = 0.0
    b0 = b1 = b2 = b3 = 0.0
    t = 0
    while t + 4 <= cnt:
        a0 += ra[t]
        a1 += ra[t + 1]
        a2 += ra[t + 2]
        a3 += ra[t + 3]
        b0 += rb[t]
        b1 += rb[t + 1]
        b2 += rb[t + 2]
        b3 += rb[t + 3]
        t += 4
    while t < cnt:
        a0 += ra[t]
        b0 += rb[t]
        t += 1
    return (a0 + a1) + (a2 + a3), (b0 + b1) + (b2 + b3), low


@njit(cache=True)
def _halved_step(xs, gc, wh, cnt, s, fc, lin, l2):
    """``s`` halved until the 1-D objective does not increase (0 if it never does).

    Only for steps that meet the floor, where the curvature bound does not hold.
    """
    for _ in range(MAX_HALVINGS):
        delta = s * lin + l2 * s * (fc + 0.5 * s)
        for t in range(cnt):
            q0 = max(wh[t], EPSILON)
            q1 = max(wh[t] + s * gc[t], EPSILON)
            delta -= xs[t] * np.log(q1 / q0)
        if delta <= 0.0:
            return s
        s *= 0.5
    return 0.0


@njit(cache=True, parallel=True)
def _kl_cd(indptr, indices, data, F, G, masked, l1, l2, colsum, newton_steps, blocks):
    k = F.shape[1]
    for b in prange(blocks.shape[0] - 1):
        longest = 0
        for i in range(blocks[b], blocks[b + 1]):
            longest = max(longest, indptr[i + 1] - indptr[i])
        # The row's positive entries, their rows of G by component (a row's
        # length apart, so one row's buffers stay small), and predictions.
        xs = np.empty(longest, dtype=np.float64)
        gt = np.empty(k * longest, dtype=np.float64)
        wh = np.empty(longest, dtype=np.float64)
        ra = np.empty(longest, dtype=np.float64)
        rb = np.empty(longest, dtype=np.float64)
        total = np.empty(k, dtype=np.float64)
        for i in range(blocks[b], blocks[b + 1]):
            f = F[i]
            stride = indptr[i + 1] - indptr[i]
            if masked:
                total[:] = 0.0
            else:
                total[:] = colsum
            cnt = 0
            for t in range(indptr[i], indptr[i + 1]):
                g = G[indices[t]]
                if masked:
                    for c in range(k):
                        total[c] += g[c]
                x = np.float64(data[t])
                if x > 0:
                    xs[cnt] = x
                    for c in range(k):
                        gt[c * stride + cnt] = g[c]
                    cnt += 1
            wh[:cnt] = 0.0
            for c in range(k):
                fc = np.float64(f[c])
                gc = gt[c * stride : c * stride + cnt]
                for t in range(cnt):
                    wh[t] += fc * gc[t]
            gp = gt[0:cnt]
            pending = 0.0
            for c in range(k):
                gc = gt[c * stride : c * stride + cnt]
                pending = _newton(
                    xs, gc, wh, cnt, f, c, total[c] + l1, l2, newton_steps, ra, rb, gp, pending
                )
                gp = gc


@njit(cache=True)
def _newton(xs, gc, wh, cnt, f, c, lin, l2, newton_steps, ra, rb, gp, pending):
    """Projected Newton steps on ``f[c]``; its objective is, up to a constant,
    ``lin f + l2 f^2 / 2 - sum x log(wh + (f - f0) g)``, convex with a concave
    derivative.

    A step up (from a negative derivative) lands short of the minimum, so the
    objective decreases. A step down overshoots; it is kept when the objective
    along it stays below the quadratic with the largest curvature on the way
    (at its far end), else replaced by that quadratic's minimizer, which is
    a decrease by construction. Neither needs a logarithm.

    ``pending * gp`` is first added to ``wh``; the last step taken is returned
    instead of being added (the next component, or nobody, adds it).
    """
    fc = np.float64(f[c])
    a, b, low = _curvature(xs, gc, wh, cnt, 0.0, ra, rb, gp, pending)
    for step in range(newton_steps):
        d1 = lin + l2 * fc - a
        d2 = l2 + b
        if d2 > 0:
            new = max(0.0, fc - d1 / d2)
        elif d1 > 0:
            new = 0.0
        else:
            new = fc
        s = new - fc
        if s == 0.0:
            return 0.0
        fresh = False
        if low > 0:
            s = _halved_step(xs, gc, wh, cnt, s, fc, lin, l2)
        elif s < 0.0:
            a1, b1, low1 = _curvature(xs, gc, wh, cnt, s, ra, rb, gc, 0.0)
            if low1 > 0:
                s = _halved_step(xs, gc, wh, cnt, s, fc, lin, l2)
            elif d1 * s + 0.5 * (b1 + l2) * s * s <= 0.0:
                a = a1
                b = b1
                fresh = True
            else:
                s = -d1 / (b1 + l2)
        f[c] = _cast_like(max(0.0, fc + s), f)
        taken = np.float64(f[c]) - fc
        if taken == 0.0 or step + 1 == newton_steps:
            return taken
        if taken == s and fresh:
            for t in range(cnt):
                wh[t] += taken * gc[t]
            low = 0
        else:
            a, b, low = _curvature(xs, gc, wh, cnt, 0.0, ra, rb, gc, taken)
        fc += taken
    return 0.0


def kl_cd_update_sparse(
    indptr, indices, data, F, G, masked, l1, l2, colsum, newton_steps
) -> None:
    """Coordinate descent on the rows of ``F`` for the KL objective, in place.

    Hsieh & Dhillon (KDD 2011), the KL part, without variable selection: per
    row, each component in turn takes ``newton_steps`` projected Newton steps
    on its 1-D convex objective, a step shortened when needed so the objective
    never increases. The row's predictions at its stored entries are kept and
    updated, so a step costs O(row length).

    Parameters
    ----------
    indptr : (m + 1,) int32 or int64, CSR row pointers of ``R`` (m, n)
    indices : (nnz,) int32 or int64, column numbers in ``0..n-1``
    data : (nnz,) float32 or float64, non-negative
    F : (m, k) float32 or float64, C-contiguous, non-negative; updated
    G : (n, k) same dtype, C-contiguous, non-negative
    masked : fit only the stored entries of ``R``
    l1, l2 : penalty weights, non-negative
    colsum : ``G.sum(0)`` (k,) when not masked (the ``sum(W H)`` term);
        ignored when masked
    newton_steps : Newton steps per component, at least 1
    """
    _check_factors(F, G)
    k = F.shape[1]
    if masked:
        total = np.zeros(k, dtype=np.float64)
    else:
        total = np.ascontiguousarray(np.asarray(colsum, dtype=np.float64).reshape(k))
    _kl_cd(
        indptr, indices, data, F, G, bool(masked), float(l1), float(l2), total,
        int(newton_steps), balanced_blocks(indptr),
    )


# ---------------------------------------------------------------------- losses
@njit(cache=True, parallel=True)
def _row_losses(indptr, indices, data, W, H, kind, blocks, out):
    """Per-row sums at stored entries: 0 squared error, 1 KL, 2 KL without ``wh``."""
    k = W.shape[1]
    for b in prange(blocks.shape[0] - 1):
        for i in range(blocks[b], blocks[b + 1]):
            w = W[i]
            acc = 0.0
            for t in range(indptr[i], indptr[i + 1]):
                h = H[indices[t]]
                wh = 0.0
                for c in range(k):
                    wh += np.float64(w[c]) * np.float64(h[c])
                x = np.float64(data[t])
                if kind == 0:
                    acc += (x - wh) * (x - wh)
                else:
                    if x > 0:
                        acc += x * np.log(x / max(wh, EPSILON)) - x
                    if kind == 1:
                        acc += wh
            out[i] = acc


@njit(cache=True)
def _ordered_sum(values):
    acc = 0.0
    for v in values:
        acc += v
    return acc


def _sparse_losses(indptr, indices, data, W, H, kind) -> float:
    out = np.empty(indptr.shape[0] - 1, dtype=np.float64)
    _row_losses(indptr, indices, data, W, H, kind, balanced_blocks(indptr), out)
    return _ordered_sum(out)


def _sum_wh(W, H) -> float:
    """``sum(W @ H.T)`` without forming it, in float64."""
    return float(np.dot(W.sum(axis=0, dtype=np.float64), H.sum(axis=0, dtype=np.float64)))


def kl_divergence_sparse(indptr, indices, data, W, H, masked) -> float:
    """Generalized KL divergence ``sum x log(x / wh) - x + wh`` of ``X ~ W H'``.

    Masked, the sum runs over the stored entries; otherwise over all entries,
    the unstored ones (``x = 0``) adding just ``wh``, summed for the whole
    matrix as ``W.sum(0) . H.sum(0)``.

    Parameters
    ----------
    indptr : (m + 1,) int32 or int64
    indices : (nnz,) int32 or int64
    data : (nnz,) float32 or float64, non-negative
    W : (m, k) float32 or float64, C-contiguous
    H : (n, k) same dtype, C-contiguous
    masked : sum over the stored entries only

    Returns
    -------
    float, accumulated in float64
    """
    _check_factors(W, H)
    if masked:
        return _sparse_losses(indptr, indices, data, W, H, 1)
    return _sparse_losses(indptr, indices, data, W, H, 2) + _sum_wh(W, H)


def frobenius_observed(indptr, indices, data, W, H) -> float:
    """``0.5 * sum (x - w_i.h_j)^2`` over the stored entries, in float64.

    Parameters
    ----------
    indptr : (m + 1,) int32 or int64
    indices : (nnz,) int32 or int64
    data : (nnz,) float32 or float64
    W : (m, k) float32 or float64, C-contiguous
    H : (n, k) same dtype, C-contiguous

    Returns
    -------
    float
    """
    _check_factors(W, H)
    return 0.5 * _sparse_losses(indptr, indices, data, W, H, 0)


def kl_divergence_dense(X, W, H) -> float:
    """Generalized KL divergence of a dense ``X ~ W H'``, every entry fitted.

    Predictions are formed a block of rows at a time in float64.

    Parameters
    ----------
    X : (m, n) float32 or float64, non-negative
    W : (m, k) float32 or float64
    H : (n, k) float32 or float64

    Returns
    -------
    float
    """
    Ht = np.asarray(H, dtype=np.float64).T
    rows = np.empty(X.shape[0], dtype=np.float64)
    step = _row_block(X.shape[1])
    for lo in range(0, X.shape[0], step):
        hi = min(lo + step, X.shape[0])
        wh = np.asarray(W[lo:hi], dtype=np.float64) @ Ht
        x = np.asarray(X[lo:hi], dtype=np.float64)
        pos = x > 0
        xp = x[pos]
        terms = wh - x
        terms[pos] += xp * np.log(xp / np.maximum(wh[pos], EPSILON))
        rows[lo:hi] = terms.sum(axis=1)
    return _ordered_sum(rows)
