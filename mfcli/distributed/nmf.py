"""NMF by HALS (Frobenius, every entry fitted) on row blocks held by Dask workers.

:func:`hals` runs the iterations of :func:`mfcli.solvers.nmf.nmf` with
``solver="hals", loss="frobenius", mask="none"``: the same HALS sweeps, the
same extrapolation and restarts, the same stopping rule, history and
callback (the local loop :func:`mfcli.solvers.nmf._iterate` itself runs on
the client). Only where ``X`` is touched differs.

Where things are
----------------
The client holds the factors ``W`` (m, k) and ``H`` (n, k) (``X ~ W @ H.T``,
the local solver's convention), the Gram matrices and the extrapolation
state; it never holds ``X``. Each worker holds its row blocks ``X_b`` of
:class:`~mfcli.distributed.blocks.RowBlocks`, converted once per fit to the
kernels' types (CSR with values in the factor dtype and the banded
transposed copy, or a dense slab in the factor dtype).

One iteration (one update of ``W``, then of ``H``):

1. client: ``hth = H.T @ H`` (k x k, float64); ``H`` is broadcast to every
   worker holding a block, and the rows ``W_b`` of each block (the extrapolated start point)
   are sent to the worker holding the block.
2. worker, per block: ``A_b = X_b @ H``, the HALS sweeps of the rows of
   ``W_b`` with ``A_b`` and ``hth`` (the rows of ``W`` are independent, so a
   block's sweep is the local sweep of those rows), then ``P_b = X_b.T @ W_b``
   (n, k) with the new ``W_b``. Returns ``W_b`` and ``P_b``.
3. client: ``W`` from the ``W_b``; ``X.T @ W = sum_b P_b``, summed in float64
   in block order (so nothing depends on which task finishes first) and cast
   to the factor dtype; ``W.T @ W`` from ``W`` (the client has ``W``: the
   local chunked float64 Gram, nothing more to send); the HALS sweeps of ``H``
   (n x k is small); the objective from ``||X||^2`` (a block reduction done
   once), ``<X, W H.T> = sum(H * (X.T @ W))`` and the Gram matrices, as the
   local solver computes it.

Bytes per iteration (:func:`bytes_per_iteration`), ``s`` = itemsize of the
factor dtype, ``B`` = number of blocks (default: one per worker),
``n_workers`` = workers holding blocks:

* broadcast ``H``:                 ``n_workers * n * k * s``
* send the ``W_b``:                ``m * k * s``
* ``hth`` with each block's task:  ``B * k * k * 8``
* gather the new ``W_b``:          ``m * k * s``
* gather the ``P_b``:              ``B * n * k * s``

so ``s * k * (2 m + (n_workers + B) n) + 8 B k^2`` bytes; the matrix itself
never moves after it was scattered. (Task and future bookkeeping is not
counted.)

Agreement with the local solver
-------------------------------
For the same matrix, start factors and options, the iterates equal the
local ones up to rounding: ``X.T @ W`` is summed per block and then over the
blocks (the local kernel sums each column over all rows at once), dense
products run BLAS on blocks, ``||X||^2`` and the mean are summed per block.
With one sparse block, float64 or float32, the products are those of the
local kernels. Measured by the tests: W, H within 1e-5 relative (Frobenius
norm) in float64 and 1e-3 in float32, the same iteration count and
histories equal to 1e-9 relative (float64).

Init (:func:`initial_factors`): ``W0``/``H0`` (both), ``random`` (the local
draws: same generator, seed, order and scale, the mean summed per block), or
``nndsvd`` / ``nndsvda`` (``auto``) / ``nndsvdar`` with the local formulas on
the triplets of the distributed randomized SVD
(:func:`mfcli.distributed.svd.randomized_svd`, 7 power iterations). The
local nndsvd uses a converged Lanczos SVD of ``X``, so these starts (and
then the fits) agree with the local ones only where the top ``k`` singular
values are well separated; to reproduce a local fit exactly, pass its start
as ``W0``/``H0``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from mfcli.distributed.blocks import broadcast, place
from mfcli.errors import InputDataError, UsageError
from mfcli.kernels import nmf_hals, spmm
from mfcli.solvers import linalg
from mfcli.solvers.nmf import (
    ALPHA,
    REL_FIRST,
    Callback,
    NMFFit,
    _check_choice,
    _csr,
    _even_blocks,
    _gram_dot,
    _iterate,
    _Problem,
    _start_factor,
    checked_options,
)
from mfcli.solvers.svd import Input

INITS = ("auto", "nndsvd", "nndsvda", "nndsvdar", "random")


# ------------------------------------------------------------------ traffic model
def bytes_per_iteration(
    m: int, n: int, k: int, n_workers: int, itemsize: int, n_blocks: int | None = None
) -> int:
    """Bytes sent between the client and the workers in one HALS iteration.

    Parameters
    ----------
    m, n : matrix shape
    k : components
    n_workers : workers holding blocks (each receives ``H`` once; workers
        without blocks receive nothing)
    itemsize : bytes of one factor value (4 for float32, 8 for float64)
    n_blocks : row blocks (default ``n_workers``)

    Returns
    -------
    int : ``itemsize * k * (2 m + (n_workers + n_blocks) n) + 8 n_blocks k^2``
        (see the module docstring for the parts)
    """
    return sum(traffic_parts(m, n, k, n_workers, itemsize, n_blocks).values())


def traffic_parts(
    m: int, n: int, k: int, n_workers: int, itemsize: int, n_blocks: int | None = None
) -> dict[str, int]:
    """The parts of :func:`bytes_per_iteration`, by what is sent."""
    b = n_workers if n_blocks is None else n_blocks
    return {
        "broadcast H": n_workers * n * k * itemsize,
        "send W blocks": m * k * itemsize,
        "send hth": b * k * k * 8,
        "gather W blocks": m * k * itemsize,
        "gather X.T W blocks": b * n * k * itemsize,
    }


# ------------------------------------------------------------------ worker side
@dataclass
class _Part:
    """One row block prepared for a fit; lives on the worker holding the block."""

    rows: int
    n: int
    dtype: np.dtype
    csr: object | None  # mfcli.solvers.nmf._CSR
    xt: object | None  # spmm.Transposed
    dense: np.ndarray | None
    row_blocks: np.ndarray
    xsq: float  # sum(x**2) as the local solver computes it (float64)


def _values(block) -> np.ndarray:
    """The block's values as floats (integers as float64, like ``as_input``)."""
    values = block.data
    if values.dtype.kind != "f":
        values = values.astype(np.float64)
    return values


def _block_stats(block) -> dict:
    """Validation and sums of one block (float64), on its worker."""
    values = _values(block)
    flat = values.reshape(-1)
    out = {"sparse": block.is_sparse, "stored": int(flat.shape[0]), "bad": None, "neg": None}
    finite = np.isfinite(flat)
    if not finite.all():
        t = int(np.argmin(finite))
        out["bad"] = (*_where(block, t), float(flat[t]))
        return out
    neg = flat < 0
    if neg.any():
        if block.is_sparse:  # the first in row-major order: columns may be unsorted
            t = int(np.argmax(neg))
            row = int(np.searchsorted(block.indptr, t, side="right")) - 1
            lo, hi = int(block.indptr[row]), int(block.indptr[row + 1])
            cand = np.flatnonzero(neg[lo:hi])
            t = lo + int(cand[np.argmin(block.indices[lo:hi][cand])])
        else:
            t = int(np.argmax(neg))
        out["neg"] = (*_where(block, t), float(flat[t]))
        return out
    out["sum"] = float(np.sum(flat, dtype=np.float64))
    out["any"] = bool(np.any(flat))
    return out


def _where(block, t: int) -> tuple[int, int]:
    """(row, column), global and 0-based, of the ``t``-th stored value of a block."""
    if block.is_sparse:
        row = int(np.searchsorted(block.indptr, t, side="right")) - 1
        return block.start + row, int(block.indices[t])
    row, col = divmod(t, block.n_cols)
    return block.start + row, col


def _prepare(block, dtype: str) -> _Part:
    """Convert a block to the kernels' types; also its ``sum(x**2)`` as the local
    solver computes it (sparse: of the values in the factor dtype)."""
    dt = np.dtype(dtype)
    n = block.n_cols
    values = _values(block)
    if block.is_sparse:
        a = _csr(block.indptr, block.indices, values, (block.rows, n), dt)
        xt = spmm.transpose(*a.args, n, dt)
        xsq = linalg.sum_squares(a.data)
        return _Part(block.rows, n, dt, a, xt, None, _even_blocks(block.rows), xsq)
    xsq = linalg.sum_squares(np.ascontiguousarray(values).reshape(-1))
    dense = np.ascontiguousarray(values, dtype=dt)
    return _Part(block.rows, n, dt, None, None, dense, _even_blocks(block.rows), xsq)


def _xsq_of(part: _Part) -> float:
    return part.xsq


def _w_step(part: _Part, W_b, H, hth, l1, l2, cap) -> tuple[np.ndarray, np.ndarray]:
    """HALS sweeps of the block's rows of W; returns them and ``X_b.T @ W_b``."""
    W_b = np.array(W_b, dtype=part.dtype, order="C")  # own, writable copy
    H = np.ascontiguousarray(H, dtype=part.dtype)
    k = W_b.shape[1]
    A = np.empty((part.rows, k), dtype=part.dtype)
    P = np.empty((part.n, k), dtype=part.dtype)
    sweeps = np.empty(part.rows, dtype=np.int32)
    with linalg.blas_threads(1 if part.dense is None else None):
        if part.dense is None:
            spmm.csr_matmul(*part.csr.args, H, part.csr.blocks, A)
        else:
            with np.errstate(over="ignore", invalid="ignore"):
                A[:] = part.dense @ H
        nmf_hals.hals_rows(
            A, hth, l1, l2, cap, REL_FIRST, 0.0, nmf_hals.ROW_GROUP, part.row_blocks, W_b, sweeps
        )
        if part.dense is None:
            spmm.csr_t_matmul(part.xt, W_b, P)
        else:
            with np.errstate(over="ignore", invalid="ignore"):
                P[:] = part.dense.T @ W_b
    return W_b, P


# ------------------------------------------------------------------ client side
class _BlockHals(_Problem):
    """The local ``_HalsNone`` step with the products done on the blocks' workers."""

    extrapolates = True
    kl = False

    def __init__(self, client, blocks, parts, xsq, dt, k, pen, work, sparse, traffic):
        m, n = blocks.shape
        self.client, self.blocks, self.parts = client, blocks, parts
        self.xsq, self.dt, self.pen, self.sparse = xsq, dt, pen, sparse
        self.sweeps_h = np.empty(n, dtype=np.int32)
        self.blocks_h = _even_blocks(n)
        # As _HalsNone: rho = 1 + (products + Gram) / sweep, sweeps <= 1 + alpha * rho.
        self.cap_w = int(1 + ALPHA * (1 + (work + n * k * k) / (m * k * k)))
        self.cap_h = int(1 + ALPHA * (1 + (work + m * k * k) / (n * k * k)))
        self.traffic = traffic

    def step(self, W, H):
        client, blocks, pen = self.client, self.blocks, self.pen
        hth = linalg.gram(H)
        holders = sorted(set(blocks.workers))  # not the workers without blocks
        H_f = broadcast(client, H, holders)
        w_fs = _send_rows(client, blocks, W)
        futures = [
            client.submit(
                _w_step,
                part,
                w_f,
                H_f,
                hth,
                pen.l1_w,
                pen.l2_w,
                self.cap_w,
                workers=[owner],
                allow_other_workers=False,
                pure=False,
            )  # fmt: skip
            for part, w_f, owner in zip(self.parts, w_fs, blocks.workers, strict=True)
        ]
        results = client.gather(futures)
        del futures, w_fs, H_f
        ah64 = np.zeros(H.shape)
        for (start, stop), (W_b, P) in zip(blocks.bounds, results, strict=True):
            W[start:stop] = W_b
            ah64 += P  # float64, block order
        ah = ah64.astype(self.dt)
        if self.traffic is not None:
            n_workers = len(holders)
            self.traffic.append({
                "broadcast H": n_workers * H.nbytes,
                "send W blocks": sum(W[a:b].nbytes for a, b in blocks.bounds),
                "send hth": len(results) * hth.nbytes,
                "gather W blocks": sum(r[0].nbytes for r in results),
                "gather X.T W blocks": sum(r[1].nbytes for r in results),
            })  # fmt: skip
        del results
        wtw = linalg.gram(W)
        nmf_hals.hals_rows(
            ah, wtw, pen.l1_h, pen.l2_h, self.cap_h, REL_FIRST, 0.0,
            nmf_hals.ROW_GROUP, self.blocks_h, H, self.sweeps_h,
        )  # fmt: skip
        hth = linalg.gram(H)
        cross = nmf_hals.cross_sum(H, ah)
        return max(0.5 * (self.xsq - 2.0 * cross + _gram_dot(wtw, hth)), 0.0)


def _on_parts(client, blocks, parts, fn, *args) -> list:
    """``fn(part, *args)`` on the worker holding each prepared block, in block order."""
    return [
        client.submit(fn, part, *args, workers=[owner], allow_other_workers=False, pure=False)
        for part, owner in zip(parts, blocks.workers, strict=True)
    ]


def _send_rows(client, blocks, W) -> list:
    """Scatter each block's rows of ``W`` to the worker holding the block."""
    out: list = [None] * blocks.n_blocks
    by_owner: dict[str, list[int]] = {}
    for i, owner in enumerate(blocks.workers):
        by_owner.setdefault(owner, []).append(i)
    for owner, idx in by_owner.items():
        parts = [W[blocks.bounds[i][0] : blocks.bounds[i][1]] for i in idx]
        sent = place(client, parts, owner)
        for i, f in zip(idx, sent, strict=True):
            out[i] = f
    return out


def _gather_stats(client, blocks) -> dict:
    """Validate the blocks and sum what the init and the objective need (block order)."""
    from mfcli.distributed.blocks import run_on_blocks

    stats = client.gather(run_on_blocks(client, blocks, _block_stats))
    for s in stats:  # the first bad block in row order
        if s["bad"] is not None:
            row, col, value = s["bad"]
            raise InputDataError(
                f"the matrix holds a non-finite value ({value}) at row {row + 1}, column {col + 1}",
                hint="remove or replace NaN/inf entries before factorizing",
            )
        if s["neg"] is not None:
            row, col, value = s["neg"]
            raise InputDataError(
                f"the matrix holds a negative value ({value:g}) at row {row + 1}, column {col + 1}",
                hint="NMF needs non-negative data: shift or clip the values, or use svd",
            )
    if not any(s["any"] for s in stats):
        raise InputDataError(
            "the matrix's fitted entries are all zeros: there is nothing to factorize",
            hint="check the input values",
        )
    total = 0.0
    for s in stats:
        total += s["sum"]
    return {
        "sum": total,
        "stored": sum(s["stored"] for s in stats),
        "sparse": bool(stats[0]["sparse"]),
    }


def random_init(m: int, n: int, k: int, mean: float, seed: int, dtype):
    """The local ``random`` init (:func:`mfcli.solvers.nmf_init.initialize`): the
    same generator, draws and scale, from the mean of all ``m * n`` entries."""
    rng = np.random.default_rng(seed)
    scale = np.sqrt(mean / k)
    W = scale * np.abs(rng.standard_normal((m, k)))
    H = scale * np.abs(rng.standard_normal((n, k)))
    return np.ascontiguousarray(W, dtype=dtype), np.ascontiguousarray(H, dtype=dtype)


SVD_OVERSAMPLE = 10  # the distributed SVD of the nndsvd inits: sketch columns beyond k ...
SVD_POWER_ITERS = 7  # ... and power iterations (the local init runs Lanczos to convergence)


def initial_factors(client, blocks, k: int, init: str, *, seed: int, dtype, mean: float):
    """Starting ``W`` (m, k) and ``H`` (n, k) of :func:`hals` in ``dtype``.

    ``random``: the local draws (:func:`random_init`). ``nndsvd``, ``nndsvda``,
    ``nndsvdar``: the local formulas (:func:`mfcli.solvers.nmf_init.nndsvd_factors`,
    the same fill values and draws) on the triplets of the distributed randomized
    SVD (:func:`mfcli.distributed.svd.randomized_svd`, ``SVD_POWER_ITERS`` power
    iterations, ``SVD_OVERSAMPLE`` extra columns), where the local init uses a
    converged Lanczos SVD: the starts agree where the top ``k`` singular values
    are well separated and can differ in the trailing components otherwise.
    That SVD needs ``k < min(m, n)``. ``mean`` is the mean of all ``m * n`` entries.
    """
    dt = np.dtype(dtype)
    m, n = blocks.shape
    if init == "random":
        return random_init(m, n, k, mean, seed, dt)
    try:
        from mfcli.distributed.svd import randomized_svd
    except ImportError:
        raise UsageError(
            f"init {init!r} needs a distributed SVD, which this version does not have",
            hint="use init='random', or compute W0 and H0 (e.g. the local nndsvd) and pass them",
        ) from None
    from mfcli.solvers.nmf_init import fill_zeros, nndsvd_factors

    if k >= min(m, n):
        raise UsageError(
            f"init {init!r} with k={k} = min(m, n): the distributed SVD needs k < {min(m, n)}",
            hint="use init='random', or pass W0 and H0",
        )
    fit = randomized_svd(
        client, blocks, k, oversample=SVD_OVERSAMPLE, power_iters=SVD_POWER_ITERS,
        seed=seed, dtype=dt,
    )  # fmt: skip
    W, H = nndsvd_factors(fit.U, fit.s, fit.V)
    fill_zeros(W, H, init, mean, np.random.default_rng(seed))
    return np.ascontiguousarray(W, dtype=dt), np.ascontiguousarray(H, dtype=dt)


# ------------------------------------------------------------------ public
def hals(
    client,
    blocks,
    k: int,
    *,
    init: str = "auto",
    W0: np.ndarray | None = None,
    H0: np.ndarray | None = None,
    l1_w: float = 0.0,
    l1_h: float = 0.0,
    l2_w: float = 0.0,
    l2_h: float = 0.0,
    tol: float = 1e-4,
    max_iter: int = 200,
    seed: int = 0,
    dtype=np.float32,
    callback: Callback | None = None,
    traffic: list | None = None,
    resume: dict | None = None,
    checkpoint=None,
) -> NMFFit:
    """NMF ``X ~ W @ H.T`` by HALS of a matrix held as row blocks on a Dask cluster.

    The local ``nmf(X, k, solver="hals", loss="frobenius", mask="none", ...)``
    (see :mod:`mfcli.solvers.nmf` for the objective, the extrapolation and the
    stopping rule) with the products done where the blocks are; see the
    module docstring for what moves and how closely the results agree.

    Parameters
    ----------
    client : distributed.Client
    blocks : RowBlocks of the (m, n) non-negative matrix
        (:func:`mfcli.distributed.blocks.scatter_rows`)
    k : components, 1 <= k <= min(m, n)
    init : "auto" (= "nndsvda"), "nndsvd", "nndsvda", "nndsvdar" or "random"
        (see :func:`initial_factors`: the nndsvd starts come from a distributed
        randomized SVD, not the local Lanczos one); ignored with ``W0``/``H0``
    W0, H0 : (m, k) and (n, k) non-negative starting factors (both or neither)
    l1_w, l1_h, l2_w, l2_h, tol, max_iter, seed, dtype, callback : as in
        :func:`mfcli.solvers.nmf.nmf`
    traffic : a list that receives, per iteration, the bytes of the arrays
        sent and gathered, by part (the parts of :func:`traffic_parts`)

    Returns
    -------
    NMFFit (solver "hals", loss "frobenius", mask "none")

    Raises
    ------
    UsageError : bad option, ``k`` out of range, bad ``W0``/``H0``, an nndsvd
        init with ``k = min(m, n)``
    InputDataError : NaN/inf, negative values, all values zero
    NumericsError : the objective became NaN or inf
    """
    start = time.perf_counter()
    _check_choice("init", init, INITS)
    dt, k, max_iter, seed, tol, pen = checked_options(
        dtype, k, max_iter, seed, tol, (l1_w, l1_h, l2_w, l2_h), W0, H0
    )
    m, n = blocks.shape
    if m == 0 or n == 0:
        raise InputDataError(
            f"the matrix is empty ({m} x {n})", hint="the input needs rows and columns"
        )
    if k > min(m, n):
        raise UsageError(
            f"k={k} is larger than min(m, n)={min(m, n)} of the {m} x {n} matrix",
            hint=f"choose k <= {min(m, n)}",
        )
    if init == "auto":
        init = "nndsvda"
    stats = _gather_stats(client, blocks)
    sparse = stats["sparse"]
    mean = stats["sum"] / (m * n)  # local fitted_mean, mask none
    if W0 is not None:
        W = _start_factor("W0", W0, (m, k), dt)
        H = _start_factor("H0", H0, (n, k), dt)
    else:
        W, H = initial_factors(client, blocks, k, init, seed=seed, dtype=dt, mean=mean)
    from mfcli.distributed.blocks import run_on_blocks

    parts = run_on_blocks(client, blocks, _prepare, dt.name)  # stay on the blocks' workers
    xsq = 0.0
    for value in client.gather(_on_parts(client, blocks, parts, _xsq_of)):
        xsq += value  # block order
    work = (stats["stored"] if sparse else m * n) * k
    problem = _BlockHals(client, blocks, parts, xsq, dt, k, pen, work, sparse, traffic)
    try:
        with linalg.blas_threads(1 if sparse else None):
            if resume is not None:  # a checkpoint's start point (see solvers.nmf)
                W = np.array(resume["W"], dtype=W.dtype).reshape(W.shape)
                H = np.array(resume["H"], dtype=H.dtype).reshape(H.shape)
            fit = _iterate(
                problem, Input((m, n)), W, H, tol, max_iter, callback, start, resume, checkpoint
            )
    finally:
        problem.parts = None  # dropping the futures releases them (see distributed.als)
        parts.clear()
    fit.solver, fit.loss, fit.init, fit.mask = "hals", "frobenius", init, "none"
    return fit
