"""Readers and writers. ``read_matrix`` is the one entry point for inputs."""

from __future__ import annotations

from dataclasses import replace

from mfcli.io.options import FORMATS, ReadOptions

__all__ = ["read_matrix", "ReadOptions", "FORMATS"]


def read_matrix(path: str, options: ReadOptions | None = None):
    """Read any supported matrix file into a :class:`mfcli.data.Matrix`.

    ``path`` may be ``-`` (stdin, text formats only), ``file.h5:/object``, or a
    directory or glob of CSV / Matrix Market parts (:mod:`mfcli.io.parts`).
    Errors are :class:`mfcli.errors.MfcliError` subclasses carrying the path.
    """
    from mfcli.errors import MfcliError, UsageError
    from mfcli.io import detect, labels
    from mfcli.io.source import check_readable, display_name

    options = options or ReadOptions()
    path = str(path)
    path, obj = detect.split_object_path(path)
    if obj is not None:
        if options.dataset and options.dataset != obj:
            raise UsageError(f"two object paths given: {obj!r} and --dataset {options.dataset!r}")
        options = replace(options, dataset=obj)
    from mfcli.io.parts import is_partitioned

    if obj is None and is_partitioned(path):
        return _read_partitioned(path, options)
    check_readable(path)
    fmt = options.format
    if fmt not in FORMATS and fmt not in ("mat", "rdata"):
        raise UsageError(f"unknown format {fmt!r}", hint="use one of " + ", ".join(FORMATS))
    try:
        if fmt == "auto":
            fmt = detect.detect_format(path)
        reader = _reader(fmt, path)
        matrix = reader(path, options)
        if fmt == "mtx" and path != "-":
            _attach_companions(matrix, path)
        labels.attach_label_files(matrix, options)
    except MfcliError as exc:
        raise exc.located(display_name(path)) from None
    except MemoryError:
        raise _memory_error(path) from None
    matrix.meta.setdefault("format", fmt)
    matrix.meta.setdefault("path", display_name(path))
    return matrix


def _read_partitioned(spec: str, options: ReadOptions):
    """A directory or glob of CSV / Matrix Market parts (see mfcli.io.parts)."""
    from mfcli.errors import MfcliError
    from mfcli.io import labels
    from mfcli.io.parts import read_partitioned

    try:
        matrix = read_partitioned(spec, options)
        labels.attach_label_files(matrix, options)
    except MfcliError as exc:
        raise exc.located(spec) from None
    except MemoryError:
        raise _memory_error(spec) from None
    return matrix


def _reader(fmt: str, path: str):
    if fmt == "mtx":
        from mfcli.io.mtx import read
    elif fmt == "csv":
        from mfcli.io.csv import read
    elif fmt == "h5":
        from mfcli.io.hdf5 import read
    elif fmt == "mat":
        from mfcli.io.matlab import read
    elif fmt == "rdata":
        from mfcli.io.rdata import read
    elif fmt == "auto":  # stdin without a suffix: sniff the bytes
        from mfcli.io.stdin import read
    else:
        from mfcli.errors import UsageError

        raise UsageError(f"unknown format {fmt!r}")
    return read


def _attach_companions(matrix, path: str) -> None:
    """Labels from 10x or .terms/.docs files beside a Matrix Market file."""
    from mfcli.io.labels import find_companion_labels

    rows, cols, sources = find_companion_labels(path, matrix.shape)
    if rows is not None and matrix.row_labels is None:
        matrix.row_labels = rows
    if cols is not None and matrix.col_labels is None:
        matrix.col_labels = cols
    if sources:
        matrix.meta["label_files"] = sources


def _memory_error(path):
    from mfcli.errors import InputDataError

    return InputDataError("not enough memory to read this file", path=path)
