"""Fold-in: factors for rows a model has not seen, with the model held fixed.

Two rules, by how the model treats missing entries:

- :func:`project`: a complete row (zeros are zeros), ``(x - mean) @ V @ diag(1/s)``
  for an SVD -- the exact coordinates of x in the model's row space.
- :func:`observed_least_squares`: only the stored entries count (soft-impute,
  ALS, SGD): per row, the ridge least-squares fit of its stored values by the
  item factors of the same columns.
"""

from __future__ import annotations

import numpy as np

from mfcli.data import Matrix


def project(rows: Matrix, V: np.ndarray, s: np.ndarray, mean: np.ndarray | None) -> np.ndarray:
    """Coordinates of complete rows in an SVD's row space.

    Parameters
    ----------
    rows : (r, n) sparse or dense, in the model's columns
    V : (n, k) right singular vectors
    s : (k,) singular values (> 0)
    mean : (n,) column means subtracted by the fit, or None

    Returns
    -------
    (r, k) float64: ``(rows - mean) @ V / s``
    """
    V = np.asarray(V, dtype=np.float64)
    product = rows.to_scipy() @ V if rows.is_sparse else np.asarray(rows.data, np.float64) @ V
    product = np.asarray(product, dtype=np.float64)
    if mean is not None:
        product -= np.asarray(mean, dtype=np.float64) @ V  # the mean of every row
    return product / np.asarray(s, dtype=np.float64)


def observed_least_squares(
    rows: Matrix,
    item_factors: np.ndarray,
    *,
    reg: float,
    offset: float = 0.0,
    item_bias: np.ndarray | None = None,
) -> np.ndarray:
    """Per row, argmin_u sum over stored j of (x_j - offset - b_j - u . Y_j)^2 + reg |u|^2.

    Parameters
    ----------
    rows : (r, n) sparse (stored entries are the observations), in model columns
    item_factors : (n, k) Y
    reg : ridge weight (> 0 keeps rows with fewer entries than k well posed)
    offset : global term of the model's predictions
    item_bias : (n,) column terms of the predictions, or None

    Returns
    -------
    (r, k) float64; a row without stored entries gets zeros
    """
    Y = np.asarray(item_factors, dtype=np.float64)
    k = Y.shape[1]
    csr = rows.to_scipy().tocsr() if rows.is_sparse else None
    out = np.zeros((rows.shape[0], k))
    ridge = reg * np.eye(k)
    for i in range(rows.shape[0]):
        if csr is not None:
            lo, hi = csr.indptr[i], csr.indptr[i + 1]
            cols, values = csr.indices[lo:hi], csr.data[lo:hi].astype(np.float64)
        else:
            cols = np.flatnonzero(rows.data[i])
            values = np.asarray(rows.data[i, cols], dtype=np.float64)
        if cols.size == 0:
            continue
        target = values - offset - (item_bias[cols] if item_bias is not None else 0.0)
        Yj = Y[cols]
        out[i] = np.linalg.solve(Yj.T @ Yj + ridge, Yj.T @ target)
    return out
