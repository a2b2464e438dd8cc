"""Row blocks of a matrix living on Dask workers.

A :class:`Block` is rows ``[start, stop)`` of the matrix: CSR arrays (row
pointers local to the block, column indices global) or a dense slab. A
:class:`RowBlocks` is the list of futures of all blocks, in row order, each
pinned to one worker, so every task on a block runs where the block is and
only factors travel. Blocks are sent (or built from partitioned files) once
per fit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Block:
    start: int
    stop: int
    n_cols: int
    data: np.ndarray  # (nnz,) for CSR, (rows, n_cols) when dense
    indptr: np.ndarray | None = None  # (rows + 1,), from 0
    indices: np.ndarray | None = None  # (nnz,) global column indices

    @property
    def rows(self) -> int:
        return self.stop - self.start

    @property
    def is_sparse(self) -> bool:
        return self.indptr is not None

    @property
    def nnz(self) -> int:
        return int(self.data.shape[0]) if self.is_sparse else int(self.data.size)

    @property
    def nbytes(self) -> int:
        arrays = (self.data, self.indptr, self.indices)
        return int(sum(a.nbytes for a in arrays if a is not None))


@dataclass
class RowBlocks:
    """Futures of the blocks of an (m, n) matrix, in row order, and where they live."""

    futures: list  # distributed.Future of Block
    bounds: list[tuple[int, int]]
    shape: tuple[int, int]
    nnz: int
    workers: list[str]  # the worker address holding each block

    @property
    def n_blocks(self) -> int:
        return len(self.futures)


def row_bounds(indptr: np.ndarray | None, m: int, n_blocks: int) -> list[tuple[int, int]]:
    """Split rows ``0..m`` into ``n_blocks`` contiguous ranges of about equal entries
    (equal rows when dense); never an empty block unless ``m < n_blocks``."""
    n_blocks = max(1, min(n_blocks, m)) if m else 1
    if indptr is None:
        edges = np.linspace(0, m, n_blocks + 1).round().astype(np.int64)
    else:
        # balance entries plus rows, so blocks of empty rows still split
        weight = np.asarray(indptr, dtype=np.float64) + np.arange(m + 1)
        targets = np.linspace(0, weight[-1], n_blocks + 1)
        edges = np.searchsorted(weight, targets, side="left").astype(np.int64)
        edges[0], edges[-1] = 0, m
        edges = np.maximum.accumulate(edges)
    bounds = [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:], strict=True)]
    return [b for b in bounds if b[1] > b[0]] or [(0, m)]


def slice_block(matrix, start: int, stop: int) -> Block:
    """Rows ``[start, stop)`` of a :class:`mfcli.data.Matrix` as a Block (copies)."""
    n = matrix.shape[1]
    if not matrix.is_sparse:
        return Block(start, stop, n, np.ascontiguousarray(matrix.data[start:stop]))
    lo, hi = int(matrix.indptr[start]), int(matrix.indptr[stop])
    indptr = np.asarray(matrix.indptr[start : stop + 1], dtype=np.int64) - lo
    return Block(
        start, stop, n,
        np.ascontiguousarray(matrix.data[lo:hi]),
        indptr,
        np.ascontiguousarray(matrix.indices[lo:hi]),
    )  # fmt: skip


def scatter_rows(client, matrix, n_blocks: int | None = None) -> RowBlocks:
    """Send row blocks of an in-memory matrix to the workers, round-robin, once.

    ``n_blocks`` defaults to one block per worker.
    """
    from mfcli.distributed.cluster import workers_of

    workers = workers_of(client)
    n_blocks = n_blocks or len(workers)
    bounds = row_bounds(matrix.indptr if matrix.is_sparse else None, matrix.shape[0], n_blocks)
    futures, owners = [], []
    for i, (start, stop) in enumerate(bounds):
        owner = workers[i % len(workers)]
        block = slice_block(matrix, start, stop)
        futures.append(place(client, block, owner))
        owners.append(owner)
    return RowBlocks(futures, bounds, tuple(matrix.shape), int(matrix.nnz), owners)


def run_on_blocks(client, blocks: RowBlocks, fn, *args, pure: bool = False, **kwargs) -> list:
    """``fn(block, *args, **kwargs)`` on every block, on the worker holding it.

    Arguments that are futures (a broadcast factor matrix) are passed as they
    are. Returns the futures of the results, in block order.
    """
    return [
        client.submit(
            fn, future, *args, workers=[owner], allow_other_workers=False, pure=pure, **kwargs
        )  # fmt: skip
        for future, owner in zip(blocks.futures, blocks.workers, strict=True)
    ]


def broadcast(client, value, workers: list[str] | None = None):
    """Send ``value`` (a factor matrix) to every worker, or to ``workers``; its future.

    Never hashed: an equal array sent earlier must not stand in for it (workers
    may hold a changed copy under the old key).
    """
    return client.scatter(value, workers=workers, broadcast=True, direct=True, hash=False)


def place(client, value, worker: str):
    """Send ``value`` to one worker (the one holding the block it belongs to); its future."""
    return client.scatter(value, workers=[worker], direct=True, hash=False)
