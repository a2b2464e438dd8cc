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
        **kwargs,
    ) -> Matrix:
        """Build CSR from 0-based coordinates (any order).

        ``values`` None means every entry is 1 (pattern / interaction).
        ``entry_label(i)`` turns an entry's position into a location for the
        duplicate error (e.g. a file line); by default the entry number.
        """
        from mfcli.kernels import sparse_build as sb

        if duplicates not in DUPLICATE_POLICIES:
            raise ValueError(f"unknown duplicate policy {duplicates!r}")
        n_rows, n_cols = int(shape[0]), int(shape[1])
        rows = np.ascontiguousarray(rows, dtype=np.int64)
        cols = np.ascontiguousarray(cols, dtype=np.int64)
        if values is None:
            values = np.ones(rows.shape[0], dtype=dtype)
        values = np.ascontiguousarray(values)
        _check_coords(rows, cols, n_rows, n_cols)

        indptr, order = sb.row_sort_order(rows, cols, n_rows)
        policy = {"sum": sb.DUP_SUM, "last": sb.DUP_LAST, "error": sb.DUP_ERROR}[duplicates]
        new_indptr, starts, ends, first_dup = sb.dedupe_sorted(indptr, order, cols, policy)
        if duplicates == "error" and first_dup >= 0:
            r, c = int(rows[first_dup]) + 1, int(cols[first_dup]) + 1
            where = entry_label(first_dup) if entry_label else f"entry {first_dup + 1}"
            raise InputDataError(
                f"duplicate entry ({r}, {c}) at {where}",
                hint="use --duplicates sum or --duplicates last",
            )
        if first_dup < 0:
            out_values = values[order]
            out_ts = timestamps[order] if timestamps is not None else None
            out_cols = cols[order]
        else:
            if duplicates == "sum":
                out_values = sb.gather_sum(order, starts, ends, values)
                out_ts = (
                    None if timestamps is None else sb.gather_max(order, starts, ends, timestamps)
                )
            else:
                out_values = sb.gather_last(order, ends, values)
                out_ts = None if timestamps is None else sb.gather_last(order, ends, timestamps)
            out_cols = cols[order[starts]]
        meta = kwargs.pop("meta", {})
        meta.setdefault(
            "duplicates_merged", 0 if first_dup < 0 else int(rows.shape[0] - starts.shape[0])
        )
        meta.setdefault("duplicate_policy", duplicates)
        return cls.from_csr(
            new_indptr,
            out_cols,
            out_values,
            (n_rows, n_cols),
            dtype=dtype,
            check=False,
            timestamps=out_ts,
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


def _check_coords(rows, cols, n_rows, n_cols) -> None:
    if rows.shape != cols.shape:
        raise ValueError("rows and cols must have the same length")
    if rows.size == 0:
        return
    for name, idx, n in (("row", rows, n_rows), ("column", cols, n_cols)):
        lo, hi = int(idx.min()), int(idx.max())
        if lo < 0 or hi >= n:
            bad = int(np.flatnonzero((idx < 0) | (idx >= n))[0])
            raise InputDataError(
                f"{name} index {int(idx[bad]) + 1} out of range 1..{n} at entry {bad + 1}"
            )


def _check_csr(indptr, indices, n_rows, n_cols, nnz) -> None:
    if indptr.ndim != 1 or indptr.shape[0] != n_rows + 1:
        raise InputDataError(f"indptr has {indptr.shape[0]} entries, expected {n_rows + 1}")
    if indptr[0] != 0 or indptr[-1] != nnz or np.any(np.diff(indptr) < 0):
        raise InputDataError("indptr is not a valid non-decreasing pointer array")
    if nnz and (int(indices.min()) < 0 or int(indices.max()) >= n_cols):
        raise InputDataError(f"column index out of range 0..{n_cols - 1}")
