"""Randomized truncated SVD (and PCA) of a matrix held as row blocks on Dask workers.

:func:`randomized_svd` computes what ``truncated_svd(X, k, method="randomized")``
of :mod:`mfcli.solvers.svd` computes, step for step: the same Gaussian sketch
(same generator, shape, dtype and order of draws), the same ``power_iters``
passes of ``A.T`` then ``A``, and the same orthonormalisation at the same
points with the same number of Cholesky QR passes. Only the place of the work
changes:

* ``A @ Z`` (Z is n x l, ``l = k + oversample``): Z is broadcast to every
  worker and each block multiplies its rows (the numba CSR kernel of
  :mod:`mfcli.kernels.spmm` through :class:`~mfcli.solvers.linalg.SparseOperator`,
  or BLAS for a dense block). The m x l result stays on the workers, one piece
  per block.
* ``A.T @ Q`` is the sum over blocks of ``X_b.T @ Q_b``. Each worker first
  adds the pieces of its own blocks (float64, in block order), then the client
  adds the worker sums in float64 in the order of their first block: the
  result never depends on task timing.
* Orthonormalising the tall m x l basis is Cholesky QR, as in
  :func:`mfcli.solvers.linalg.orthonormalize`, which is what the local solver
  does (not Householder QR): each block sends its l x l float64 Gram matrix,
  the client adds them in block order, factors, and sends back the l x l
  inverse of the triangular factor, which each block applies to its rows.
  The condition check and the shifted first pass (shifted CholeskyQR3) are
  the local ones, on the same l x l matrices. The local fallback to
  Householder QR (never expected) is a tall-skinny QR here (:func:`tsqr`:
  each block QRs its rows, the client QRs the stacked R factors, diagonal of
  R made positive); column signs of intermediate bases do not reach the
  result (the final signs are fixed by :func:`~mfcli.solvers.svd.flip_signs`).
* The n x l bases (V side) live on the client and are orthonormalised there
  by the local code itself. U (m x k) is gathered to the client once, at the
  end. The interaction matrix never leaves its workers.
* Centring (PCA without densifying): column sums are a block reduction; the
  means are sent once per fit and subtracted inside the products as locally.

So U, s, V equal the local fit's up to rounding: sums over rows are split at
block boundaries, which changes float32 (or float64) rounding only.

Differences from the local solver: ``k >= min(m, n)`` is refused (the local
solver densifies; here the matrix must not be gathered), and when
``k + oversample >= min(m, n)`` the sketch is clipped to ``min(m, n)`` columns
(spanning the whole matrix: exact up to rounding) instead of the local switch
to a dense SVD; a note says so.

Bytes per power iteration
-------------------------
With ``l = k + oversample`` (clipped to ``min(m, n)``), ``W`` workers holding
blocks, ``B`` blocks dealt round-robin (``B = W`` by default: one per
worker), ``s`` the itemsize of the working dtype, one pass (not the last)
moves, counting array payloads only (task messages and keys are extra, a
few hundred bytes per task)::

    A.T Q reduce   sum_w n l s_w        s_w = s if worker w holds one block,
                                        8 (a float64 sum) if it holds several
    + centred      W l 8                column sums of Q
    broadcast Z    W n l s
    Cholesky QR    2 B l^2 8            l x l Grams up, l x l inverses down

which is ``W (2 n l s + 16 l^2)`` (plus ``8 W l`` centred) with one block per
worker. The last pass does two Cholesky QR passes: ``+ 16 B l^2``. Nothing
of size m moves during the iterations; U (``m k s`` bytes) is gathered once
at the end. :func:`bytes_per_pass` returns this model; the ``bytes`` entry of
the callback's stats is what the fit counted for that pass.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from mfcli.distributed.blocks import RowBlocks, broadcast, place
from mfcli.errors import InputDataError, UsageError
from mfcli.solvers import linalg
from mfcli.solvers.svd import (
    CHECK_CHUNK,
    DEFAULT_POWER_ITERS,
    Callback,
    SVDFit,
    _check_dtype,
    _check_int,
    _small_svd,
    flip_signs,
)

FLOAT64 = 8


# ------------------------------------------------------------------ model
def bytes_per_pass(
    m: int,
    n: int,
    k_plus_oversample: int,
    n_workers: int,
    itemsize: int,
    *,
    n_blocks: int | None = None,
    center: bool = False,
    last: bool = False,
) -> int:
    """Bytes of array payload one power iteration moves (module docstring).

    Parameters
    ----------
    m, n : matrix shape (``l`` is clipped to ``min(m, n)``; nothing of size m moves)
    k_plus_oversample : sketch width ``l``
    n_workers : W, the workers (only those holding a block receive Z)
    itemsize : bytes per value of the working dtype (4 or 8)
    n_blocks : B, blocks dealt round-robin over the workers; default W
    center : PCA: column sums of Q travel too
    last : the last pass (two Cholesky QR passes instead of one)
    """
    width = min(int(k_plus_oversample), int(m), int(n))
    workers = int(n_workers)
    blocks = workers if n_blocks is None else int(n_blocks)
    holding = min(workers, blocks)  # workers with at least one block
    several = max(0, blocks - workers)  # workers with two or more blocks
    several = min(several, holding)
    reduce = (holding - several) * n * width * itemsize + several * n * width * FLOAT64
    if center:
        reduce += holding * width * FLOAT64
    broadcast = holding * n * width * itemsize
    qr_passes = 2 if last else 1
    qr = qr_passes * 2 * blocks * width * width * FLOAT64
    return int(reduce + broadcast + qr)


# ------------------------------------------------------------------ on workers
@dataclass
class _BlockOp:
    """A block's rows as an operator (not centred), with the global means cast."""

    op: linalg.Operator
    mean_f: np.ndarray | None


def _as_float(values: np.ndarray) -> np.ndarray:
    return values if values.dtype.kind == "f" else values.astype(np.float64)


def _block_stats(block) -> dict:
    """Column sums, sum of squares (float64), value dtype, first non-finite value."""
    values = block.data
    if values.dtype.kind not in "biuf":
        return {"kind": str(values.dtype)}
    values = _as_float(values)
    n = block.n_cols
    bad = None
    flat = values.reshape(-1)
    for a in range(0, flat.shape[0], CHECK_CHUNK):
        finite = np.isfinite(flat[a : a + CHECK_CHUNK])
        if not finite.all():
            pos = a + int(np.argmin(finite))
            if block.is_sparse:
                row = int(np.searchsorted(block.indptr, pos, side="right")) - 1
                col = int(block.indices[pos])
            else:
                row, col = divmod(pos, n)
            bad = (block.start + row, col, float(flat[pos]))
            break
    if bad is not None:
        return {"kind": "f", "bad": bad}
    if block.is_sparse:
        sums = np.bincount(block.indices, weights=values, minlength=n).astype(np.float64)
        sumsq = linalg.sum_squares(values)
    else:
        sums = values.sum(axis=0, dtype=np.float64)
        sumsq = None  # dense: summed by _dense_sumsq in the working dtype, as locally
    return {"kind": "f", "bad": None, "dtype": values.dtype, "sums": sums, "sumsq": sumsq}


def _make_op(block, dtype, mean) -> _BlockOp:
    values = _as_float(block.data)
    if block.is_sparse:
        op = linalg.SparseOperator(
            block.indptr, block.indices, values, (block.rows, block.n_cols), dtype
        )
        op.transposed  # noqa: B018 - built once per fit, kept with the block
    else:
        op = linalg.DenseOperator(values, dtype)
    return _BlockOp(op, None if mean is None else mean.astype(op.dtype))


def _dense_sumsq(bop: _BlockOp, mean) -> float:
    """The local DenseOperator.squared_norm over this block's rows."""
    array = bop.op.array
    total = 0.0
    rows = max(1, linalg.SUM_CHUNK // max(array.shape[1], 1))
    for a in range(0, array.shape[0], rows):
        c = array[a : a + rows].astype(np.float64, copy=False)
        if mean is not None:
            c = c - mean
        total += float(np.einsum("ij,ij->", c, c))
    return total


def _matmul(bop: _BlockOp, z) -> np.ndarray:
    out = bop.op.matmul(z)
    if bop.mean_f is not None:
        out -= bop.mean_f @ np.ascontiguousarray(z, dtype=bop.op.dtype)
    return out


def _rmatmul(bop: _BlockOp, q, center: bool):
    part = bop.op.rmatmul(q)
    sums = q.sum(axis=0, dtype=np.float64) if center else None
    return part, sums


def _worker_sum(*pieces):
    """Sum of this worker's block pieces, in block order (float64 when several)."""
    if len(pieces) == 1:
        return pieces[0]
    part = np.zeros(pieces[0][0].shape)
    sums = None if pieces[0][1] is None else np.zeros(pieces[0][1].shape)
    for p, s in pieces:
        part += p
        if sums is not None:
            sums += s
    return part, sums


def _gram(y) -> np.ndarray:
    return linalg.gram(y)


def _rotate(y, coeffs) -> np.ndarray:
    """``y @ coeffs`` as :func:`linalg.rotate_columns` computes it (on a copy)."""
    out = np.array(y, order="C")
    linalg.rotate_columns(out, coeffs.shape[0], coeffs)
    return np.ascontiguousarray(out[:, : coeffs.shape[1]])


def _local_qr(y):
    q, r = np.linalg.qr(y)
    return np.ascontiguousarray(q), r


def _first(pair):
    return pair[0]


def _second(pair):
    return pair[1]


def _times(q, coeffs) -> np.ndarray:
    return np.ascontiguousarray(q @ coeffs.astype(q.dtype))


# ------------------------------------------------------------------ client side
class _Plan:
    """Where the blocks are, and a count of the bytes sent and received."""

    def __init__(self, client, blocks: RowBlocks):
        self.client = client
        self.bounds = list(blocks.bounds)
        self.owners = list(blocks.workers)
        self.m, self.n = (int(blocks.shape[0]), int(blocks.shape[1]))
        self.workers = sorted(set(self.owners), key=self.owners.index)
        # blocks of each worker, in block order; workers in the order of their first block
        self.groups = [[i for i, w in enumerate(self.owners) if w == wk] for wk in self.workers]
        self.bytes = 0

    def map(self, fn, futures, *args, paired=None) -> list:
        """``fn(piece, [paired piece,] *args)`` on every block, where the block lives."""
        paired = [()] * len(futures) if paired is None else [(p,) for p in paired]
        return [
            self.client.submit(
                fn, f, *p, *args, workers=[w], allow_other_workers=False, pure=False
            )  # fmt: skip
            for f, p, w in zip(futures, paired, self.owners, strict=True)
        ]

    def on(self, worker, fn, *args):
        return self.client.submit(
            fn, *args, workers=[worker], allow_other_workers=False, pure=False
        )

    def gather(self, futures) -> list:
        values = self.client.gather(futures)
        self.bytes += sum(_nbytes(v) for v in values)
        return values

    def broadcast(self, value):
        # to the workers holding blocks only (others would never use it)
        future = broadcast(self.client, value, self.workers)
        self.bytes += _nbytes(value) * len(self.workers)
        return future

    def send_each(self, fn, futures, small: np.ndarray) -> list:
        """``fn(piece, small)`` on every block, ``small`` inside each task."""
        self.bytes += small.nbytes * len(futures)
        return self.map(fn, futures, small)

    def grams(self, ys) -> np.ndarray:
        """Sum of the blocks' float64 Gram matrices, in block order."""
        g = None
        for piece in self.gather(self.map(_gram, ys)):
            g = piece.copy() if g is None else g + piece
        return g


def _nbytes(value) -> int:
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if isinstance(value, (tuple, list)):
        return sum(_nbytes(v) for v in value)
    return 0


def _apply_inverse(plan: _Plan, ys, r):
    """``y @ inv(r)`` on every block, as :func:`linalg._solve_upper` does it."""
    import scipy.linalg as sl

    inv = sl.solve_triangular(r, np.eye(r.shape[0]), lower=False, check_finite=False)
    return plan.send_each(_rotate, ys, inv)


def orthonormalize_rows(plan: _Plan, ys: list, width: int, dtype, *, passes: int = 2):
    """:func:`mfcli.solvers.linalg.orthonormalize` of the m x l matrix held as ``ys``.

    Returns the futures of ``q`` by block and ``r`` (l x l float64).
    """
    if width == 0:
        return ys, np.zeros((0, 0))
    return linalg.cholesky_qr(
        ys, plan.m, width, gram_of=plan.grams, solve=lambda y, r: _apply_inverse(plan, y, r),
        fallback=lambda: _scatter_rows_of(plan, linalg._fallback_basis(plan.m, width, dtype)),
        householder=lambda y: tsqr(plan, y), passes=passes,
    )  # fmt: skip


def tsqr(plan: _Plan, ys: list):
    """Tall-skinny QR of the m x l matrix held as ``ys`` (futures by block).

    Each block QRs its rows, the client QRs the stacked R factors, and each
    block multiplies its Q by its slice of the small Q. Signs: the diagonal
    of R is made non-negative. Returns the futures of ``q`` by block and
    ``r`` (l x l float64).
    """
    pairs = plan.map(_local_qr, ys)
    rs = plan.gather(plan.map(_second, pairs))
    qs = plan.map(_first, pairs)
    stacked = np.vstack([r.astype(np.float64) for r in rs])
    q2, r = np.linalg.qr(stacked)
    signs = np.sign(np.diag(r))
    signs[signs == 0] = 1.0
    q2 *= signs
    r = signs[:, None] * r
    # one task per block, each with its own slice of the small Q
    out = []
    row = 0
    for q, rb, w in zip(qs, rs, plan.owners, strict=True):
        piece = np.ascontiguousarray(q2[row : row + rb.shape[0]])
        row += rb.shape[0]
        plan.bytes += piece.nbytes
        out.append(plan.on(w, _times, q, piece))
    return out, r


def _scatter_rows_of(plan: _Plan, q: np.ndarray) -> list:
    out = []
    for (a, b), w in zip(plan.bounds, plan.owners, strict=True):
        piece = np.ascontiguousarray(q[a:b])
        plan.bytes += piece.nbytes
        out.append(place(plan.client, piece, w))
    return out


def _reduce_rmatmul(plan: _Plan, ops, qs, dtype, mean_f, center: bool) -> np.ndarray:
    """``A.T @ Q`` (n x l, dtype): blocks, then workers, then the client, in fixed order."""
    pieces = plan.map(_rmatmul, ops, center, paired=qs)
    totals = [plan.on(w, _worker_sum, *[pieces[i] for i in group])
              for w, group in zip(plan.workers, plan.groups, strict=True)]  # fmt: skip
    part, sums = None, None
    for p, s in plan.gather(totals):
        part = p.astype(np.float64) if part is None else part + p
        if center:
            sums = s.copy() if sums is None else sums + s
    out = part.astype(dtype)
    if mean_f is not None:
        out -= np.outer(mean_f, sums.astype(dtype))
    return out


# ------------------------------------------------------------------ public
def randomized_svd(
    client,
    blocks: RowBlocks,
    k: int,
    *,
    oversample: int = 10,
    power_iters: int | None = None,
    center: bool = False,
    seed: int = 0,
    dtype=np.float32,
    callback: Callback | None = None,
) -> SVDFit:
    """``truncated_svd(X, k, method="randomized")`` of a matrix held as row blocks.

    Parameters
    ----------
    client : distributed.Client
    blocks : RowBlocks of the (m, n) matrix (:func:`mfcli.distributed.blocks.scatter_rows`)
    k : number of singular values, 1 <= k < min(m, n)
    oversample : extra sketch columns
    power_iters : passes of ``A.T`` then ``A``; default 5
    center : subtract the column means (PCA), inside the products
    seed : seed of the random sketch (the local solver's draws)
    dtype : float32 or float64, the dtype of the factors and of the products
    callback : ``callback(iteration, stats)`` once per pass with "pass", "of",
        "seconds" and "bytes" (array payload moved during the pass); raising
        stops the fit

    Returns
    -------
    SVDFit (method "randomized")

    Raises
    ------
    UsageError
        bad ``k`` or option, ``k >= min(m, n)``
    InputDataError
        empty matrix, non-finite values, a matrix (or centred matrix) of zeros
    """
    start = time.perf_counter()
    dt = _check_dtype(dtype)
    k = _check_int("k", k, 1)
    oversample = _check_int("oversample", oversample, 0)
    q_iters = (
        DEFAULT_POWER_ITERS if power_iters is None else _check_int("power_iters", power_iters, 0)
    )
    plan = _Plan(client, blocks)
    m, n = plan.m, plan.n
    if m == 0 or n == 0:
        raise InputDataError(
            f"the matrix is empty ({m} x {n})", hint="the input needs rows and columns"
        )
    stats = plan.client.gather(plan.map(_block_stats, blocks.futures))
    for st in stats:
        if st["kind"] != "f":
            raise InputDataError(f"matrix values must be real numbers, got {st['kind']}")
        if st["bad"] is not None:
            row, col, value = st["bad"]
            raise InputDataError(
                f"the matrix holds a non-finite value ({value}) at row {row + 1}, column {col + 1}",
                hint="remove or replace NaN/inf entries before factorizing",
            )
    small = min(m, n)
    if k >= small:
        raise UsageError(
            f"k={k} is not below min(m, n)={small}",
            hint=f"choose k < {small} (the distributed back end never densifies the matrix)",
        )
    notes: list[str] = []
    if k + oversample >= small:
        notes.append(
            f"k + oversample >= min(m, n)={small}: the sketch spans the whole matrix "
            "(exact up to rounding)"
        )
    sparse = stats[0]["sumsq"] is not None
    if sparse:
        work = dt
    else:
        work = np.promote_types(dt, stats[0]["dtype"])
        if work not in (np.dtype(np.float32), np.dtype(np.float64)):
            work = np.dtype(np.float64)
    sums = np.zeros(n)
    for st in stats:
        sums += st["sums"]
    col_mean = sums / m
    mean = col_mean if center else None
    mean_future = plan.broadcast(mean) if center else None
    ops = plan.map(_make_op, blocks.futures, work, mean_future)
    if sparse:
        total = 0.0
        for st in stats:
            total += st["sumsq"]
        if center:
            total = max(total - m * float(col_mean @ col_mean), 0.0)
    else:
        total = 0.0
        for value in plan.client.gather(plan.map(_dense_sumsq, ops, mean_future)):
            total += value
    if total == 0.0:
        what = "centred matrix" if center else "matrix"
        raise InputDataError(
            f"the {what} is all zeros: there is nothing to factorize",
            hint="every column is constant" if center else "check the input values",
        )
    mean_f = None if mean is None else mean.astype(work)
    rng = np.random.default_rng(seed)
    with linalg.blas_threads(1 if sparse else None):
        U, s, V, history = _randomized(
            plan, ops, k, k + oversample, q_iters, rng, work, mean_f, center, callback, start
        )
    del ops
    U, V = flip_signs(U, V)
    U, V = U.astype(dt, copy=False), V.astype(dt, copy=False)
    s2 = s**2
    if center:
        ev = s2 / max(m - 1, 1)
        ratio = s2 / total
    else:
        ev = s2 / m - (col_mean @ V.astype(np.float64)) ** 2
        var_total = total / m - float(col_mean @ col_mean)
        ratio = ev / var_total if var_total > 0 else np.zeros_like(ev)
    return SVDFit(
        U=U,
        s=s,
        V=V,
        mean=mean,
        explained_variance=ev,
        explained_variance_ratio=ratio,
        history=history,
        n_iter=int(q_iters),
        method="randomized",
        notes=notes,
    )


def _randomized(plan, ops, k, width, power_iters, rng, work, mean_f, center, callback, start):
    """The local ``_randomized``, with the m-side bases kept as blocks on the workers."""
    m, n = plan.m, plan.n
    width = min(width, m, n)
    seconds = []
    z = rng.standard_normal((n, width), dtype=work)

    def product(z, passes):
        future = plan.broadcast(z)
        ys = plan.map(_matmul, ops, future)
        qs, _ = orthonormalize_rows(plan, ys, width, work, passes=passes)
        return qs

    qs = product(z, 1 if power_iters else 2)
    for it in range(power_iters):
        before = plan.bytes
        z, _ = linalg.orthonormalize(_reduce_rmatmul(plan, ops, qs, work, mean_f, center), passes=1)
        last = it == power_iters - 1
        qs = product(z, 2 if last else 1)
        seconds.append(time.perf_counter() - start)
        if callback is not None:
            stats = {"pass": it + 1, "of": power_iters, "seconds": seconds[-1]}
            callback(it + 1, {**stats, "bytes": plan.bytes - before})
    # A ~ q q.T A = q (A.T q).T = q r.T w.T with A.T q = w r.
    w, r = linalg.orthonormalize(_reduce_rmatmul(plan, ops, qs, work, mean_f, center))
    ub, s, vbt = _small_svd(r.T)
    coeffs = np.ascontiguousarray(ub[:, :k])
    us = plan.send_each(_rotate, qs, coeffs)
    linalg.rotate_columns(w, width, vbt[:k].T)
    U = np.concatenate(plan.gather(us), axis=0) if us else np.zeros((0, k), dtype=work)
    history = {"seconds": np.asarray(seconds)} if seconds else {}
    return U, s[:k].astype(np.float64), np.ascontiguousarray(w[:, :k]), history
