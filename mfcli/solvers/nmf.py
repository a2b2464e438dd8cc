"""Non-negative matrix factorization ``X ~ W @ H.T`` (W, H >= 0).

Objective
---------
``nmf`` minimises, over ``W`` (m, k) >= 0 and ``H`` (n, k) >= 0,

    frobenius:  0.5 * sum_fitted (x_ij - w_i . h_j)**2
    kl:         sum_fitted (x_ij log(x_ij / w_i . h_j) - x_ij + w_i . h_j)

    + l1_w * sum(W) + 0.5 * l2_w * ||W||_F**2 + l1_h * sum(H) + 0.5 * l2_h * ||H||_F**2

"fitted" is every entry with ``mask="none"`` (the zeros of a sparse matrix
are data: a document-term matrix) or only the stored entries with
``mask="observed"`` (a ratings file: missing is not zero; in a dense array
the NaNs are the missing entries). In the KL term ``0 log 0 = 0``.

The penalties are *not* scaled by the matrix dimensions. scikit-learn's
``NMF(alpha_W=a, alpha_H=b, l1_ratio=r)`` on an ``n_samples x n_features``
matrix is ``l1_w = a * r * n_features``, ``l2_w = a * (1 - r) * n_features``,
``l1_h = b * r * n_samples``, ``l2_h = b * (1 - r) * n_samples`` here
(``alpha_H="same"`` means ``b = a``).

Reported: ``objective`` (the above), ``error`` (frobenius: ``||X - W H.T||_F``
over the fitted entries; kl: the divergence) and ``relative_error`` (frobenius:
``error / ||X||_F``; kl: ``error / sum(X)``, both over the fitted entries).

Solvers
-------
``hals`` (default)
    Frobenius: hierarchical alternating least squares, i.e. exact coordinate
    descent on one component of one row at a time (Cichocki & Phan 2009;
    the kernels are in :mod:`mfcli.kernels.nmf_hals`). ``mask none``: each
    half-step forms ``A = X @ H`` (sparse kernel or BLAS) and ``H.T H`` once
    and sweeps every row of ``W`` with them, several times while a row still
    moves (accelerated HALS, Gillis & Glineur 2012: at most
    ``1 + rho`` sweeps, ``rho`` = 1 + cost of the products / cost of a
    sweep; a row stops once a sweep changes it by less than 5% of its first
    sweep). The objective comes from ``A`` and the Gram matrices, never from
    ``W H.T``. ``mask observed``: each row builds its own Gram matrix over its
    stored entries, then sweeps (like ALS with a non-negative solve).
    Either mask: each iteration starts from the last two iterates
    extrapolated (Ang & Gillis 2019, :mod:`mfcli.solvers.nmf_extrapolate`);
    a step that ends worse is discarded, so the objective never increases.
    KL: coordinate descent with Newton steps on each coordinate (Hsieh &
    Dhillon 2011), rows in parallel (:mod:`mfcli.kernels.nmf_mu`).
``mu``
    Lee & Seung's multiplicative updates for either loss
    (:mod:`mfcli.kernels.nmf_mu`). A factor value that starts at 0 stays 0, so
    ``nndsvd`` (with its exact zeros) is a poor start for ``mu``.

Init (:mod:`mfcli.solvers.nmf_init`): ``auto`` is ``nndsvda`` for ``mask
none`` and ``random`` for ``mask observed`` (the SVD of a ratings matrix with
its missing entries read as 0 mostly describes which entries are missing).
``W0`` and ``H0`` (both) replace the init.

Convergence
-----------
After iteration ``t`` (one update of ``W`` then of ``H``) the fit stops, with
``converged=True``, when ``(f_{t-1} - f_t) / max(f_t, 1e-300) < tol`` for the
objective ``f`` (so also when it does not decrease); the first iteration is
never the last for this reason. With extrapolation (HALS, frobenius) a
discarded step repeats the objective and gives no verdict; a discarded step
that started without extrapolation means converged. ``max_iter`` caps the
iterations. A
``callback(iteration, stats)`` returning a true value stops the fit too
(``converged=False``).

Determinism: for a seed, the factors are identical on any number of numba
threads. Each row of a factor is computed by one thread; Gram matrices are
float64 sums over fixed row chunks (:func:`mfcli.solvers.linalg.gram`);
objectives are per-row float64 sums added in row order. Sparse fits run BLAS
on one thread; dense fits use BLAS's threads, assumed deterministic for a
fixed BLAS thread count.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from mfcli.errors import InputDataError, NumericsError, UsageError
from mfcli.kernels import nmf_hals, nmf_mu, spmm
from mfcli.runtime import numba_threads_for
from mfcli.solvers import linalg
from mfcli.solvers.nmf_extrapolate import Extrapolation
from mfcli.solvers.nmf_init import initialize
from mfcli.solvers.svd import Input, _check_dtype, _check_int, as_input

SOLVERS = ("hals", "mu")
LOSSES = ("frobenius", "kl")
INITS = ("auto", "nndsvd", "nndsvda", "nndsvdar", "random")
MASKS = ("none", "observed")

# Accelerated HALS: inner sweeps cost at most ALPHA times the products; a row's
# inner sweeps stop below REL_FIRST of its first change. At (0.5, 0.1) the caps
# bound nearly every row (943 x 1682 ratings, k = 20: 5 and 3 sweeps) and the fit
# needed 170 iterations to scikit-learn's error; at (1, 0.05) 57 (float64 too).
# BBC and dense low-rank matrices need about as many iterations either way.
ALPHA = 1.0
REL_FIRST = 0.05
OBSERVED_REL_FIRST = 0.1  # the same, for mask observed (its cap is per entry)
OBSERVED_PER_ENTRY = 0.25  # observed HALS: sweeps per row <= 1 + this * entries ...
OBSERVED_MAX_SWEEPS = 50  # ... and <= this
KL_NEWTON_STEPS = 1  # Newton steps per coordinate in KL coordinate descent
TINY = 1e-300
BLOCKS_PER_THREAD = 8
# Fits with less work per thread than this use fewer numba threads. Work is
# k * (entries * (k with mask observed, else 1) + (m + n) * k), entries = the
# stored ones (sparse) or m * n (dense): about the multiply-adds of one
# iteration's products and sweeps. Results do not depend on it. 30 HALS
# iterations (sparse), 1 vs 2 threads on the 2-core dev machine (best of 3),
# idle | with a benchmark on both cores:
#   150x80, 2k entries, k=10 (work 0.04e6):   10 vs  10 ms |   16 vs 1472 ms
#   300x200, 10k, k=10 (0.15e6):              17 vs  16 ms |   35 vs  815 ms
#   600x400, 30k, k=10 (0.4e6):               30 vs  26 ms |   51 vs 1773 ms
#   943x1682, 100k, k=20 (3.05e6):           105 vs  81 ms |  171 vs 2746 ms
#   3000x2000, 300k, k=20 (8e6):             258 vs 181 ms |  414 vs 1668 ms
#   mask observed 300x200, 10k, k=10 (1.05e6): 43 vs 24 ms |  77 vs  718 ms
# 1e6 keeps the 943 x 1682 ratings case (MovieLens 100k, k=20) and bigger on
# the threads asked for, where two are faster idle, and puts the small fits,
# where they gain little idle and cost 20-90x loaded, on one.
MIN_WORK_PER_THREAD = 1e6

Callback = Callable[[int, dict], object]


@dataclass
class NMFFit:
    """A non-negative factorization ``X ~ W @ H.T``.

    Attributes
    ----------
    W : (m, k) row factors, the requested dtype
    H : (n, k) column factors (``H.T`` is the usual H), the requested dtype
    solver, loss, mask : as requested
    init : the init used ("auto" resolved)
    n_iter : iterations run (one update of W and one of H each)
    converged : the relative objective decrease fell below ``tol``
    objective : final objective, penalties included (float64)
    error : frobenius: ``||X - W H.T||_F`` over the fitted entries; kl: the
        generalized KL divergence
    relative_error : frobenius: ``error / ||X||_F``; kl: ``error / sum(X)``
    history : "objective", "error", "seconds" (since the call), one value per
        iteration (float64)
    notes : what the user should know (iteration cap, callback stop)
    """

    W: np.ndarray
    H: np.ndarray
    solver: str
    loss: str
    init: str
    mask: str
    n_iter: int
    converged: bool
    objective: float
    error: float
    relative_error: float
    history: dict[str, np.ndarray] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def k(self) -> int:
        return int(self.W.shape[1])


# ------------------------------------------------------------------ inputs
def _raw_arrays(X):
    """(indptr, indices, data) or a dense array, without validation."""
    from mfcli.data import Matrix

    if isinstance(X, Input):
        return (X.indptr, X.indices, X.data) if X.is_sparse else X.dense
    if isinstance(X, Matrix):
        return (X.indptr, X.indices, X.data) if X.is_sparse else X.data
    if hasattr(X, "tocsr") and hasattr(X, "nnz"):
        csr = X.tocsr()
        return csr.indptr, csr.indices, csr.data
    return np.asarray(X)


def first_negative(X) -> tuple[int, int, float] | None:
    """The first negative entry of ``X`` in row-major order.

    Parameters
    ----------
    X : mfcli.data.Matrix, scipy.sparse matrix or 2-D array

    Returns
    -------
    ``(row, column, value)`` (0-based) or None when no entry is negative
    """
    arrays = _raw_arrays(X)
    if isinstance(arrays, tuple):
        indptr, indices, data = arrays
        bad = _first_index(data)
        if bad < 0:
            return None
        row = int(np.searchsorted(indptr, bad, side="right")) - 1
        lo, hi = int(indptr[row]), int(indptr[row + 1])
        neg = np.flatnonzero(data[lo:hi] < 0)
        t = lo + int(neg[np.argmin(indices[lo:hi][neg])])  # indices may be unsorted
        return row, int(indices[t]), float(data[t])
    dense = arrays
    if dense.ndim != 2:
        raise InputDataError(f"expected a 2-D matrix, got {dense.ndim}-D")
    bad = _first_index(np.ascontiguousarray(dense).reshape(-1))
    if bad < 0:
        return None
    row, col = divmod(bad, dense.shape[1])
    return row, col, float(dense[row, col])


def _first_index(values: np.ndarray) -> int:
    """Position of the first negative value of a 1-D array, -1 if none (chunked)."""
    step = 1 << 20
    for a in range(0, values.shape[0], step):
        neg = values[a : a + step] < 0
        if neg.any():
            return a + int(np.argmax(neg))
    return -1


def _validated(X, observed: bool, what: str, *, allow_zero: bool = False) -> Input:
    """Finite, non-negative input; with ``observed``, a dense array's NaNs are missing."""
    if observed:
        from mfcli.solvers.softimpute import observed as observed_input

        inp = observed_input(X, what=what)
    else:
        inp = as_input(X, what=what)
    neg = first_negative(inp)
    if neg is not None:
        row, col, value = neg
        raise InputDataError(
            f"the {what} holds a negative value ({value:g}) at row {row + 1}, column {col + 1}",
            hint="NMF needs non-negative data: shift or clip the values, or use svd",
        )
    if not allow_zero:
        values = inp.data if inp.is_sparse else inp.dense
        if not np.any(values):
            raise InputDataError(
                f"the {what}'s fitted entries are all zeros: there is nothing to factorize",
                hint="check the input values",
            )
    return inp


@dataclass
class _CSR:
    """CSR arrays in the kernels' types: int64 ``indptr``, int32/int64 ``indices``,
    ``data`` in the factor dtype, with row blocks balancing entries."""

    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray
    shape: tuple[int, int]
    blocks: np.ndarray

    @property
    def args(self):
        return self.indptr, self.indices, self.data


def _index_dtype(n: int):
    return np.int32 if n <= np.iinfo(np.int32).max else np.int64


def _csr(indptr, indices, data, shape, dt) -> _CSR:
    indptr = np.ascontiguousarray(indptr, dtype=np.int64)
    indices = np.ascontiguousarray(indices, dtype=_index_dtype(shape[1]))
    data = np.ascontiguousarray(data, dtype=dt)
    return _CSR(indptr, indices, data, shape, spmm.balanced_blocks(indptr))


def _sparse_of(inp: Input, dt) -> _CSR:
    """CSR of the input; a dense input gives the CSR of its non-zero entries."""
    if inp.is_sparse:
        return _csr(inp.indptr, inp.indices, inp.data, inp.shape, dt)
    dense = inp.dense
    rows, cols = np.nonzero(dense)
    indptr = np.zeros(inp.shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=inp.shape[0]), out=indptr[1:])
    return _csr(indptr, cols, dense[rows, cols], inp.shape, dt)


def _transposed(a: _CSR) -> _CSR:
    """CSR of ``X.T`` (the CSC arrays of ``X``), built once per fit."""
    import scipy.sparse as sp

    m, n = a.shape
    csc = sp.csr_matrix((a.data, a.indices, a.indptr), shape=(m, n), copy=False).tocsc()
    return _csr(csc.indptr, csc.indices, csc.data, (n, m), a.data.dtype)


def _even_blocks(r: int) -> np.ndarray:
    from numba import get_num_threads

    count = max(1, min(r, BLOCKS_PER_THREAD * get_num_threads()))
    return np.linspace(0, r, count + 1).astype(np.int64)


def _gram_dot(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sum(a * b))


# ------------------------------------------------------------------ problems
@dataclass
class _Penalty:
    l1_w: float
    l1_h: float
    l2_w: float
    l2_h: float

    def value(self, W: np.ndarray, H: np.ndarray) -> float:
        total = 0.0
        for l1, l2, F in ((self.l1_w, self.l2_w, W), (self.l1_h, self.l2_h, H)):
            if l1:
                total += l1 * float(np.sum(F, dtype=np.float64))
            if l2:
                total += 0.5 * l2 * linalg.sum_squares(F.reshape(-1))
        return total


class _Problem:
    """One solver on one input: ``step`` updates W then H in place and returns
    the data term of the objective (no penalties) at the new factors."""

    kl = False
    extrapolates = False  # steps may start from extrapolated factors (nmf_extrapolate)

    def forget(self) -> None:
        """Drop what was cached from the factors (they were changed outside ``step``)."""

    def step(self, W: np.ndarray, H: np.ndarray) -> float:
        raise NotImplementedError


class _HalsNone(_Problem):
    """Frobenius HALS, every entry fitted (sparse kernel or BLAS products)."""

    extrapolates = True

    def __init__(self, inp: Input, dt, k: int, pen: _Penalty, dense=None):
        m, n = inp.shape
        self.pen = pen
        self.dense = None
        if inp.is_sparse:
            self.csr = _csr(inp.indptr, inp.indices, inp.data, inp.shape, dt)
            self.xt = spmm.transpose(*self.csr.args, n, dt)
            self.xsq = linalg.sum_squares(self.csr.data)
            work = self.csr.indptr[-1] * k
        else:
            self.xsq = linalg.sum_squares(np.ascontiguousarray(inp.dense).reshape(-1))
            # Products in the factors' dtype, as the sparse kernels do: a float64 X
            # times float32 H made numpy upcast H and run dgemm (2000 x 1000, k = 20:
            # 5.2 ms an iteration instead of 1.4 ms).
            self.dense = _dense_in(inp, dt) if dense is None else dense
            work = m * n * k
        self.aw = np.empty((m, k), dtype=dt)
        self.ah = np.empty((n, k), dtype=dt)
        self.sweeps_w = np.empty(m, dtype=np.int32)
        self.sweeps_h = np.empty(n, dtype=np.int32)
        self.blocks_w = _even_blocks(m)
        self.blocks_h = _even_blocks(n)
        # Gillis & Glineur: rho = 1 + (products + Gram) / sweep, sweeps <= 1 + alpha * rho.
        self.cap_w = int(1 + ALPHA * (1 + (work + n * k * k) / (m * k * k)))
        self.cap_h = int(1 + ALPHA * (1 + (work + m * k * k) / (n * k * k)))
        self.hth: np.ndarray | None = None

    def forget(self) -> None:
        self.hth = None

    def _xh(self, H, out):
        if self.dense is None:
            spmm.csr_matmul(*self.csr.args, H, self.csr.blocks, out)
        else:
            with np.errstate(over="ignore", invalid="ignore"):  # reported as NumericsError
                out[:] = self.dense @ H

    def _xtw(self, W, out):
        if self.dense is None:
            spmm.csr_t_matmul(self.xt, W, out)
        else:
            with np.errstate(over="ignore", invalid="ignore"):
                out[:] = self.dense.T @ W

    def step(self, W, H):
        pen = self.pen
        hth = linalg.gram(H) if self.hth is None else self.hth
        self._xh(H, self.aw)
        nmf_hals.hals_rows(
            self.aw, hth, pen.l1_w, pen.l2_w, self.cap_w, REL_FIRST, 0.0,
            nmf_hals.ROW_GROUP, self.blocks_w, W, self.sweeps_w,
        )  # fmt: skip
        self._xtw(W, self.ah)
        wtw = linalg.gram(W)
        nmf_hals.hals_rows(
            self.ah, wtw, pen.l1_h, pen.l2_h, self.cap_h, REL_FIRST, 0.0,
            nmf_hals.ROW_GROUP, self.blocks_h, H, self.sweeps_h,
        )  # fmt: skip
        self.hth = linalg.gram(H)
        # <X, W H.T> = sum(H * (X.T W)) with the H half-step's product.
        cross = nmf_hals.cross_sum(H, self.ah)
        return max(0.5 * (self.xsq - 2.0 * cross + _gram_dot(wtw, self.hth)), 0.0)


class _Observed:
    """The stored entries as CSR of X and of X.T, with the frobenius data term."""

    def __init__(self, inp: Input, dt):
        self.csr = _csr(inp.indptr, inp.indices, inp.data, inp.shape, dt)
        self.csc = _transposed(self.csr)
        self.xsq = linalg.sum_squares(self.csr.data)
        m = inp.shape[0]
        self.cross = np.empty(m)
        self.sq = np.empty(m)

    def sums(self, W, H) -> tuple[float, float]:
        """(sum of x * wh, sum of (x - wh)**2) over the stored entries."""
        a = self.csr
        nmf_hals.entry_sums(*a.args, W, H, a.blocks, self.cross, self.sq)
        return float(np.sum(self.cross)), float(np.sum(self.sq))


class _HalsObserved(_Problem):
    """Frobenius HALS fitted to the stored entries (per-row Gram matrices)."""

    extrapolates = True

    def __init__(self, inp: Input, dt, k: int, pen: _Penalty):
        self.pen = pen
        self.obs = _Observed(inp, dt)
        self.xsq = self.obs.xsq
        m, n = inp.shape
        self.sweeps_w = np.empty(m, dtype=np.int32)
        self.sweeps_h = np.empty(n, dtype=np.int32)

    def step(self, W, H):
        pen, a, b = self.pen, self.obs.csr, self.obs.csc
        nmf_hals.hals_observed_rows(
            *a.args, H, pen.l1_w, pen.l2_w, OBSERVED_MAX_SWEEPS, OBSERVED_PER_ENTRY,
            OBSERVED_REL_FIRST, 0.0, a.blocks, W, self.sweeps_w,
        )  # fmt: skip
        nmf_hals.hals_observed_rows(
            *b.args, W, pen.l1_h, pen.l2_h, OBSERVED_MAX_SWEEPS, OBSERVED_PER_ENTRY,
            OBSERVED_REL_FIRST, 0.0, b.blocks, H, self.sweeps_h,
        )  # fmt: skip
        return 0.5 * self.obs.sums(W, H)[1]


class _Multiplicative(_Problem):
    """Lee-Seung multiplicative updates, either loss, either mask."""

    def __init__(self, inp: Input, dt, k: int, pen: _Penalty, kl: bool, observed: bool):
        self.pen = pen
        self.kl = kl
        self.observed = observed
        self.dense = None
        if inp.is_sparse:
            self.csr = _csr(inp.indptr, inp.indices, inp.data, inp.shape, dt)
            self.csc = _transposed(self.csr)
            values = self.csr.data
            self.cross = np.empty(inp.shape[0])
            self.sq = np.empty(inp.shape[0])
        else:  # mask none (an observed dense input arrives as CSR)
            self.dense = inp.dense
            values = np.ascontiguousarray(self.dense).reshape(-1)
        self.xsq = linalg.sum_squares(values)
        self.xsum = float(np.sum(values, dtype=np.float64))

    def step(self, W, H):
        pen, kl, masked = self.pen, self.kl, self.observed
        if self.dense is not None:
            nmf_mu.mu_update_dense(self.dense, W, H, kl, pen.l1_w, pen.l2_w)
            nmf_mu.mu_update_dense(self.dense.T, H, W, kl, pen.l1_h, pen.l2_h)
            if kl:
                return nmf_mu.kl_divergence_dense(self.dense, W, H)
            cross = nmf_hals.cross_sum(W, np.asarray(self.dense @ H, dtype=W.dtype))
            return self._frobenius(W, H, cross)
        a, b = self.csr, self.csc
        nmf_mu.mu_update_sparse(*a.args, W, H, kl, masked, pen.l1_w, pen.l2_w, self._aux(H))
        nmf_mu.mu_update_sparse(*b.args, H, W, kl, masked, pen.l1_h, pen.l2_h, self._aux(W))
        if kl:
            return nmf_mu.kl_divergence_sparse(*a.args, W, H, masked)
        nmf_hals.entry_sums(*a.args, W, H, a.blocks, self.cross, self.sq)
        if masked:
            return 0.5 * float(np.sum(self.sq))
        return self._frobenius(W, H, float(np.sum(self.cross)))

    def _aux(self, G):
        if self.observed:
            return np.empty(0, dtype=G.dtype)
        if self.kl:
            return G.sum(axis=0, dtype=np.float64)
        return linalg.gram(G)

    def _frobenius(self, W, H, cross):
        gram_dot = _gram_dot(linalg.gram(W), linalg.gram(H))
        return max(0.5 * (self.xsq - 2.0 * cross + gram_dot), 0.0)


class _KLDescent(_Problem):
    """KL coordinate descent (Hsieh & Dhillon 2011) on the CSR of X and of X.T."""

    kl = True

    def __init__(self, inp: Input, dt, k: int, pen: _Penalty, observed: bool):
        self.pen = pen
        self.observed = observed
        self.csr = _sparse_of(inp, dt)  # the zeros of a dense X only add sum(W H.T)
        self.csc = _transposed(self.csr)
        self.xsum = float(np.sum(self.csr.data, dtype=np.float64))

    def step(self, W, H):
        pen, a, b, masked = self.pen, self.csr, self.csc, self.observed
        nmf_mu.kl_cd_update_sparse(
            *a.args, W, H, masked, pen.l1_w, pen.l2_w, H.sum(axis=0, dtype=np.float64),
            KL_NEWTON_STEPS,
        )  # fmt: skip
        nmf_mu.kl_cd_update_sparse(
            *b.args, H, W, masked, pen.l1_h, pen.l2_h, W.sum(axis=0, dtype=np.float64),
            KL_NEWTON_STEPS,
        )  # fmt: skip
        return nmf_mu.kl_divergence_sparse(*a.args, W, H, masked)


def _dense_in(inp: Input, dt) -> np.ndarray:
    return np.ascontiguousarray(inp.dense, dtype=dt)


def _problem(inp, solver, loss, observed, dt, k, pen, dense=None) -> _Problem:
    kl = loss == "kl"
    if solver == "mu":
        return _Multiplicative(inp, dt, k, pen, kl, observed)
    if kl:
        return _KLDescent(inp, dt, k, pen, observed)
    if observed:
        return _HalsObserved(inp, dt, k, pen)
    return _HalsNone(inp, dt, k, pen, dense)


def _scale(problem: _Problem, inp: Input) -> float:
    """``||X||_F`` (frobenius) or ``sum(X)`` (kl) over the fitted entries."""
    if problem.kl:
        return problem.xsum
    return float(np.sqrt(problem.xsq))


# ------------------------------------------------------------------ checks
def _check_choice(name: str, value, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise UsageError(f"unknown {name} {value!r}", hint="choose " + ", ".join(choices))
    return value


def _check_nonneg(name: str, value) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        v = float("nan")
    if isinstance(value, bool) or not (np.isfinite(v) and v >= 0):
        raise UsageError(f"{name} must be a finite number >= 0, got {value!r}")
    return v


def _start_factor(name: str, F, shape: tuple[int, int], dt) -> np.ndarray:
    F = np.asarray(F)
    if F.shape != shape:
        raise UsageError(f"{name} must have shape {shape}, got {F.shape}")
    if F.dtype.kind not in "biuf":
        raise UsageError(f"{name} must hold real numbers, got {F.dtype}")
    if not np.all(np.isfinite(F)):
        raise UsageError(f"{name} holds NaN or inf values")
    if np.any(F < 0):
        raise UsageError(f"{name} holds negative values", hint="NMF factors are non-negative")
    return np.array(F, dtype=dt, order="C")  # a copy: the caller's arrays stay as they are


def _numerics_error(iteration: int) -> NumericsError:
    return NumericsError(
        f"the NMF objective became NaN or inf at iteration {iteration}",
        hint="rescale the input (divide by its largest value), use --dtype float64, "
        "or use --solver hals",
    )


# ------------------------------------------------------------------ public
def nmf(
    X,
    k: int,
    *,
    solver: str = "hals",
    loss: str = "frobenius",
    init: str = "auto",
    mask: str = "none",
    l1_w: float = 0.0,
    l1_h: float = 0.0,
    l2_w: float = 0.0,
    l2_h: float = 0.0,
    tol: float = 1e-4,
    max_iter: int = 200,
    seed: int = 0,
    dtype=np.float32,
    callback: Callback | None = None,
    W0: np.ndarray | None = None,
    H0: np.ndarray | None = None,
    resume: dict | None = None,
    checkpoint: Callable | None = None,
) -> NMFFit:
    """Factor a non-negative ``X`` (m, n) as ``W @ H.T`` (see the module docstring).

    Parameters
    ----------
    X : mfcli.data.Matrix, scipy.sparse matrix or (m, n) ndarray, non-negative
    k : components, 1 <= k <= min(m, n)
    solver : "hals" or "mu"
    loss : "frobenius" or "kl"
    init : "auto", "nndsvd", "nndsvda", "nndsvdar" or "random"
    mask : "none" (every entry is data) or "observed" (only the stored ones;
        NaNs of a dense array are missing)
    l1_w, l1_h, l2_w, l2_h : penalties on W and H, >= 0, not scaled by the
        matrix dimensions
    tol : stop when the relative objective decrease of an iteration is below it
    max_iter : iterations at most
    seed : seeds the init (SVD sketch, random values)
    dtype : float32 or float64, the dtype of the factors
    callback : ``callback(iteration, stats)`` after each iteration, stats =
        {"objective", "error", "relative_error", "seconds"}; a true return
        value stops the fit
    W0, H0 : (m, k) and (n, k) non-negative starting factors (both or neither)
    resume : the state a ``checkpoint`` call saved: the fit goes on after that
        iteration and ends as the uninterrupted fit does
    checkpoint : ``checkpoint(iteration, state)`` after every iteration that does
        not end the fit; ``state()`` returns the resume state (live arrays); it
        may raise to stop the fit (a signal)

    Returns
    -------
    NMFFit

    Raises
    ------
    UsageError
        bad option, ``k`` out of range, bad ``W0``/``H0``
    InputDataError
        empty input, NaN/inf (outside the missing entries of a dense array
        with ``mask="observed"``), negative values, all fitted values zero
    NumericsError
        the objective became NaN or inf
    """
    start = time.perf_counter()
    _check_choice("solver", solver, SOLVERS)
    _check_choice("loss", loss, LOSSES)
    _check_choice("init", init, INITS)
    _check_choice("mask", mask, MASKS)
    dt, k, max_iter, seed, tol, pen = checked_options(
        dtype, k, max_iter, seed, tol, (l1_w, l1_h, l2_w, l2_h), W0, H0
    )
    observed = mask == "observed"
    inp = _validated(X, observed, "matrix")
    m, n = inp.shape
    if k > min(m, n):
        raise UsageError(
            f"k={k} is larger than min(m, n)={min(m, n)} of the {m} x {n} matrix",
            hint=f"choose k <= {min(m, n)}",
        )
    if init == "auto":
        init = "random" if observed else "nndsvda"
    entries = int(inp.data.shape[0]) if inp.is_sparse else m * n
    work = k * (entries * (k if observed else 1) + (m + n) * k)
    # A dense X in the factors' dtype, once, for the init's SVD and HALS's products.
    dense = None
    if not inp.is_sparse and not observed and (solver, loss) == ("hals", "frobenius"):
        dense = _dense_in(inp, dt)
    with (
        linalg.blas_threads(1 if inp.is_sparse else None),
        numba_threads_for(work, MIN_WORK_PER_THREAD),
    ):
        if resume is not None:
            W = _start_factor("the checkpoint's W", resume["W"], (m, k), dt)
            H = _start_factor("the checkpoint's H", resume["H"], (n, k), dt)
        elif W0 is not None:
            W = _start_factor("W0", W0, (m, k), dt)
            H = _start_factor("H0", H0, (n, k), dt)
        else:
            W, H = initialize(inp, k, init, observed=observed, seed=seed, dtype=dt, dense=dense)
        problem = _problem(inp, solver, loss, observed, dt, k, pen, dense)
        if observed:
            # Rows and columns with nothing stored do not enter the objective but
            # their penalties: 0 is their minimiser, and every update keeps it.
            W[np.diff(inp.indptr) == 0] = 0
            H[np.bincount(inp.indices, minlength=n) == 0] = 0
        fit = _iterate(problem, inp, W, H, tol, max_iter, callback, start, resume, checkpoint)
    fit.solver, fit.loss, fit.init, fit.mask = solver, loss, init, mask
    return fit


def checked_options(dtype, k, max_iter, seed, tol, penalties, W0, H0):
    """Options shared by every NMF solver, checked (UsageError) and normalised:
    ``(dtype, k, max_iter, seed, tol, penalty)``; ``penalties`` is (l1_w, l1_h, l2_w, l2_h)."""
    dt = _check_dtype(dtype)
    k = _check_int("k", k, 1)
    max_iter = _check_int("max_iter", max_iter, 1)
    seed = _check_int("seed", seed, 0)
    tol = _check_nonneg("tol", tol)
    names = ("l1_w", "l1_h", "l2_w", "l2_h")
    pen = _Penalty(*(_check_nonneg(n, v) for n, v in zip(names, penalties, strict=True)))
    if (W0 is None) != (H0 is None):
        raise UsageError("W0 and H0 must be given together")
    return dt, k, max_iter, seed, tol, pen


def _iterate(
    problem, inp, W, H, tol, max_iter, callback, start, resume=None, checkpoint=None
) -> NMFFit:
    scale = _scale(problem, inp)
    hist: dict[str, list[float]] = {"objective": [], "error": [], "seconds": []}
    prev = np.inf
    converged = stopped = False
    notes: list[str] = []
    objective = error = relative = float("nan")
    extra = Extrapolation(W, H) if problem.extrapolates else None
    it = 0
    if resume is not None:  # the state a checkpoint saved at the end of an iteration
        it, prev = int(resume["iteration"]), float(resume["prev"])
        hist = {name: [float(v) for v in values] for name, values in resume["history"].items()}
        start -= hist["seconds"][-1] if hist.get("seconds") else 0.0
        objective, error = hist["objective"][-1], hist["error"][-1]
        relative = error / scale if scale > 0 else 0.0
        if extra is not None:
            extra.load(resume["extrapolation"])
    first = it + 1
    for it in range(first, max_iter + 1):
        data_term = problem.step(W, H)
        objective = data_term + problem.pen.value(W, H)
        accepted = True
        if extra is not None:
            accepted = extra.after_step(W, H, objective)
            problem.forget()
            if not accepted:
                objective = extra.best
                data_term = objective - problem.pen.value(extra.W, extra.H)
        if not np.isfinite(objective):
            raise _numerics_error(it)
        error = data_term if problem.kl else float(np.sqrt(2.0 * max(data_term, 0.0)))
        relative = error / scale if scale > 0 else 0.0
        seconds = time.perf_counter() - start
        hist["objective"].append(objective)
        hist["error"].append(error)
        hist["seconds"].append(seconds)
        if callback is not None:
            stats = {
                "objective": objective,
                "error": error,
                "relative_error": relative,
                "seconds": seconds,
            }
            answer = callback(it, stats)
            if answer is not None and bool(answer):
                stopped = True
                notes.append(f"stopped by the callback at iteration {it}")
                break
        if extra is not None and extra.stalled:
            converged = True
            break
        if accepted:  # else the next step starts from the accepted factors: no verdict yet
            if (prev - objective) / max(objective, TINY) < tol:
                converged = True
                break
            prev = objective
        if checkpoint is not None and it < max_iter:
            checkpoint(it, functools.partial(_snapshot, it, W, H, extra, prev, hist))
    if extra is not None:
        extra.restore(W, H)
    if not (converged or stopped):
        notes.append(
            f"stopped after max_iter={max_iter} iterations before the relative "
            f"objective decrease fell below tol"
        )
    if not (np.isfinite(W).all() and np.isfinite(H).all()):
        raise _numerics_error(it)
    return NMFFit(
        W=W,
        H=H,
        solver="",
        loss="",
        init="",
        mask="",
        n_iter=it,
        converged=converged,
        objective=float(objective),
        error=float(error),
        relative_error=float(relative),
        history={name: np.asarray(values, dtype=np.float64) for name, values in hist.items()},
        notes=notes,
    )


def _snapshot(it, W, H, extra, prev, hist) -> dict:
    """The resume state after iteration ``it`` (live arrays): the next start point,
    the accepted iterate and the extrapolation's weights, the convergence test's
    previous objective, the history."""
    return {
        "iteration": it, "W": W, "H": H, "prev": prev, "history": hist,
        "accepted": (W, H) if extra is None else (extra.W, extra.H),
        "extrapolation": None if extra is None else extra.state(),
    }  # fmt: skip


def evaluate(
    X,
    W: np.ndarray,
    H: np.ndarray,
    *,
    loss: str = "frobenius",
    mask: str = "none",
    l1_w: float = 0.0,
    l1_h: float = 0.0,
    l2_w: float = 0.0,
    l2_h: float = 0.0,
) -> dict[str, float]:
    """The objective of given factors, computed directly (not from a solver's products).

    Parameters
    ----------
    X : mfcli.data.Matrix, scipy.sparse matrix or (m, n) ndarray, non-negative
    W : (m, k) non-negative
    H : (n, k) non-negative (``X ~ W @ H.T``)
    loss, mask, l1_w, l1_h, l2_w, l2_h : as in :func:`nmf`

    Returns
    -------
    {"objective", "error", "relative_error"}, as in :class:`NMFFit`
    """
    _check_choice("loss", loss, LOSSES)
    _check_choice("mask", mask, MASKS)
    pen = _Penalty(*(_check_nonneg(name, v) for name, v in
                     (("l1_w", l1_w), ("l1_h", l1_h), ("l2_w", l2_w), ("l2_h", l2_h))))  # fmt: skip
    observed = mask == "observed"
    inp = _validated(X, observed, "matrix", allow_zero=True)
    m, n = inp.shape
    W = np.asarray(W)
    H = np.asarray(H)
    if W.ndim != 2 or H.ndim != 2 or W.shape[0] != m or H.shape[0] != n or W.shape[1] != H.shape[1]:
        raise UsageError(f"W and H must be (m, k) and (n, k) for the {m} x {n} matrix")
    dt = np.result_type(W.dtype, H.dtype, np.float32)
    W = np.ascontiguousarray(W, dtype=dt)
    H = np.ascontiguousarray(H, dtype=dt)
    kl = loss == "kl"
    if kl:
        a = _sparse_of(inp, dt)
        data = nmf_mu.kl_divergence_sparse(*a.args, W, H, observed)
        scale = float(np.sum(a.data, dtype=np.float64))
        error = data
    else:
        if inp.is_sparse:
            a = _csr(inp.indptr, inp.indices, inp.data, inp.shape, dt)
            cross, sq = np.empty(m), np.empty(m)
            nmf_hals.entry_sums(*a.args, W, H, a.blocks, cross, sq)
            xsq = linalg.sum_squares(a.data)
            if observed:
                data = 0.5 * float(np.sum(sq))
            else:
                gram_dot = _gram_dot(linalg.gram(W), linalg.gram(H))
                data = max(0.5 * (xsq - 2.0 * float(np.sum(cross)) + gram_dot), 0.0)
        else:
            dense = inp.dense
            xsq = linalg.sum_squares(np.ascontiguousarray(dense).reshape(-1))
            data = 0.0
            step = max(1, (1 << 20) // n)  # residual ~1M values at a time
            for lo in range(0, m, step):
                res = dense[lo : lo + step] - W[lo : lo + step] @ H.T
                data += 0.5 * linalg.sum_squares(np.asarray(res, dtype=np.float64).reshape(-1))
        scale = float(np.sqrt(xsq))
        error = float(np.sqrt(2.0 * data))
    return {
        "objective": float(data + pen.value(W, H)),
        "error": float(error),
        "relative_error": error / scale if scale > 0 else 0.0,
    }


# ------------------------------------------------------------------ fold-in
def fold_in(
    H: np.ndarray,
    rows,
    *,
    loss: str = "frobenius",
    mask: str = "none",
    l1_w: float = 0.0,
    l2_w: float = 0.0,
    max_iter: int = 200,
    tol: float = 1e-4,
) -> np.ndarray:
    """Factors of new rows with ``H`` fixed: the W-part of the NMF objective.

    Each row's non-negative ``w`` minimises the fit's objective with ``H``
    fixed (a convex problem): frobenius by coordinate-descent sweeps (from the
    clipped least-squares solution for ``mask none``, from 0 for ``observed``)
    until a sweep changes the row by at most ``tol`` times its norm; kl by
    coordinate Newton iterations from a row-sum-matched constant until
    ``||W_new - W||_F <= tol ||W||_F``. At most ``max_iter`` sweeps or
    iterations. Rows with nothing (stored) fold in to 0.

    Parameters
    ----------
    H : (n, k) non-negative column factors of a fit (``NMFFit.H``)
    rows : mfcli.data.Matrix, scipy.sparse matrix or (r, n) ndarray, non-negative
    loss, mask, l1_w, l2_w : as in the fit
    max_iter, tol : see above

    Returns
    -------
    (r, k) array in the dtype of ``H``
    """
    _check_choice("loss", loss, LOSSES)
    _check_choice("mask", mask, MASKS)
    l1_w = _check_nonneg("l1_w", l1_w)
    l2_w = _check_nonneg("l2_w", l2_w)
    tol = _check_nonneg("tol", tol)
    max_iter = _check_int("max_iter", max_iter, 1)
    H = np.asarray(H)
    if H.ndim != 2 or H.dtype not in (np.float32, np.float64):
        raise UsageError("H must be a 2-D float32 or float64 array")
    H = np.ascontiguousarray(H)
    n, k = H.shape
    observed = mask == "observed"
    inp = _validated(rows, observed, "rows", allow_zero=True)
    if inp.shape[1] != n:
        raise InputDataError(
            f"the rows have {inp.shape[1]} columns but the model has {n}",
            hint="fold in rows over the same columns as the fitted matrix",
        )
    dt = H.dtype
    r = inp.shape[0]
    W = np.zeros((r, k), dtype=dt)
    sweeps = np.empty(r, dtype=np.int32)
    with linalg.blas_threads(1 if inp.is_sparse else None):
        if loss == "kl":
            return _fold_in_kl(H, inp, observed, l1_w, l2_w, max_iter, tol, W)
        if observed:
            a = _csr(inp.indptr, inp.indices, inp.data, inp.shape, dt)
            nmf_hals.hals_observed_rows(
                *a.args, H, l1_w, l2_w, max_iter, float(max_iter), 0.0, tol, a.blocks, W, sweeps
            )
            return W
        A = np.empty((r, k), dtype=dt)
        if inp.is_sparse:
            a = _csr(inp.indptr, inp.indices, inp.data, inp.shape, dt)
            spmm.csr_matmul(*a.args, H, a.blocks, A)
        else:
            A[:] = inp.dense @ H
        B = linalg.gram(H)
        # Start from the unconstrained solution, clipped: few sweeps remain.
        start = (A.astype(np.float64) - l1_w) @ np.linalg.pinv(B + l2_w * np.eye(k))
        W[:] = np.maximum(start, 0.0)
        nmf_hals.hals_rows(
            A, B, l1_w, l2_w, max_iter, 0.0, tol, nmf_hals.ROW_GROUP, _even_blocks(r), W, sweeps
        )
    return W


def _row_sums(values: np.ndarray, indptr: np.ndarray) -> np.ndarray:
    """(r,) float64 sums of ``values`` over each CSR row (0 for empty rows)."""
    cum = np.zeros(values.shape[0] + 1)
    np.cumsum(values, out=cum[1:])
    return cum[indptr[1:]] - cum[indptr[:-1]]


def _fold_in_kl(H, inp, observed, l1_w, l2_w, max_iter, tol, W) -> np.ndarray:
    a = _sparse_of(inp, H.dtype)
    colsum = H.sum(axis=0, dtype=np.float64)
    # Start where each row's predictions sum to its values (over the stored columns).
    if observed:
        per_row = _row_sums(H.sum(axis=1, dtype=np.float64)[a.indices], a.indptr)
    else:
        per_row = np.full(inp.shape[0], float(colsum.sum()))
    sums = _row_sums(a.data.astype(np.float64), a.indptr)
    level = np.divide(sums, per_row, out=np.zeros_like(sums), where=per_row > 0)
    W[:] = level[:, None]
    for _ in range(max_iter):
        before = W.copy()
        nmf_mu.kl_cd_update_sparse(*a.args, W, H, observed, l1_w, l2_w, colsum, KL_NEWTON_STEPS)
        change = linalg.sum_squares((W - before).reshape(-1))
        if change <= tol * tol * linalg.sum_squares(W.reshape(-1)):
            break
    return W
