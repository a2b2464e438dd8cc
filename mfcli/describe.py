"""What is in a file: the statistics behind ``mfcli info`` (no printing here)."""

from __future__ import annotations

from typing import Any

from mfcli.io.options import ReadOptions


def describe_matrix(matrix) -> dict[str, Any]:
    """Shape, nnz, density, dtype, value range and degree statistics of a Matrix."""
    import numpy as np

    n_rows, n_cols = matrix.shape
    info: dict[str, Any] = {
        "kind": "matrix",
        "format": matrix.meta.get("format"),
        "storage": "sparse (CSR)" if matrix.is_sparse else "dense",
        "shape": [n_rows, n_cols],
        "nnz": matrix.nnz,
        "density": matrix.density,
        "dtype": str(matrix.dtype),
    }
    finite = np.isfinite(matrix.data)
    non_finite = int(matrix.data.size - np.count_nonzero(finite))
    if matrix.data.size:
        values = matrix.data[finite] if non_finite else matrix.data
        if values.size and np.iscomplexobj(values):
            info["complex"] = True  # readable for info only: solvers need real values
            info["abs_min"] = float(np.abs(values).min())
            info["abs_max"] = float(np.abs(values).max())
        elif values.size:
            info["value_min"] = float(values.min())
            info["value_max"] = float(values.max())
            info["integer_valued"] = bool(np.all(np.mod(values, 1) == 0))
    info["non_finite_values"] = non_finite
    info["row_degree"] = _degree_stats(matrix.row_degrees())
    info["col_degree"] = _degree_stats(matrix.col_degrees())
    info["row_labels"] = _labels_summary(matrix.row_labels)
    info["col_labels"] = _labels_summary(matrix.col_labels)
    info["timestamps"] = _timestamps_summary(matrix.timestamps)
    details = {k: v for k, v in matrix.meta.items() if k not in ("format", "path")}
    if details:
        info["details"] = _plain(details)
    return info


def describe_file(path: str, options: ReadOptions | None = None) -> dict[str, Any]:
    """Describe a matrix file, a result file or a label list."""
    from mfcli.io import read_matrix
    from mfcli.io.detect import split_object_path
    from mfcli.io.labels import companion_kind, read_label_file

    options = options or ReadOptions()
    base, obj = split_object_path(path)
    kind = companion_kind(base) if options.format == "auto" else None
    if kind is not None:
        labels = read_label_file(base)
        return {
            "path": path,
            "kind": "labels",
            "what": kind,
            "count": int(len(labels)),
            "first": [str(x) for x in labels[:3]],
            "hint": "a label list, not a matrix: pass it with --row-labels/--col-labels",
        }
    if obj is None and options.dataset is None and _is_result(base):
        from mfcli.io.results import summarize_result

        summary = summarize_result(base)
        summary.update({"path": path, "kind": "result"})
        return _plain(summary)
    from dataclasses import replace

    from mfcli.errors import AmbiguousInputError, TableLayoutError

    try:
        matrix = read_matrix(path, replace(options, allow_complex=True))
    except TableLayoutError as exc:
        # info's job is to say what is there; reading it as a matrix needs --columns.
        return {
            "path": path,
            "kind": "table",
            "columns": exc.columns,
            "why": exc.message,
            "hint": exc.hint,
        }
    except AmbiguousInputError as exc:
        # Describing a container is info's job; only reading it needs a name.
        return {
            "path": path,
            "kind": "container",
            "objects": exc.candidates,
            "hint": f"name one as {base}:/path or with --dataset to read it",
        }
    info = describe_matrix(matrix)
    return {"path": path, **info}


def _is_result(path: str) -> bool:
    if path == "-":
        return False
    try:
        from mfcli.io.results import is_result_file
    except ImportError:  # pragma: no cover - results module always present
        return False
    return is_result_file(path)


def _degree_stats(degrees) -> dict[str, Any]:
    import numpy as np

    if degrees.size == 0:
        return {"min": 0, "median": 0.0, "max": 0, "empty": 0}
    return {
        "min": int(degrees.min()),
        "median": float(np.median(degrees)),
        "max": int(degrees.max()),
        "empty": int(np.count_nonzero(degrees == 0)),
    }


def _labels_summary(labels) -> dict[str, Any] | None:
    if labels is None:
        return None
    return {
        "count": int(len(labels)),
        "type": "int" if labels.dtype.kind in "iu" else "str",
        "first": [x.item() if hasattr(x, "item") else str(x) for x in labels[:3]],
    }


def _timestamps_summary(ts) -> dict[str, Any] | None:
    if ts is None or ts.size == 0:
        return None
    return {"min": ts.min().item(), "max": ts.max().item(), "dtype": str(ts.dtype)}


def _plain(value):
    """JSON-friendly copy (numpy scalars and arrays to Python)."""
    import numpy as np

    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist() if value.size <= 50 else f"<array {value.shape} {value.dtype}>"
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value
