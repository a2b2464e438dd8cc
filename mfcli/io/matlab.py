"""MATLAB .mat reader: v4/v5/v7 through scipy.io, v7.3 (HDF5) through h5py.

A variable is read as the matrix it is: sparse variables as CSR, numeric
arrays as dense (v7.3 arrays are stored transposed and are transposed back).
``options.dataset`` (or ``file.mat:/name``) names the variable; otherwise the
only 2-D numeric variable is read, and several give an error listing them.
A plain HDF5 file with a ``.mat`` name (no MATLAB header) goes to the HDF5
reader, untransposed.

Rating tables such as Epinions/Ciao ``rating.mat`` (one row per rating:
user, item, category, rating, ...) are dense tables to this reader. With
``options.columns`` = ``"user,item[,value[,time]]"`` given as 0-based column
indices (e.g. ``0,1,3,5``), the table becomes a sparse user x item matrix:
rows and columns are the distinct ids in ascending order (kept as labels),
duplicates follow ``options.duplicates`` (default ``last``, the later row
wins), no value column means every entry is 1.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np

from mfcli.data import Matrix
from mfcli.errors import AmbiguousInputError, InputDataError, UsageError
from mfcli.io import hdf5
from mfcli.io.options import ReadOptions
from mfcli.io.source import BZ2_MAGIC, GZIP_MAGIC, HDF5_MAGIC, head, read_bytes

NAME_HINT = "name one as FILE.mat:/name or with --dataset"
NUMERIC_CLASSES = {
    "double", "single", "logical", "sparse",
    "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64",
}  # fmt: skip
V5_MARK = b"MATLAB 5.0 MAT-file"
V73_MARK = b"MATLAB 7.3 MAT-file"


@dataclass
class Variable:
    """One MATLAB variable as loaded: a dense array or CSC arrays."""

    name: str
    shape: tuple[int, int]
    dense: np.ndarray | None = None
    csc: tuple[np.ndarray, np.ndarray, np.ndarray | None] | None = None  # indptr, indices, data
    matlab_class: str = "double"
    meta: dict = field(default_factory=dict)


def read(path: str, options: ReadOptions) -> Matrix:
    """Read one variable of a MATLAB file as a Matrix.

    Parameters
    ----------
    path : str
        A ``.mat`` file, any version (``.gz``/``.bz2`` are read into memory).
    options : ReadOptions
        ``dataset`` names the variable; ``columns`` turns a table into
        ratings; ``dtype`` and ``duplicates`` apply.

    Returns
    -------
    Matrix
        CSR for sparse variables and tables read with ``columns``, dense
        otherwise. ``meta`` records the layout (``mat-v5`` or ``mat-v7.3``),
        the variable, the other candidates and the MATLAB class.

    Raises
    ------
    InputDataError
        Not a MAT file, corrupt, no or several candidate variables, a variable
        that is not a real 2-D matrix, ids that are not integers.
    UsageError
        ``columns`` that do not fit the table.
    """
    start = head(path, 520)
    if start.startswith(HDF5_MAGIC):  # plain HDF5 without MATLAB's header: not MATLAB-written
        return hdf5.read(path, options)
    if start.startswith(V73_MARK) or start[512:520] == HDF5_MAGIC:
        var = _load_v73(path, options.dataset)
    else:
        var = _load_v5(path, options.dataset)
    if options.columns:
        matrix = table_to_ratings(var, options)
    else:
        matrix = _as_matrix(var, options)
    matrix.meta.update(var.meta)
    matrix.meta["matlab_class"] = var.matlab_class
    return matrix


# ------------------------------------------------------------------ v4 / v5
def _load_v5(path: str, name: str | None) -> Variable:
    import scipy.io

    source = _v5_source(path)
    try:
        listing = scipy.io.whosmat(source)
    except Exception as exc:  # noqa: BLE001 - scipy raises many types for bad files
        if head(path, 20).startswith(V5_MARK):
            raise _corrupt(exc) from None
        raise InputDataError(
            f"not a readable MATLAB file ({_reason(exc)})",
            hint="check the file, or give its real format with --format",
        ) from None
    shapes = {n: tuple(int(d) for d in s) for n, s, _ in listing}
    classes = {n: c for n, _, c in listing}
    found = [n for n in shapes if classes[n] in NUMERIC_CLASSES and len(shapes[n]) == 2]
    chosen = _pick(name, found, shapes, classes)
    if classes[chosen] not in NUMERIC_CLASSES:
        raise InputDataError(
            f"variable {chosen} is a MATLAB {classes[chosen]}, not a numeric matrix",
            hint="name a numeric or sparse variable",
        )
    _check_2d(chosen, shapes[chosen])
    if hasattr(source, "seek"):
        source.seek(0)
    try:
        value = scipy.io.loadmat(source, variable_names=[chosen])[chosen]
    except Exception as exc:  # noqa: BLE001 - zlib, ValueError, MatReadError ...
        raise _corrupt(exc) from None
    meta = _meta("mat-v5", chosen, found, shapes, classes)
    var = Variable(chosen, tuple(value.shape), matlab_class=classes[chosen], meta=meta)
    if hasattr(value, "tocsc"):
        csc = value.tocsc()
        var.csc = (csc.indptr, csc.indices, csc.data)
    else:
        var.dense = value
    _check_real(var)
    return var


def _v5_source(path: str):
    with open(path, "rb") as fh:
        magic = fh.read(3)
    if magic[:2] == GZIP_MAGIC or magic[:3] == BZ2_MAGIC:
        return io.BytesIO(read_bytes(path))
    return path


# --------------------------------------------------------------------- v7.3
def _load_v73(path: str, name: str | None) -> Variable:
    with hdf5.open_file(path) as h5:
        try:
            return _load_v73_open(h5, name)
        except OSError as exc:
            raise InputDataError(
                f"MATLAB 7.3 file is corrupt or truncated ({_reason(exc)})",
                hint="the file may be incomplete; copy or download it again",
            ) from None


def _load_v73_open(h5, name: str | None) -> Variable:
    shapes, classes = {}, {}
    for key in h5:
        if key.startswith("#"):  # MATLAB's #refs# and #subsystem# internals
            continue
        shapes[key], classes[key] = _v73_info(h5[key])
    found = [n for n in shapes if classes[n] in NUMERIC_CLASSES and len(shapes[n]) == 2]
    key = name.strip().lstrip("/") if name else None
    if key and key not in shapes and key in h5:  # a struct field such as s/field
        shapes[key], classes[key] = _v73_info(h5[key])
    chosen = _pick(key, found, shapes, classes)
    obj, cls = h5[chosen], classes[chosen]
    if cls not in NUMERIC_CLASSES:
        raise InputDataError(
            f"variable {chosen} is a MATLAB {cls}, not a numeric matrix",
            hint="name a numeric or sparse variable",
        )
    _check_2d(chosen, shapes[chosen])
    meta = _meta("mat-v7.3", chosen, found, shapes, classes)
    var = Variable(chosen, shapes[chosen], matlab_class=cls, meta=meta)
    if cls == "sparse" or "MATLAB_sparse" in obj.attrs:
        var.matlab_class = "sparse"
        var.csc = _v73_sparse(obj, shapes[chosen])
    elif obj.attrs.get("MATLAB_empty", 0):  # the dataset holds the dims, not data
        var.dense = np.zeros(shapes[chosen])
    else:
        var.dense = obj[()].T  # HDF5 keeps MATLAB's column-major order: dims reversed
        if var.dense.dtype.names:
            raise InputDataError(f"variable {chosen} holds complex values", hint=_REAL_HINT)
    _check_real(var)
    return var


def _v73_info(obj) -> tuple[tuple[int, ...], str]:
    """(MATLAB shape, MATLAB class) of a v7.3 object."""
    cls = hdf5.attr_str(obj, "MATLAB_class") or ("struct" if not hdf5.is_dataset(obj) else "?")
    if "MATLAB_sparse" in obj.attrs:
        n_rows = int(np.asarray(obj.attrs["MATLAB_sparse"]).ravel()[0])
        n_cols = obj["jc"].shape[0] - 1 if "jc" in obj else 0
        return (n_rows, n_cols), "sparse"
    if not hdf5.is_dataset(obj):
        return (), cls
    if "MATLAB_empty" in obj.attrs and obj.attrs["MATLAB_empty"]:
        return tuple(int(d) for d in np.asarray(obj[()]).ravel()), cls
    return tuple(reversed(obj.shape)), cls


def _v73_sparse(group, shape):
    n_rows, n_cols = shape
    jc = group["jc"][()] if "jc" in group else np.zeros(n_cols + 1, dtype=np.int64)
    ir = group["ir"][()] if "ir" in group else np.zeros(0, dtype=np.int64)
    data = group["data"][()] if "data" in group else None
    if data is not None and data.dtype.names:
        raise InputDataError(f"variable {group.name[1:]} holds complex values", hint=_REAL_HINT)
    return jc, ir, data


# ----------------------------------------------------------------- choosing
def _pick(name, found, shapes, classes) -> str:
    if name:
        key = name.strip().lstrip("/")
        if key not in shapes:
            listing = ", ".join(_describe(n, shapes, classes) for n in found) or "none"
            raise InputDataError(
                f"no variable {key} in this file", hint=f"numeric variables: {listing}"
            )
        return key
    wide = [n for n in found if min(shapes[n]) > 1]  # prefer matrices over vectors
    pool = wide or found
    if len(pool) == 1:
        return pool[0]
    if not pool:
        listing = ", ".join(_describe(n, shapes, classes) for n in shapes) or "nothing"
        raise InputDataError(
            f"no numeric 2-D variable in this file (found: {listing})",
            hint="mfcli reads numeric and sparse MATLAB matrices",
        )
    described = [_describe(n, shapes, classes) for n in pool]
    raise AmbiguousInputError(
        f"{len(pool)} matrices in this file: {', '.join(described)}",
        hint=NAME_HINT,
        candidates=described,
    )


def _describe(name, shapes, classes) -> str:
    dims = " x ".join(str(d) for d in shapes[name]) or "?"
    return f"{name} ({dims} {classes[name]})"


def _meta(layout, chosen, found, shapes, classes) -> dict:
    others = [_describe(n, shapes, classes) for n in found if n != chosen]
    return {"layout": layout, "object": chosen, "candidates": others}


def _check_2d(name: str, shape) -> None:
    if len(shape) != 2:
        raise InputDataError(
            f"variable {name} is {len(shape)}-D {tuple(shape)}, not a 2-D matrix",
            hint="name a 2-D numeric or sparse variable",
        )


_REAL_HINT = "mfcli reads real matrices"


def _check_real(var: Variable) -> None:
    values = var.dense if var.dense is not None else var.csc[2]
    if values is not None and values.dtype.kind == "c":
        raise InputDataError(f"variable {var.name} holds complex values", hint=_REAL_HINT)
    if values is not None and values.dtype.kind not in "biuf":
        raise InputDataError(f"variable {var.name} holds {values.dtype} values, not numbers")


def _corrupt(exc: Exception) -> InputDataError:
    return InputDataError(
        f"MATLAB file is corrupt or truncated ({_reason(exc)})",
        hint="the file may be incomplete; copy or download it again",
    )


def _reason(exc: Exception) -> str:
    return (str(exc) or type(exc).__name__).splitlines()[0][:160]


# ----------------------------------------------------------------- building
def _as_matrix(var: Variable, options: ReadOptions) -> Matrix:
    if var.csc is not None:
        indptr, indices, data = var.csc
        return hdf5.compressed_to_matrix(
            indptr, indices, data, var.shape, "csc", options, name=var.name,
            stored_dtype=None if data is None else str(data.dtype),
        )  # fmt: skip
    data = np.ascontiguousarray(var.dense, dtype=options.dtype)
    meta = {"stored_dtype": str(var.dense.dtype), "nonfinite": hdf5.count_nonfinite(data)}
    hint = _triplet_hint(var.dense)
    if hint:
        meta["hint"] = hint
    return Matrix(shape=data.shape, data=data, meta=meta)


def _triplet_hint(table: np.ndarray) -> str | None:
    """A nudge for tables that look like one rating per row (ids in columns 0 and 1)."""
    n_rows, n_cols = table.shape
    if not 3 <= n_cols <= 8 or n_rows < 10 * n_cols:
        return None
    ids = table[:, :2]
    if ids.dtype.kind == "f" and not np.all(np.isfinite(ids) & (ids == np.floor(ids))):
        return None
    if ids.min() < 0:
        return None
    return (
        "this looks like a table of ratings, one per row; read it as a user x item "
        "matrix with --columns user,item,value[,time] as 0-based column numbers, e.g. 0,1,2"
    )


def parse_columns(spec: str, n_cols: int) -> list[int | None]:
    """``"0,1,3[,5]"`` -> [user, item, value, time] column numbers (None if absent)."""
    parts = [p.strip() for p in spec.split(",")]
    if not 2 <= len(parts) <= 4 or not all(p.lstrip("-").isdigit() for p in parts):
        raise UsageError(
            f"--columns {spec!r} does not fit a MATLAB table",
            hint="give user,item[,value[,time]] as 0-based column numbers, e.g. 0,1,3",
        )
    numbers = [int(p) for p in parts]
    for number in numbers:
        if not 0 <= number < n_cols:
            raise UsageError(
                f"--columns: column {number} does not exist; the table has {n_cols} columns "
                f"(0..{n_cols - 1})"
            )
    if len(set(numbers)) != len(numbers):
        raise UsageError(f"--columns {spec!r} names a column twice")
    return numbers + [None] * (4 - len(numbers))


def table_to_ratings(var: Variable, options: ReadOptions) -> Matrix:
    """A dense table, one rating per row, as a sparse user x item Matrix.

    Parameters
    ----------
    var : Variable
        Dense ``(n_ratings, n_fields)`` numeric table.
    options : ReadOptions
        ``columns`` gives the user, item, value and time column numbers.

    Returns
    -------
    Matrix
        CSR ``(n_users, n_items)``; labels are the sorted distinct ids;
        ``timestamps`` from the time column when given.
    """
    if var.dense is None:
        raise UsageError(
            f"--columns needs a table, but {var.name} is a sparse "
            f"{var.shape[0]} x {var.shape[1]} matrix",
            hint="leave out --columns to read the matrix as it is",
        )
    table = var.dense
    user, item, value, time = parse_columns(options.columns, table.shape[1])
    row_ids, rows = _ids(table[:, user], var.name, user)
    col_ids, cols = _ids(table[:, item], var.name, item)
    dtype = np.dtype(options.dtype)
    values = None if value is None else table[:, value].astype(dtype)
    stamps = None if time is None else _times(table[:, time])
    meta = {
        "table_columns": {"user": user, "item": item, "value": value, "time": time},
        "table_shape": list(table.shape),
        "nonfinite": 0 if values is None else hdf5.count_nonfinite(values),
        "stored_dtype": str(table.dtype),
    }
    return Matrix.from_coo(
        rows,
        cols,
        values,
        (len(row_ids), len(col_ids)),
        duplicates=options.duplicates or "last",
        dtype=dtype,
        timestamps=stamps,
        entry_label=lambda i: f"table row {i + 1}",
        row_labels=row_ids,
        col_labels=col_ids,
        meta=meta,
    )


def _ids(column: np.ndarray, name: str, number: int):
    """Sorted distinct integer ids and each entry's position among them."""
    if column.dtype.kind == "f":
        bad = ~(np.isfinite(column) & (column == np.floor(column)))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise InputDataError(
                f"variable {name}: column {number} holds {float(column[row])!r} at row {row + 1}, "
                "not an integer id",
                hint="check --columns",
            )
    ids, inverse = np.unique(column.astype(np.int64), return_inverse=True)
    return ids, inverse.ravel()


def _times(column: np.ndarray) -> np.ndarray:
    if column.dtype.kind in "iub":
        return column.astype(np.int64)
    if np.all(np.isfinite(column) & (column == np.floor(column))):
        return column.astype(np.int64)
    return column.astype(np.float64)
