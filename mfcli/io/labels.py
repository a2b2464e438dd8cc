"""Label lists: companion files (10x barcodes/features, .terms/.docs) and --row/col-labels."""

from __future__ import annotations

import numpy as np

from mfcli.errors import InputDataError
from mfcli.io.source import read_bytes


def read_label_file(path: str, column: int = 0) -> np.ndarray:
    """One label per line (tab-separated files: ``column`` picks the field).

    Returns an int64 array when every label is an integer, else a unicode array.
    """
    text = read_bytes(path).decode("utf-8", errors="replace")
    lines = text.splitlines()
    if lines and lines[-1] == "":
        lines.pop()
    values = []
    for number, line in enumerate(lines, start=1):
        fields = line.split("\t")
        if column >= len(fields):
            raise InputDataError(f"label line has no field {column + 1}", path=path, line=number)
        values.append(fields[column].strip())
    return as_label_array(values)


def as_label_array(values) -> np.ndarray:
    """int64 if every value is an integer literal, else unicode."""
    arr = np.asarray(values)
    if arr.dtype.kind in "iu":
        return arr.astype(np.int64)
    if arr.dtype.kind == "S":
        arr = np.char.decode(arr, "utf-8", errors="replace")
    if arr.dtype.kind != "U":
        arr = arr.astype(str)
    try:
        ints = arr.astype(np.int64)
    except (ValueError, OverflowError):
        return arr
    if np.array_equal(ints.astype(str), np.char.strip(arr)):
        return ints
    return arr


def attach_label_files(matrix, options) -> None:
    """Apply --row-labels / --col-labels to a freshly read matrix."""
    for attr, path, n in (
        ("row_labels", options.row_labels, matrix.shape[0]),
        ("col_labels", options.col_labels, matrix.shape[1]),
    ):
        if not path:
            continue
        labels = read_label_file(path)
        if len(labels) != n:
            raise InputDataError(
                f"{len(labels)} labels for {n} {'rows' if attr == 'row_labels' else 'columns'}",
                path=path,
                hint="the label file needs one line per " + ("row" if attr == "row_labels" else "column"),
            )
        setattr(matrix, attr, labels)
