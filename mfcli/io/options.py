"""Options shared by all readers (the CLI's input flags)."""

from __future__ import annotations

from dataclasses import dataclass

FORMATS = ("auto", "mtx", "csv", "h5")


@dataclass(frozen=True)
class ReadOptions:
    """How to read one input.

    format : auto | mtx | csv | h5 (auto: by suffix, then by sniffing)
    dataset : HDF5 object path (also given as ``file.h5:/path``)
    sep : CSV separator; None sniffs among , \\t ; | :: and whitespace
    header : True / False / None (auto-detect)
    columns : CSV columns "user,item,rating[,time]" by name or 0-based index
    duplicates : sum | last | error | None (the format's default)
    dtype : "float32" | "float64" for values
    row_labels, col_labels : label files (one label per line)
    allow_complex : read complex Matrix Market values as complex128 (``info``
        describes such files; solvers refuse them)
    """

    format: str = "auto"
    dataset: str | None = None
    sep: str | None = None
    header: bool | None = None
    columns: str | None = None
    duplicates: str | None = None
    dtype: str = "float64"
    row_labels: str | None = None
    col_labels: str | None = None
    allow_complex: bool = False
