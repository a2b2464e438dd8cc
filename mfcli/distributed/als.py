"""ALS on a Dask cluster: row blocks on the workers, factors on the client.

The interactions go to the workers once, as row blocks of both orientations
(users x items for the user half-step, items x users for the item
half-step). Each half-step the client broadcasts the fixed factor matrix
(and, implicit, its Gram matrix); every block solves its rows where they
are, starting from their previous values, which stay on the worker, and the
client gathers the solved rows. The loop, the rotation to a diagonal Gram
(sent to the workers as its k x k matrix), losses, penalties, validation and
early stopping are those of :func:`mfcli.solvers.als.als` (``_iterate`` with
a :class:`DaskEngine`), and every row is solved by the same numba kernel
from the same inputs, so the factors equal a single-process fit (bit for bit
in practice; the tests ask 1e-5). The reported loss sums the stored entries
over the item blocks instead of the user rows: equal up to rounding.

Bytes moved per iteration, with ``W`` workers, ``m`` users, ``n`` items,
``k`` factors of ``s`` bytes (4 for float32)::

    user half-step:  W n k s  (V to every worker)  +  m k s  (the solved U rows back)
    item half-step:  W m k s  (U to every worker)  +  n k s  (the solved V rows back)
    total:           (W + 1) (m + n) k s   (+ biases, k x k matrices and task messages)

see :func:`bytes_per_iteration`; the first half-step of each side also
sends its starting rows once. Memory per worker: its share of the
interactions in both orientations (about ``2 nnz (s + 4) / W`` bytes with
int32 indices, plus row pointers), its blocks' rows, and the broadcast
factor matrix of the half-step.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numba
import numpy as np

from mfcli.distributed.blocks import RowBlocks, broadcast, place
from mfcli.distributed.cluster import worker_count
from mfcli.solvers import als as local


def bytes_per_iteration(m: int, n: int, k: int, workers: int, itemsize: int = 4) -> int:
    """The cost model of the module docstring: factor bytes sent and received per iteration."""
    return int((workers + 1) * (m + n) * k * itemsize)


@dataclass
class _Sides:
    """Prepared blocks of one orientation, on the workers."""

    futures: list
    bounds: list[tuple[int, int]]
    workers: list[str]
    counts: np.ndarray  # (rows,) float64 entries per row, on the client


# ------------------------------------------------------------ on workers
def _prepare(block, implicit, alpha, confidence, eps, dt_name, costs):
    """A worker-side ``_Side`` of one block: implicit weights (or ratings in dtype)."""
    from mfcli.errors import InputDataError

    dt = np.dtype(dt_name)
    indptr = np.asarray(block.indptr, dtype=np.int64)
    if implicit:
        negative = block.data < 0
        if negative.any():
            t = int(np.argmax(negative))
            row = int(np.searchsorted(indptr, t, side="right")) - 1 + block.start
            raise InputDataError(
                f"implicit feedback needs values >= 0, found {block.data[t]} at row "
                f"{row + 1}, column {int(block.indices[t]) + 1}",
                hint="confidence is 1 + alpha * r: use counts or weights >= 0, "
                "or fit explicit ratings",
            )
        indptr, indices, values = local._implicit_weights(
            indptr, block.indices, block.data, alpha, confidence, eps, dt
        )
    else:
        indices, values = block.indices, np.ascontiguousarray(block.data, dtype=dt)
    with numba.parallel_chunksize(1):
        return local._side(indptr, indices, values, *costs)


def _counts(side) -> np.ndarray:
    return side.counts


def _rating_sum(block) -> tuple[float, int]:
    return float(np.sum(block.data, dtype=np.float64)), int(block.data.shape[0])


def _implicit_block(side, rows, Y, g, diagonal, pb, it, what, with_loss):
    X = rows[0].copy()  # never change an object the worker's store holds
    with numba.parallel_chunksize(1):
        local.implicit_solve(pb, side, X, Y, g, diagonal, it, what)
        loss = local.loss_rows(pb, side, X, Y, None, None) if with_loss else 0.0
    return (X,), loss


def _explicit_block(side, rows, Y, yb, pb, it, what, with_loss):
    X, xb = rows[0].copy(), rows[1].copy()
    with numba.parallel_chunksize(1):
        local.explicit_solve(pb, side, X, Y, xb, yb, it, what)
        loss = local.loss_rows(pb, side, X, Y, xb, yb) if with_loss else 0.0
    return (X, xb), loss


def _rotated(rows, qt):
    """A block's rows in the basis the client rotated the factors to (the same kernel)."""
    X = rows[0].copy()
    local.kern.rotate_rows(X, qt)
    return (X, *rows[1:])


def _first(pair):
    return pair[0]


# --------------------------------------------------------------- engine
class DaskEngine:
    """Half-steps as block tasks on the workers (see :class:`mfcli.solvers.als.LocalEngine`).

    Each block's rows stay on its worker from one half-step to the next (CG
    starts from them); the client's copy, gathered after every half-step, is
    what it broadcasts as the fixed side. A rotation of the factors is sent as
    its k x k matrix and applied to the rows held on the workers too.
    """

    def __init__(self, client, pb, users: _Sides, items: _Sides) -> None:
        self.client = client
        self.pb = pb
        self.sides = {"users": users, "items": items}
        self.held = {"users": None, "items": None}  # futures of each block's (X_b[, xb_b])
        self.item_loss = 0.0
        self.bytes_sent = 0  # factor bytes, for the cost model
        self.workers = worker_count(client)

    def counts(self, side: str) -> np.ndarray:
        return self.sides[side].counts

    def _submit(self, fn, side: _Sides, per_block: list, *args) -> list:
        return [
            self.client.submit(
                fn, *a, *args, workers=[w], allow_other_workers=False, pure=False
            )  # fmt: skip
            for w, a in zip(side.workers, per_block, strict=True)
        ]

    def _rows(self, name: str, arrays: tuple) -> list:
        """Futures of each block's rows: on the workers already, or sent once."""
        if self.held[name] is None:
            side = self.sides[name]
            self.held[name] = []
            for (a, b), owner in zip(side.bounds, side.workers, strict=True):
                part = tuple(x[a:b] for x in arrays)
                self.bytes_sent += sum(p.nbytes for p in part)
                self.held[name].append(place(self.client, part, owner))
        return self.held[name]

    def _broadcast(self, Y):
        self.bytes_sent += Y.nbytes * self.workers
        return broadcast(self.client, Y)

    def _solve(self, fn, name: str, rows: list, *args) -> list:
        side = self.sides[name]
        futures = self._submit(fn, side, [(f, r) for f, r in zip(side.futures, rows, strict=True)],
                               *args)  # fmt: skip
        results = self.client.gather(futures, direct=True)
        self.held[name] = self._submit(_first, side, [(f,) for f in futures])
        return results

    def _rotate_held(self, qt) -> None:
        for name, held in self.held.items():
            if held is not None:
                self.held[name] = self._submit(_rotated, self.sides[name], [(f,) for f in held], qt)
                self.bytes_sent += qt.nbytes * len(held)

    def implicit_half(self, side_name: str, X, Y, g_other, it: int):
        side = self.sides[side_name]
        rows = self._rows(side_name, (X,))  # before a rotation: it applies to them
        g, diagonal, qt = local.rotation(self.pb, X.shape[0], X, Y, g_other)
        if qt is not None:
            self._rotate_held(qt)
            rows = self.held[side_name]
        y = self._broadcast(Y)
        results = self._solve(
            _implicit_block, side_name, rows, y, g, diagonal, self.pb, it, side_name,
            side_name == "items",
        )  # fmt: skip
        for (a, b), ((solved,), _) in zip(side.bounds, results, strict=True):
            X[a:b] = solved
            self.bytes_sent += solved.nbytes
        if side_name == "items":
            self.item_loss = float(np.sum([loss for _, loss in results]))
        return g

    def explicit_half(self, side_name: str, X, Y, xb, yb, it: int) -> None:
        side = self.sides[side_name]
        rows = self._rows(side_name, (X, xb))
        y, yb_f = self._broadcast(Y), self._broadcast(yb)
        results = self._solve(
            _explicit_block, side_name, rows, y, yb_f, self.pb, it, side_name,
            side_name == "items",
        )  # fmt: skip
        for (a, b), ((solved, bias), _) in zip(side.bounds, results, strict=True):
            X[a:b] = solved
            xb[a:b] = bias
            self.bytes_sent += solved.nbytes + bias.nbytes
        if side_name == "items":
            self.item_loss = float(np.sum([loss for _, loss in results]))

    def data_loss(self, U, V, ub, vb) -> float:
        return self.item_loss  # summed over the item blocks in the item half-step


# ------------------------------------------------------------------ public
def blocks_of(client, X, n_blocks: int | None = None) -> tuple[RowBlocks, RowBlocks]:
    """User and item row blocks of an in-memory matrix (CSR), sent to the workers once."""
    import scipy.sparse as sp

    from mfcli.distributed.blocks import scatter_rows

    users = scatter_rows(client, X, n_blocks)
    csc = sp.csr_matrix((X.data, X.indices, X.indptr), shape=X.shape).tocsc()
    csc.sort_indices()
    from mfcli.data import Matrix

    T = Matrix((X.shape[1], X.shape[0]), csc.data, csc.indptr, csc.indices)
    items = scatter_rows(client, T, n_blocks)
    return users, items


def als(
    client,
    users: RowBlocks,
    items: RowBlocks,
    k: int,
    *,
    implicit: bool = False,
    alpha: float = 1.0,
    confidence: str = "linear",
    eps: float = 1.0,
    solver: str = "cg",
    cg_steps: int = 3,
    reg: float = 0.1,
    reg_scaling: str = "count",
    biases: bool = True,
    iters: int = 15,
    seed: int = 0,
    dtype=np.float32,
    callback=None,
    validate=None,
    patience: int | None = None,
    higher_is_better: bool = True,
    offset: float | None = None,
    resume: dict | None = None,
    checkpoint=None,
) -> local.ALSFit:
    """:func:`mfcli.solvers.als.als` on a cluster; ``users``/``items`` are the two
    orientations of the interactions as row blocks (:func:`blocks_of`, or read by the
    workers from partitioned files). ``offset``: the mean rating (biased explicit),
    when the caller has it exactly as the local solver computes it; else it is
    summed over the blocks. Returns the same :class:`~mfcli.solvers.als.ALSFit`,
    plus a ``bytes_sent`` note for the cost model.
    """
    start = time.perf_counter()
    dt, k, iters, cg_steps, reg, alpha, eps, seed, patience, implicit, biased = (
        local.checked_options(
            k, iters, cg_steps, solver, confidence, reg_scaling, reg, alpha, eps, seed, dtype,
            implicit, biases, patience, validate,
        )
    )  # fmt: skip
    m, n = users.shape
    if users.nnz == 0:
        from mfcli.errors import InputDataError

        raise InputDataError("the matrix has no entries")
    costs = local._costs(implicit, solver, k, cg_steps, biased)
    prep = (implicit, alpha, confidence, eps, dt.name, costs)
    sides = {}
    for name, blocks in (("users", users), ("items", items)):
        futures = [
            client.submit(_prepare, f, *prep, workers=[w], allow_other_workers=False)
            for f, w in zip(blocks.futures, blocks.workers, strict=True)
        ]
        counts = np.concatenate(client.gather([client.submit(_counts, f) for f in futures]))
        sides[name] = _Sides(futures, blocks.bounds, blocks.workers, counts)
    if biased and offset is None:
        sums = client.gather([client.submit(_rating_sum, f) for f in users.futures])
        total = sum(s for s, _ in sums)
        offset = total / max(1, sum(c for _, c in sums))
    offset = float(offset) if biased else 0.0
    pb = local._Problem(implicit, solver, cg_steps, reg, reg_scaling == "count", biased, offset, dt)
    U, V, ub, vb = local.initial_factors(m, n, k, implicit, biased, seed, dt, resume)
    engine = DaskEngine(client, pb, sides["users"], sides["items"])
    notes: list[str] = []
    with local.linalg.blas_threads(1):
        U, V, ub, vb, it, best_iter, hist = local._iterate(
            pb, engine, U, V, ub, vb, iters, callback, validate, patience,
            higher_is_better, notes, start, resume, checkpoint,
        )  # fmt: skip
    # dropping the futures releases the prepared blocks on the workers (an explicit
    # cancel can race with the scheduler's own release and log an AssertionError)
    engine.held = {"users": None, "items": None}
    for side in sides.values():
        side.futures.clear()
    notes.append(
        f"ran on a Dask cluster of {worker_count(client)} workers, "
        f"{users.n_blocks} + {items.n_blocks} blocks; factor bytes moved: {engine.bytes_sent}"
    )
    history = {name: np.asarray(values, dtype=np.float64) for name, values in hist.items()}
    return local.ALSFit(
        U=U, V=V, global_bias=offset if biased else None, row_bias=ub if biased else None,
        col_bias=vb if biased else None, n_iter=it, best_iter=best_iter, history=history,
        notes=notes,
    )  # fmt: skip


def als_from_matrix(client, X, k: int, *, n_blocks: int | None = None, **options):
    """:func:`als` of a matrix this process holds (read from one file): the same
    arrays and mean rating as the local solver, sent to the workers as blocks."""
    from mfcli.data import Matrix

    notes: list[str] = []
    shape, indptr, indices, data = local._csr(X, "matrix", notes)
    csr = Matrix(shape, data, indptr, indices)
    users, items = blocks_of(client, csr, n_blocks)
    offset = float(np.mean(data, dtype=np.float64)) if data.shape[0] else 0.0
    fit = als(client, users, items, k, offset=offset, **options)
    fit.notes[:0] = notes
    return fit
