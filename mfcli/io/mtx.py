"""Matrix Market reader.

Reads ``coordinate`` (sparse) and ``array`` (dense, column-major in the file)
files with ``real``, ``integer`` or ``pattern`` values and ``general``,
``symmetric``, ``skew-symmetric`` or ``hermitian`` storage, plain or compressed
(gzip, bzip2) or from stdin. Banner and tokens are case-insensitive; ``%``
lines, including ``%%GraphBLAS ...`` lines, are comments anywhere; blank and
comment lines inside the data section are skipped.

Decisions (what other readers disagree on):

- ``complex`` values are refused ("complex values are not supported") unless
  ``ReadOptions.allow_complex`` (``mfcli info``), which reads them as complex128.
- ``vector`` objects are refused ("vector objects are not supported"): there is
  nothing to factorize in one column, and scipy refuses them too.
- ``hermitian`` with a real, integer or pattern field is symmetric (noted in meta).
- An ``integer`` banner whose values are not all integers (``1.5``, ``inf``) is
  read as real, with a note in ``meta["notes"]``; an integer literal outside
  int64 is an error. ``double`` is accepted as a synonym of ``real``.
- A finite literal beyond the double range (``1E9999``) is an error, not inf;
  the literals ``inf`` and ``nan`` are read as such (validation before a fit
  refuses them).
- Symmetric storage is expanded: each off-diagonal entry is mirrored (negated
  for skew-symmetric), the diagonal is not duplicated, and a skew-symmetric
  diagonal must be zero.
- Duplicate coordinates are summed unless ``--duplicates`` says otherwise;
  ``error`` names the file line of the first duplicate.
- Sizes are never trusted for allocation: entries are counted in the file
  before anything is allocated (a size line declaring billions of entries in a
  small file fails as truncated after a scan of what is there), and a dimension
  larger than both 2**26 and the file's size in bytes is refused (its row
  pointers or factors would need far more memory than the data).
"""

from __future__ import annotations

import numpy as np

from mfcli.data import Matrix
from mfcli.errors import InputDataError, MfcliError
from mfcli.io import textscan as ts
from mfcli.io.options import ReadOptions
from mfcli.io.source import display_name, map_bytes, release

OBJECTS = ("matrix", "vector")
FORMATS = ("coordinate", "array")
FIELDS = ("real", "integer", "pattern", "complex")
FIELD_SYNONYMS = {"double": "real"}
SYMMETRIES = ("general", "symmetric", "skew-symmetric", "hermitian")
DIALECT = ts.Dialect(sep=None, comments=("%",), skip_blank=True)
INT64_MAX = np.iinfo(np.int64).max
# A dimension may be large (empty rows are legal) but not absurd for the file:
# CSR needs 8 bytes of row pointer per row, the factors k numbers per column.
MIN_DIM_LIMIT = 1 << 26
DIM_PER_BYTE = 1


class _Header:
    """What the banner and size line say, and where the data starts."""

    def __init__(
        self,
        banner_line,
        obj,
        fmt,
        field,
        symmetry,
        size,
        size_line,
        data_start,
        data_line,
        comments,
    ):
        self.banner_line = banner_line
        self.object = obj
        self.format = fmt
        self.field = field
        self.symmetry = symmetry
        self.size = size
        self.size_line = size_line
        self.data_start = data_start
        self.data_line = data_line
        self.comments = comments


def read(path: str, options: ReadOptions) -> Matrix:
    """Read a Matrix Market file into a :class:`~mfcli.data.Matrix`.

    Parameters
    ----------
    path : file path (``.gz``/``.bz2`` decompressed transparently) or ``-``
    options : ``duplicates`` (default ``sum``) and ``dtype`` are used

    Returns
    -------
    Matrix : CSR for coordinate files, dense for array files; ``meta`` holds
        object, format, field, symmetry, declared_nnz, stored_entries, comments
        and notes.

    Raises
    ------
    InputDataError : malformed content (exit 65), with the line number when known
    InputMissingError : unreadable file (exit 66)
    """
    try:
        data = map_bytes(path)
        matrix = _read_bytes(data, options)
        if not matrix.meta.get("notes"):
            matrix.meta.pop("notes", None)
        return matrix
    except MfcliError as exc:
        raise exc.located(display_name(path)) from None


def _read_bytes(data: bytes, options: ReadOptions) -> Matrix:
    head = _parse_header(data)
    notes = []
    field = head.field
    symmetry = head.symmetry
    if field == "complex" and not options.allow_complex:
        raise InputDataError(
            "complex values are not supported",
            line=head.banner_line,
            hint="mfcli info describes it; convert it to real values (e.g. magnitudes) to fit it",
        )
    if symmetry == "hermitian" and field != "complex":
        symmetry = "symmetric"
        notes.append("hermitian storage of a real matrix read as symmetric")
    if field == "pattern" and head.format == "array":
        raise InputDataError("pattern values need coordinate format", line=head.banner_line)
    if field == "pattern" and symmetry == "skew-symmetric":
        raise InputDataError("a pattern matrix cannot be skew-symmetric", line=head.banner_line)
    n_rows, n_cols = head.size[0], head.size[1]
    if symmetry != "general" and n_rows != n_cols:
        raise InputDataError(
            f"a {symmetry} matrix must be square, the size line says {n_rows} x {n_cols}",
            line=head.size_line,
        )
    _check_dims(n_rows, n_cols, len(data), head.size_line)
    dtype = np.dtype(options.dtype)
    meta = {
        "object": head.object,
        "mtx_format": head.format,
        "field": head.field,
        "symmetry": head.symmetry,
        "comments": head.comments,
        "notes": notes,
    }
    if head.format == "coordinate":
        return _read_coordinate(data, head, symmetry, options, dtype, meta)
    return _read_array(data, head, symmetry, dtype, meta)


# ------------------------------------------------------------------ header
def _parse_header(data: bytes) -> _Header:
    pos = 3 if data[:3] == b"\xef\xbb\xbf" else 0
    line = 0
    banner = None
    comments = 0
    n = len(data)
    while pos < n:
        nl = data.find(b"\n", pos)
        end = n if nl < 0 else nl
        text = data[pos:end].strip()
        line += 1
        pos = end + 1
        if banner is None:
            if not text:
                continue
            banner = (line, _parse_banner(text, line))
        elif not text:
            continue
        elif text.startswith(b"%"):
            comments += 1
        else:
            obj, fmt, field, symmetry = banner[1]
            size = _parse_size(text, line, obj, fmt)
            return _Header(
                banner[0], obj, fmt, field, symmetry, size, line, min(pos, n), line + 1, comments
            )
    if banner is None:
        raise InputDataError("empty file: no Matrix Market banner", line=None)
    raise InputDataError("missing size line after the banner", line=line + 1)


def _parse_banner(text: bytes, line: int) -> tuple[str, str, str, str]:
    words = text.decode("ascii", errors="replace").lower().split()
    if not words or words[0] not in ("%%matrixmarket", "%matrixmarket"):
        raise InputDataError(
            "not a Matrix Market file: the first line must be a %%MatrixMarket banner",
            line=line,
            hint="use --format csv for delimited text",
        )
    if len(words) < 5:
        raise InputDataError(
            "incomplete banner: expected %%MatrixMarket matrix coordinate|array "
            "real|integer|pattern general|symmetric|skew-symmetric|hermitian",
            line=line,
        )
    obj, fmt, field, symmetry = words[1:5]
    field = FIELD_SYNONYMS.get(field, field)
    for value, allowed, what in (
        (obj, OBJECTS, "object"),
        (fmt, FORMATS, "format"),
        (field, FIELDS, "field"),
        (symmetry, SYMMETRIES, "symmetry"),
    ):
        if value not in allowed:
            raise InputDataError(
                f"unknown {what} {value!r} in the banner (expected {' or '.join(allowed)})",
                line=line,
            )
    if obj == "vector":
        raise InputDataError(
            "vector objects are not supported, only matrices",
            line=line,
            hint="a vector is one column: write it as an n x 1 'matrix' if you need it",
        )
    return obj, fmt, field, symmetry


def _parse_size(text: bytes, line: int, obj: str, fmt: str) -> tuple[int, int, int]:
    """(rows, cols, entries) from the size line; entries is None for arrays."""
    names = ("rows", "columns", "entries") if fmt == "coordinate" else ("rows", "columns")
    words = text.decode("ascii", errors="replace").split()
    if len(words) != len(names):
        raise InputDataError(
            f"size line must hold {len(names)} integers ({', '.join(names)}), "
            f"found {len(words)}: {text.decode('ascii', errors='replace')[:60]!r}",
            line=line,
        )
    values = []
    for word, name in zip(words, names, strict=True):
        if not word.lstrip("+-").isdigit():
            raise InputDataError(f"size line: {name} {word!r} is not an integer", line=line)
        v = int(word)
        if v < 0:
            raise InputDataError(f"size line: {name} cannot be negative ({v})", line=line)
        if v > INT64_MAX:
            raise InputDataError(f"size line: {name} {word} exceeds int64", line=line)
        values.append(v)
    if fmt == "array":
        values.append(None)
    rows, cols, entries = values
    return rows, cols, entries


def _check_dims(n_rows: int, n_cols: int, n_bytes: int, line: int) -> None:
    limit = max(MIN_DIM_LIMIT, DIM_PER_BYTE * n_bytes)
    for name, n in (("rows", n_rows), ("columns", n_cols)):
        if n > limit:
            raise InputDataError(
                f"size line declares {n} {name}, implausibly many for a file of {n_bytes} bytes",
                line=line,
                hint="the size line is probably corrupt",
            )


def _scan(data, head: _Header, kinds, bounds, names, declared: int):
    result = ts.scan(
        data,
        kinds,
        dialect=DIALECT,
        n_fields=len(kinds),
        start=head.data_start,
        first_line=head.data_line,
        bounds=bounds,
        release=lambda lo, hi: release(data, lo, hi),
    )
    if result.error is not None:
        raise result.error.to_error(names)
    found = result.n_rows
    if found < declared:
        raise InputDataError(
            f"truncated: size line declares {declared} entries, found {found}",
            hint="the file is incomplete or the size line is wrong",
        )
    if found > declared:
        line, _ = ts.locate_row(
            data, declared, dialect=DIALECT, start=head.data_start, first_line=head.data_line
        )
        raise InputDataError(
            f"too many entries: size line declares {declared}, found {found}", line=line
        )
    return result


# -------------------------------------------------------------- coordinate
def _read_coordinate(data, head, symmetry, options, dtype, meta) -> Matrix:
    n_rows, n_cols, declared = head.size
    kinds = [ts.INT, ts.INT]
    bounds = [(1, n_rows), (1, n_cols)]
    names = ["row index", "column index"]
    if head.field != "pattern":
        kinds.append(ts.FLOAT)
        names.append("value")
    if head.field == "complex":
        kinds.append(ts.FLOAT)
        names.append("imaginary part")
    result = _scan(data, head, kinds, bounds, names, declared)
    rows = result.column(0)
    rows -= 1
    cols = result.column(1)
    cols -= 1
    values = None if head.field == "pattern" else result.column(2)
    if head.field == "complex":
        values = values + 1j * result.column(3)
    if values is not None and head.field == "integer":
        _check_integer(values, data, head, meta)
    meta.update(
        declared_nnz=declared,
        stored_entries=int(declared),
        comments=meta["comments"] + result.n_comments,
    )

    source = None  # stored entry of each expanded entry, for messages
    if symmetry != "general":
        rows, cols, values, source = _expand(rows, cols, values, symmetry, data, head, meta)
    policy = options.duplicates or "sum"
    where = {}

    def entry_label(i: int) -> str:
        stored = int(source[i]) if source is not None else i
        line, _ = ts.locate_row(
            data, stored, dialect=DIALECT, start=head.data_start, first_line=head.data_line
        )
        where["line"] = line
        return f"line {line}"

    def build(part, part_dtype, part_meta):
        return Matrix.from_coo(
            rows,
            cols,
            part,
            (n_rows, n_cols),
            duplicates=policy,
            dtype=part_dtype,
            entry_label=entry_label,
            meta=part_meta,
        )

    try:
        if head.field != "complex":
            return build(values, dtype, meta)
        # Real and imaginary parts share the coordinates, so both CSRs line up.
        matrix = build(values.real, np.float64, meta)
        matrix.data = matrix.data + 1j * build(values.imag, np.float64, {}).data
        return matrix
    except InputDataError as exc:
        raise exc.located(line=where.get("line")) from None


def _expand(rows, cols, values, symmetry, data, head, meta):
    """Mirror off-diagonal entries; returns rows, cols, values, source index."""
    diag = rows == cols
    if symmetry == "skew-symmetric" and values is not None:
        bad = np.flatnonzero(diag & (values != 0))
        if bad.size:
            # Strictly invalid, but scipy and fast_matrix_market keep it: so do we, once.
            line, _ = ts.locate_row(
                data, int(bad[0]), dialect=DIALECT, start=head.data_start, first_line=head.data_line
            )
            meta["notes"].append(
                f"skew-symmetric file with {bad.size} nonzero diagonal entries "
                f"(first on line {line}): kept as stored"
            )
    off = np.flatnonzero(~diag)
    mirrored = values[off] if values is not None else None
    if mirrored is not None and symmetry == "skew-symmetric":
        mirrored = -mirrored
    elif mirrored is not None and symmetry == "hermitian":
        mirrored = np.conj(mirrored)
    source = np.concatenate((np.arange(rows.shape[0]), off))
    rows, cols = np.concatenate((rows, cols[off])), np.concatenate((cols, rows[off]))
    if values is not None:
        values = np.concatenate((values, mirrored))
    return rows, cols, values, source


def _check_integer(values, data, head, meta) -> None:
    """Integer banner: refuse int64 overflow, read non-integers as real with a note."""
    finite = np.isfinite(values)
    big = np.flatnonzero(finite & (np.abs(values) >= 2.0**63))
    if big.size:
        line, text = ts.locate_row(
            data, int(big[0]), dialect=DIALECT, start=head.data_start, first_line=head.data_line
        )
        value = text.split()[-1] if text else repr(float(values[big[0]]))
        raise InputDataError(f"integer value {value} out of range (int64)", line=line)
    if not np.all(finite) or np.any(values != np.trunc(values)):
        meta["notes"].append("banner says integer but some values are not integers: read as real")
        meta["field_read_as"] = "real"


# ------------------------------------------------------------------- array
def _read_array(data, head, symmetry, dtype, meta) -> Matrix:
    n_rows, n_cols, _ = head.size
    if symmetry == "general":
        declared = n_rows * n_cols
    elif symmetry == "symmetric":
        declared = n_rows * (n_rows + 1) // 2
    else:
        declared = n_rows * (n_rows - 1) // 2
    complex_ = head.field == "complex"
    kinds, names = (
        ([ts.FLOAT, ts.FLOAT], ["value", "imaginary part"]) if complex_ else ([ts.FLOAT], ["value"])
    )
    result = _scan(data, head, kinds, None, names, declared)
    values = result.column(0)
    if complex_:
        values = values + 1j * result.column(1)
        dtype = np.dtype(np.complex128)
    if head.field == "integer":
        _check_integer(values, data, head, meta)
    if symmetry == "general":
        dense = values.reshape(n_cols, n_rows).T  # column-major in the file
    else:
        dense = np.zeros((n_rows, n_cols), dtype=values.dtype)
        k = 1 if symmetry == "skew-symmetric" else 0
        upper_r, upper_c = np.triu_indices(n_rows, k)
        # column-major lower triangle == row-major upper triangle of the transpose
        dense[upper_c, upper_r] = values
        mirror = {"symmetric": values, "skew-symmetric": -values, "hermitian": np.conj(values)}
        dense[upper_r, upper_c] = mirror[symmetry]
    meta.update(
        declared_nnz=declared,
        stored_entries=declared,
        comments=meta["comments"] + result.n_comments,
    )
    return Matrix.from_dense(dense, dtype=dtype, meta=meta)
