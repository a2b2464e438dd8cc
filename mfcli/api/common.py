"""What every fit command does around its solver: labels, provenance, the atomic write."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from mfcli.io.results import Result


class MatrixSummary:
    """What a result file records of an input the client never held (row blocks on a
    cluster): shape, entries, labels, format. Stands in for a Matrix in
    :func:`labels_of` and :func:`provenance_of`."""

    is_sparse = True

    def __init__(self, shape, nnz: int, row_labels=None, col_labels=None, fmt=None) -> None:
        self.shape = (int(shape[0]), int(shape[1]))
        self.nnz = int(nnz)
        self.row_labels = row_labels
        self.col_labels = col_labels
        self.meta = {"format": fmt}


def train_of(matrix):
    """What a result stores as ``/train``: the sparse matrix this process read, or None
    (a dense input, or a :class:`MatrixSummary` of blocks that stayed on the workers)."""
    from mfcli.data import Matrix

    return matrix if isinstance(matrix, Matrix) and matrix.is_sparse else None


def labels_of(matrix) -> dict:
    out = {}
    if matrix.row_labels is not None:
        out["row"] = np.asarray(matrix.row_labels)
    if matrix.col_labels is not None:
        out["col"] = np.asarray(matrix.col_labels)
    return out


def provenance_of(cfg, matrix, threads: int, elapsed: float) -> dict:
    from mfcli.io.results import provenance
    from mfcli.runtime import peak_rss_bytes

    return provenance(
        cfg.input.path, matrix, seed=cfg.runtime.seed, threads=threads, elapsed_s=elapsed,
        peak_rss_bytes=peak_rss_bytes(),
    )  # fmt: skip


def write_atomic(result: Result, cfg) -> None:
    from mfcli.io.results import write_result

    write_result(result, cfg.output.path, force=cfg.output.force)


def reject_negative(matrix, path: str, message: str, hint: str) -> None:
    """Exit 65 on the first negative entry (row-major), named by its labels or 1-based position.

    ``message`` is formatted with ``value``, ``row`` and ``col``.
    """
    from mfcli.errors import InputDataError
    from mfcli.solvers.nmf import first_negative

    found = first_negative(matrix)
    if found is None:
        return
    row, col, value = found

    def name(labels, index: int) -> str:
        return repr(str(labels[index])) if labels is not None else str(index + 1)

    raise InputDataError(
        message.format(
            value=f"{value:g}",
            row=name(matrix.row_labels, row),
            col=name(matrix.col_labels, col),
        ),
        hint=hint,
    ).located(path)
