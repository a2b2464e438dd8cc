"""Alternating least squares for explicit ratings and implicit feedback.

``als(X, k)`` factorises a users x items matrix ``X`` (CSR, rows = users)
into user factors ``U`` (m, k) and item factors ``V`` (n, k). Each iteration
solves every user row with ``V`` fixed, then every item row with ``U`` fixed
(the kernels are in :mod:`mfcli.kernels.als`).

Objectives
----------
``lam_u = reg * n_u`` and ``lam_i = reg * n_i`` with ``reg_scaling="count"``
(ALS-WR, Zhou et al. 2008; Spark's explicit mode), where ``n_u`` and ``n_i``
are the entries a row and a column have; ``lam_u = lam_i = reg`` with
``"none"`` (implicit's convention).

explicit (``implicit=False``), over the stored ratings ``r_ui`` only::

    sum_stored (r_ui - mu - b_u - c_i - x_u . y_i)**2
        + sum_u lam_u (||x_u||**2 + b_u**2) + sum_i lam_i (||y_i||**2 + c_i**2)

``mu`` is the mean stored rating, fixed; ``b``, ``c`` are learned row and
column biases, regularised with the same lambda. Without biases
(``biases=False``) ``mu``, ``b`` and ``c`` are absent (0). A user half-step
solves ``[x_u, b_u]`` jointly against ``[y_i, 1]`` (exactly with
``solver="cholesky"``); items likewise.

implicit (``implicit=True``, Hu, Koren & Volinsky 2008), over *all* pairs::

    sum_{u,i} c_ui (p_ui - x_u . y_i)**2 + sum_u lam_u ||x_u||**2 + sum_i lam_i ||y_i||**2

with ``p_ui = 1`` where ``r_ui > 0`` else 0, and confidence ``c_ui = 1 +
alpha * r_ui`` (``confidence="linear"``) or ``1 + alpha * log(1 + r_ui /
eps)`` (``"log"``); ``c_ui = 1`` where nothing is stored. Negative values
are refused (:class:`~mfcli.errors.InputDataError`), stored zeros are the
same as missing entries and are dropped (they count for nothing in ``n_u``).
No biases. This is Spark's implicit confidence; implicit's
``AlternatingLeastSquares`` uses ``c = alpha * r`` (so its ``alpha`` on
binary data weighs a positive like a missing entry) and plain lambda: its
model is ``alpha_here = alpha_there`` with ``confidence = alpha * r - 1``,
which is not offered. The sum over all pairs is never formed: it is the
stored-entry terms plus ``sum(U.T U * V.T V)`` (the Gram trick), and each row
solve uses ``V.T V`` plus its own entries.

Reported ``loss`` is the objective above (float64), once per iteration.

Solvers
-------
``cg`` (default)
    ``cg_steps`` conjugate-gradient steps per row starting from the row's
    previous value, as implicit's CPU solver does (default 3 steps). For
    implicit feedback, when a half-step solves many more rows than it
    rotates, both factors are first rotated by the eigenvectors of the fixed
    side's Gram matrix ``Q`` (``U <- U Q``, ``V <- V Q``): the objective, the
    CG iterates and every prediction are unchanged (rotations are a symmetry
    of the model and CG is equivariant under them) but ``V.T V`` becomes
    diagonal, so each CG step costs ``O(k)`` plus the row's entries instead
    of ``O(k**2)``. The returned factors are therefore one rotation of many
    equivalent ones.
``cholesky``
    Each row's k x k (k + 1 with biases) normal equations built from its
    entries and solved exactly. The loss never increases.

Initialisation
--------------
``numpy.random.default_rng(seed)`` draws ``U`` then ``V``: implicit feedback
uniform on ``[0, 0.01)`` (as implicit), explicit ratings standard normal
divided by ``sqrt(k)`` (rows of norm about 1, as Spark). Biases start at 0.

Determinism
-----------
Rows are solved independently; Gram matrices and losses are summed in
float64 in an order fixed by the data, and BLAS is only used on the small
k x k eigenproblem (single-threaded work). A seed gives the same factors on
any thread count.

Early stopping
--------------
``validate(U, V, global_bias, row_bias, col_bias)`` is called after each
iteration and returns ``{metric: value}``; the first metric decides
(``higher_is_better``), and the best iteration's factors are returned
(``best_iter``; the earliest of equal scores), as SGD does. With
``patience=P`` the fit also stops after ``P`` iterations without
improvement; without it every iteration runs. The
arrays passed to ``validate`` and ``callback`` are live: do not modify them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numba
import numpy as np

from mfcli.errors import InputDataError, NumericsError, UsageError
from mfcli.kernels import als as kern
from mfcli.runtime import numba_threads_for
from mfcli.solvers import linalg
from mfcli.solvers.svd import as_input

CONFIDENCES = ("linear", "log")
SOLVERS = ("cg", "cholesky")
REG_SCALINGS = ("none", "count")
INIT_SCALE_IMPLICIT = 0.01
# Rotate to a diagonal Gram when (rows solved) * (cg_steps + 1) exceeds this
# times (rows rotated, both sides): a 4-row rotation pass runs ~1.3x faster
# per multiply-add than the k x k products it replaces.
ROTATE_RATIO = 0.8
CHUNK = 1 << 20  # values per chunk when converting or checking
# Fits with less work than this per thread use fewer numba threads (results do
# not depend on it). Work: k * ((m + n) * row_cost + 2 * nnz * entry_cost) of
# ``_costs``, about the multiply-adds of one iteration. Each iteration has ~10
# parallel regions, and each waits for a descheduled thread when another
# process holds a core. 4 iterations, k = 32, cg, 1 vs 2 threads on the
# 2-core dev machine (best of 3), idle | with a benchmark on both cores:
#   implicit  10k entries (work   8e6):   6 vs   5 ms |  11-22 vs  16-548 ms
#   implicit 100k entries (work  60e6):  24 vs  15 ms |  30-75 vs 124-358 ms
#   implicit 300k entries (work 169e6):  73 vs  41 ms |    159 vs 201 ms
#   implicit   1M entries (work 541e6): 262 vs 153 ms | 248-351 vs 549-590 ms
#   explicit  10k entries (work   5e6):   7 vs   5 ms |     25 vs  54 ms
#   explicit 100k entries (work  51e6):  27 vs  15 ms |  47-75 vs 163-246 ms
#   explicit   1M entries (work 513e6): 304 vs 149 ms |    478 vs 625 ms
# Idle, two threads save a few ms below ~100k entries; loaded, they cost
# 0.1-0.5 s there. 50e6 (~10 ms of one core per iteration) keeps those on one
# thread and gives ~300k entries and more at k = 32 the threads asked for.
MIN_WORK_PER_THREAD = 50e6

Callback = Callable[[int, dict], object]
Validate = Callable[..., dict]


@dataclass
class ALSFit:
    """A fitted ALS model: ``X ~ mu + b 1.T + 1 c.T + U @ V.T``.

    Attributes
    ----------
    U : (m, k) user (row) factors, the requested dtype
    V : (n, k) item (column) factors
    global_bias : mean stored rating (explicit with biases), else None
    row_bias : (m,) user biases (explicit with biases), else None
    col_bias : (n,) item biases (explicit with biases), else None
    n_iter : iterations run
    best_iter : the iteration whose factors are returned: the best validated
        one when ``validate`` was given, else ``n_iter``
    history : per iteration: ``loss`` (float64 objective with regularisation),
        ``seconds`` (cumulative since the call), and each validation metric
    notes : what the user should know (dense input, early stop, callback stop)
    """

    U: np.ndarray
    V: np.ndarray
    global_bias: float | None
    row_bias: np.ndarray | None
    col_bias: np.ndarray | None
    n_iter: int
    best_iter: int
    history: dict[str, np.ndarray] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def k(self) -> int:
        return int(self.U.shape[1])


# ------------------------------------------------------------------ inputs
@dataclass
class _Side:
    """One orientation of the data: rows to solve, their entries, work blocks."""

    indptr: np.ndarray  # (rows + 1,) int64
    indices: np.ndarray  # (nnz,) int32 or int64
    values: np.ndarray  # (nnz,) implicit: c - 1; explicit: ratings; factor dtype
    counts: np.ndarray  # (rows,) float64 entries per row
    blocks: np.ndarray  # (n_blocks + 1,) int64

    @property
    def rows(self) -> int:
        return int(self.indptr.shape[0] - 1)


def _check_choice(name: str, value, allowed) -> str:
    if value not in allowed:
        raise UsageError(f"unknown {name} {value!r}", hint="choose " + ", ".join(allowed))
    return value


def _check_int(name: str, value, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise UsageError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def _check_real(name: str, value, *, positive: bool = False) -> float:
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if ok:
        value = float(value)
        ok = np.isfinite(value) and (value > 0 if positive else value >= 0)
    if not ok:
        what = "a positive number" if positive else "a number >= 0"
        raise UsageError(f"{name} must be {what}, got {value!r}")
    return value


def _check_dtype(dtype) -> np.dtype:
    dt = np.dtype(dtype)
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise UsageError(f"dtype must be float32 or float64, got {dt}")
    return dt


def _csr(X, what: str, notes: list[str]):
    """Validated CSR arrays ``(shape, indptr, indices, data)`` of ``X``."""
    inp = as_input(X, what=what)
    if inp.is_sparse:
        return inp.shape, inp.indptr, inp.indices, inp.data
    import scipy.sparse as sp

    csr = sp.csr_matrix(np.asarray(inp.dense))
    csr.sort_indices()
    notes.append(f"dense input: its {csr.nnz} nonzero entries are the observations")
    return inp.shape, csr.indptr, csr.indices, csr.data


def _locate(indptr, indices, t: int) -> tuple[int, int]:
    row = int(np.searchsorted(indptr, t, side="right")) - 1
    return row + 1, int(indices[t]) + 1


def _implicit_weights(indptr, indices, data, alpha, confidence, eps, dt):
    """Drop stored zeros, refuse negatives; return (indptr, indices, c - 1)."""
    keep = None
    for a in range(0, data.shape[0], CHUNK):
        part = data[a : a + CHUNK]
        if (part < 0).any():
            t = a + int(np.argmax(part < 0))
            row, col = _locate(indptr, indices, t)
            raise InputDataError(
                f"implicit feedback needs values >= 0, found {data[t]} at row {row}, column {col}",
                hint="confidence is 1 + alpha * r: use counts or weights >= 0, "
                "or fit explicit ratings",
            )
        if keep is None and (part == 0).any():
            keep = data != 0
    if keep is not None:
        rows = np.repeat(np.arange(indptr.shape[0] - 1), np.diff(indptr))[keep]
        indptr = np.concatenate(([0], np.cumsum(np.bincount(rows, minlength=indptr.shape[0] - 1))))
        indices = indices[keep]
        data = data[keep]
    w = np.empty(data.shape[0], dtype=dt)
    with np.errstate(over="ignore"):
        for a in range(0, data.shape[0], CHUNK):
            r = data[a : a + CHUNK].astype(np.float64)
            w[a : a + CHUNK] = alpha * (r if confidence == "linear" else np.log1p(r / eps))
    if not np.isfinite(w).all():
        raise NumericsError(
            f"the confidence alpha * r overflows {dt.name}",
            hint="lower --alpha, use the log confidence or float64",
        )
    return indptr, indices, w


def _side(indptr, indices, values, row_cost: float, entry_cost: float) -> _Side:
    indptr = np.ascontiguousarray(indptr, dtype=np.int64)
    counts = np.diff(indptr).astype(np.float64)
    blocks = kern.cost_blocks(indptr, row_cost, entry_cost)
    return _Side(indptr, np.ascontiguousarray(indices), values, counts, blocks)


def _transpose(shape, indptr, indices, values):
    import scipy.sparse as sp

    csc = sp.csr_matrix((values, indices, indptr), shape=shape).tocsc()
    csc.sort_indices()
    return csc.indptr, csc.indices, csc.data


def _costs(implicit: bool, solver: str, k: int, steps: int, biased: bool):
    """(row_cost, entry_cost) of a half-step, in units of k multiply-adds."""
    if solver == "cg":
        if implicit:
            return k * (steps + 1), 2.0 * (steps + 1)
        return 4.0, 2.0 * (steps + 1)
    d = k + 1 if biased else k
    return d * d / 6.0 + d, d / 2.0


# ------------------------------------------------------------------ helpers
def gram64(Y: np.ndarray) -> np.ndarray:
    """``Y.T @ Y`` in float64, summed over fixed row chunks (thread-count invariant).

    Parameters
    ----------
    Y : (n, k) float32 or float64, C-contiguous

    Returns
    -------
    (k, k) float64, symmetric
    """
    n, k = Y.shape
    parts = np.empty((max(1, -(-n // kern.GRAM_CHUNK)), k, k))
    if n == 0:
        return np.zeros((k, k))
    kern.gram_partials(Y, kern.GRAM_CHUNK, parts)
    g = parts.sum(axis=0)
    return 0.5 * (g + g.T)


def _sq_norms(X: np.ndarray) -> np.ndarray:
    out = np.empty(X.shape[0])
    if X.shape[0]:
        kern.row_sq_norms(X, out)
    return out


def _penalty(norms: np.ndarray, counts: np.ndarray, reg: float, count_scaled: bool) -> float:
    return reg * float(np.sum(norms * counts) if count_scaled else np.sum(norms))


def _numerics(it: int) -> NumericsError:
    return NumericsError(
        f"ALS diverged: the training loss is not finite at iteration {it}",
        hint="lower --alpha or raise --reg",
    )


def _failed(failed: np.ndarray, it: int, what: str) -> None:
    bad = int(np.count_nonzero(failed))
    if bad:
        raise NumericsError(
            f"the normal equations of {bad} {what} are not positive definite (iteration {it})",
            hint="raise --reg (with reg 0 every row needs at least k entries)",
        )


@dataclass
class _Problem:
    implicit: bool
    solver: str
    cg_steps: int
    reg: float
    count_scaled: bool
    biased: bool
    offset: float
    dt: np.dtype


def rotation(pb: _Problem, rows: int, X, Y, g_other):
    """Rotate ``X`` and ``Y`` in place so ``g_other`` becomes diagonal, when that pays.

    Before an implicit CG half-step solving ``rows`` rows of ``X`` against
    ``Y`` with Gram ``g_other`` (float64). Returns the Gram in the new basis,
    whether it is diagonal, and the rotation ``Q.T`` applied (None when none was).
    """
    rows_solved = rows * (pb.cg_steps + 1)
    if pb.solver != "cg" or X.shape[1] <= 1:
        return g_other, False, None
    if rows_solved <= ROTATE_RATIO * (X.shape[0] + Y.shape[0]):
        return g_other, False, None
    evals, Q = np.linalg.eigh(g_other)
    qt = np.ascontiguousarray(Q.T, dtype=pb.dt)
    kern.rotate_rows(X, qt)
    kern.rotate_rows(Y, qt)
    return np.diag(evals), True, qt


def implicit_solve(pb: _Problem, side: _Side, X, Y, g, diagonal: bool, it, what) -> None:
    """Solve every row of ``X`` (entries ``side``) with ``Y`` fixed, Gram ``g`` (float64)."""
    if pb.solver == "cholesky":
        failed = np.empty(side.rows, dtype=np.uint8)
        kern.implicit_exact(
            side.indptr, side.indices, side.values, Y, g, pb.reg, pb.count_scaled,
            side.blocks, X, failed,
        )  # fmt: skip
        _failed(failed, it, what)
        return
    kern.implicit_cg(
        side.indptr, side.indices, side.values, Y, g.astype(pb.dt), diagonal, pb.reg,
        pb.count_scaled, pb.cg_steps, side.blocks, X,
    )  # fmt: skip


def explicit_solve(pb: _Problem, side: _Side, X, Y, xb, yb, it, what) -> None:
    """Solve every row (and bias) of ``X`` against ``Y`` (and ``yb``) fixed."""
    if pb.solver == "cholesky":
        failed = np.empty(side.rows, dtype=np.uint8)
        kern.explicit_exact(
            side.indptr, side.indices, side.values, Y, yb, pb.offset, pb.reg,
            pb.count_scaled, pb.biased, side.blocks, X, xb, failed,
        )  # fmt: skip
        _failed(failed, it, what)
    else:
        kern.explicit_cg(
            side.indptr, side.indices, side.values, Y, yb, pb.offset, pb.reg,
            pb.count_scaled, pb.biased, pb.cg_steps, side.blocks, X, xb,
        )  # fmt: skip


def loss_rows(pb: _Problem, side: _Side, X, Y, xb, yb) -> float:
    """Stored-entry part of the loss over the rows of ``side`` (float64).

    The same total from either side: pass (users, U, V, ub, vb) or
    (items, V, U, vb, ub).
    """
    out = np.empty(side.rows)
    if pb.implicit:
        kern.implicit_row_losses(side.indptr, side.indices, side.values, X, Y, side.blocks, out)
    else:
        kern.explicit_row_losses(
            side.indptr, side.indices, side.values, X, Y, xb, yb, pb.offset, pb.biased,
            side.blocks, out,
        )  # fmt: skip
    return float(np.sum(out))


class LocalEngine:
    """Half-steps in this process, on the whole of each side.

    :func:`_iterate` drives an engine; :mod:`mfcli.distributed.als` has one
    that solves row blocks on Dask workers with the same kernels.
    """

    def __init__(self, pb: _Problem, users: _Side, items: _Side) -> None:
        self.pb = pb
        self.sides = {"users": users, "items": items}

    def counts(self, side: str) -> np.ndarray:
        return self.sides[side].counts

    def implicit_half(self, side: str, X, Y, g_other, it: int):
        """Solve ``X`` with ``Y`` fixed; returns ``Y``'s Gram in the (maybe rotated) basis."""
        g, diagonal, _ = rotation(self.pb, self.sides[side].rows, X, Y, g_other)
        implicit_solve(self.pb, self.sides[side], X, Y, g, diagonal, it, side)
        return g

    def explicit_half(self, side: str, X, Y, xb, yb, it: int) -> None:
        explicit_solve(self.pb, self.sides[side], X, Y, xb, yb, it, side)

    def data_loss(self, U, V, ub, vb) -> float:
        return loss_rows(self.pb, self.sides["users"], U, V, ub, vb)


def _iterate(
    pb,
    engine,
    U,
    V,
    ub,
    vb,
    iters,
    callback,
    validate,
    patience,
    higher_is_better,
    notes,
    start,
    resume=None,
    checkpoint=None,
):
    implicit, biased, reg, offset = pb.implicit, pb.biased, pb.reg, pb.offset
    hist: dict[str, list[float]] = {"loss": [], "seconds": []}
    best = None
    best_value = None
    best_iter = 0
    it = 0
    if resume is not None:  # the state a checkpoint saved at the end of an iteration
        it = int(resume["iteration"])
        hist = {name: [float(v) for v in values] for name, values in resume["history"].items()}
        start -= hist["seconds"][-1] if hist.get("seconds") else 0.0
        best_iter = int(resume.get("best_iter", 0))
        best_value = resume.get("best_value")
        if resume.get("best") is not None:
            best = tuple(np.array(a) for a in resume["best"])
    g_v = gram64(V) if implicit else None  # as at the end of the previous iteration
    first = it + 1
    for it in range(first, iters + 1):
        if implicit:
            g_v = engine.implicit_half("users", U, V, g_v, it)
            g_u = gram64(U)
            g_u = engine.implicit_half("items", V, U, g_u, it)
            g_v = gram64(V)
            data_term = engine.data_loss(U, V, ub, vb) + float(np.sum(g_u * g_v))
        else:
            engine.explicit_half("users", U, V, ub, vb, it)
            engine.explicit_half("items", V, U, vb, ub, it)
            data_term = engine.data_loss(U, V, ub, vb)
        nu = _sq_norms(U)
        nv = _sq_norms(V)
        if biased:
            nu += ub.astype(np.float64) ** 2
            nv += vb.astype(np.float64) ** 2
        loss = data_term + _penalty(nu, engine.counts("users"), reg, pb.count_scaled)
        loss += _penalty(nv, engine.counts("items"), reg, pb.count_scaled)
        if not np.isfinite(loss):
            raise _numerics(it)
        seconds = time.perf_counter() - start
        stats = {"loss": loss, "seconds": seconds}
        if validate is not None:
            metrics = validate(
                U, V, offset if biased else None, ub if biased else None, vb if biased else None
            )
            metrics = {str(name): float(value) for name, value in dict(metrics).items()}
            if not metrics:
                raise UsageError("validate returned no metric")
            stats.update(metrics)
        for name, value in stats.items():
            hist.setdefault(name, [float("nan")] * (it - 1)).append(float(value))
        stop = False
        if validate is not None:
            value = next(iter(metrics.values()))
            better = np.isfinite(value) and (
                best_value is None
                or (value > best_value if higher_is_better else value < best_value)
            )
            if better:
                best_value, best_iter = value, it
                best = (U.copy(), V.copy(), ub.copy(), vb.copy())
            elif patience is not None and it - best_iter >= patience:
                name = next(iter(metrics))
                notes.append(
                    f"early stop at iteration {it}: {name} did not improve for "
                    f"{patience} iterations; iteration {best_iter} kept"
                )
                stop = True
        if callback is not None and not stop:
            answer = callback(it, dict(stats))
            if answer is not None and bool(answer):
                notes.append(f"stopped by the callback at iteration {it}")
                stop = True
        if stop:
            break
        if checkpoint is not None and it < iters:

            def state(it=it, best=best, best_value=best_value, best_iter=best_iter):
                return {
                    "iteration": it, "U": U, "V": V, "row_bias": ub, "col_bias": vb,
                    "global_bias": offset if biased else None, "history": hist,
                    "best_iter": best_iter, "best_value": best_value, "best": best,
                }  # fmt: skip

            checkpoint(it, state)
    if best is not None and best_iter != it:
        U, V, ub, vb = best
        if not any(note.startswith("early stop") for note in notes):
            notes.append(f"iteration {best_iter} kept: the best validation score")
    elif best is None:
        best_iter = it
    return U, V, ub, vb, it, best_iter, hist


def _checked_model(solver, confidence, reg_scaling, reg, alpha, eps, implicit):
    """The choices and weights a fit and a fold-in share, checked: ``(reg, alpha, eps)``."""
    _check_choice("solver", solver, SOLVERS)
    _check_choice("confidence", confidence, CONFIDENCES)
    _check_choice("reg_scaling", reg_scaling, REG_SCALINGS)
    reg = _check_real("reg", reg)
    alpha = _check_real("alpha", alpha)
    if implicit and confidence == "log":  # eps is used by the log confidence only
        eps = _check_real("eps", eps, positive=True)
    return reg, alpha, eps


def checked_options(
    k, iters, cg_steps, solver, confidence, reg_scaling, reg, alpha, eps, seed, dtype,
    implicit, biases, patience, validate,
):  # fmt: skip
    """The options of :func:`als` checked (UsageError, exit 2) and normalised:
    ``(dtype, k, iters, cg_steps, reg, alpha, eps, seed, patience, implicit, biased)``."""
    dt = _check_dtype(dtype)
    k = _check_int("k", k, 1)
    iters = _check_int("iters", iters, 1)
    cg_steps = _check_int("cg_steps", cg_steps, 1)
    reg, alpha, eps = _checked_model(solver, confidence, reg_scaling, reg, alpha, eps, implicit)
    seed = _check_int("seed", seed, 0)
    if patience is not None:
        patience = _check_int("patience", patience, 1)
        if validate is None:
            raise UsageError(
                "patience needs a validation set", hint="give validate or drop patience"
            )
    implicit = bool(implicit)
    biased = bool(biases) and not implicit
    return dt, k, iters, cg_steps, reg, alpha, eps, seed, patience, implicit, biased


def initial_factors(m, n, k, implicit, biased, seed, dt, resume=None):
    """``U, V, ub, vb`` to start from: seeded draws, or a checkpoint's state."""
    if resume is not None:
        arrays = [resume["U"], resume["V"], resume["row_bias"], resume["col_bias"]]
        U, V, ub, vb = (np.ascontiguousarray(a, dtype=dt) for a in arrays)
        if U.shape != (m, k) or V.shape != (n, k):
            raise UsageError(
                f"the checkpoint holds {U.shape[0]} x {U.shape[1]} and {V.shape[0]} x "
                f"{V.shape[1]} factors, not the {m} x {k} and {n} x {k} of this fit",
                hint="resume with the input and -k the checkpoint was written for",
            )
        return U, V, ub, vb
    rng = np.random.default_rng(seed)
    if implicit:
        U = rng.random((m, k), dtype=dt.type) * dt.type(INIT_SCALE_IMPLICIT)
        V = rng.random((n, k), dtype=dt.type) * dt.type(INIT_SCALE_IMPLICIT)
    else:
        scale = dt.type(1.0 / np.sqrt(k))
        U = rng.standard_normal((m, k), dtype=dt.type) * scale
        V = rng.standard_normal((n, k), dtype=dt.type) * scale
    ub = np.zeros(m if biased else 0, dtype=dt)
    vb = np.zeros(n if biased else 0, dtype=dt)
    return U, V, ub, vb


# ------------------------------------------------------------------ public
def als(
    X,
    k: int,
    *,
    implicit: bool = False,
    alpha: float = 1.0,
    confidence: str = "linear",
    eps: float = 1.0,
    solver: str = "cg",
    cg_steps: int = 3,
    reg: float = 0.1,
    reg_scaling: str = "count",
    biases: bool = True,
    iters: int = 15,
    seed: int = 0,
    dtype=np.float32,
    callback: Callback | None = None,
    validate: Validate | None = None,
    patience: int | None = None,
    higher_is_better: bool = True,
    resume: dict | None = None,
    checkpoint: Callable | None = None,
) -> ALSFit:
    """Fit ALS to explicit ratings or implicit feedback (see the module docstring).

    Parameters
    ----------
    X : mfcli.data.Matrix (CSR, rows = users), scipy.sparse matrix, or a
        dense Matrix / ndarray (its nonzero entries are the observations)
    k : factors, >= 1
    implicit : implicit feedback (confidence-weighted, all pairs) instead of
        explicit ratings (stored entries only)
    alpha : confidence scale, >= 0 (implicit)
    confidence : "linear" (``1 + alpha r``) or "log" (``1 + alpha log(1 + r / eps)``)
    eps : the log confidence's scale, > 0 (checked only where it is used)
    solver : "cg" (``cg_steps`` warm-started CG steps per row) or "cholesky" (exact)
    cg_steps : CG steps per row and half-step, >= 1
    reg : lambda, >= 0
    reg_scaling : "count" (lambda times the row's entry count) or "none"
    biases : explicit only: fit a global mean and user and item biases
    iters : iterations (user then item half-step), >= 1
    seed : seed of the initial factors
    dtype : float32 or float64 factors (losses are summed in float64)
    callback : ``callback(iteration, stats)`` after each iteration with stats
        ``{"loss", "seconds", **validation metrics}``; a true return stops
    validate : ``validate(U, V, global_bias, row_bias, col_bias) -> {name: value}``
        after each iteration; the first name is the early-stopping metric
    patience : with ``validate``: stop after this many iterations without
        improvement (the best iteration's model is returned with or without it)
    higher_is_better : direction of the early-stopping metric
    resume : the state a ``checkpoint`` call saved (factors, biases, iteration,
        history, best iteration): the fit continues after that iteration and
        ends with the factors an uninterrupted fit would have
    checkpoint : ``checkpoint(iteration, state)`` after every iteration but the
        last; ``state()`` returns the resume state (live arrays: copy or write
        them before returning). It may raise to stop the fit (a signal).

    Returns
    -------
    ALSFit

    Raises
    ------
    UsageError
        exit 2: bad ``k``, option or dtype
    InputDataError
        exit 65: empty matrix, NaN/inf, negative values with ``implicit``
    NumericsError
        exit 4: the loss became non-finite, or a singular row system (reg 0)
    """
    start = time.perf_counter()
    dt, k, iters, cg_steps, reg, alpha, eps, seed, patience, implicit, biased = checked_options(
        k, iters, cg_steps, solver, confidence, reg_scaling, reg, alpha, eps, seed, dtype,
        implicit, biases, patience, validate,
    )  # fmt: skip
    notes: list[str] = []

    shape, indptr, indices, data = _csr(X, "matrix", notes)
    m, n = shape
    if implicit:
        indptr, indices, values = _implicit_weights(
            indptr, indices, data, alpha, confidence, eps, dt
        )
        offset = 0.0
    else:
        values = np.ascontiguousarray(data, dtype=dt)
        offset = float(np.mean(data, dtype=np.float64)) if biased and data.shape[0] else 0.0
    costs = _costs(implicit, solver, k, cg_steps, biased)
    # Multiply-adds of one iteration: both half-steps (the loss pass is cheaper).
    work = k * ((m + n) * costs[0] + 2.0 * values.shape[0] * costs[1])
    # Blocks are handed to threads one at a time (a busy core does not hold up
    # the others); BLAS only solves k x k eigenproblems, and its spinning
    # threads would starve numba's. Small fits run on fewer threads (the
    # blocks are cut for the threads in use; results do not depend on them).
    with (
        numba_threads_for(work, MIN_WORK_PER_THREAD),
        numba.parallel_chunksize(1),
        linalg.blas_threads(1),
    ):
        t_indptr, t_indices, t_values = _transpose(shape, indptr, indices, values)
        users = _side(indptr, indices, values, *costs)
        items = _side(t_indptr, t_indices, t_values, *costs)
        pb = _Problem(implicit, solver, cg_steps, reg, reg_scaling == "count", biased, offset, dt)

        U, V, ub, vb = initial_factors(m, n, k, implicit, biased, seed, dt, resume)
        U, V, ub, vb, it, best_iter, hist = _iterate(
            pb, LocalEngine(pb, users, items), U, V, ub, vb, iters, callback, validate, patience,
            higher_is_better, notes, start, resume, checkpoint,
        )  # fmt: skip
    history = {name: np.asarray(values, dtype=np.float64) for name, values in hist.items()}
    return ALSFit(
        U=U,
        V=V,
        global_bias=offset if biased else None,
        row_bias=ub if biased else None,
        col_bias=vb if biased else None,
        n_iter=it,
        best_iter=best_iter,
        history=history,
        notes=notes,
    )


def fold_in(
    V: np.ndarray,
    rows,
    *,
    implicit: bool = False,
    alpha: float = 1.0,
    confidence: str = "linear",
    eps: float = 1.0,
    reg: float = 0.1,
    reg_scaling: str = "count",
    global_bias: float | None = None,
    col_bias: np.ndarray | None = None,
    solver: str = "cholesky",
    cg_steps: int | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Factors of new rows (users) from their entries, with ``V`` fixed.

    The exact solve (``solver="cholesky"``) is the fit's user half-step:
    folding in a training row against the ``V`` a user half-step used gives
    that row's factors.

    Parameters
    ----------
    V : (n, k) item factors (float32 or float64; the result has this dtype)
    rows : (r, n) the new rows: mfcli.data.Matrix, scipy.sparse or ndarray
        (dense: nonzero entries are the observations)
    implicit, alpha, confidence, eps, reg, reg_scaling : as the fit's
    global_bias, col_bias : the fit's ``mu`` and item biases (explicit
        models with biases; both or neither)
    solver : "cholesky" (exact) or "cg" (``cg_steps`` steps from zero,
        default ``k``: exact up to roundoff)

    Returns
    -------
    U : (r, k) row factors
    row_bias : (r,) row biases for explicit models with biases, else None

    Raises
    ------
    UsageError
        bad options; only one of ``global_bias`` and ``col_bias``
    InputDataError
        ``rows`` with a column count other than ``V``'s rows, NaN/inf,
        negative values with ``implicit``
    NumericsError
        a singular row system (reg 0 with fewer entries than k)
    """
    V = np.ascontiguousarray(V)
    dt = _check_dtype(V.dtype)
    if V.ndim != 2:
        raise UsageError(f"V must be 2-D, got {V.ndim}-D")
    n, k = V.shape
    reg, alpha, eps = _checked_model(solver, confidence, reg_scaling, reg, alpha, eps, implicit)
    steps = k if cg_steps is None else _check_int("cg_steps", cg_steps, 1)
    if (global_bias is None) != (col_bias is None):
        raise UsageError("global_bias and col_bias go together", hint="give both or neither")
    biased = col_bias is not None and not implicit
    shape, indptr, indices, data = _csr(rows, "new rows", [])
    if shape[1] != n:
        raise InputDataError(
            f"the new rows have {shape[1]} columns, the model has {n} items",
            hint="use the item ids of the training matrix",
        )
    count_scaled = reg_scaling == "count"
    r = shape[0]
    out = np.zeros((r, k), dtype=dt)
    if implicit:
        indptr, indices, values = _implicit_weights(
            indptr, indices, data, alpha, confidence, eps, dt
        )
    else:
        values = np.ascontiguousarray(data, dtype=dt)
    side = _side(indptr, indices, values, *_costs(implicit, solver, k, steps, biased))
    failed = np.zeros(r, dtype=np.uint8)
    if implicit:
        g = gram64(V)
        if solver == "cholesky":
            kern.implicit_exact(
                side.indptr,
                side.indices,
                side.values,
                V,
                g,
                reg,
                count_scaled,
                side.blocks,
                out,
                failed,
            )
        else:
            kern.implicit_cg(
                side.indptr,
                side.indices,
                side.values,
                V,
                g.astype(dt),
                False,
                reg,
                count_scaled,
                steps,
                side.blocks,
                out,
            )
        _failed(failed, 0, "new rows")
        return out, None
    yb = np.ascontiguousarray(col_bias, dtype=dt) if biased else np.zeros(0, dtype=dt)
    if biased and yb.shape != (n,):
        raise UsageError(f"col_bias must have shape ({n},), got {yb.shape}")
    offset = float(global_bias) if biased else 0.0
    xb = np.zeros(r if biased else 0, dtype=dt)
    if solver == "cholesky":
        kern.explicit_exact(
            side.indptr,
            side.indices,
            side.values,
            V,
            yb,
            offset,
            reg,
            count_scaled,
            biased,
            side.blocks,
            out,
            xb,
            failed,
        )
        _failed(failed, 0, "new rows")
    else:
        kern.explicit_cg(
            side.indptr,
            side.indices,
            side.values,
            V,
            yb,
            offset,
            reg,
            count_scaled,
            biased,
            steps,
            side.blocks,
            out,
            xb,
        )
    return out, (xb if biased else None)
