"""The in-memory matrix every reader returns and every solver takes.

A :class:`Matrix` is either sparse CSR (``indptr``, ``indices``, ``data``) or
dense (``data`` is 2-D, ``indptr``/``indices`` are None). Indices are int32
unless the size needs int64. Values are float32 or float64. Row and column
labels are the original ids (int64 or unicode arrays); ``timestamps`` is
aligned with ``data`` for sparse matrices.

Duplicate coordinates follow one of three policies:

``sum``   add the values (Matrix Market, HDF5, implicit logs without values);
``last``  keep the entry that comes last in the file (rating triplets);
``error`` refuse the file, naming the first duplicate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mfcli.errors import InputDataError

DUPLICATE_POLICIES = ("sum", "last", "error")
INT32_MAX = np.iinfo(np.int32).max


def index_dtype(largest: int) -> np.dtype:
    """int32 when ``largest`` fits, else int64."""
    return np.dtype(np.int32) if largest <= INT32_MAX else np.dtype(np.int64)


@dataclass(eq=False)
class Matrix:
    """A sparse (CSR) or dense matrix with optional labels and timestamps.

    Attributes
    ----------
    shape : (n_rows, n_cols)
    data : (nnz,) values for CSR, (n_rows, n_cols) for dense
    indptr : (n_rows + 1,) or None when dense
    indices : (nnz,) column indices or None when dense
    row_labels, col_labels : (n_rows,), (n_cols,) original ids, or None
    timestamps : (nnz,) float64 or int64, aligned with ``data``, or None
    meta : what the reader found out (format, header, field, ...), for ``info``
    """

    shape: tuple[int, int]
    data: np.ndarray
    indptr: np.ndarray | None = None
    indices: np.ndarray | None = None
    row_labels: np.ndarray | None = None
    col_labels: np.ndarray | None = None
    timestamps: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.shape = (int(self.shape[0]), int(self.shape[1]))
        if self.is_sparse and self.indptr.shape[0] != self.shape[0] + 1:
            raise ValueError("indptr length must be n_rows + 1")
        if not self.is_sparse and self.data.shape != self.shape:
            raise ValueError("dense data must have the matrix shape")
        for name, labels, n in (
            ("row", self.row_labels, self.shape[0]),
            ("col", self.col_labels, self.shape[1]),
        ):
            if labels is not None and len(labels) != n:
                raise InputDataError(
                    f"{len(labels)} {name} labels for {n} {name}s",
                    hint="the label file must have one line per " + name,
                )

    # ----------------------------------------------------------------- shape
    @property
    def is_sparse(self) -> bool:
        return self.indptr is not None

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def nnz(self) -> int:
        """Stored entries (sparse) or nonzero values (dense)."""
        if self.is_sparse:
            return int(self.data.shape[0])
        return int(np.count_nonzero(self.data))

    @property
    def density(self) -> float:
        cells = self.shape[0] * self.shape[1]
        return self.nnz / cells if cells else 0.0

    # ---------------------------------------------------------- constructors
    @classmethod
    def from_dense(cls, array: np.ndarray, *, dtype=np.float64, **kwargs) -> Matrix:
        array = np.ascontiguousarray(array, dtype=dtype)
        if array.ndim != 2:
            raise InputDataError(f"expected a 2-D array, got {array.ndim}-D")
        return cls(shape=array.shape, data=array, **kwargs)

    @classmethod
    def from_csr(
        cls, indptr, indices, data, shape, *, dtype=np.float64, check=True, **kwargs
    ) -> Matrix:
        """Wrap CSR arrays, converting index dtypes and checking them."""
        n_rows, n_cols = int(shape[0]), int(shape[1])
        indptr = np.asarray(indptr)
        indices = np.asarray(indices)
        nnz = int(indices.shape[0])
        if check:
            _check_csr(indptr, indices, n_rows, n_cols, nnz)
        return cls(
            shape=(n_rows, n_cols),
            data=np.ascontiguousarray(data, dtype=dtype),
            indptr=np.ascontiguousarray(indptr, dtype=index_dtype(nnz)),
            indices=np.ascontiguousarray(indices, dtype=index_dtype(n_cols)),
            **kwargs,
        )

    @classmethod
    def from_coo(
        cls,
        rows: np.ndarray,
        cols: np.ndarray,
        values: np.ndarray | None,
        shape: tuple[int, int],
        *,
        duplicates: str = "sum",
        dtype=np.float64,
        timestamps: np.ndarray | None = None,
        entry_label=None,
        copy: bool = True,
        in_range: bool = False,
        **kwargs,
    ) -> Matrix:
        """Build CSR from 0-based coordinates (any order).

        Parameters
        ----------
        rows, cols : (nnz,) integer arrays; int32 and int64 are used as they
            are, other integer types are converted to int64
        values : (nnz,) numbers, or None for all ones (pattern / interaction)
        shape : (n_rows, n_cols)
        duplicates : "sum" (add values, keep the latest timestamp), "last"
            (keep the entry last in file order) or "error"
        dtype : the dtype of ``data`` (float32 or float64; others are built in
            float64 and converted); under ``sum``, values are converted to it
            before they are added (in float64)
        timestamps : (nnz,) numbers, datetimes or None, kept in their own dtype
        entry_label : callable or None
            ``entry_label(i)`` turns an entry's position into a location for
            the duplicate error (e.g. a file line); by default the entry number.
        copy : False hands ``values`` and ``timestamps`` over: when the
            entries are grouped by row already and an array has the output
            dtype (and holds little memory besides its own), it becomes the
            matrix's own (sorted and merged in place) instead of being copied.
            The caller must not use them afterwards.
        in_range : True when the caller knows every row and column is inside
            ``shape`` (codes of a factorization): the large-input path then
            skips its range check.

        Returns
        -------
        Matrix
            CSR with columns sorted within rows; ``indices`` int32 when
            ``n_cols`` fits, ``indptr`` int32 when nnz fits. ``meta`` gains
            ``duplicates_merged`` and ``duplicate_policy``.

        The inputs are not modified (unless ``copy`` is False). Columns, values
        and timestamps are written straight into the output arrays, so the peak
        above the inputs is the output before de-duplication; merged entries
        are then given back.
        """
        from mfcli.kernels import sparse_build as sb

        if duplicates not in DUPLICATE_POLICIES:
            raise ValueError(f"unknown duplicate policy {duplicates!r}")
        n_rows, n_cols = int(shape[0]), int(shape[1])
        dtype = np.dtype(dtype)
        work = dtype if dtype in (np.float32, np.float64) else np.dtype(np.float64)
        rows, cols = _coords(rows), _coords(cols)
        nnz = rows.shape[0]
        if cols.shape[0] != nnz:
            raise ValueError("rows and cols must have the same length")
        if values is not None:
            values = _aligned(values, nnz, "values")
            if values.dtype not in (np.float32, np.float64):
                values = values.astype(work)
        stamp_view = None
        if timestamps is not None:
            timestamps = _aligned(timestamps, nnz, "timestamps")
            if timestamps.dtype.kind in "mM":  # numba copies them as int64
                stamp_view = timestamps.dtype
                timestamps = timestamps.view(np.int64)
            elif timestamps.dtype.kind not in "biuf":
                raise ValueError(f"timestamps must be numbers or datetimes, got {timestamps.dtype}")
        policy = {"sum": sb.DUP_SUM, "last": sb.DUP_LAST, "error": sb.DUP_ERROR}[duplicates]

        # Stable counting sort by row, straight into the output arrays, then
        # each row sorted by column and de-duplicated in place. Entries grouped
        # by row do not move: arrays handed over are kept (fresh memory is slow
        # to fault in), and None tells the scatter to leave them as they are.
        grouped = not copy and sb.rows_grouped(rows)
        indices = np.empty(nnz, dtype=index_dtype(n_cols))
        if grouped and _can_keep(values) and values.dtype == work:
            data, values = values, None
        else:
            data = np.ones(nnz, dtype=work) if values is None else np.empty(nnz, dtype=work)
        if grouped and _can_keep(timestamps):
            stamps, timestamps = timestamps, None
        else:
            stamps = None if timestamps is None else np.empty(nnz, dtype=timestamps.dtype)
        if nnz <= sb.SERIAL_MAX:
            indptr = np.zeros(n_rows + 1, dtype=np.int64)
            fill = np.empty(n_rows, dtype=np.int64)
            status = int(
                sb.build_serial(
                    rows, cols, values, timestamps, n_cols, indptr, fill, indices, data, stamps
                )
            )
            del fill
            _raise_out_of_range(rows, cols, n_rows, n_cols, status)
            if status == -1:  # every row in order already
                kept = np.diff(indptr)
            else:
                kept = sb.sort_dedupe_serial(indptr, indices, data, stamps, n_cols, policy)
        else:
            if not in_range:
                _check_coords(rows, cols, n_rows, n_cols)
            indptr, starts = sb.count_rows(rows, n_rows, sb.scatter_chunks(nnz, n_rows))
            sb.scatter(rows, cols, values, timestamps, starts, indices, data, stamps)
            del starts
            blocks = sb.row_blocks(indptr)
            kept = sb.sort_dedupe_rows(indptr, blocks, indices, data, stamps, n_cols, policy)
        n_kept = int(kept.sum())
        if duplicates == "error" and n_kept < nnz:
            del data, stamps
            first = int(sb.first_duplicate(rows, cols, indptr, indices))
            r, c = int(rows[first]) + 1, int(cols[first]) + 1
            where = entry_label(first) if entry_label else f"entry {first + 1}"
            raise InputDataError(
                f"duplicate entry ({r}, {c}) at {where}",
                hint="use --duplicates sum or --duplicates last",
            )
        if n_kept < nnz:
            indptr = sb.compact_rows(indptr, kept, indices, data, stamps)
            indices, data = _shrink(indices, n_kept), _shrink(data, n_kept)
            if stamps is not None:
                stamps = _shrink(stamps, n_kept)
        if stamp_view is not None:
            stamps = stamps.view(stamp_view)
        if work != dtype:
            data = data.astype(dtype)
        meta = kwargs.pop("meta", {})
        meta.setdefault("duplicates_merged", nnz - n_kept)
        meta.setdefault("duplicate_policy", duplicates)
        return cls(
            shape=(n_rows, n_cols),
            data=data,
            indptr=indptr.astype(index_dtype(n_kept)),
            indices=indices,
            timestamps=stamps,
            meta=meta,
            **kwargs,
        )

    # ------------------------------------------------------------ conversion
    def to_scipy(self):
        """scipy.sparse.csr_matrix (sparse) or the dense ndarray itself."""
        if not self.is_sparse:
            return self.data
        import scipy.sparse as sp

        return sp.csr_matrix((self.data, self.indices, self.indptr), shape=self.shape)

    def to_dense(self) -> np.ndarray:
        return self.to_scipy().toarray() if self.is_sparse else self.data

    def astype(self, dtype) -> Matrix:
        if self.data.dtype == np.dtype(dtype):
            return self
        from dataclasses import replace

        return replace(self, data=self.data.astype(dtype))

    def row_degrees(self) -> np.ndarray:
        """Stored entries per row (nonzeros per row when dense)."""
        if self.is_sparse:
            return np.diff(self.indptr)
        return np.count_nonzero(self.data, axis=1)

    def col_degrees(self) -> np.ndarray:
        if self.is_sparse:
            return np.bincount(self.indices, minlength=self.shape[1])
        return np.count_nonzero(self.data, axis=0)

    def value_range(self) -> tuple[float, float] | None:
        if self.data.size == 0:
            return None
        return float(np.min(self.data)), float(np.max(self.data))


def _coords(idx) -> np.ndarray:
    """A 1-D index array as int32 or int64, copied only for other dtypes."""
    idx = np.asarray(idx)
    if idx.ndim != 1:
        raise ValueError("coordinates must be 1-D")
    if idx.dtype not in (np.int32, np.int64):
        if idx.size and idx.dtype.kind not in "iub":
            raise ValueError(f"coordinates must be integers, got {idx.dtype}")
        idx = idx.astype(np.int64)
    return np.ascontiguousarray(idx)


def _aligned(array, nnz: int, name: str) -> np.ndarray:
    array = np.ascontiguousarray(array)
    if array.shape != (nnz,):
        raise ValueError(f"{name} must have one entry per coordinate ({nnz}), got {array.shape}")
    return array


def _can_keep(array) -> bool:
    """Can an array handed over to from_coo (copy=False) be sorted in place and
    kept? Not when it is a view holding much more memory than its own (a row of
    a parsed table): the matrix would keep all of it alive."""
    if array is None or not array.flags.writeable:
        return False
    held = array.nbytes if array.base is None else array.base.nbytes
    return held - array.nbytes <= array.nbytes // 64  # e.g. comment lines' slots


def _shrink(array: np.ndarray, n: int) -> np.ndarray:
    """The first ``n`` entries, with the memory past them given back.

    Only for arrays made by from_coo, or handed over to it, with no other
    view on them. A slice would keep the whole buffer alive; ``resize``
    reallocates in place (large buffers are mremap-ed, so the tail pages are
    released). The reference check is off because the call itself holds
    extra references.
    """
    if not array.flags.owndata:  # a view handed over (copy=False)
        return array[:n].copy()
    array.resize(n, refcheck=False)
    return array


def _check_coords(rows, cols, n_rows, n_cols) -> None:
    """Raise on the first entry (file order) with an index outside the shape."""
    from mfcli.kernels.sparse_build import first_out_of_range

    if rows.shape != cols.shape:
        raise ValueError("rows and cols must have the same length")
    bad = int(first_out_of_range(rows, cols, n_rows, n_cols))
    _raise_out_of_range(rows, cols, n_rows, n_cols, bad)


def _raise_out_of_range(rows, cols, n_rows, n_cols, bad: int) -> None:
    """Raise for entry ``bad``, whose row or column is out of range (nothing when -1)."""
    if bad < 0:
        return
    r = int(rows[bad])
    name, idx, n = ("row", r, n_rows) if not 0 <= r < n_rows else ("column", int(cols[bad]), n_cols)
    raise InputDataError(f"{name} index {idx + 1} out of range 1..{n} at entry {bad + 1}")


def _check_csr(indptr, indices, n_rows, n_cols, nnz) -> None:
    if indptr.ndim != 1 or indptr.shape[0] != n_rows + 1:
        raise InputDataError(f"indptr has {indptr.shape[0]} entries, expected {n_rows + 1}")
    if indptr[0] != 0 or indptr[-1] != nnz or np.any(np.diff(indptr) < 0):
        raise InputDataError("indptr is not a valid non-decreasing pointer array")
    if nnz and (int(indices.min()) < 0 or int(indices.max()) >= n_cols):
        raise InputDataError(f"column index out of range 0..{n_cols - 1}")
