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
                hint="the label file needs one line per "
                + ("row" if attr == "row_labels" else "column"),
            )
        setattr(matrix, attr, labels)


COMPANIONS = {
    "barcodes": "10x cell barcodes",
    "features": "10x features (gene id, name, type)",
    "genes": "10x genes (id, name)",
}
LABEL_SUFFIXES = {
    ".terms": "vocabulary (one term per line)",
    ".docs": "document names",
    ".classes": "document classes",
    ".vocab": "vocabulary (one term per line)",
}


def companion_kind(path: str) -> str | None:
    """What kind of label list ``path`` is, or None if it is not one."""
    import os

    from mfcli.io.source import strip_compression

    name = os.path.basename(strip_compression(str(path))).lower()
    stem, ext = os.path.splitext(name)
    if ext in (".tsv", ".txt") and stem in COMPANIONS:
        return COMPANIONS[stem]
    if ext in LABEL_SUFFIXES:
        return LABEL_SUFFIXES[ext]
    if stem.startswith("vocab") and ext in ("", ".txt"):
        return "vocabulary (one term per line)"
    return None


def find_companion_labels(path: str, shape: tuple[int, int]):
    """Row and column labels from files beside a Matrix Market file.

    10x directories (``features.tsv``/``genes.tsv`` rows, ``barcodes.tsv`` columns)
    and ``stem.terms``/``stem.docs`` pairs; a list is used only when its length
    matches the axis. Returns ``(row_labels, col_labels, sources)``.
    """
    import os

    from mfcli.io.source import strip_compression

    folder = os.path.dirname(os.path.abspath(path))
    stem = os.path.splitext(os.path.basename(strip_compression(path)))[0]
    candidates = []
    if stem == "matrix":
        for name, column in (("features.tsv", 0), ("genes.tsv", 0), ("barcodes.tsv", 0)):
            candidates.append((name, column))
    for ext in (".terms", ".docs", ".vocab"):
        candidates.append((stem + ext, 0))
    found = {}
    for name, column in candidates:
        for suffix in ("", ".gz", ".bz2"):
            full = os.path.join(folder, name + suffix)
            if os.path.isfile(full):
                try:
                    found[full] = read_label_file(full, column=column)
                except Exception:  # noqa: BLE001 - a bad companion is just ignored
                    continue
                break
    rows = cols = None
    sources = {}
    for full, labels in found.items():
        if (
            rows is None
            and len(labels) == shape[0]
            and not full.split("/")[-1].startswith("barcodes")
        ):
            rows, sources["row_labels"] = labels, full
        elif cols is None and len(labels) == shape[1]:
            cols, sources["col_labels"] = labels, full
    return rows, cols, sources
