"""Matrix writers: Matrix Market, triplet and dense CSV, HDF5 dense and CSR.

Every writer

- refuses to replace an existing file unless ``force`` (``OutputError``, exit 73,
  hint "use --force");
- writes a temporary file in the target directory and renames it into place,
  removing it on any exception (SIGINT/SIGTERM included), so a file is either
  complete or absent;
- compresses text output with gzip (``.gz``) or bzip2 (``.bz2``) by suffix,
  reproducibly (no name or time in the gzip header);
- formats text in large chunks with a compiled formatter: integers and
  short decimals (ratings such as ``3.5``) are written digit by digit, other
  floats with their shortest round-trip representation, so every value reads
  back exactly.

Identical inputs give byte-identical files.
"""

from __future__ import annotations

import bz2
import gzip
import os
from collections.abc import Sequence
from contextlib import contextmanager

import numpy as np
from numba import njit

from mfcli.data import Matrix
from mfcli.errors import UsageError
from mfcli.io.atomic import atomic_path, check_output

__all__ = [
    "OUTPUT_FORMATS",
    "output_format",
    "check_output",
    "atomic_path",
    "write_matrix",
    "write_mtx",
    "write_triplets_csv",
    "write_dense_csv",
    "write_h5_dense",
    "write_h5_csr",
    "write_labels",
]

OUTPUT_FORMATS = ("csv", "tsv", "mtx", "h5")
SUFFIX_FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".mtx": "mtx",
    ".mm": "mtx",
    ".h5": "h5",
    ".hdf5": "h5",
}
COMPRESSED = (".gz", ".bz2")
CHUNK_ROWS = 1 << 20
MAX_DECIMALS = 8
BANNER_COMMENT = "% written by mfcli"

# ------------------------------------------------------------------ paths


def _compression(path: str) -> str | None:
    lower = path.lower()
    for ext in COMPRESSED:
        if lower.endswith(ext):
            return ext
    return None


def output_format(path: str, format: str = "auto") -> str:
    """csv | tsv | mtx | h5 for ``path``: ``format`` if given, else by suffix.

    Raises
    ------
    UsageError
        Unknown ``format``, a suffix that names no format, or a compressed HDF5 name.
    """
    path = os.fspath(path)
    if format not in ("auto", *OUTPUT_FORMATS):
        raise UsageError(
            f"invalid output format {format!r}", hint="use one of auto|" + "|".join(OUTPUT_FORMATS)
        )
    compressed = _compression(path)
    if format == "auto":
        stem = path[: -len(compressed)] if compressed else path
        format = SUFFIX_FORMATS.get(os.path.splitext(stem)[1].lower())
        if format is None:
            raise UsageError(
                f"cannot tell the output format from the name {os.path.basename(path)!r}",
                hint="end it in .csv, .tsv, .mtx or .h5 (.gz, .bz2 compress), or give --format",
            )
    if format == "h5" and compressed:
        raise UsageError(
            f"HDF5 output cannot be {compressed} compressed: {os.path.basename(path)}",
            hint="drop the compression suffix",
        )
    return format


@contextmanager
def _text_output(path: str, force: bool):
    """A binary stream for text output, compressed by suffix, written atomically."""
    compression = _compression(path)
    with atomic_path(path, force=force) as tmp, open(tmp, "wb", buffering=1 << 20) as raw:
        if compression == ".gz":
            # No file name and mtime 0 in the header: same input, same bytes.
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=6, mtime=0) as fh:
                yield fh
        elif compression == ".bz2":
            with bz2.BZ2File(raw, "wb", compresslevel=9) as fh:
                yield fh
        else:
            yield raw


# ------------------------------------------------------------- formatting

_POW10 = 10 ** np.arange(19, dtype=np.int64)


@njit(cache=True)
def _put_uint(out, pos, v):
    """Decimal digits of ``v >= 0`` at ``out[pos:]``; returns the new position."""
    n = 1
    t = v
    while t >= 10:
        t //= 10
        n += 1
    end = pos + n
    for k in range(n):
        out[end - 1 - k] = 48 + v % 10
        v //= 10
    return end


@njit(cache=True)
def _put_fixed(out, pos, v, decimals, pow10):
    """``v / 10**decimals`` with trailing zeros (and a bare point) dropped."""
    negative = v < 0
    a = -v if negative else v
    if decimals == 0:
        if negative:
            out[pos] = 45
            pos += 1
        return _put_uint(out, pos, a)
    whole = a // pow10[decimals]
    frac = a % pow10[decimals]
    d = decimals
    while d > 0 and frac % 10 == 0:
        frac //= 10
        d -= 1
    if negative and (whole != 0 or frac != 0):
        out[pos] = 45
        pos += 1
    pos = _put_uint(out, pos, whole)
    if d > 0:
        out[pos] = 46
        pos += 1
        for k in range(d):
            out[pos + d - 1 - k] = 48 + frac % 10
            frac //= 10
        pos += d
    return pos


@njit(cache=True)
def _format_table(out, n, kinds, slots, ints, decimals, tidx, tbase, toffs, tblob, sep, pow10):
    """Format ``n`` rows of mixed columns as delimited text into ``out``.

    Column ``c`` is kind 0 (fixed-point integer ``ints[slots[c]]`` with
    ``decimals[slots[c]]``) or kind 1 (bytes ``tblob[toffs[g]:toffs[g + 1]]``
    with ``g = tbase[s] + tidx[s, r]``, ``s = slots[c]``: labels or
    pre-formatted floats). Returns the number of bytes written.
    """
    pos = 0
    n_cols = kinds.shape[0]
    for r in range(n):
        for c in range(n_cols):
            if c > 0:
                for b in range(sep.shape[0]):
                    out[pos] = sep[b]
                    pos += 1
            s = slots[c]
            if kinds[c] == 0:
                pos = _put_fixed(out, pos, ints[s, r], decimals[s], pow10)
            else:
                g = tbase[s] + tidx[s, r]
                for q in range(toffs[g], toffs[g + 1]):
                    out[pos] = tblob[q]
                    pos += 1
        out[pos] = 10
        pos += 1
    return pos


class _Column:
    """One output column: ``piece(a, b)`` gives entries ``a:b`` in kernel form."""

    def piece(self, a: int, b: int):
        raise NotImplementedError


class _Numbers(_Column):
    """Numbers: exact fixed-point when every value allows it, else shortest repr."""

    def __init__(self, values: np.ndarray) -> None:
        self.values = values
        self.decimals = _fixed_decimals(values)

    def piece(self, a, b):
        chunk = self.values[a:b]
        if self.decimals is None:
            return ("text",) + _repr_blob(chunk)
        if chunk.dtype.kind in "iub":
            return ("int", chunk.astype(np.int64, copy=False), 0)
        scaled = chunk * chunk.dtype.type(10**self.decimals) if self.decimals else chunk
        return ("int", np.rint(scaled).astype(np.int64), self.decimals)


class _Labels(_Column):
    """Original ids: integers as numbers, strings as (CSV-quoted) UTF-8 text."""

    def __init__(self, labels: np.ndarray | None, take, sep: str, base: int = 1) -> None:
        self.take = take
        self.base = base
        self.labels = labels
        self.ints = labels is None or labels.dtype.kind in "iu"
        if not self.ints:
            self.blob, self.offsets = _label_blob(labels, sep)

    def piece(self, a, b):
        index = self.take(a, b)
        if self.labels is None:
            return ("int", index.astype(np.int64) + self.base, 0)
        if self.ints:
            return ("int", self.labels[index].astype(np.int64, copy=False), 0)
        return ("text", self.blob, self.offsets, index)


def _fixed_decimals(values: np.ndarray) -> int | None:
    """Fewest decimals (<= MAX_DECIMALS) that write every value exactly, or None."""
    if values.dtype.kind in "iub":
        return 0
    if values.size == 0:
        return 0
    if not np.all(np.isfinite(values)):
        return None
    limit = 9e15  # keep scaled values exact integers in float64
    for d in range(MAX_DECIMALS + 1):
        scale = values.dtype.type(10**d)
        sample = values[:4096]
        if not _exact(sample, scale, limit):
            continue
        if _exact(values, scale, limit):
            return d
    return None


def _exact(values: np.ndarray, scale, limit: float) -> bool:
    for start in range(0, values.shape[0], CHUNK_ROWS):
        chunk = values[start : start + CHUNK_ROWS]
        scaled = chunk * scale
        if np.abs(scaled).max(initial=0) > limit:
            return False
        if not np.array_equal(np.rint(scaled) / scale, chunk):
            return False
    return True


def _repr_blob(values: np.ndarray):
    """Shortest round-trip text of each float, as (blob, offsets, index)."""
    if values.dtype == np.float32:
        texts = values.astype(str).tolist()  # float32's own shortest form
    else:
        texts = list(map(repr, values.astype(np.float64, copy=False).tolist()))
    blob = np.frombuffer("".join(texts).encode("ascii"), dtype=np.uint8)
    offsets = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum([len(t) for t in texts], out=offsets[1:])
    return blob, offsets, np.arange(len(texts), dtype=np.int64)


def _quote(label: str, sep: str) -> str:
    if sep in label or '"' in label or "\n" in label or "\r" in label:
        return '"' + label.replace('"', '""') + '"'
    return label


def _label_blob(labels: np.ndarray, sep: str):
    encoded = [_quote(str(x), sep).encode("utf-8") for x in labels.tolist()]
    blob = np.frombuffer(b"".join(encoded), dtype=np.uint8)
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(e) for e in encoded], out=offsets[1:])
    return blob, offsets


def _write_table(
    fh, n_rows: int, columns: Sequence[_Column], sep: str, chunk_rows: int = CHUNK_ROWS
) -> None:
    """Format ``n_rows`` rows chunk by chunk and write them to ``fh``."""
    sep_bytes = np.frombuffer(sep.encode("utf-8"), dtype=np.uint8)
    for a in range(0, n_rows, chunk_rows):
        b = min(a + chunk_rows, n_rows)
        pieces = [c.piece(a, b) for c in columns]
        kinds, slots, ints, decimals = [], [], [], []
        tidx, tbase, toffs, tblobs = [], [], [], []
        width = len(sep_bytes) * len(columns) + 1
        base = blob_len = 0
        for p in pieces:
            if p[0] == "int":
                kinds.append(0)
                slots.append(len(ints))
                ints.append(p[1])
                decimals.append(p[2])
                width += 22
            else:
                _, blob, offsets, index = p
                kinds.append(1)
                slots.append(len(tidx))
                tidx.append(index)
                tbase.append(base)
                toffs.append(offsets[:-1] + blob_len)
                tblobs.append(blob)
                base += offsets.shape[0] - 1
                blob_len += blob.shape[0]
                lengths = np.diff(offsets)
                width += int(lengths.max(initial=0))
        n = b - a
        toffs.append(np.array([blob_len], dtype=np.int64))
        out = np.empty(n * width, dtype=np.uint8)
        size = _format_table(
            out,
            n,
            np.array(kinds, dtype=np.int64),
            np.array(slots, dtype=np.int64),
            np.vstack(ints) if ints else np.zeros((0, n), dtype=np.int64),
            np.array(decimals or [0], dtype=np.int64),
            np.vstack(tidx).astype(np.int64) if tidx else np.zeros((0, n), dtype=np.int64),
            np.array(tbase or [0], dtype=np.int64),
            np.concatenate(toffs),
            np.concatenate(tblobs) if tblobs else np.zeros(0, dtype=np.uint8),
            sep_bytes,
            _POW10,
        )
        fh.write(memoryview(out[:size]))


def _header_line(names: Sequence[str], sep: str) -> bytes:
    return (sep.join(_quote(str(n), sep) for n in names) + "\n").encode("utf-8")


# ------------------------------------------------------------------- inputs


def _as_matrix(matrix) -> Matrix:
    """Matrix as given; 2-D arrays become dense, scipy sparse matrices CSR."""
    if isinstance(matrix, Matrix):
        return matrix
    if isinstance(matrix, np.ndarray):
        if matrix.ndim != 2:
            raise ValueError(f"expected a 2-D array, got {matrix.ndim}-D")
        return Matrix(shape=matrix.shape, data=matrix)
    if hasattr(matrix, "tocsr"):
        csr = matrix.tocsr()
        csr.sort_indices()
        return Matrix.from_csr(csr.indptr, csr.indices, csr.data, csr.shape, dtype=csr.dtype)
    raise TypeError(f"cannot write a {type(matrix).__name__}")


def _sparse(matrix: Matrix) -> Matrix:
    if matrix.is_sparse:
        return matrix
    rows, cols = np.nonzero(matrix.data)
    indptr = np.zeros(matrix.shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=matrix.shape[0]), out=indptr[1:])
    return Matrix(
        shape=matrix.shape,
        data=matrix.data[rows, cols],
        indptr=indptr,
        indices=cols,
        row_labels=matrix.row_labels,
        col_labels=matrix.col_labels,
    )


def _row_take(indptr: np.ndarray):
    """(a, b) -> row index of CSR entries a..b-1, without an nnz-sized array."""

    def take(a, b):
        return np.searchsorted(indptr, np.arange(a, b), side="right") - 1

    return take


def _col_take(indices: np.ndarray):
    def take(a, b):
        return indices[a:b]

    return take


# ------------------------------------------------------------ Matrix Market


def _mtx_field(numbers: _Numbers, field: str | None) -> str:
    if field is None:
        return "integer" if numbers.decimals == 0 else "real"
    if field not in ("real", "integer", "pattern"):
        raise UsageError(f"invalid Matrix Market field {field!r}", hint="use real|integer|pattern")
    if field == "integer" and numbers.decimals != 0:
        raise UsageError(
            "values are not all integers: cannot write the integer field", hint="use field real"
        )
    return field


def write_mtx(
    path: str,
    matrix,
    *,
    field: str | None = None,
    comments: Sequence[str] = (),
    force: bool = False,
) -> None:
    """Write Matrix Market: ``coordinate`` for sparse, ``array`` for dense.

    Parameters
    ----------
    path : output file (``.gz``/``.bz2`` compress).
    matrix : :class:`Matrix`, 2-D array or scipy sparse matrix.
    field : real | integer | pattern; default integer when every value is
        integral, else real. ``pattern`` writes no values (sparse only).
    comments : extra ``%`` comment lines after the banner.
    force : replace an existing file.

    Notes
    -----
    Coordinates are 1-based, in CSR order (row-major); dense arrays are written
    column by column as the format requires. Labels and timestamps are not
    part of the format.
    """
    matrix = _as_matrix(matrix)
    layout = "coordinate" if matrix.is_sparse else "array"
    values = matrix.data if matrix.is_sparse else matrix.data.ravel(order="F")
    numbers = _Numbers(values)
    field = _mtx_field(numbers, field)
    if field == "pattern" and layout == "array":
        raise UsageError(
            "a dense matrix cannot be written with the pattern field", hint="use real or integer"
        )
    n_rows, n_cols = matrix.shape
    lines = [f"%%MatrixMarket matrix {layout} {field} general", BANNER_COMMENT]
    lines += ["% " + " ".join(str(c).split()) for c in comments]
    if layout == "coordinate":
        lines.append(f"{n_rows} {n_cols} {matrix.data.shape[0]}")
        columns: list[_Column] = [
            _Labels(None, _row_take(matrix.indptr), " "),
            _Labels(None, _col_take(matrix.indices), " "),
        ]
        if field != "pattern":
            columns.append(numbers)
    else:
        lines.append(f"{n_rows} {n_cols}")
        columns = [numbers]
    with _text_output(path, force) as fh:
        fh.write(("\n".join(lines) + "\n").encode("utf-8"))
        _write_table(fh, values.shape[0], columns, " ")


# --------------------------------------------------------------------- CSV


def write_triplets_csv(
    path: str,
    matrix,
    *,
    sep: str = ",",
    header: bool = True,
    names: Sequence[str] = ("row", "col", "value", "timestamp"),
    timestamps: bool = True,
    force: bool = False,
) -> None:
    """Write one ``row<sep>col<sep>value[<sep>timestamp]`` line per stored entry.

    Rows and columns are written as their labels (the original ids; strings
    are CSV-quoted when needed), or as 1-based indices when the matrix has no
    labels. Entries come in CSR order. A dense matrix writes its nonzeros.

    Parameters
    ----------
    path : output file (``.gz``/``.bz2`` compress).
    matrix : :class:`Matrix`, 2-D array or scipy sparse matrix.
    sep : field separator (any string without a newline).
    header : write ``names`` as the first line.
    names : column names; the fourth is used only with timestamps.
    timestamps : write ``matrix.timestamps`` as a fourth column when present.
    force : replace an existing file.
    """
    matrix = _sparse(_as_matrix(matrix))
    _check_sep(sep)
    with_time = timestamps and matrix.timestamps is not None
    n_out = 4 if with_time else 3
    if len(names) < n_out:
        raise UsageError(f"{n_out} column names needed, got {len(names)}")
    columns: list[_Column] = [
        _Labels(matrix.row_labels, _row_take(matrix.indptr), sep),
        _Labels(matrix.col_labels, _col_take(matrix.indices), sep),
        _Numbers(matrix.data),
    ]
    if with_time:
        columns.append(_Numbers(np.asarray(matrix.timestamps)))
    with _text_output(path, force) as fh:
        if header:
            fh.write(_header_line(list(names)[:n_out], sep))
        _write_table(fh, matrix.data.shape[0], columns, sep)


def write_dense_csv(
    path: str,
    matrix,
    *,
    sep: str = ",",
    header: bool | Sequence[str] = False,
    row_label_name: str | None = None,
    force: bool = False,
) -> None:
    """Write a dense matrix, one line per row.

    Parameters
    ----------
    header : False for none; True for the column labels (or ``c1..cn``); or the names.
    row_label_name : when given, the row labels (or 1..n) come first, in a
        column of this name (readers take such a column as row labels)
    """
    matrix = _as_matrix(matrix)
    values = matrix.to_dense()
    _check_sep(sep)
    n_rows, n_cols = values.shape
    if header is True:
        labels = matrix.col_labels
        names = (
            [str(x) for x in labels] if labels is not None else [f"c{j + 1}" for j in range(n_cols)]
        )
    elif header is False or header is None:
        names = None
    else:
        names = list(header)
        if len(names) != n_cols:
            raise UsageError(f"{len(names)} header names for {n_cols} columns")
    columns = [_Numbers(values[:, j]) for j in range(n_cols)]
    if row_label_name is not None:
        columns.insert(0, _Labels(matrix.row_labels, lambda a, b: np.arange(a, b), sep))
        names = None if names is None else [row_label_name, *names]
    with _text_output(path, force) as fh:
        if names is not None:
            fh.write(_header_line(names, sep))
        _write_table(fh, n_rows, columns, sep, chunk_rows=max(1, CHUNK_ROWS // max(n_cols, 1)))


def _check_sep(sep: str) -> None:
    if not sep or "\n" in sep or "\r" in sep or '"' in sep:
        raise UsageError(f"invalid separator {sep!r}", hint="use e.g. ',' or a tab")


def write_labels(path: str, labels, *, force: bool = False) -> None:
    """One label per line (``.terms``, ``.docs`` and similar companion files)."""
    text = "".join(f"{x}\n" for x in np.asarray(labels).tolist())
    with _text_output(path, force) as fh:
        fh.write(text.encode("utf-8"))


# ------------------------------------------------------------------- HDF5


def _h5_file(tmp: str):
    import h5py

    # Pinned object formats and no timestamps: identical input, identical bytes.
    fcpl = h5py.h5p.create(h5py.h5p.FILE_CREATE)
    fcpl.set_obj_track_times(False)
    fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
    fapl.set_libver_bounds(h5py.h5f.LIBVER_EARLIEST, h5py.h5f.LIBVER_V18)
    fid = h5py.h5f.create(tmp.encode(), h5py.h5f.ACC_TRUNC, fcpl=fcpl, fapl=fapl)
    return h5py.File(fid)


def _dataset(group, name: str, data, compression: str | None) -> None:
    data = np.asarray(data)
    kwargs = {}
    if compression and data.size:
        kwargs = {"compression": compression, "shuffle": True, "chunks": True}
    if data.dtype.kind == "U":
        import h5py

        group.create_dataset(
            name, data=data.astype(object), dtype=h5py.string_dtype(), track_times=False
        )
        return
    group.create_dataset(name, data=data, track_times=False, **kwargs)


def _group(parent, name: str):
    import h5py

    gcpl = h5py.h5p.create(h5py.h5p.GROUP_CREATE)
    gcpl.set_obj_track_times(False)  # no creation time in the bytes
    h5py.h5g.create(parent.id, name.encode(), gcpl=gcpl)
    return parent[name]


def _h5_labels(h5, matrix: Matrix) -> None:
    if matrix.row_labels is None and matrix.col_labels is None:
        return
    group = _group(h5, "labels")
    if matrix.row_labels is not None:
        _dataset(group, "row", matrix.row_labels, None)
    if matrix.col_labels is not None:
        _dataset(group, "col", matrix.col_labels, None)


def _check_h5_name(name: str) -> str:
    name = name.strip("/")
    if not name or name == "labels":
        raise UsageError(f"invalid HDF5 object name {name!r}", hint="e.g. X")
    return name


def write_h5_dense(
    path: str,
    matrix,
    *,
    name: str = "X",
    compression: str | None = None,
    force: bool = False,
) -> None:
    """Write a dense 2-D dataset ``/name`` (and ``/labels/row``, ``/labels/col``).

    The file holds one matrix, so ``mfcli`` reads it without an object name.
    ``compression`` is an h5py filter name such as ``"gzip"`` (with shuffle).
    """
    matrix = _as_matrix(matrix)
    name = _check_h5_name(name)
    with atomic_path(path, force=force) as tmp:
        with _h5_file(tmp) as h5:
            _dataset(h5, name, matrix.to_dense(), compression)
            _h5_labels(h5, matrix)


def write_h5_csr(
    path: str,
    matrix,
    *,
    name: str = "X",
    compression: str | None = None,
    force: bool = False,
) -> None:
    """Write a CSR group ``/name`` (and ``/labels/row``, ``/labels/col``).

    The group holds ``data``, ``indices``, ``indptr`` (and ``timestamps``
    aligned with ``data`` when present), with attributes ``shape`` and
    ``encoding-type="csr_matrix"``, ``encoding-version="0.1.0"`` (the AnnData
    spelling, which scipy-minded readers understand).
    """
    import h5py

    matrix = _sparse(_as_matrix(matrix))
    name = _check_h5_name(name)
    with atomic_path(path, force=force) as tmp:
        with _h5_file(tmp) as h5:
            group = _group(h5, name)
            group.attrs.create("encoding-type", "csr_matrix", dtype=h5py.string_dtype())
            group.attrs.create("encoding-version", "0.1.0", dtype=h5py.string_dtype())
            group.attrs.create("shape", np.array(matrix.shape, dtype=np.int64))
            _dataset(group, "data", matrix.data, compression)
            _dataset(group, "indices", matrix.indices, compression)
            _dataset(group, "indptr", matrix.indptr, compression)
            if matrix.timestamps is not None:
                _dataset(group, "timestamps", matrix.timestamps, compression)
            _h5_labels(h5, matrix)


# ---------------------------------------------------------------- dispatch


def write_matrix(
    path: str,
    matrix,
    *,
    format: str = "auto",
    sep: str | None = None,
    header: bool = True,
    names: Sequence[str] | None = None,
    field: str | None = None,
    comments: Sequence[str] = (),
    compression: str | None = None,
    force: bool = False,
) -> str:
    """Write ``matrix`` in the format ``path`` asks for; returns the format used.

    csv/tsv: triplets for sparse matrices (``names``, default
    row,col,value[,timestamp]), a dense table for dense ones (``header``
    writes ``c1..cn`` or the column labels). mtx: coordinate or array. h5: a
    CSR group or a dense dataset ``/X``.
    """
    matrix = _as_matrix(matrix)
    fmt = output_format(path, format)
    if fmt in ("csv", "tsv"):
        sep = sep if sep is not None else ("\t" if fmt == "tsv" else ",")
        if matrix.is_sparse:
            write_triplets_csv(
                path,
                matrix,
                sep=sep,
                header=header,
                names=names or ("row", "col", "value", "timestamp"),
                force=force,
            )
        else:
            write_dense_csv(path, matrix, sep=sep, header=bool(header), force=force)
    elif fmt == "mtx":
        write_mtx(path, matrix, field=field, comments=comments, force=force)
    elif matrix.is_sparse:
        write_h5_csr(path, matrix, compression=compression, force=force)
    else:
        write_h5_dense(path, matrix, compression=compression, force=force)
    return fmt
