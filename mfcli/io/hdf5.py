"""HDF5 reader: dense datasets, CSR/CSC groups, AnnData, 10x Genomics, mfcli results.

Which object is read
    ``options.dataset`` (or ``file.h5:/path``) names any 2-D dataset or sparse
    group; naming a group that holds exactly one matrix reads that matrix.
    Without a name the file's conventional matrix is read: ``X`` for AnnData,
    ``/matrix`` for 10x v3 and Visium, the only genome group for 10x v2,
    ``/train`` for mfcli result files. Otherwise the file must hold exactly
    one matrix (n x 1 columns count only when nothing wider exists); several
    give an error listing them with their shapes.

Labels
    AnnData obs/var names (``raw/var`` for ``raw/X``), 10x features and
    barcodes, mfcli ``/labels/row`` and ``/labels/col`` (also as the row
    labels of ``/factors/row`` and ``/factors/col``). A list whose length does
    not match is dropped with a note in ``meta["warnings"]``.

Orientation
    Matrices are kept as stored. 10x files store features x barcodes (CSC), so
    rows are features (genes, labelled by ``features/id`` or ``genes``) and
    columns are barcodes (cells). AnnData ``X`` is obs x var (cells x genes).

Values
    Integers and booleans become ``options.dtype``; NaN and inf are kept (and
    counted in ``meta["nonfinite"]``) for later validation. Sparse groups are
    checked (pointer monotone, indices in range) and returned as CSR with
    sorted column indices; duplicates follow ``options.duplicates`` (default
    ``sum``).
"""

from __future__ import annotations

import io
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from mfcli.data import Matrix
from mfcli.errors import AmbiguousInputError, InputDataError, InputMissingError
from mfcli.io.labels import as_label_array
from mfcli.io.options import ReadOptions
from mfcli.io.source import BZ2_MAGIC, GZIP_MAGIC, HDF5_MAGIC, check_readable, read_bytes

__all__ = [
    "read",
    "open_file",
    "choose",
    "candidates",
    "describe",
    "file_layout",
    "read_choice",
    "dense_matrix",
    "sparse_matrix",
    "compressed_to_matrix",
    "attr_str",
    "is_dataset",
    "count_nonfinite",
]

NAME_HINT = "name one as FILE.h5:/path or with --dataset"
SPARSE_KINDS = {"csr": "csr", "csr_matrix": "csr", "csc": "csc", "csc_matrix": "csc"}
NUMERIC_KINDS = "biuf"
# HDF5 looks for its superblock at 0 and at 512 * 2**n (user blocks, e.g. MATLAB 7.3).
SUPERBLOCK_OFFSETS = (0, 512, 1024, 2048, 4096, 8192)
# How HDF5 words a filter (e.g. blosc, bitshuffle) that is not installed.
MISSING_FILTER = ("not registered", "plugin", "can't open directory")


@dataclass
class Choice:
    """The object to read and what the file says about it."""

    path: str
    layout: str | None = None  # file convention: anndata, 10x-v3, 10x-v2, mfcli-result
    candidates: list[str] = field(default_factory=list)


def read(path: str, options: ReadOptions) -> Matrix:
    """Read one matrix from an HDF5 file.

    Parameters
    ----------
    path : str
        File path (``.gz``/``.bz2`` compressed files are read into memory).
    options : ReadOptions
        ``dataset`` names the object; ``dtype`` and ``duplicates`` apply.

    Returns
    -------
    Matrix
        CSR for sparse groups, dense for datasets; ``meta`` records the
        layout, object path, encoding, other candidates and non-finite count.

    Raises
    ------
    InputDataError
        Not HDF5, corrupt, no or several matrices, invalid sparse arrays.
    InputMissingError
        The file cannot be read.
    """
    with open_file(path) as h5:
        try:
            choice = choose(h5, options.dataset)
            return read_choice(h5, choice, options)
        except OSError as exc:  # h5py reports damaged chunks and heaps as OSError
            raise _read_error(exc) from None


def _read_error(exc: OSError) -> InputDataError:
    reason = _h5_reason(exc)
    if any(s in reason.lower() for s in MISSING_FILTER):
        return InputDataError(
            f"HDF5 object needs a compression filter that is not available ({reason})",
            hint="rewrite the file with gzip or no compression, or install hdf5plugin",
        )
    return InputDataError(
        f"HDF5 file is corrupt or truncated ({reason})",
        hint="the file may be incomplete; copy or download it again",
    )


@contextmanager
def open_file(path: str):
    """Open ``path`` read-only with h5py, mapping failures to mfcli errors."""
    import h5py

    check_readable(path)
    try:
        with open(path, "rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise InputMissingError(f"cannot read: {exc.strerror or exc}") from None
    try:
        if magic[:2] == GZIP_MAGIC or magic[:3] == BZ2_MAGIC:
            target = io.BytesIO(read_bytes(path))
            h5 = h5py.File(target, "r")
        else:
            h5 = _open_path(h5py, path)
    except OSError as exc:
        raise _open_error(path, exc) from None
    try:
        yield h5
    finally:
        h5.close()


def _open_path(h5py, path: str):
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        if "lock" not in str(exc).lower():
            raise
    # File locking fails on some cluster file systems, and when this process
    # already holds the file open with other locking flags; we only read.
    return h5py.File(path, "r", locking=False)


def _open_error(path: str, exc: OSError) -> Exception:
    if "errno = 13" in str(exc) or isinstance(exc, PermissionError):
        return InputMissingError("permission denied")
    if not _has_hdf5_signature(path):
        return InputDataError(
            "not an HDF5 file (no HDF5 signature)",
            hint="check the file, or give its real format with --format",
        )
    return _read_error(exc)


def _has_hdf5_signature(path: str) -> bool:
    try:
        with open(path, "rb") as fh:
            raw = fh.read(4)
            if raw[:2] == GZIP_MAGIC or raw[:3] == BZ2_MAGIC:
                data = read_bytes(path)[: SUPERBLOCK_OFFSETS[-1] + 8]
            else:
                fh.seek(0)
                data = fh.read(SUPERBLOCK_OFFSETS[-1] + 8)
    except (OSError, InputDataError):
        return False
    return any(data[o : o + 8] == HDF5_MAGIC for o in SUPERBLOCK_OFFSETS)


def _h5_reason(exc: Exception) -> str:
    """The useful part of an h5py message: the innermost parenthesis."""
    text = str(exc)
    if "(" in text and text.endswith(")"):
        text = text[text.index("(") + 1 : -1]
    return text.split(", sblock")[0][:160]


# --------------------------------------------------------------------- choice
def file_layout(h5) -> str | None:
    """The file's convention, if it follows one mfcli knows."""
    if attr_str(h5, "format") == "mfcli-result":
        return "mfcli-result"
    if "matrix" in h5 and _is_sparse_group(h5["matrix"]):
        return "10x-v3"
    if attr_str(h5, "encoding-type") == "anndata" or ("X" in h5 and ("obs" in h5 or "var" in h5)):
        return "anndata"
    if _tenx_v2_groups(h5):
        return "10x-v2"
    return None


def choose(h5, name: str | None) -> Choice:
    """Pick the object to read: the named one, the convention's default, or the only one."""
    layout = file_layout(h5)
    if name:
        return _choose_named(h5, name, layout)
    found = [c for c in _conventional(h5, layout) if c in h5]
    if found:
        path = found[0]
        others = [describe(h5, p) for p in candidates(h5, layout) if p != path]
        return Choice(path, layout, others)
    return _only_candidate(h5, candidates(h5, layout), layout)


def _conventional(h5, layout: str | None) -> list[str]:
    if layout == "anndata":
        return ["/X"]
    if layout == "10x-v3":
        return ["/matrix"]
    if layout == "mfcli-result":
        return ["/train"]
    if layout == "10x-v2":
        genomes = _tenx_v2_groups(h5)
        return genomes if len(genomes) == 1 else []
    return []


def _choose_named(h5, name: str, layout: str | None) -> Choice:
    path = "/" + name.strip().lstrip("/")
    if path not in h5 and path == "/raw/X" and "raw.X" in h5:
        path = "/raw.X"  # legacy AnnData spelling
    if path not in h5:
        listing = ", ".join(describe(h5, p) for p in candidates(h5, layout)[:8])
        raise InputDataError(
            f"no object {path} in this file",
            hint=f"matrices here: {listing}" if listing else "the file holds no 2-D matrix",
        )
    obj = h5[path]
    if layout == "anndata" and not is_dataset(obj) and "X" in obj and _is_matrix(obj["X"]):
        obj = obj["X"]  # /raw names raw/X
        path = obj.name
    if not (is_dataset(obj) or _is_sparse_group(obj)):
        inner = candidates(h5, layout, under=obj)
        if not inner:
            raise InputDataError(
                f"{path} is a group without a matrix in it",
                hint="name a 2-D dataset or a sparse group (data, indices, indptr)",
            )
        if len(inner) > 1:
            raise _several(h5, inner)
        path = inner[0]
    others = [describe(h5, p) for p in candidates(h5, layout) if p != path]
    return Choice(path, layout, others)


def _only_candidate(h5, paths: list[str], layout: str | None) -> Choice:
    # Prefer real matrices over n x 1 / 1 x n columns when both exist.
    wide = [p for p in paths if min(_shape_of(h5[p]) or (0, 0)) > 1]
    pool = wide or paths
    if len(pool) == 1:
        return Choice(pool[0], layout, [describe(h5, p) for p in paths if p != pool[0]])
    if not pool:
        seen = []
        h5.visititems(lambda n, o: seen.append(describe(h5, "/" + n)) if is_dataset(o) else None)
        listing = ", ".join(seen[:6]) or "nothing"
        raise InputDataError(
            f"no 2-D matrix in this file (found: {listing})",
            hint="mfcli reads 2-D numeric datasets and CSR/CSC groups (data, indices, indptr)",
        )
    raise _several(h5, pool)


def _several(h5, paths: list[str]) -> InputDataError:
    described = [describe(h5, p) for p in paths]
    listing = ", ".join(described[:12])
    more = f" and {len(paths) - 12} more" if len(paths) > 12 else ""
    return AmbiguousInputError(
        f"{len(paths)} matrices in this file: {listing}{more}",
        hint=NAME_HINT,
        candidates=described,
    )


def candidates(h5, layout: str | None, under=None) -> list[str]:
    """Paths of everything that can be read as a matrix, in file order.

    Under a known layout only the matrices it defines count (AnnData X, raw/X,
    layers/*; 10x genome groups; mfcli train and factors), so auxiliary arrays
    such as ``obsm`` embeddings are not mistaken for the data.
    """
    root = under if under is not None else h5
    if under is None and layout == "anndata":
        paths = ["/X", "/raw/X", "/raw.X"]
        if "layers" in h5 and not is_dataset(h5["layers"]):
            paths += [f"/layers/{k}" for k in h5["layers"]]
        return [p for p in paths if p in h5 and _is_matrix(h5[p])]
    if under is None and layout == "10x-v2":
        return _tenx_v2_groups(h5)
    found: list[str] = []

    def visit(group):
        for key in group:
            obj = _get(group, key)
            if obj is None:
                continue
            if _is_matrix(obj):
                found.append(obj.name)
            elif not is_dataset(obj) and not key.startswith("#"):
                visit(obj)

    if _is_matrix(root):
        return [root.name]
    visit(root)
    return found


def describe(h5, path: str) -> str:
    """``/train/data (7291 x 256, dense float32)`` for candidate listings."""
    obj = h5[path]
    if is_dataset(obj) and len(obj.shape) != 2:
        return f"{path} (shape {tuple(obj.shape)}, {obj.dtype})"
    shape = _shape_of(obj)
    dims = " x ".join(str(n) for n in shape) if shape is not None else "?"
    if is_dataset(obj):
        kind = f"dense {obj.dtype}" if obj.dtype.kind in NUMERIC_KINDS else str(obj.dtype)
    else:
        try:
            kind = f"sparse {_sparse_kind(obj)}"
        except InputDataError:  # unknown encoding: reported when it is read
            kind = "sparse, unknown encoding"
    return f"{path} ({dims}, {kind})"


# ----------------------------------------------------------------- reading
def read_choice(h5, choice: Choice, options: ReadOptions) -> Matrix:
    """Read the chosen object and attach the labels its layout defines."""
    obj = h5[choice.path]
    meta = {
        "layout": choice.layout or ("dense-dataset" if is_dataset(obj) else "csr-group"),
        "object": choice.path,
        "candidates": choice.candidates,
    }
    if is_dataset(obj):
        matrix = dense_matrix(obj, options)
        meta["encoding"] = attr_str(obj, "encoding-type") or "dense"
    else:
        kind = _sparse_kind(obj)
        matrix = sparse_matrix(obj, options, kind=kind)
        meta["encoding"] = (
            attr_str(obj, "encoding-type") or attr_str(obj, "h5sparse_format") or kind
        )
        if choice.layout is None and kind == "csc":
            meta["layout"] = "csc-group"
    producer = attr_str(h5, "software_version") or attr_str(h5, "chemistry_description")
    if producer and choice.layout in ("10x-v3", "10x-v2"):
        meta["producer"] = producer
    rows, cols = _labels_for(h5, choice)
    _set_labels(matrix, rows, cols, meta)
    matrix.meta.update(meta)
    return matrix


def dense_matrix(ds, options: ReadOptions, *, transpose: bool = False) -> Matrix:
    """A 2-D numeric dataset as a dense Matrix (``transpose`` for MATLAB order)."""
    _check_dense(ds)
    values = ds[()]
    if transpose:
        values = values.T
    data = np.ascontiguousarray(values, dtype=options.dtype)
    meta = {"stored_dtype": str(ds.dtype), "nonfinite": count_nonfinite(data)}
    return Matrix(shape=data.shape, data=data, meta=meta)


def _check_dense(ds) -> None:
    import h5py

    name, shape, kind = ds.name, tuple(ds.shape), ds.dtype.kind
    if kind in "SU" or h5py.check_string_dtype(ds.dtype) is not None:
        raise InputDataError(f"{name} holds strings, not numbers", hint="name a numeric dataset")
    if kind == "V" and ds.dtype.names:
        raise InputDataError(
            f"{name} is a table (compound type), not a matrix", hint="name a numeric 2-D dataset"
        )
    if kind == "c":
        raise InputDataError(f"{name} holds complex values", hint="mfcli reads real matrices")
    if kind not in NUMERIC_KINDS:
        raise InputDataError(f"{name} has unsupported type {ds.dtype}")
    if len(shape) != 2:
        what = "a scalar" if not shape else f"{len(shape)}-D {shape}"
        raise InputDataError(
            f"{name} is {what}, not a 2-D matrix",
            hint="name a 2-D dataset or a sparse group (data, indices, indptr)",
        )


def sparse_matrix(group, options: ReadOptions, *, kind: str | None = None) -> Matrix:
    """A CSR/CSC group (``data``, ``indices``, ``indptr``, shape) as a CSR Matrix."""
    kind = kind or _sparse_kind(group)
    name = group.name
    for member in ("data", "indices", "indptr"):
        if member not in group:
            raise InputDataError(f"sparse group {name} has no '{member}' dataset")
    data, indices, indptr = group["data"], group["indices"], group["indptr"]
    for ds in (data, indices, indptr):
        if not is_dataset(ds) or len(ds.shape) != 1:
            raise InputDataError(f"{ds.name} must be a 1-D dataset")
    if data.dtype.kind not in NUMERIC_KINDS:
        raise InputDataError(f"{data.name} holds {data.dtype} values, not real numbers")
    for ds in (indices, indptr):
        if ds.dtype.kind not in "iu":
            raise InputDataError(f"{ds.name} must hold integers, not {ds.dtype}")
    shape = _sparse_shape(group, kind)
    return compressed_to_matrix(
        indptr[()],
        indices[()],
        data[()],
        shape,
        kind,
        options,
        name=name,
        stored_dtype=str(data.dtype),
    )


def compressed_to_matrix(
    indptr,
    indices,
    values,
    shape,
    kind: str,
    options: ReadOptions,
    *,
    name: str,
    stored_dtype: str | None = None,
) -> Matrix:
    """Validate CSR/CSC arrays and build a canonical CSR Matrix.

    Parameters
    ----------
    indptr : (n_major + 1,) pointers; indices : (nnz,) minor indices
    values : (nnz,) numbers, or None for a pattern (all ones)
    shape : (n_rows, n_cols) of the matrix
    kind : "csr" or "csc"
    name : object path used in error messages
    """
    n_rows, n_cols = shape
    n_major, n_minor = (n_rows, n_cols) if kind == "csr" else (n_cols, n_rows)
    indptr = np.asarray(indptr).astype(np.int64, copy=False)
    indices = np.asarray(indices).astype(np.int64, copy=False)
    nnz = indices.shape[0]
    if values is not None and np.shape(values)[0] != nnz:
        raise InputDataError(
            f"{name}: data has {np.shape(values)[0]} entries but indices has {nnz}"
        )
    _check_pointers(indptr, n_major, nnz, name, "row" if kind == "csr" else "column")
    axis = "column" if kind == "csr" else "row"
    if nnz and (indices.min() < 0 or indices.max() >= n_minor):
        bad = int(np.flatnonzero((indices < 0) | (indices >= n_minor))[0])
        raise InputDataError(
            f"{name}: {axis} index {int(indices[bad])} out of range 0..{n_minor - 1} at entry {bad}"
        )
    dtype = np.dtype(options.dtype)
    if values is None:
        values = np.ones(nnz, dtype=dtype)
    values = np.asarray(values).astype(dtype, copy=False)
    meta = {"nonfinite": count_nonfinite(values)}
    if stored_dtype:
        meta["stored_dtype"] = stored_dtype
    if kind == "csr" and _canonical(indptr, indices):
        return Matrix.from_csr(indptr, indices, values, shape, dtype=dtype, check=False, meta=meta)
    major = np.repeat(np.arange(n_major, dtype=np.int64), np.diff(indptr))
    rows, cols = (major, indices) if kind == "csr" else (indices, major)
    return Matrix.from_coo(
        rows, cols, values, shape, duplicates=options.duplicates or "sum", dtype=dtype, meta=meta
    )


def _check_pointers(indptr, n_major: int, nnz: int, name: str, axis: str) -> None:
    if indptr.shape[0] != n_major + 1:
        raise InputDataError(
            f"{name}: indptr has {indptr.shape[0]} entries, expected {n_major + 1} "
            f"(one per {axis} plus one)",
            hint="the shape does not match the pointer array",
        )
    if indptr[0] != 0 or indptr[-1] != nnz:
        raise InputDataError(
            f"{name}: indptr must run from 0 to nnz={nnz}, got {int(indptr[0])}..{int(indptr[-1])}"
        )
    steps = np.diff(indptr)
    if np.any(steps < 0):
        bad = int(np.flatnonzero(steps < 0)[0])
        raise InputDataError(f"{name}: indptr decreases at position {bad + 1}")


def _canonical(indptr, indices) -> bool:
    """Column indices strictly increasing inside every row (sorted, no duplicates)."""
    if indices.shape[0] < 2:
        return True
    increasing = np.diff(indices) > 0
    starts = indptr[1:-1]
    starts = starts[(starts > 0) & (starts < indices.shape[0])]
    increasing[starts - 1] = True  # a row boundary may go down
    return bool(increasing.all())


def _sparse_kind(group) -> str:
    """csr or csc, from the encoding attributes, else from the pointer length."""
    for attr in ("encoding-type", "h5sparse_format", "format"):
        value = attr_str(group, attr)
        if value is None:
            continue
        if value.lower() in SPARSE_KINDS:
            return SPARSE_KINDS[value.lower()]
        if attr != "format":
            raise InputDataError(
                f"{group.name}: unsupported sparse encoding {value!r}", hint="use csr or csc"
            )
    if _is_tenx_group(group):
        return "csc"  # 10x stores features x barcodes column-compressed, unmarked
    shape = _declared_shape(group)
    if shape is not None and "indptr" in group:
        n_ptr = group["indptr"].shape[0] if group["indptr"].shape else 0
        if n_ptr == shape[1] + 1 and n_ptr != shape[0] + 1:
            return "csc"
    return "csr"


def _sparse_shape(group, kind: str) -> tuple[int, int]:
    shape = _declared_shape(group)
    if shape is not None:
        return shape
    # No shape anywhere: smallest shape that holds every entry.
    n_major = group["indptr"].shape[0] - 1
    indices = group["indices"][()]
    n_minor = int(indices.max()) + 1 if indices.size else 0
    return (n_major, n_minor) if kind == "csr" else (n_minor, n_major)


def _declared_shape(group) -> tuple[int, int] | None:
    raw = None
    for attr in ("shape", "h5sparse_shape"):
        if attr in group.attrs:
            raw = group.attrs[attr]
            break
    if raw is None and "shape" in group and is_dataset(group["shape"]):
        raw = group["shape"][()]
    if raw is None:
        return None
    shape = np.asarray(raw).ravel()
    if shape.shape[0] != 2 or shape.dtype.kind not in "iuf" or np.any(shape < 0):
        raise InputDataError(f"{group.name}: shape must be two non-negative integers, got {raw}")
    return int(shape[0]), int(shape[1])


def count_nonfinite(values: np.ndarray) -> int:
    """NaN and inf entries in ``values`` (reported in meta, rejected later by validation)."""
    if values.dtype.kind != "f":
        return 0
    return int(values.size - np.count_nonzero(np.isfinite(values)))


# ------------------------------------------------------------------ labels
def _labels_for(h5, choice: Choice):
    path, layout = choice.path, choice.layout
    if layout == "anndata":
        return _anndata_labels(h5, path)
    if layout == "10x-v3" and path == "/matrix":
        group = h5["matrix"]
        rows = _label_ds(group, "features/id") or _label_ds(group, "features/name")
        return _read_labels(rows), _read_labels(_label_ds(group, "barcodes"))
    if layout == "10x-v2" and _is_tenx_group(h5[path]):
        group = h5[path]
        rows = _label_ds(group, "genes") or _label_ds(group, "gene_names")
        return _read_labels(rows), _read_labels(_label_ds(group, "barcodes"))
    if layout == "mfcli-result":
        row, col = _label_ds(h5, "labels/row"), _label_ds(h5, "labels/col")
        if path == "/train":
            return _read_labels(row), _read_labels(col)
        if path == "/factors/row":
            return _read_labels(row), None
        if path == "/factors/col":
            return _read_labels(col), None
    if layout is None and path.count("/") == 1 and "labels" in h5:
        # Plain files written by mfcli (generate, split): /labels/row and /labels/col.
        return _read_labels(_label_ds(h5, "labels/row")), _read_labels(_label_ds(h5, "labels/col"))
    return None, None


def _anndata_labels(h5, path: str):
    if path == "/X" or path.startswith("/layers/"):
        return _frame_index(h5, "obs"), _frame_index(h5, "var")
    if path == "/raw/X":
        return _frame_index(h5, "obs"), _frame_index(h5, "raw/var")
    if path == "/raw.X":
        return _frame_index(h5, "obs"), _frame_index(h5, "raw.var")
    return None, None


def _frame_index(h5, name: str):
    """Row names of an AnnData dataframe: new group layout or legacy compound table."""
    if name not in h5:
        return None
    frame = h5[name]
    if is_dataset(frame):  # legacy (anndata < 0.7): compound dtype with an index field
        fields = frame.dtype.names or ()
        return _decode(frame["index"]) if "index" in fields else None
    column = attr_str(frame, "_index") or "_index"
    return _read_labels(_label_ds(frame, column))


def _label_ds(group, name: str):
    obj = group.get(name)
    return obj if is_dataset(obj) and len(obj.shape) == 1 else None


def _read_labels(ds):
    if ds is None:
        return None
    if ds.dtype.kind in "SO":
        return _decode(ds.asstr()[()])
    if ds.dtype.kind in "iuU":
        return as_label_array(ds[()])
    return None


def _decode(values):
    return as_label_array(np.asarray(values))


def _set_labels(matrix: Matrix, rows, cols, meta: dict) -> None:
    # A label list of the wrong length is a file inconsistency: keep the matrix, drop the list.
    for attr, labels, n in (
        ("row_labels", rows, matrix.shape[0]),
        ("col_labels", cols, matrix.shape[1]),
    ):
        if labels is None:
            continue
        if len(labels) == n:
            setattr(matrix, attr, labels)
        else:
            meta.setdefault("warnings", []).append(
                f"{attr.replace('_', ' ')} ignored: {len(labels)} for {n}"
            )


# ----------------------------------------------------------------- helpers
def is_dataset(obj) -> bool:
    """True for an h5py Dataset (False for groups, None and dangling links)."""
    import h5py

    return isinstance(obj, h5py.Dataset)


def _is_sparse_group(obj) -> bool:
    return (
        not is_dataset(obj)
        and obj is not None
        and all(k in obj for k in ("data", "indices", "indptr"))
    )


def _is_matrix(obj) -> bool:
    if _is_sparse_group(obj):
        return True
    return is_dataset(obj) and len(obj.shape) == 2 and obj.dtype.kind in NUMERIC_KINDS


def _is_tenx_group(group) -> bool:
    return (
        _is_sparse_group(group)
        and "shape" in group
        and ("barcodes" in group or "features" in group or "genes" in group)
    )


def _tenx_v2_groups(h5) -> list[str]:
    groups = (_get(h5, k) for k in h5)
    return [
        g.name
        for g in groups
        if g is not None and not is_dataset(g) and _is_tenx_group(g) and "genes" in g
    ]


def _get(group, key):
    """``group[key]``, or None for a dangling soft or external link."""
    try:
        return group[key]
    except KeyError:
        return None


def _shape_of(obj) -> tuple[int, ...] | None:
    if is_dataset(obj):
        return tuple(obj.shape)
    try:
        return _declared_shape(obj) or _sparse_shape(obj, _sparse_kind(obj))
    except (InputDataError, KeyError, ValueError, OSError):
        return None


def attr_str(obj, name: str) -> str | None:
    """A string attribute (str, bytes or a 1-element array of either), else None."""
    if obj is None or name not in obj.attrs:
        return None
    value = obj.attrs[name]
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.ravel()[0]
    if isinstance(value, (bytes, np.bytes_)):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, str):
        return value
    return None
