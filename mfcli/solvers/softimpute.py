"""Soft-impute: low-rank completion fitted to the observed entries only.

Mazumder, Hastie & Tibshirani (2010) minimise

    1/2 ||P_Omega(X - offset - Z)||_F**2 + shrink * ||Z||_*

by iterating ``Z <- S_shrink(P_Omega(X - offset) + P_Omega^perp(Z))``, where
``S`` soft-thresholds the singular values. The matrix inside never exists:
it is the sparse residual on the observed entries plus the current low-rank
``Z = U diag(s) V.T``, so products with it cost
``R @ Q + U (diag(s) (V.T @ Q))`` (and likewise for the transpose). Each
iteration takes one warm-started subspace step from the previous ``V``: two
products and a small SVD, as in the authors' warm-start scheme.

* ``offset``: the mean of the observed values (``center=True``); no row or
  column means. Predictions are ``offset + U @ diag(s) @ V.T``.
* Default ``shrink``: the largest singular value of ``P_Omega(X - offset)``
  divided by 50 (the first iteration's SVD gives it; the same default as
  fancyimpute's SoftImpute). Singular values at or below it become 0; at most
  ``k`` are kept.
* Convergence: ``||Z_new - Z_old||_F / ||Z_old||_F < tol``, computed from the
  factors. The paper squares both norms; without the square ``tol=1e-4`` asks
  for a relative change of 1e-4, not 1e-2, which the held-out error needs
  (completion from few entries converges slowly).
* Missing entries: the entries not stored in a sparse matrix, or the NaNs of a
  dense array (every finite value, zero included, is observed).
"""

from __future__ import annotations

import time

import numpy as np

from mfcli.errors import InputDataError, UsageError
from mfcli.kernels import spmm
from mfcli.solvers import linalg
from mfcli.solvers.svd import (
    Callback,
    Input,
    SVDFit,
    _check_dtype,
    _check_int,
    _small_svd,
    as_input,
    flip_signs,
)

SHRINK_FRACTION = 1 / 50  # default shrink: this share of the top singular value
INIT_POWER_ITERS = 3  # power passes of the first (cold) SVD
INIT_OVERSAMPLE = 10
FOLD_IN_CHUNK = 1 << 16  # (entries x k x k) float64 values per fold-in chunk


class _Completed(linalg.Operator):
    """``P_Omega(X - offset - Z) + Z`` for a low-rank ``Z``, never formed."""

    def __init__(self, inp: Input, offset: float, dtype):
        self.shape = inp.shape
        self.dtype = np.dtype(dtype)
        self.mean = None
        self.inp = inp
        self.offset = offset
        self.blocks = spmm.balanced_blocks(inp.indptr)
        self.xt = spmm.transpose(
            inp.indptr, inp.indices, inp.data, inp.shape[1], self.dtype, with_perm=True
        )
        self.residual = np.empty(inp.data.shape[0], dtype=self.dtype)
        self.left: np.ndarray | None = None  # U * s, (m, r)
        self.right: np.ndarray | None = None  # V, (n, r)

    def set_low_rank(self, left: np.ndarray | None, right: np.ndarray | None) -> None:
        """Use ``Z = left @ right.T`` and refresh the residual on the observed entries."""
        inp = self.inp
        m, n = self.shape
        if left is None:
            left = np.zeros((m, 1), dtype=self.dtype)
            right = np.zeros((n, 1), dtype=self.dtype)
        self.left = np.ascontiguousarray(left, dtype=self.dtype)
        self.right = np.ascontiguousarray(right, dtype=self.dtype)
        spmm.sampled_residual(
            inp.indptr,
            inp.indices,
            inp.data,
            self.left,
            self.right,
            self.offset,
            self.blocks,
            self.residual,
        )
        spmm.gather(self.residual, self.xt.perm, self.xt.data)

    def matmul(self, block, out=None):
        block = np.ascontiguousarray(block, dtype=self.dtype)
        if out is None:
            out = np.empty((self.shape[0], block.shape[1]), dtype=self.dtype)
        inp = self.inp
        spmm.csr_matmul(inp.indptr, inp.indices, self.residual, block, self.blocks, out)
        out += self.left @ (self.right.T @ block)
        return out

    def rmatmul(self, block, out=None):
        block = np.ascontiguousarray(block, dtype=self.dtype)
        if out is None:
            out = np.empty((self.shape[1], block.shape[1]), dtype=self.dtype)
        spmm.csr_t_matmul(self.xt, block, out)
        out += self.right @ (self.left.T @ block)
        return out

    def residual_sq(self) -> float:
        return linalg.sum_squares(self.residual)


def observed(X, *, what: str = "matrix") -> Input:
    """Sparse input as it is; a dense array's finite values as CSR (NaN = missing)."""
    inp = as_input(X, what=what, allow_nan=True)
    if inp.is_sparse:
        if np.isnan(inp.data).any():
            bad = int(np.flatnonzero(np.isnan(inp.data))[0])
            row = int(np.searchsorted(inp.indptr, bad, side="right"))
            raise InputDataError(
                f"the {what} holds a NaN at row {row}, column {int(inp.indices[bad]) + 1}",
                hint="leave missing entries out of a sparse matrix instead of storing NaN",
            )
        return inp
    dense = inp.dense
    seen = ~np.isnan(dense)
    counts = seen.sum(axis=1)
    indptr = np.zeros(dense.shape[0] + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    rows, cols = np.nonzero(seen)
    return Input(inp.shape, indptr=indptr, indices=cols.astype(np.int32), data=dense[rows, cols])


def _svd_step(op, v_start):
    """One subspace step from ``v_start``: the SVD of ``A`` on ``span(A v_start)``."""
    q, _ = linalg.orthonormalize(op.matmul(v_start))
    w, r = linalg.orthonormalize(op.rmatmul(q))
    ub, s, vbt = _small_svd(r.T)
    dt = op.dtype
    return q @ ub.astype(dt), s, w @ vbt.T.astype(dt)


def _low_rank_change(u0, s0, v0, u1, s1, v1) -> float:
    """``||Z1 - Z0||_F / ||Z0||_F`` for ``Z = U diag(s) V.T``, from the factors."""
    old = float(s0 @ s0)
    new = float(s1 @ s1)
    if old == 0.0:
        return 0.0 if new == 0.0 else np.inf
    cross_u = u1.astype(np.float64).T @ u0.astype(np.float64)
    cross_v = v0.astype(np.float64).T @ v1.astype(np.float64)
    cross = float(np.sum((s1[:, None] * cross_u) * (s0[:, None] * cross_v).T))
    return float(np.sqrt(max(old + new - 2.0 * cross, 0.0) / old))


def soft_impute(
    X,
    k: int,
    *,
    shrink: float | None = None,
    max_iter: int = 100,
    tol: float = 1e-4,
    seed: int = 0,
    dtype=np.float32,
    callback: Callback | None = None,
    center: bool = True,
) -> SVDFit:
    """Complete ``X`` from its observed entries with a rank-``k`` soft-thresholded SVD.

    Parameters
    ----------
    X : mfcli.data.Matrix, scipy.sparse matrix (stored entries are observed)
        or (m, n) ndarray (NaN marks a missing entry)
    k : largest rank kept, >= 1
    shrink : soft threshold on the singular values (value units); default
        1/50 of the largest singular value of the observed, centred matrix
    max_iter : iterations at most
    tol : stop when the relative change of ``Z`` falls below it
    seed : seed of the random start
    dtype : float32 or float64 factors
    callback : ``callback(iteration, stats)`` after each iteration
    center : subtract the mean of the observed values (``offset``)

    Returns
    -------
    SVDFit
        ``method="soft-impute"``, ``offset`` and ``shrink`` set, ``mean`` None;
        predictions are ``offset + U @ diag(s) @ V.T``. Singular values that
        the threshold zeroed stay in ``s`` as 0. ``explained_variance`` is
        ``s**2 / (m * n)`` (per cell of the completed matrix) and the ratio is
        over the mean square of the observed, centred values. History:
        ``objective`` (the penalised loss above, before each update),
        ``rmse`` (on the observed entries), ``change``, ``rank``, ``seconds``.

    Raises
    ------
    UsageError
        bad ``k``, ``shrink``, ``max_iter``, ``tol`` or dtype
    InputDataError
        empty matrix, no observed entries, infinite values (or NaN stored in a
        sparse matrix)
    """
    start = time.perf_counter()
    dt = _check_dtype(dtype)
    k = _check_int("k", k, 1)
    max_iter = _check_int("max_iter", max_iter, 1)
    if not (np.isfinite(tol) and tol > 0):
        raise UsageError(f"tol must be a positive number, got {tol!r}")
    if shrink is not None and not (np.isfinite(shrink) and shrink >= 0):
        raise UsageError(f"shrink must be a number >= 0, got {shrink!r}")
    inp = observed(X)
    m, n = inp.shape
    nnz = int(inp.data.shape[0])
    if nnz == 0:
        raise InputDataError("the matrix has no observed entries", hint="nothing to complete")
    notes: list[str] = []
    if k > min(m, n):
        notes.append(f"k={k} is above min(m, n)={min(m, n)}: rank {min(m, n)} at most")
        k = min(m, n)
    offset = float(np.mean(inp.data, dtype=np.float64)) if center else 0.0
    with linalg.blas_threads(1):  # numba kernels and small BLAS calls alternate
        return _fit(inp, k, center, offset, shrink, max_iter, tol, seed, dt, callback, notes, start)


def _fit(inp, k, center, offset, shrink, max_iter, tol, seed, dt, callback, notes, start):
    """The iterations of :func:`soft_impute` on validated arguments; an SVDFit."""
    m, n = inp.shape
    nnz = int(inp.data.shape[0])
    op = _Completed(inp, offset, dt)
    op.set_low_rank(None, None)
    observed_sq = op.residual_sq()

    # Cold start: the SVD of the observed (centred) matrix, Z = 0.
    rng = np.random.default_rng(seed)
    width = min(k + INIT_OVERSAMPLE, m, n)
    v = rng.standard_normal((n, width), dtype=dt)
    for _ in range(INIT_POWER_ITERS):
        q, _ = linalg.orthonormalize(op.matmul(v))
        v, _ = linalg.orthonormalize(op.rmatmul(q))
    u, sig, v = _svd_step(op, v)
    top = float(sig[0])
    if shrink is None:
        shrink = top * SHRINK_FRACTION
        notes.append(f"shrink={shrink:.6g}: 1/50 of the top singular value {top:.6g}")
    shrink = float(shrink)
    if center:
        notes.append(f"offset={offset:.6g}: the mean of the observed values")
    u, v = np.ascontiguousarray(u[:, :k]), np.ascontiguousarray(v[:, :k])
    s = np.maximum(sig[:k] - shrink, 0.0)

    hist = {name: [] for name in ("objective", "rmse", "change", "rank", "seconds")}
    converged = False
    it = 0
    for it in range(1, max_iter + 1):
        op.set_low_rank(u * s.astype(dt), v)
        loss = op.residual_sq()
        hist["objective"].append(0.5 * loss + shrink * float(s.sum()))
        hist["rmse"].append(float(np.sqrt(loss / nnz)))
        u1, sig, v1 = _svd_step(op, v)
        s1 = np.maximum(sig[:k] - shrink, 0.0)
        u1, v1 = np.ascontiguousarray(u1[:, :k]), np.ascontiguousarray(v1[:, :k])
        change = _low_rank_change(u, s, v, u1, s1, v1)
        u, s, v = u1, s1, v1
        hist["change"].append(change)
        hist["rank"].append(int(np.count_nonzero(s)))
        hist["seconds"].append(time.perf_counter() - start)
        if callback is not None:
            callback(it, {name: values[-1] for name, values in hist.items()})
        if change < tol:
            converged = True
            break
    if not converged:
        notes.append(
            f"soft-impute stopped after {it} iterations before the relative change met "
            f"tol={tol:g} (last change: {hist['change'][-1]:.2e})"
        )
    u, v = flip_signs(u, v)
    ev = s**2 / (m * n)
    per_cell = observed_sq / nnz
    ratio = ev / per_cell if per_cell > 0 else np.zeros_like(ev)
    return SVDFit(
        U=np.ascontiguousarray(u, dtype=dt),
        s=s.astype(np.float64),
        V=np.ascontiguousarray(v, dtype=dt),
        mean=None,
        explained_variance=ev,
        explained_variance_ratio=ratio,
        history={name: np.asarray(values) for name, values in hist.items()},
        n_iter=it,
        method="soft-impute",
        notes=notes,
        offset=offset,
        shrink=shrink,
    )


def fold_in_observed(fit: SVDFit, inp: Input) -> np.ndarray:
    """Rows' coordinates in a soft-impute fit from their observed entries only.

    Each row solves ``min_a ||r - (B a)_obs||**2 + shrink * ||a||**2`` with
    ``B = V diag(sqrt(s))`` and ``r`` its observed values minus ``offset``
    (the fit's objective for one more row); the result is ``a / sqrt(s)``
    (0 where ``s`` is 0), so predictions are ``offset + out @ diag(s) @ V.T``.

    Parameters
    ----------
    fit : SVDFit from :func:`soft_impute`
    inp : rows from :func:`observed` (CSR of the observed entries)

    Returns
    -------
    (r, k) in the dtype of ``fit.V``
    """
    k = fit.k
    root = np.sqrt(np.maximum(fit.s, 0.0))
    basis = fit.V.astype(np.float64) * root
    ridge = fit.shrink if fit.shrink > 0 else 1e-12 * max(float(fit.s.max(initial=0.0)), 1.0)
    n_rows = inp.shape[0]
    out = np.zeros((n_rows, k))
    indptr = np.asarray(inp.indptr, dtype=np.int64)
    per_chunk = max(1, FOLD_IN_CHUNK // max(k * k, 1))
    a = 0
    while a < n_rows:
        b = int(np.searchsorted(indptr, indptr[a] + per_chunk, side="right")) - 1
        b = min(max(b, a + 1), n_rows)
        lo, hi = indptr[a], indptr[b]
        counts = np.diff(indptr[a : b + 1])
        full = np.flatnonzero(counts > 0)
        if full.size:
            bj = basis[inp.indices[lo:hi]]
            r = inp.data[lo:hi].astype(np.float64) - fit.offset
            starts = (indptr[a:b] - lo)[full]
            g = np.add.reduceat(bj[:, :, None] * bj[:, None, :], starts, axis=0)
            rhs = np.add.reduceat(bj * r[:, None], starts, axis=0)
            g += ridge * np.eye(k)
            out[a + full] = np.linalg.solve(g, rhs[:, :, None])[:, :, 0]
        a = b
    scale = np.zeros(k)
    scale[root > 0] = 1.0 / root[root > 0]
    return (out * scale).astype(fit.V.dtype)
