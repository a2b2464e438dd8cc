"""Scoring users against every item in bounded chunks, and top-K lists.

A full users x items score matrix is never held: users are scored a chunk at
a time with one BLAS matmul into a reused block (at most ``CHUNK_BYTES``),
the chunk's excluded items are set to ``-inf``, and a numba kernel keeps the
best K per row. Memory beyond the factors is the block plus the (n, K)
results, whatever the number of users.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from mfcli.errors import UsageError
from mfcli.evaluate.model import ScoringModel, entries
from mfcli.kernels import metrics as km

# The score block of one chunk of users; 64 MiB keeps the matmul efficient
# (hundreds of rows even at 100k items in float32) and the peak small.
CHUNK_BYTES = 64 * 2**20


def chunk_rows(n_items: int, itemsize: int, budget: int = CHUNK_BYTES) -> int:
    """Users per chunk so that a chunk's (rows, n_items) block fits ``budget`` bytes."""
    return max(1, budget // max(1, n_items * itemsize))


def as_model(model_or_factors) -> ScoringModel:
    """A :class:`ScoringModel`, or a ``(user_factors, item_factors)`` pair made into one."""
    if isinstance(model_or_factors, ScoringModel):
        return model_or_factors
    try:
        user, item = model_or_factors
    except (TypeError, ValueError):
        raise TypeError("expected a ScoringModel or a (user_factors, item_factors) pair") from None
    return ScoringModel(np.asarray(user), np.asarray(item))


def exclusion_csr(exclude, n_users: int, n_items: int) -> tuple[np.ndarray, np.ndarray] | None:
    """``(indptr int64, indices int32)`` of a CSR-like ``exclude``, or None.

    ``exclude`` is a sparse :class:`mfcli.data.Matrix` or anything with
    ``indptr``/``indices`` (scipy CSR) in model rows and columns, a dense
    Matrix (its nonzeros), or None. One index dtype keeps one compiled kernel.
    """
    if exclude is None:
        return None
    if getattr(exclude, "indptr", None) is None:
        from mfcli.data import Matrix

        rows, cols, _ = entries(exclude)
        exclude = Matrix.from_coo(rows, cols, None, exclude.shape)
    shape = tuple(exclude.shape)
    if shape != (n_users, n_items):
        raise UsageError(
            f"the exclusion matrix is {shape[0]} x {shape[1]}, the model {n_users} x {n_items}"
        )
    indptr = np.ascontiguousarray(exclude.indptr, dtype=np.int64)
    indices = np.ascontiguousarray(exclude.indices, dtype=np.int32)
    return indptr, indices


def _users(users, n_users: int) -> np.ndarray:
    users = np.ascontiguousarray(users, dtype=np.int64)
    if users.ndim != 1:
        raise ValueError("users must be a 1-D array of model rows")
    if users.size and (users.min() < 0 or users.max() >= n_users):
        raise ValueError(f"users must be model rows in 0..{n_users - 1}")
    return users


def score_chunks(
    model: ScoringModel,
    users: np.ndarray,
    *,
    exclude: tuple[np.ndarray, np.ndarray] | None = None,
    blocked_items: np.ndarray | None = None,
    chunk: int | None = None,
) -> Iterator[tuple[int, int, np.ndarray]]:
    """Score ``users`` against every item, one chunk of users at a time.

    Parameters
    ----------
    model : ScoringModel
    users : (n,) int64 model rows
    exclude : ``(indptr, indices)`` from :func:`exclusion_csr`: each user's
        items set to ``-inf``
    blocked_items : (m,) item columns set to ``-inf`` for every user
    chunk : users per chunk; None sizes it from ``CHUNK_BYTES``

    Yields
    ------
    start, stop : the slice of ``users`` scored
    scores : (stop - start, n_items) in the model's dtype; a view of one
        reused block, valid until the next chunk
    """
    n_items = model.n_items
    rows = chunk or chunk_rows(n_items, model.dtype.itemsize)
    block = np.empty((min(rows, max(len(users), 1)), n_items), dtype=model.dtype)
    items_t = model.item_factors.T
    offset = None
    if model.user_bias is not None or model.global_bias is not None:
        offset = np.zeros(model.n_users, dtype=model.dtype)
        if model.user_bias is not None:
            offset += model.user_bias
        if model.global_bias is not None:
            offset += model.dtype.type(model.global_bias)
    for start in range(0, len(users), rows):
        stop = min(start + rows, len(users))
        part = users[start:stop]
        scores = block[: stop - start]
        np.dot(model.user_factors[part], items_t, out=scores)
        if model.item_bias is not None:
            scores += model.item_bias
        if offset is not None:
            scores += offset[part][:, None]
        if exclude is not None:
            km.mask_excluded(scores, part, exclude[0], exclude[1])
        if blocked_items is not None and len(blocked_items):
            scores[:, blocked_items] = -np.inf
        yield start, stop, scores


def top_k(
    model_or_factors,
    users,
    k: int,
    exclude=None,
    chunk: int | None = None,
    blocked_items: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best items for each user, best first.

    Parameters
    ----------
    model_or_factors : ScoringModel, or ``(user_factors, item_factors)``
        of shapes (n_users, r) and (n_items, r)
    users : (n,) model rows
    k : list length, >= 1
    exclude : CSR of items never to recommend per user (e.g. the training
        matrix, model rows and columns: a sparse Matrix or scipy CSR), or None
    chunk : users scored per BLAS call; None keeps the score block <= 64 MiB
    blocked_items : item columns never recommended to anyone, or None

    Returns
    -------
    items : (n, k) int64; ties go to the lower item index; rows with fewer
        than ``k`` candidates are padded with ``-1``
    scores : (n, k) in the model's dtype, ``-inf`` for padding
    """
    if int(k) < 1:
        raise UsageError(f"k must be at least 1, got {k}")
    k = int(k)
    model = as_model(model_or_factors)
    users = _users(users, model.n_users)
    masks = exclusion_csr(exclude, model.n_users, model.n_items)
    items = np.empty((len(users), k), dtype=np.int64)
    scores = np.empty((len(users), k), dtype=model.dtype)
    for start, stop, block in score_chunks(
        model, users, exclude=masks, blocked_items=blocked_items, chunk=chunk
    ):
        items[start:stop], scores[start:stop] = km.select_top_k(block, k)
    return items, scores
