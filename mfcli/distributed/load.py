"""Partitioned inputs read by the workers, straight into row blocks.

:func:`load_row_blocks` builds the same blocks as cutting the matrix of
:func:`mfcli.io.parts.read_partitioned` (same global ids, same duplicates
policy, same bounds as :func:`mfcli.distributed.blocks.row_bounds`), but the
client never holds the interaction matrix:

1. the client lists the parts (the workers must see the same paths: a shared
   file system) and, for CSV, one task sniffs the layout on the first part
   with data;
2. one task per part reads it on any worker and keeps its triplets there;
   the client gathers only each part's distinct ids (and its per-id entry
   counts), builds the global id -> index maps (the sorted union, exactly as
   ``read_partitioned``) and sends each part the map of its own ids;
3. the workers turn their parts into global (row, col, value) triplets and cut
   them by block range; each block task takes the pieces of every part for its
   rows (in part order, so ``last`` keeps the last entry in file order) and
   builds its CSR on the worker it is pinned to;
4. the bounds are first taken from the entry counts before de-duplication;
   the blocks report their rows' de-duplicated degrees (one number per row)
   and, where the exact bounds differ, are re-cut on the workers.

With ``columns=True`` the transpose is built the same way (column blocks for
the item side of ALS: CSR of rows ``[start, stop)`` of ``A.T``, global row
indices). Timestamps are not carried into blocks; dense CSV parts are refused.
"""

from __future__ import annotations

import operator
import os

import numpy as np

from mfcli.distributed.blocks import Block, RowBlocks, row_bounds
from mfcli.distributed.cluster import workers_of
from mfcli.errors import InputDataError, MfcliError
from mfcli.io import parts as P
from mfcli.io.options import ReadOptions


# ---------------------------------------------------------- worker tasks
def _read_csv(path, options, plan, force=(False, False)):
    return P.read_csv_part(path, options, plan, force_text=force)


def _summary(part, want_cols: bool):
    """What the client needs of a part: its distinct ids and per-id entry counts."""
    if part is None:
        return None
    out = {
        "n": part.n,
        "row_ids": part.row_ids,
        "col_ids": part.col_ids,
        "row_kind": part.row_kind,
        "col_kind": part.col_kind,
        "time_kind": part.time_kind,
        "has_values": part.values is not None,
        "shape": part.shape,
    }
    n_r = len(part.row_ids) if part.row_ids is not None else part.shape[0]
    out["row_counts"] = np.bincount(part.rows, minlength=n_r)
    if want_cols:
        n_c = len(part.col_ids) if part.col_ids is not None else part.shape[1]
        out["col_counts"] = np.bincount(part.cols, minlength=n_c)
    return out


def _global(part, row_map, col_map, has_values: bool):
    """(rows, cols, values) with global indices, in file order (times dropped)."""
    rows = part.rows if row_map is None else row_map[part.rows]
    cols = part.cols if col_map is None else col_map[part.cols]
    values = part.values
    if values is None and has_values:
        values = np.ones(part.n)
    return np.asarray(rows, np.int64), np.asarray(cols, np.int64), values


def _cut(triplets, edges, axis: int):
    """The part's entries of each block range ``edges[j]..edges[j+1]``, file order kept."""
    rows, cols, values = triplets
    key = rows if axis == 0 else cols
    which = np.searchsorted(edges, key, side="right") - 1
    order = np.argsort(which, kind="stable")
    bounds = np.searchsorted(which[order], np.arange(len(edges)))
    out = []
    for j in range(len(edges) - 1):
        sel = order[bounds[j] : bounds[j + 1]]
        out.append((rows[sel], cols[sel], None if values is None else values[sel]))
    return out


def _build(start, stop, n_other, axis, dtype, policy, *pieces) -> Block:
    """The block of rows (axis 0) or columns (axis 1, transposed) ``[start, stop)``."""
    from mfcli.data import Matrix

    rows = np.concatenate([p[0] for p in pieces]) if pieces else np.zeros(0, np.int64)
    cols = np.concatenate([p[1] for p in pieces]) if pieces else np.zeros(0, np.int64)
    values = None
    if pieces and pieces[0][2] is not None:
        values = np.concatenate([p[2] for p in pieces])
    major, minor = (rows, cols) if axis == 0 else (cols, rows)
    m = Matrix.from_coo(
        major - start, minor, values, (stop - start, n_other), duplicates=policy, dtype=dtype,
        copy=False,
    )  # fmt: skip
    return Block(start, stop, n_other, m.data, m.indptr.astype(np.int64), m.indices)


def _degrees(block: Block) -> np.ndarray:
    return np.diff(block.indptr)


def _recut(start, stop, *blocks: Block) -> Block:
    """Rows ``[start, stop)`` from the old blocks that overlap them."""
    data, indices, degrees = [], [], []
    for b in blocks:
        lo, hi = max(start, b.start), min(stop, b.stop)
        if hi <= lo:
            continue
        a, z = int(b.indptr[lo - b.start]), int(b.indptr[hi - b.start])
        data.append(b.data[a:z])
        indices.append(b.indices[a:z])
        degrees.append(np.diff(b.indptr[lo - b.start : hi - b.start + 1]))
    indptr = np.concatenate(([0], np.cumsum(np.concatenate(degrees)))).astype(np.int64)
    n = blocks[0].n_cols
    return Block(start, stop, n, np.concatenate(data), indptr, np.concatenate(indices))


# ---------------------------------------------------------------- client
def load_row_blocks(
    client, spec, options: ReadOptions | None = None, n_blocks: int | None = None,
    *, columns: bool = False,
):  # fmt: skip
    """Row blocks (and optionally column blocks) of a partitioned input, built on the workers.

    Parameters
    ----------
    client : distributed.Client
    spec : a directory or glob of CSV / Matrix Market parts (see mfcli.io.parts)
    options : how to read the parts (``duplicates``, ``dtype``, CSV flags)
    n_blocks : blocks per side, default one per worker
    columns : also build column blocks (blocks of the transpose)

    Returns
    -------
    (rows, cols, row_labels, col_labels)
        ``rows`` RowBlocks of the (m, n) matrix; ``cols`` RowBlocks of its
        (n, m) transpose or None; labels as ``read_partitioned`` gives them
        (None for Matrix Market parts).
    """
    options = options or ReadOptions()
    spec = os.fspath(spec)
    try:
        return _load(client, spec, options, n_blocks, columns)
    except MfcliError as exc:
        raise exc.located(spec) from None


def _load(client, spec, options, n_blocks, columns):
    paths = [os.path.abspath(p) for p in P.list_parts(spec)]
    fmt = P._formats(paths, options.format)
    workers = workers_of(client)
    n_blocks = n_blocks or len(workers)

    if fmt == "csv":
        first, plan = client.gather(client.submit(P.csv_plan, paths, options, pure=False))
        if plan is None:
            raise InputDataError("no data lines in any part (the parts are empty or all comments)")
        if plan.layout == "dense":
            raise InputDataError(
                "dense CSV parts cannot be loaded as blocks",
                hint="read them with read_matrix and scatter the rows",
            )
        paths = paths[first:]
        reads = [client.submit(_read_csv, p, options, plan, pure=False) for p in paths]
    else:
        reads = [client.submit(P.read_mtx_part, p, options, pure=False) for p in paths]
    infos = client.gather([client.submit(_summary, r, columns) for r in reads])
    if fmt == "csv":
        force = (
            any(s and s["row_kind"] == "str" for s in infos),
            any(s and s["col_kind"] == "str" for s in infos),
        )
        for i, s in enumerate(infos):
            if s and (
                (force[0] and s["row_kind"] == "int") or (force[1] and s["col_kind"] == "int")
            ):
                reads[i] = client.submit(_read_csv, paths[i], options, plan, force, pure=False)
                infos[i] = client.gather(client.submit(_summary, reads[i], columns))
    kept = [i for i, s in enumerate(infos) if s is not None]
    reads, infos = [reads[i] for i in kept], [infos[i] for i in kept]
    _check_times(infos, [paths[i] for i in kept])

    has_values = any(s["has_values"] for s in infos)
    if fmt == "csv":
        row_labels = P.union_ids([s["row_ids"] for s in infos])
        col_labels = P.union_ids([s["col_ids"] for s in infos])
        row_maps = [P.id_map(s["row_ids"], row_labels) for s in infos]
        col_maps = [P.id_map(s["col_ids"], col_labels) for s in infos]
        shape = (len(row_labels), len(col_labels))
    else:
        row_labels = col_labels = None
        row_maps = col_maps = [None] * len(infos)
        shape = (max(s["shape"][0] for s in infos), max(s["shape"][1] for s in infos))
    policy = P.default_policy(fmt, has_values, options)
    triplets = [
        client.submit(_global, r, rm, cm, has_values, pure=False)
        for r, rm, cm in zip(reads, row_maps, col_maps, strict=True)
    ]
    del reads  # the workers may free the parts once the triplets exist

    sides = [0, 1] if columns else [0]
    out = []
    for axis in sides:
        counts = np.zeros(shape[axis], np.int64)
        key = "row" if axis == 0 else "col"
        maps = row_maps if axis == 0 else col_maps
        for s, mp in zip(infos, maps, strict=True):
            c = s[f"{key}_counts"]
            if mp is None:
                counts[: len(c)] += c
            else:
                np.add.at(counts, mp, c)
        out.append(
            _blocks(client, triplets, counts, shape, axis, n_blocks, workers, options, policy)
        )
    return out[0], (out[1] if columns else None), row_labels, col_labels


def _check_times(infos, paths) -> None:
    from mfcli.io import textscan as ts

    kinds = {s["time_kind"] for s in infos if s["time_kind"] is not None}
    if ts.DATE in kinds and len(kinds) > 1:
        bad = next(p for s, p in zip(infos, paths, strict=True) if s["time_kind"] != ts.DATE)
        raise InputDataError(
            "the time column holds dates in some parts and numbers in others",
            path=bad,
            hint="times must be all numbers or all ISO dates",
        )


def _blocks(client, triplets, counts, shape, axis, n_blocks, workers, options, policy):
    m, n_other = shape[axis], shape[1 - axis]
    raw = np.concatenate(([0], np.cumsum(counts)))
    bounds = row_bounds(raw, m, n_blocks)
    edges = np.array([b[0] for b in bounds] + [bounds[-1][1]], dtype=np.int64)
    cuts = [client.submit(_cut, t, edges, axis) for t in triplets]
    dtype = np.dtype(options.dtype)
    owners = [workers[i % len(workers)] for i in range(len(bounds))]
    futures = []
    for j, (start, stop) in enumerate(bounds):
        pieces = [client.submit(operator.getitem, c, j) for c in cuts]
        futures.append(
            client.submit(
                _build,
                start,
                stop,
                n_other,
                axis,
                dtype,
                policy,
                *pieces,
                workers=[owners[j]],
                allow_other_workers=False,
                pure=False,
            )  # fmt: skip
        )
    del cuts
    degrees = client.gather(
        [
            client.submit(_degrees, f, workers=[o], allow_other_workers=False)
            for f, o in zip(futures, owners, strict=True)
        ]
    )
    exact = np.concatenate(([0], np.cumsum(np.concatenate(degrees))))
    nnz = int(exact[-1])
    new_bounds = row_bounds(exact, m, n_blocks)
    if new_bounds != bounds:
        old = futures
        owners = [workers[i % len(workers)] for i in range(len(new_bounds))]
        futures = []
        for j, (start, stop) in enumerate(new_bounds):
            overlap = [f for f, (a, b) in zip(old, bounds, strict=True) if a < stop and b > start]
            futures.append(
                client.submit(
                    _recut,
                    start,
                    stop,
                    *overlap,
                    workers=[owners[j]],
                    allow_other_workers=False,
                    pure=False,
                )  # fmt: skip
            )
        # errors surface here; only one number per block travels
        client.gather(
            [
                client.submit(_nnz, f, workers=[o], allow_other_workers=False)
                for f, o in zip(futures, owners, strict=True)
            ]
        )
        bounds = new_bounds
    shape_out = (m, n_other)
    return RowBlocks(futures, bounds, shape_out, nnz, owners)


def _nnz(block: Block) -> int:
    return block.nnz
