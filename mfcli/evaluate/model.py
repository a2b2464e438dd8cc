"""A fitted model as scoring arrays, and the map from a file's ids to its rows.

``score(u, i) = user_factors[u] @ item_factors[i] (+ global + user_bias[u] +
item_bias[i])``. For svd the singular values are folded into the user side
(``row @ diag(s)``), so every method scores the same way (guide, section 4).

Test and training files are read with their own id -> code mapping, so their
rows and columns are matched to the model's through the ids (``/labels/row``,
``/labels/col``); files without ids are matched by position.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mfcli.data import Matrix
from mfcli.errors import InputDataError
from mfcli.io.results import Result

UNKNOWN = -1


@dataclass(eq=False)
class ScoringModel:
    """Factors and biases that score (user, item) pairs.

    Attributes
    ----------
    user_factors : (n_users, k) float32 or float64 (svd: ``row * s``)
    item_factors : (n_items, k), same dtype
    global_bias : float, or None without biases
    user_bias : (n_users,) or None
    item_bias : (n_items,) or None
    user_labels : (n_users,) original ids (int64 or str), or None
    item_labels : (n_items,) original ids, or None
    train : the training interactions in model rows and columns, or None
    method : "svd", "nmf", "als", "sgd" or "" when built from bare factors
    clip : (low, high) rating predictions are clipped to (sgd: the training
        range), or None
    """

    user_factors: np.ndarray
    item_factors: np.ndarray
    global_bias: float | None = None
    user_bias: np.ndarray | None = None
    item_bias: np.ndarray | None = None
    user_labels: np.ndarray | None = None
    item_labels: np.ndarray | None = None
    train: Matrix | None = None
    method: str = ""
    clip: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        dtype = np.result_type(self.user_factors, self.item_factors)
        if dtype not in (np.float32, np.float64):
            dtype = np.dtype(np.float64)
        self.user_factors = np.ascontiguousarray(self.user_factors, dtype=dtype)
        self.item_factors = np.ascontiguousarray(self.item_factors, dtype=dtype)
        if self.user_factors.ndim != 2 or self.item_factors.ndim != 2:
            raise InputDataError("factors must be 2-D arrays")
        if self.user_factors.shape[1] != self.item_factors.shape[1]:
            raise InputDataError(
                f"user factors have rank {self.user_factors.shape[1]}, "
                f"item factors {self.item_factors.shape[1]}"
            )
        for name, n in (("user_bias", self.n_users), ("item_bias", self.n_items)):
            bias = getattr(self, name)
            if bias is not None:
                bias = np.ascontiguousarray(bias, dtype=dtype)
                if bias.shape != (n,):
                    raise InputDataError(f"{name} has shape {bias.shape}, expected ({n},)")
                setattr(self, name, bias)
        for name, n in (("user_labels", self.n_users), ("item_labels", self.n_items)):
            labels = getattr(self, name)
            if labels is not None and len(labels) != n:
                raise InputDataError(f"{len(labels)} {name.replace('_', ' ')} for {n} factors")
        if self.train is not None and self.train.shape != (self.n_users, self.n_items):
            raise InputDataError(
                f"training matrix is {self.train.shape[0]} x {self.train.shape[1]}, "
                f"the model {self.n_users} x {self.n_items}"
            )

    @property
    def n_users(self) -> int:
        return int(self.user_factors.shape[0])

    @property
    def n_items(self) -> int:
        return int(self.item_factors.shape[0])

    @property
    def k(self) -> int:
        return int(self.user_factors.shape[1])

    @property
    def dtype(self) -> np.dtype:
        return self.user_factors.dtype

    @property
    def has_biases(self) -> bool:
        return (
            self.global_bias is not None or self.user_bias is not None or self.item_bias is not None
        )

    @classmethod
    def from_result(cls, result: Result) -> ScoringModel:
        """The scoring model of a result read by :func:`mfcli.io.results.read_result`.

        Needs the ``factors`` section; ``biases``, ``labels`` and ``train`` are
        used when loaded.

        Raises
        ------
        InputDataError
            exit 65: no factors, or shapes that do not fit together.
        """
        factors = result.factors
        if "row" not in factors or "col" not in factors:
            raise InputDataError(
                "the model file has no /factors/row and /factors/col",
                hint="a model file is written by mfcli svd|nmf|als|sgd -o FILE.h5",
            )
        user = np.asarray(factors["row"])
        item = np.asarray(factors["col"])
        if "singular_values" in factors:
            s = np.asarray(factors["singular_values"])
            if s.shape != (user.shape[1],):
                raise InputDataError(
                    f"{s.shape[0]} singular values for rank {user.shape[1]} factors"
                )
            user = user * s.astype(user.dtype)  # row @ diag(s), a new array
        biases = result.biases
        global_bias = biases.get("global")
        return cls(
            user_factors=user,
            item_factors=item,
            global_bias=None if global_bias is None else float(global_bias),
            user_bias=biases.get("row"),
            item_bias=biases.get("col"),
            user_labels=result.labels.get("row"),
            item_labels=result.labels.get("col"),
            train=result.train,
            method=result.method,
            clip=_clip_range(result),
        )


def _clip_range(result: Result) -> tuple[float, float] | None:
    """The rating range a model clips its predictions to (``/sgd/clip``), if it has one."""
    stored = result.extra.get(result.method, {}) if isinstance(result.extra, dict) else {}
    clip = stored.get("clip") if isinstance(stored, dict) else None
    if clip is None:
        return None
    low, high = (float(v) for v in np.asarray(clip).ravel()[:2])
    return (low, high) if np.isfinite(low) and np.isfinite(high) and low <= high else None


# ------------------------------------------------------------ id matching
def map_labels(
    model_labels: np.ndarray | None, labels: np.ndarray | None, n_model: int, n: int
) -> np.ndarray:
    """Model position of each id in ``labels``; ``-1`` where the model lacks it.

    Parameters
    ----------
    model_labels : (n_model,) ids of the model's rows (or columns), or None
    labels : (n,) ids of a file's rows (or columns), or None
    n_model, n : the lengths (used when ids are missing)

    Returns
    -------
    (n,) int64

    Without ids on either side, position ``p`` maps to ``p`` when
    ``p < n_model``. Integer ids are compared as integers, any other mix as
    text (``7`` matches ``"7"``).

    Raises
    ------
    InputDataError
        exit 65: only one side has ids (the match would be a guess).
    """
    if model_labels is None and labels is None:
        out = np.arange(n, dtype=np.int64)
        out[out >= n_model] = UNKNOWN
        return out
    if model_labels is None or labels is None:
        side = "the model" if labels is None else "the file"
        raise InputDataError(
            f"only {side} has ids, so its rows and columns cannot be matched to the other's",
            hint="fit the model on a file with the same kind of ids (or both without ids)",
        )
    model_labels = np.asarray(model_labels)
    labels = np.asarray(labels)
    if not (model_labels.dtype.kind in "iu" and labels.dtype.kind in "iu"):
        model_labels = _as_text(model_labels)
        labels = _as_text(labels)
    order = np.argsort(model_labels, kind="stable")
    ordered = model_labels[order]
    out = np.full(labels.shape[0], UNKNOWN, dtype=np.int64)
    if ordered.shape[0] == 0 or labels.shape[0] == 0:
        return out
    where = np.searchsorted(ordered, labels)
    found = where < ordered.shape[0]
    found[found] = ordered[where[found]] == labels[found]
    out[found] = order[where[found]]
    return out


def _as_text(labels: np.ndarray) -> np.ndarray:
    if labels.dtype.kind == "U":
        return labels
    return np.asarray([str(v) for v in labels.tolist()], dtype=str)


def model_indices(model: ScoringModel, matrix: Matrix) -> tuple[np.ndarray, np.ndarray]:
    """Model row of each of ``matrix``'s rows and model column of each column.

    Parameters
    ----------
    model : ScoringModel
    matrix : a test or training matrix read with its own ids

    Returns
    -------
    rows : (matrix.shape[0],) int64, ``-1`` for users the model does not know
    cols : (matrix.shape[1],) int64, ``-1`` for items the model does not know
    """
    rows = map_labels(model.user_labels, matrix.row_labels, model.n_users, matrix.shape[0])
    cols = map_labels(model.item_labels, matrix.col_labels, model.n_items, matrix.shape[1])
    return rows, cols


def entries(matrix: Matrix) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The stored entries as coordinates (the nonzeros of a dense matrix).

    Returns
    -------
    rows, cols : (nnz,) int64
    values : (nnz,) float64
    """
    if matrix.is_sparse:
        counts = np.diff(np.asarray(matrix.indptr, dtype=np.int64))
        rows = np.repeat(np.arange(matrix.shape[0], dtype=np.int64), counts)
        return rows, matrix.indices.astype(np.int64), matrix.data.astype(np.float64)
    rows, cols = np.nonzero(matrix.data)
    return rows.astype(np.int64), cols.astype(np.int64), matrix.data[rows, cols].astype(np.float64)


def to_model_space(model: ScoringModel, matrix: Matrix) -> Matrix:
    """``matrix`` (e.g. a training file) re-indexed to the model's rows and columns.

    Entries whose user or item the model does not know are left out. A matrix
    already in model order (same ids, or no ids and the model's shape) is
    returned as it is.

    Returns
    -------
    Matrix, sparse, shape (model.n_users, model.n_items), no labels
    """
    same_shape = matrix.shape == (model.n_users, model.n_items)
    if same_shape and matrix.row_labels is None and matrix.col_labels is None:
        # The model's own /train, or a file of positions: already in model order.
        return matrix if matrix.is_sparse else _sparse(matrix)
    rows_map, cols_map = model_indices(model, matrix)
    identity = (
        same_shape
        and np.array_equal(rows_map, np.arange(model.n_users))
        and np.array_equal(cols_map, np.arange(model.n_items))
    )
    if identity:
        return matrix if matrix.is_sparse else _sparse(matrix)
    rows, cols, values = entries(matrix)
    rows, cols = rows_map[rows], cols_map[cols]
    keep = (rows >= 0) & (cols >= 0)
    return Matrix.from_coo(
        rows[keep], cols[keep], values[keep], (model.n_users, model.n_items), duplicates="last"
    )


def _sparse(matrix: Matrix) -> Matrix:
    rows, cols, values = entries(matrix)
    return Matrix.from_coo(rows, cols, values, matrix.shape)
