"""Early stopping on a held-out file: the scorer als and sgd call after each iteration."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from mfcli.data import Matrix

LOWER_IS_BETTER = ("rmse", "mae")


def transposed(matrix: Matrix) -> Matrix:
    """``matrix`` with rows and columns swapped, labels too (timestamps follow their entries)."""
    from mfcli.data import Matrix

    if not matrix.is_sparse:
        return Matrix.from_dense(
            np.ascontiguousarray(matrix.data.T), dtype=matrix.data.dtype,
            row_labels=matrix.col_labels, col_labels=matrix.row_labels,
        )  # fmt: skip
    rows = np.repeat(np.arange(matrix.shape[0], dtype=np.int64), np.diff(matrix.indptr))
    return Matrix.from_coo(
        matrix.indices, rows, matrix.data, (matrix.shape[1], matrix.shape[0]),
        dtype=matrix.data.dtype, duplicates="error", row_labels=matrix.col_labels,
        col_labels=matrix.row_labels, timestamps=matrix.timestamps,
    )  # fmt: skip


def scorer(
    path: str, train: Matrix, read_options, metric: str, *, transpose: bool = False
) -> tuple[Callable[..., dict[str, float]], bool]:
    """A ``validate(U, V, global_bias, row_bias, col_bias) -> {metric: value}`` for the solvers.

    sgd calls it with its fit so far instead (``validate(fit)``; clipped predictions).

    The held-out file is read once, with the training file's read options,
    and matched to the training labels; training items are excluded from the
    rankings. Returns the scorer and whether a higher value is better.
    """
    import dataclasses

    from mfcli.evaluate.metrics import evaluate, parse_metric
    from mfcli.evaluate.model import ScoringModel
    from mfcli.io import read_matrix

    name = str(parse_metric(metric))  # exit 2 on an unknown name, before any work
    held_out = read_matrix(path, dataclasses.replace(read_options, dtype="float64"))
    if transpose:
        held_out = transposed(held_out)

    def validate(U, V=None, global_bias=None, row_bias=None, col_bias=None) -> dict[str, float]:
        clip = None
        if V is None:  # sgd passes its fit so far
            fit = U
            U, V, global_bias = fit.U, fit.V, fit.global_bias
            row_bias, col_bias, clip = fit.row_bias, fit.col_bias, fit.clip
        model = ScoringModel(
            user_factors=U, item_factors=V, global_bias=global_bias, user_bias=row_bias,
            item_bias=col_bias, user_labels=train.row_labels, item_labels=train.col_labels,
            train=train if train.is_sparse else None, clip=clip,
        )  # fmt: skip
        report = evaluate(model, held_out, metrics=[name])
        return {name: float(report.values[name])}

    return validate, name.split("@")[0] not in LOWER_IS_BETTER
