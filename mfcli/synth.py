"""Seeded synthetic data with known ground truth.

Every generator takes a ``seed`` (fed to ``np.random.default_rng``), is
vectorised (tens of millions of entries in seconds, memory close to the output
arrays) and returns ``(Matrix, truth)``: a :class:`mfcli.data.Matrix` plus a
small dict of what was planted (biases, factors, singular values, topics).

Sparse outputs are CSR with column indices sorted within each row and no
duplicate (row, col) pairs. Row and column labels of rating-like data are the
1-based ids written to files (``user 1`` is row 0).

Kinds
-----
ratings         explicit ratings: global mean + user and item biases + a rank-r
                interaction + noise, rounded to a scale; power-law activity;
                unix timestamps inside per-user activity periods.
implicit        interaction counts around a low-rank affinity.
lowrank_dense   ``U diag(s) V^T + noise`` with given singular values.
lowrank_sparse  a random sparsity pattern with values from ``U diag(s) V^T``.
docterm         documents x terms counts from topics over a readable vocabulary.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit, prange

from mfcli.data import Matrix
from mfcli.errors import UsageError

__all__ = [
    "ratings",
    "implicit",
    "lowrank_dense",
    "lowrank_sparse",
    "docterm",
    "default_spectrum",
    "zipf_probabilities",
    "activity_degrees",
    "distinct_pairs",
    "vocabulary",
    "THEMES",
    "FILLER",
]

#: Uniform draws per call of the pair sampler (bounds its scratch memory).
UNIFORM_CHUNK = 1 << 22
#: 2001-01-01T00:00:00Z, the default start of rating timestamps.
DEFAULT_START = 978_307_200
DAY = 86_400

# --------------------------------------------------------------- validation


def _positive(name: str, value: int) -> int:
    if int(value) != value or value < 1:
        raise UsageError(f"{name} must be a positive integer, got {value}")
    return int(value)


def _non_negative(name: str, value: float) -> float:
    if not np.isfinite(value) or value < 0:
        raise UsageError(f"{name} must be a finite number >= 0, got {value}")
    return float(value)


def _check_nnz(what: str, nnz: int, n_rows: int, n_cols: int, flags: str) -> int:
    nnz = _positive(what, nnz)
    if nnz > n_rows * n_cols:
        raise UsageError(
            f"{nnz} {what} do not fit in {n_rows} x {n_cols} = {n_rows * n_cols} cells",
            hint=f"lower {flags.split('|')[0]} or raise {flags.split('|')[1]}",
        )
    return nnz


def _check_rank(rank: int, n_rows: int, n_cols: int) -> int:
    rank = _positive("rank", rank)
    if rank > min(n_rows, n_cols):
        raise UsageError(
            f"rank {rank} is larger than the matrix allows ({n_rows} x {n_cols})",
            hint="use a rank <= min(rows, cols)",
        )
    return rank


# ------------------------------------------------------------ power laws


def zipf_probabilities(n: int, exponent: float, rng: np.random.Generator) -> np.ndarray:
    """Probabilities ``∝ rank^-exponent`` over ``n`` ids in random rank order.

    Parameters
    ----------
    n : number of ids.
    exponent : 0 is uniform; about 1 is classic Zipf.
    rng : the generator that shuffles which id gets which rank.

    Returns
    -------
    (n,) float64 summing to 1. Ids are shuffled so that id 1 is not always the
    most active one.
    """
    weights = np.arange(1, n + 1, dtype=np.float64) ** (-float(exponent))
    weights = weights[rng.permutation(n)]
    return weights / weights.sum()


def activity_degrees(
    n_rows: int,
    n_cols: int,
    nnz: int,
    probabilities: np.ndarray,
    min_degree: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Entries per row: ``min_degree`` each plus a multinomial share of the rest.

    No row gets more than ``n_cols`` entries: the excess of a full row is
    handed back to the rows that still have room, in proportion to their
    probability.

    Returns
    -------
    (n_rows,) int64 summing to ``nnz``.
    """
    degrees = min_degree + rng.multinomial(nnz - min_degree * n_rows, probabilities)
    degrees = degrees.astype(np.int64)
    for _ in range(64):
        excess = int(np.maximum(degrees - n_cols, 0).sum())
        if excess == 0:
            return degrees
        np.minimum(degrees, n_cols, out=degrees)
        room = probabilities * (degrees < n_cols)
        degrees += rng.multinomial(excess, room / room.sum())
    # Nearly full matrices: fill the remaining room in row order.
    excess = int(np.maximum(degrees - n_cols, 0).sum())
    np.minimum(degrees, n_cols, out=degrees)
    room = n_cols - degrees
    take = np.minimum(room, np.maximum(excess - (np.cumsum(room) - room), 0))
    return degrees + take


@njit(cache=True)
def _alias_table(probabilities):
    """Walker/Vose alias table: one uniform draws a column in O(1)."""
    n = probabilities.shape[0]
    scaled = probabilities * n / probabilities.sum()
    threshold = np.ones(n)
    alias = np.arange(n)
    small = np.empty(n, dtype=np.int64)
    large = np.empty(n, dtype=np.int64)
    ns = 0
    nl = 0
    for i in range(n):
        if scaled[i] < 1.0:
            small[ns] = i
            ns += 1
        else:
            large[nl] = i
            nl += 1
    while ns > 0 and nl > 0:
        ns -= 1
        s = small[ns]
        g = large[nl - 1]
        threshold[s] = scaled[s]
        alias[s] = g
        scaled[g] = (scaled[g] + scaled[s]) - 1.0
        if scaled[g] < 1.0:
            nl -= 1
            small[ns] = g
            ns += 1
    return threshold, alias


@njit(cache=True)
def _fill_rows(degrees, threshold, alias, uniforms, row, out_pos, out, seen, stamp):
    """Distinct columns for rows ``row, row+1, ...`` until ``uniforms`` run out.

    Columns are drawn from the alias table and rejected when already taken by
    the row (``seen[c] == stamp``, a fresh stamp per row attempt, so ``seen``
    is never cleared). A row that keeps hitting taken columns (a heavy row
    with a skewed distribution) takes the rest uniformly from its free
    columns. A row that runs out of uniforms is redone by the next call.

    Returns ``(next_row, out_pos, stamp)``.
    """
    n_cols = alias.shape[0]
    n_rows = degrees.shape[0]
    pos = 0
    n_uniform = uniforms.shape[0]
    while row < n_rows:
        need = degrees[row]
        stamp += 1
        got = 0
        rejected = 0
        ok = True
        while got < need:
            if rejected > 2 * need + 32:
                break
            if pos >= n_uniform:
                ok = False
                break
            x = uniforms[pos] * n_cols
            pos += 1
            col = min(int(x), n_cols - 1)
            if x - col >= threshold[col]:
                col = alias[col]
            if seen[col] == stamp:
                rejected += 1
                continue
            seen[col] = stamp
            out[out_pos + got] = col
            got += 1
        if ok and got < need:
            # Uniform over the free columns: partial Fisher-Yates.
            free = np.empty(n_cols - got, dtype=np.int64)
            k = 0
            for c in range(n_cols):
                if seen[c] != stamp:
                    free[k] = c
                    k += 1
            for t in range(need - got):
                if pos >= n_uniform:
                    ok = False
                    break
                j = min(t + int(uniforms[pos] * (k - t)), k - 1)
                pos += 1
                free[t], free[j] = free[j], free[t]
                out[out_pos + got + t] = free[t]
        if not ok:
            return row, out_pos, stamp
        out_pos += need
        row += 1
    return row, out_pos, stamp


def distinct_pairs(
    degrees: np.ndarray, col_probabilities: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """A CSR pattern: ``degrees[r]`` distinct columns per row, drawn by popularity.

    Memory is O(nnz + n_cols), never O(n_rows * n_cols).

    Parameters
    ----------
    degrees : (n_rows,) entries per row, each at most ``n_cols``.
    col_probabilities : (n_cols,) column popularity.
    rng : random generator.

    Returns
    -------
    indptr : (n_rows + 1,) int64
    indices : (nnz,) int32, sorted within each row
    """
    degrees = np.ascontiguousarray(degrees, dtype=np.int64)
    n_cols = col_probabilities.shape[0]
    threshold, alias = _alias_table(np.ascontiguousarray(col_probabilities, dtype=np.float64))
    indptr = np.zeros(degrees.shape[0] + 1, dtype=np.int64)
    np.cumsum(degrees, out=indptr[1:])
    nnz = int(indptr[-1])
    indices = np.empty(nnz, dtype=np.int32)
    seen = np.zeros(n_cols, dtype=np.int64)
    # A chunk must hold the worst single row (rejections + uniform fill).
    chunk = max(UNIFORM_CHUNK, 4 * int(degrees.max(initial=0)) + 64)
    row, out_pos, stamp = 0, 0, 0
    while row < degrees.shape[0]:
        uniforms = rng.random(min(chunk, 4 * (nnz - out_pos) + 64))
        row, out_pos, stamp = _fill_rows(
            degrees, threshold, alias, uniforms, row, out_pos, indices, seen, stamp
        )
    _sort_rows(indptr, indices)
    return indptr, indices


@njit(cache=True, parallel=True)
def _sort_rows(indptr, indices):
    # Rows are independent, so the parallel loop is deterministic.
    for r in prange(indptr.shape[0] - 1):
        indices[indptr[r] : indptr[r + 1]].sort()


def _row_ids(indptr: np.ndarray) -> np.ndarray:
    """(nnz,) row index of every CSR entry."""
    n_rows = indptr.shape[0] - 1
    dtype = np.int32 if n_rows < 2**31 else np.int64
    return np.repeat(np.arange(n_rows, dtype=dtype), np.diff(indptr))


@njit(cache=True)
def _bilinear(indptr, indices, row_factors, col_factors, out):
    """``out[e] = row_factors[r] . col_factors[c]`` for every CSR entry ``e = (r, c)``."""
    rank = row_factors.shape[1]
    for r in range(indptr.shape[0] - 1):
        for e in range(indptr[r], indptr[r + 1]):
            c = indices[e]
            acc = 0.0
            for k in range(rank):
                acc += row_factors[r, k] * col_factors[c, k]
            out[e] = acc


def _interaction(indptr, indices, row_factors, col_factors) -> np.ndarray:
    out = np.empty(indices.shape[0], dtype=np.float64)
    _bilinear(indptr, indices, row_factors, col_factors, out)
    return out


def _auto_min_degree(n_rows: int, nnz: int, n_cols: int) -> int:
    # MovieLens keeps users with >= 20 ratings; small or sparse data gets less.
    return int(min(20, n_cols, nnz // (5 * n_rows)) or (1 if nnz >= n_rows else 0))


def _pattern(n_rows, n_cols, nnz, row_exponent, col_exponent, min_degree, rng):
    row_p = zipf_probabilities(n_rows, row_exponent, rng)
    col_p = zipf_probabilities(n_cols, col_exponent, rng)
    if min_degree is None:
        min_degree = _auto_min_degree(n_rows, nnz, n_cols)
    if int(min_degree) != min_degree or min_degree < 0:
        raise UsageError(f"minimum entries per row must be an integer >= 0, got {min_degree}")
    min_degree = int(min_degree)
    if min_degree * n_rows > nnz or min_degree > n_cols:
        raise UsageError(
            f"a minimum of {min_degree} entries per row needs {min_degree * n_rows} entries "
            f"and {min_degree} columns",
            hint="lower the minimum per row",
        )
    degrees = activity_degrees(n_rows, n_cols, nnz, row_p, min_degree, rng)
    indptr, indices = distinct_pairs(degrees, col_p, rng)
    return indptr, indices, row_p, col_p


def _timestamps(
    indptr: np.ndarray, rows: np.ndarray, start: int, span_days: float, rng: np.random.Generator
) -> np.ndarray:
    """Unix seconds inside a per-row activity period; integer arithmetic only.

    Arrivals get denser towards the end of the span (max of two uniforms), and
    activity periods are skewed short (min of two uniforms), as in rating logs.
    """
    span = max(int(span_days * DAY), 1)
    n_rows = indptr.shape[0] - 1
    arrival = np.maximum(rng.integers(0, span, n_rows), rng.integers(0, span, n_rows))
    left = span - arrival
    length = np.minimum(rng.integers(0, left, endpoint=True), rng.integers(0, left, endpoint=True))
    stamps = np.empty(rows.shape[0], dtype=np.int64)
    for a, b in _chunks(rows.shape[0]):
        r = rows[a:b]
        stamps[a:b] = rng.integers(0, length[r], endpoint=True)
        stamps[a:b] += arrival[r] + np.int64(start)
    return stamps


def _chunks(n: int, size: int = 1 << 20):
    """(start, stop) pairs covering ``range(n)``; the draws do not depend on ``size``."""
    return ((a, min(a + size, n)) for a in range(0, n, size))


def _labels(n: int) -> np.ndarray:
    return np.arange(1, n + 1, dtype=np.int64)


# ----------------------------------------------------------------- ratings


def ratings(
    n_users: int = 943,
    n_items: int = 1682,
    n_ratings: int = 100_000,
    *,
    rank: int = 10,
    noise: float = 0.5,
    scale: tuple[float, float] = (1.0, 5.0),
    step: float = 1.0,
    user_exponent: float = 0.45,
    item_exponent: float = 1.0,
    min_per_user: int | None = None,
    timestamps: bool = True,
    start: int = DEFAULT_START,
    span_days: float = 3650.0,
    seed: int = 0,
) -> tuple[Matrix, dict[str, Any]]:
    """Explicit ratings (MovieLens-like).

    ``rating = mean + user_bias + item_bias + user_factors . item_factors + noise``,
    rounded to multiples of ``step`` from ``scale[0]`` and clipped to ``scale``.
    Popular items get a slightly higher bias, as in real rating data.

    Parameters
    ----------
    n_users, n_items : matrix shape.
    n_ratings : stored entries; no (user, item) pair repeats.
    rank : rank of the interaction term.
    noise : standard deviation of the Gaussian noise before rounding.
    scale : (lowest, highest) rating.
    step : rating granularity, e.g. 1 or 0.5.
    user_exponent, item_exponent : power-law exponents of activity and popularity.
    min_per_user : ratings every user has (default: up to 20, less for sparse data).
    timestamps : draw unix timestamps (seconds, int64).
    start, span_days : the time span of the log.
    seed : random seed.

    Returns
    -------
    matrix : CSR (n_users x n_items) float64, labels 1..n, ``timestamps`` (nnz,) int64
    truth : global_mean, user_bias (n_users,), item_bias (n_items,),
        user_factors (n_users, rank), item_factors (n_items, rank), noise,
        user_probability, item_probability
    """
    n_users = _positive("users", n_users)
    n_items = _positive("items", n_items)
    n_ratings = _check_nnz("ratings", n_ratings, n_users, n_items, "--ratings|--users/--items")
    rank = _check_rank(rank, n_users, n_items)
    noise = _non_negative("noise", noise)
    low, high = float(scale[0]), float(scale[1])
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise UsageError(f"rating scale {low:g}..{high:g} is empty", hint="give low < high")
    if not (np.isfinite(step) and 0 < step <= high - low):
        raise UsageError(f"rating step {step:g} must be > 0 and at most {high - low:g}")
    _non_negative("user exponent", user_exponent)
    _non_negative("item exponent", item_exponent)
    rng = np.random.default_rng(seed)

    indptr, indices, user_p, item_p = _pattern(
        n_users, n_items, n_ratings, user_exponent, item_exponent, min_per_user, rng
    )
    rows = _row_ids(indptr)
    middle = (low + high) / 2
    width = (high - low) / 4  # 1.0 on a 1..5 scale
    mean = middle + 0.3 * width
    user_bias = rng.normal(0.0, 0.35 * width, n_users)
    log_pop = np.log(item_p)
    pop_z = (log_pop - log_pop.mean()) / (log_pop.std() or 1.0)
    item_bias = rng.normal(0.0, 0.4 * width, n_items) + 0.15 * width * pop_z
    factor_sd = np.sqrt(0.6 * width / np.sqrt(rank))
    user_factors = rng.normal(0.0, factor_sd, (n_users, rank))
    item_factors = rng.normal(0.0, factor_sd, (n_items, rank))

    values = _interaction(indptr, indices, user_factors, item_factors)
    for a, b in _chunks(n_ratings):  # chunked: temporaries stay small
        v = values[a:b]
        v += mean
        v += user_bias[rows[a:b]]
        v += item_bias[indices[a:b]]
        v += noise * rng.standard_normal(b - a)
        v -= low
        v /= step
        np.rint(v, out=v)
        v *= step
        v += low
        np.clip(v, low, high, out=v)

    stamps = _timestamps(indptr, rows, start, span_days, rng) if timestamps else None
    matrix = Matrix.from_csr(
        indptr,
        indices,
        values,
        (n_users, n_items),
        check=False,
        row_labels=_labels(n_users),
        col_labels=_labels(n_items),
        timestamps=stamps,
        meta={"generator": "ratings", "seed": seed},
    )
    truth = {
        "global_mean": mean,
        "user_bias": user_bias,
        "item_bias": item_bias,
        "user_factors": user_factors,
        "item_factors": item_factors,
        "noise": noise,
        "user_probability": user_p,
        "item_probability": item_p,
    }
    return matrix, truth


# ---------------------------------------------------------------- implicit


def implicit(
    n_users: int = 1000,
    n_items: int = 2000,
    nnz: int = 50_000,
    *,
    rank: int = 10,
    mean_count: float = 3.0,
    distribution: str = "poisson",
    user_exponent: float = 0.6,
    item_exponent: float = 1.0,
    timestamps: bool = False,
    start: int = DEFAULT_START,
    span_days: float = 365.0,
    seed: int = 0,
) -> tuple[Matrix, dict[str, Any]]:
    """Implicit feedback: how often each user interacted with each item.

    An affinity ``a = user_factors . item_factors`` scales the expected count:
    ``count = 1 + X`` with X Poisson (or geometric, heavier-tailed) of mean
    ``(mean_count - 1) * exp(a) / E[exp(a)]``. Items follow a power law.

    Parameters
    ----------
    n_users, n_items, nnz : shape and stored entries (distinct pairs).
    rank : rank of the affinity.
    mean_count : average count, > 1.
    distribution : "poisson" or "geometric".
    user_exponent, item_exponent : power-law exponents.
    timestamps : add the time of the last interaction (unix seconds).
    seed : random seed.

    Returns
    -------
    matrix : CSR (n_users x n_items) float64 counts >= 1, labels 1..n
    truth : user_factors, item_factors, user_probability, item_probability
    """
    n_users = _positive("users", n_users)
    n_items = _positive("items", n_items)
    nnz = _check_nnz("interactions", nnz, n_users, n_items, "--nnz|--users/--items")
    rank = _check_rank(rank, n_users, n_items)
    if distribution not in ("poisson", "geometric"):
        raise UsageError(f"unknown count distribution {distribution!r}", hint="poisson|geometric")
    if not (np.isfinite(mean_count) and mean_count > 1):
        raise UsageError(f"mean count must be > 1, got {mean_count}")
    rng = np.random.default_rng(seed)
    indptr, indices, user_p, item_p = _pattern(
        n_users, n_items, nnz, user_exponent, item_exponent, None, rng
    )
    sd = np.sqrt(0.8 / np.sqrt(rank))  # affinity sd ~0.8
    user_factors = rng.normal(0.0, sd, (n_users, rank))
    item_factors = rng.normal(0.0, sd, (n_items, rank))
    affinity = _interaction(indptr, indices, user_factors, item_factors)
    lam = np.exp(affinity)
    lam *= (mean_count - 1.0) / lam.mean()
    if distribution == "poisson":
        extra = rng.poisson(lam)
    else:
        extra = rng.geometric(1.0 / (1.0 + lam)) - 1
    counts = (1 + extra).astype(np.float64)
    stamps = None
    if timestamps:
        stamps = _timestamps(indptr, _row_ids(indptr), start, span_days, rng)
    matrix = Matrix.from_csr(
        indptr,
        indices,
        counts,
        (n_users, n_items),
        check=False,
        row_labels=_labels(n_users),
        col_labels=_labels(n_items),
        timestamps=stamps,
        meta={"generator": "implicit", "seed": seed},
    )
    truth = {
        "user_factors": user_factors,
        "item_factors": item_factors,
        "user_probability": user_p,
        "item_probability": item_p,
    }
    return matrix, truth


# ---------------------------------------------------------------- low rank


def default_spectrum(rank: int, n_rows: int, n_cols: int) -> np.ndarray:
    """``sqrt(n_rows * n_cols) * 0.7**k``: entries of order 1, a clear decay."""
    return np.sqrt(float(n_rows) * n_cols) * 0.7 ** np.arange(rank, dtype=np.float64)


def _orthonormal(n: int, rank: int, rng: np.random.Generator) -> np.ndarray:
    """(n, rank) orthonormal columns; signs fixed so Q is unique given the draw."""
    q, r = np.linalg.qr(rng.standard_normal((n, rank)))
    signs = np.sign(np.diag(r))
    signs[signs == 0] = 1.0
    return q * signs


def _spectrum(singular_values, rank: int, n_rows: int, n_cols: int) -> np.ndarray:
    if singular_values is None:
        return default_spectrum(rank, n_rows, n_cols)
    s = np.asarray(singular_values, dtype=np.float64).ravel()
    if s.shape[0] != rank:
        raise UsageError(f"{s.shape[0]} singular values given for rank {rank}")
    if not np.all(np.isfinite(s)) or np.any(s <= 0):
        raise UsageError("singular values must be finite and > 0")
    return np.sort(s)[::-1].copy()


def _round(values: np.ndarray, decimals: int | None) -> np.ndarray:
    if decimals is None:
        return values
    if int(decimals) != decimals or not 0 <= decimals <= 15:
        raise UsageError(f"decimals must be an integer in 0..15, got {decimals}")
    return np.round(values, int(decimals), out=values)


def lowrank_dense(
    n_rows: int = 300,
    n_cols: int = 80,
    rank: int = 5,
    *,
    singular_values=None,
    noise: float = 0.01,
    decimals: int | None = None,
    seed: int = 0,
) -> tuple[Matrix, dict[str, Any]]:
    """Dense ``U diag(s) V^T + noise * N(0, 1)`` with a known spectrum.

    Parameters
    ----------
    n_rows, n_cols : shape.
    rank : number of planted singular values.
    singular_values : (rank,) values (sorted descending); default
        :func:`default_spectrum`.
    noise : standard deviation of i.i.d. Gaussian noise per entry.
    decimals : round the entries (smaller, machine-independent text files).
    seed : random seed.

    Returns
    -------
    matrix : dense (n_rows x n_cols) float64
    truth : singular_values (rank,), U (n_rows, rank), V (n_cols, rank), noise
    """
    n_rows = _positive("rows", n_rows)
    n_cols = _positive("cols", n_cols)
    rank = _check_rank(rank, n_rows, n_cols)
    noise = _non_negative("noise", noise)
    s = _spectrum(singular_values, rank, n_rows, n_cols)
    rng = np.random.default_rng(seed)
    u = _orthonormal(n_rows, rank, rng)
    v = _orthonormal(n_cols, rank, rng)
    values = (u * s) @ v.T
    if noise:
        values += noise * rng.standard_normal((n_rows, n_cols))
    values = _round(values, decimals)
    matrix = Matrix.from_dense(values, meta={"generator": "lowrank_dense", "seed": seed})
    return matrix, {"singular_values": s, "U": u, "V": v, "noise": noise}


def lowrank_sparse(
    n_rows: int = 1000,
    n_cols: int = 500,
    nnz: int = 20_000,
    rank: int = 5,
    *,
    singular_values=None,
    noise: float = 0.0,
    row_exponent: float = 0.0,
    col_exponent: float = 0.0,
    decimals: int | None = None,
    seed: int = 0,
) -> tuple[Matrix, dict[str, Any]]:
    """Sparse matrix: a random pattern holding entries of ``L = U diag(s) V^T``.

    The pattern is uniform by default (exponents 0); with ``nnz / (n_rows *
    n_cols) = p`` the stored matrix is ``p * L`` in expectation.

    Returns
    -------
    matrix : CSR (n_rows x n_cols) float64, no duplicates, no label files needed
    truth : singular_values of L (rank,), U, V, density, noise
    """
    n_rows = _positive("rows", n_rows)
    n_cols = _positive("cols", n_cols)
    nnz = _check_nnz("entries", nnz, n_rows, n_cols, "--nnz|--rows/--cols")
    rank = _check_rank(rank, n_rows, n_cols)
    noise = _non_negative("noise", noise)
    s = _spectrum(singular_values, rank, n_rows, n_cols)
    rng = np.random.default_rng(seed)
    u = _orthonormal(n_rows, rank, rng)
    v = _orthonormal(n_cols, rank, rng)
    indptr, indices, _, _ = _pattern(n_rows, n_cols, nnz, row_exponent, col_exponent, 0, rng)
    values = _interaction(indptr, indices, u * s, v)
    if noise:
        values += noise * rng.standard_normal(nnz)
    values = _round(values, decimals)
    matrix = Matrix.from_csr(
        indptr,
        indices,
        values,
        (n_rows, n_cols),
        check=False,
        meta={"generator": "lowrank_sparse", "seed": seed},
    )
    truth = {
        "singular_values": s,
        "U": u,
        "V": v,
        "density": nnz / (n_rows * n_cols),
        "noise": noise,
    }
    return matrix, truth


# ---------------------------------------------------------- document-term

THEMES: dict[str, tuple[str, ...]] = {
    "sports": tuple(
        "goal match team player coach league season score referee stadium striker keeper "
        "tournament champion defender penalty transfer fans trophy pitch tackle injury final "
        "derby captain".split()
    ),
    "cooking": tuple(
        "recipe oven flour butter garlic onion simmer roast sauce pepper salt dough bake pan "
        "chef spice lemon tomato basil broth knead grill vinegar whisk pastry".split()
    ),
    "space": tuple(
        "orbit planet rocket galaxy telescope astronaut moon comet nebula launch satellite "
        "gravity asteroid crater solar mission probe lunar cosmic star eclipse spacecraft "
        "meteor mars jupiter".split()
    ),
    "finance": tuple(
        "market stock bond investor dividend inflation bank interest equity portfolio trader "
        "currency profit revenue earnings shares fund loan credit debt yield hedge asset tax "
        "budget".split()
    ),
    "music": tuple(
        "guitar melody chord drummer album concert singer lyrics tempo rhythm piano violin "
        "orchestra band chorus bass harmony tour studio record vinyl jazz opera symphony "
        "encore".split()
    ),
    "computing": tuple(
        "software compiler kernel server database algorithm network python memory processor "
        "cache debug script binary cluster thread query browser linux code byte function "
        "variable router cloud".split()
    ),
}

#: Words every topic uses a little: they make columns that no topic owns.
FILLER: tuple[str, ...] = tuple(
    "time year people way day thing world life hand part place case week company system "
    "question work number night point home water room area money story fact month lot "
    "study book eye job word issue side kind head house service friend hour".split()
)


def vocabulary() -> list[str]:
    """Every term, sorted alphabetically (the column order of :func:`docterm`)."""
    words = [w for theme in THEMES.values() for w in theme] + list(FILLER)
    return sorted(words)


def docterm(
    n_docs: int = 400,
    n_topics: int = 6,
    *,
    doc_length: float = 60.0,
    second_topic: float = 0.4,
    filler_share: float = 0.15,
    seed: int = 0,
) -> tuple[Matrix, dict[str, Any]]:
    """Documents x terms word counts from ``n_topics`` themed topics.

    Topic ``t`` puts ``1 - filler_share`` of its mass on the words of theme
    ``t`` (Zipf-like within the theme) and the rest on filler words. A document
    has one topic, or with probability ``second_topic`` a mix of two (the
    second taking 20-50% of its words); its length is Poisson(``doc_length``),
    at least 5.

    Returns
    -------
    matrix : CSR (n_docs x n_terms) float64 counts; rows are documents,
        columns are terms; ``col_labels`` are the terms, ``row_labels`` 1..n_docs
    truth : terms (list), themes (names of the topics used), topic_word
        (n_topics, n_terms) probabilities, doc_topics (n_docs, n_topics) weights
    """
    n_docs = _positive("documents", n_docs)
    n_topics = _positive("topics", n_topics)
    if n_topics > len(THEMES):
        raise UsageError(
            f"{n_topics} topics asked but the vocabulary has {len(THEMES)} themes",
            hint=f"use at most {len(THEMES)} topics",
        )
    if not (np.isfinite(doc_length) and doc_length >= 1):
        raise UsageError(f"document length must be >= 1, got {doc_length}")
    rng = np.random.default_rng(seed)
    terms = vocabulary()
    where = {w: j for j, w in enumerate(terms)}
    n_terms = len(terms)
    theme_names = list(THEMES)[:n_topics]
    filler_ids = np.array([where[w] for w in FILLER])
    topic_word = np.zeros((n_topics, n_terms))
    for t, name in enumerate(theme_names):
        ids = np.array([where[w] for w in THEMES[name]])
        topic_word[t, ids] = (1 - filler_share) * zipf_probabilities(ids.size, 0.8, rng)
        topic_word[t, filler_ids] = filler_share * zipf_probabilities(filler_ids.size, 0.5, rng)

    first = rng.integers(0, n_topics, n_docs)
    mixed = (rng.random(n_docs) < second_topic) & (n_topics > 1)
    second = (first + rng.integers(1, max(n_topics, 2), n_docs)) % n_topics
    weight2 = np.where(mixed, rng.uniform(0.2, 0.5, n_docs), 0.0)
    lengths = np.maximum(rng.poisson(doc_length, n_docs), 5)
    n_second = rng.binomial(lengths, weight2)
    doc_topics = np.zeros((n_docs, n_topics))
    doc_topics[np.arange(n_docs), first] = 1 - weight2
    np.add.at(doc_topics, (np.arange(n_docs), second), weight2)

    docs = np.concatenate(
        [np.repeat(np.arange(n_docs), lengths - n_second), np.repeat(np.arange(n_docs), n_second)]
    )
    topic = np.concatenate([np.repeat(first, lengths - n_second), np.repeat(second, n_second)])
    words = np.empty(docs.shape[0], dtype=np.int64)
    for t in range(n_topics):
        mask = topic == t
        cdf = np.cumsum(topic_word[t])
        cdf /= cdf[-1]
        words[mask] = np.minimum(
            np.searchsorted(cdf, rng.random(int(mask.sum())), "right"), n_terms - 1
        )
    keys, counts = np.unique(docs * n_terms + words, return_counts=True)
    rows, cols = np.divmod(keys, n_terms)
    indptr = np.zeros(n_docs + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n_docs), out=indptr[1:])
    matrix = Matrix.from_csr(
        indptr,
        cols,
        counts.astype(np.float64),
        (n_docs, n_terms),
        check=False,
        row_labels=_labels(n_docs),
        col_labels=np.array(terms),
        meta={"generator": "docterm", "seed": seed},
    )
    truth = {
        "terms": terms,
        "themes": theme_names,
        "topic_word": topic_word,
        "doc_topics": doc_topics,
    }
    return matrix, truth
