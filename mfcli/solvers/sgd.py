"""Biased matrix factorization of explicit ratings by parallel, deterministic SGD.

``sgd(X, k)`` fits ``r_hat(u, i) = mu + b_u + b_i + p_u . q_i``, clipped to
the range of the training ratings, by stochastic gradient descent on the
squared error with L2 penalties (``reg`` on the factors, ``reg_bias`` on the
biases, applied at each update as in Funk's SVD, Surprise and LIBMF).

Regularisation
--------------
The L2 weight at an update of user ``u`` is ``reg * n_u**-reg_power`` with
``n_u`` the user's training ratings (items alike). Summed over the updates
of an epoch the penalty is ``reg * n_u**(1 - reg_power) * |p_u|**2``:
``reg_power=0`` is the classic per-update penalty (Surprise, LIBMF: heavy
users are shrunk in proportion to their ratings), ``reg_power=1`` a penalty
independent of activity, and the default ``0.5`` sits between (the square
root weighting of the weighted trace norm, Salakhutdinov & Srebro 2010). On
the tuning sets it let one ``reg`` serve both dense synthetic data and sparse
real data, where the classic penalty needed 0.05 on one and 0.15 on the other.

Parallelism and determinism
---------------------------
Rows and columns are permuted (seeded) and cut into ``blocks`` groups each,
holding about equal numbers of ratings; an epoch runs ``blocks`` strata of
``blocks`` blocks that share no row and no column group, the blocks of a
stratum in parallel (see :mod:`mfcli.kernels.sgd`). The strata order and
the order of the ratings inside each block are drawn per epoch from the
seed. So a seed and a block count give the same factors on any number of
threads; a different block count is a different (equally good) run. The
default, 8, is fixed rather than taken from the core count so that results
do not change between machines; it keeps 8 threads busy.

Defaults
--------
``DEFAULTS``: schedule "decay", lr 0.04, decay 0.9, reg 1.0 with
reg_power 0.5, reg_bias 0.02, init near-normal(0, 0.1)
(Irwin-Hall, see :func:`mfcli.kernels.sgd.init_factors`). Chosen for k=100 and 20
epochs on FilmTrust, Douban, CiaoDVD and a synthetic MovieLens-1M-shaped set
(random 80/20 splits), one set of values for all; AdaGrad (lr 0.05) was
close on FilmTrust and Douban but worse on CiaoDVD, constant steps worse
everywhere.

Schedules
---------
``constant``  the step is ``lr`` every epoch.
``decay``     the step of epoch ``t`` (1-based) is ``lr * decay**(t - 1)``.
``adagrad``   per-row steps ``lr / sqrt(G)``; each factor row and each bias
              keeps one accumulator of squared gradients (LIBMF's scheme).
Biases use the same step as the factors.

Time-aware biases (``time_bins > 0``)
-------------------------------------
With timestamps (Unix seconds, aligned with the ratings) the model adds
``b_{i,bin(t)} + alpha_u * dev_u(t)`` (timeSVD++'s biases, Koren 2009):
``bin`` cuts the training time range in ``time_bins`` equal bins (times
outside fall in the first or last), ``dev_u(t) = sign(d) |d|**0.4 / scale``
with ``d`` the days between ``t`` and the user's mean rating time, and
``scale`` the mean of ``|d|**0.4`` over the training ratings (so ``alpha_u``
is in rating units and shares the bias step and ``reg_bias``). Predictions
without a time use the static model (``mu + b_u + b_i + p_u . q_i``).

Divergence
----------
Clipping bounds each error by the rating range, so a too large step shows
as factors that grow without bound. The epoch kernel stops at a prediction
term (``p_u . q_i``, a bias, the time term) that is not finite or beyond
``EXPLODED`` rating ranges; after the last epoch the fit checks that every
value is finite, every factor entry squared and every bias within that
bound. If not, it restarts from its initial state with
half the learning rate (a note says so; the callback then sees epochs
numbered from 1 again), at most ``MAX_RESTARTS`` times, then raises
:class:`~mfcli.errors.NumericsError` ("lower --lr"). Restarting costs
nothing per epoch, where redoing one epoch would need a copy of all factors
every epoch (as much memory traffic as the epoch itself on wide data).
Returned factors are always finite.

Cold rows
---------
Users or items without training ratings get zero factors and zero biases:
their predictions fall back to ``mu`` plus the known side's bias.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from mfcli.errors import InputDataError, NumericsError, UsageError
from mfcli.runtime import numba_threads_for

SCHEDULES = ("constant", "decay", "adagrad")
DEFAULTS = {
    "lr": 0.04,
    "reg": 1.0,
    "reg_bias": 0.02,
    "schedule": "decay",
    "decay": 0.9,
    "init_scale": 0.1,
    "reg_power": 0.5,
}
DEFAULT_BLOCKS = 8
# Below this many ratings per thread the barriers between strata cost more
# than a thread gains (and far more on a loaded machine): use fewer threads.
# Results do not depend on it. With the block order drawn inside the epoch
# kernel (one parallel region per stratum) 2 threads won 25-30% on 28k and
# 58k ratings (FilmTrust, CiaoDVD; k = 100) on a shared 2-core machine.
MIN_RATINGS_PER_THREAD = 20_000
MAX_RESTARTS = 4
# Exploded: a prediction term (p_u . q_i, a bias, the time term) in an epoch, or a factor
# entry squared or a bias after the last epoch, above this many rating ranges.
EXPLODED = 1e3
SECONDS_PER_DAY = 86400.0
DEV_POWER = 0.4  # Koren's exponent of the user time deviation

Callback = Callable[[int, dict], object]
Validate = Callable[["SGDFit"], dict]


@dataclass
class SGDFit:
    """A biased MF model ``mu + b_u + b_i + p_u . q_i`` (clipped to ``clip``).

    Attributes
    ----------
    U : (m, k) user factors; V : (n, k) item factors (the requested dtype)
    global_bias : mu, the mean training rating (kept from ``init`` when
        resumed); also used with ``biases=False``
    row_bias, col_bias : (m,), (n,) biases, or None with ``biases=False``
    clip : (low, high) rating range seen in training; predictions are clipped
    time : time-aware parts, or None: "item_bin_bias" (n, bins),
        "bin_edges" (bins + 1,) in the input's time unit (seconds),
        "user_alpha" (m,), "user_mean_time" (m,) seconds, "dev_scale" ()
    n_iter : epochs run (of the last run after a restart)
    best_iter : epochs of the returned model (the best validated epoch when
        ``validate`` was given, else ``n_iter``)
    history : per epoch: "loss" (training RMSE over the epoch's updates,
        before each update), "rmse" (the same), "lr" (step of the epoch),
        "seconds" (cumulative), and each validation metric
    notes : what the user should know (restarts, early stop, dense input)
    """

    U: np.ndarray
    V: np.ndarray
    global_bias: float
    row_bias: np.ndarray | None
    col_bias: np.ndarray | None
    clip: tuple[float, float]
    time: dict[str, np.ndarray] | None = None
    n_iter: int = 0
    best_iter: int = 0
    history: dict[str, np.ndarray] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def k(self) -> int:
        return int(self.U.shape[1])


# ------------------------------------------------------------------ inputs
@dataclass
class _Ratings:
    shape: tuple[int, int]
    rows: np.ndarray  # (nnz,) int32
    cols: np.ndarray  # (nnz,) int32
    vals: np.ndarray  # (nnz,) float64
    notes: list[str]


def _ratings(X) -> _Ratings:
    """Triplets of ``X`` (mfcli Matrix, scipy.sparse or dense array), checked."""
    from mfcli.data import Matrix

    notes: list[str] = []
    if isinstance(X, Matrix):
        if X.is_sparse:
            shape, indptr, indices, data = X.shape, X.indptr, X.indices, X.data
        else:
            shape, indptr, indices, data = _dense_to_csr(X.data, notes)
    elif hasattr(X, "tocsr") and hasattr(X, "nnz"):
        csr = X.tocsr()
        if not csr.has_canonical_format:
            csr = csr.copy()
            csr.sum_duplicates()
        shape = (int(csr.shape[0]), int(csr.shape[1]))
        indptr, indices, data = csr.indptr, csr.indices, csr.data
    else:
        array = np.asarray(X)
        if array.ndim != 2:
            raise InputDataError(f"expected a 2-D ratings matrix, got {array.ndim}-D")
        shape, indptr, indices, data = _dense_to_csr(array, notes)
    m, n = int(shape[0]), int(shape[1])
    if m == 0 or n == 0 or len(data) == 0:
        raise InputDataError(
            f"the ratings matrix is empty ({m} x {n}, {len(data)} ratings)",
            hint="sgd needs at least one rating",
        )
    if m > np.iinfo(np.int32).max or n > np.iinfo(np.int32).max:
        raise InputDataError(f"{m} x {n} is too large for sgd (at most 2**31 - 1 per side)")
    data = np.asarray(data)
    if data.dtype.kind not in "biuf":
        raise InputDataError(f"ratings must be real numbers, got {data.dtype}")
    vals = data.astype(np.float64, copy=False)
    bad = ~np.isfinite(vals)
    if bad.any():
        raise InputDataError(
            f"{int(bad.sum())} ratings are NaN or infinite",
            hint="drop or fix those entries before fitting",
        )
    counts = np.diff(np.asarray(indptr, dtype=np.int64))
    rows = np.repeat(np.arange(m, dtype=np.int32), counts)
    cols = np.asarray(indices).astype(np.int32, copy=False)
    return _Ratings((m, n), rows, cols, vals, notes)


def _dense_to_csr(array, notes):
    array = np.asarray(array)
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise InputDataError(
            "the dense ratings matrix holds NaN or infinite values",
            hint="dense input takes zeros as missing ratings; write missing as 0",
        )
    r, c = np.nonzero(array)
    notes.append("dense input: zeros are taken as missing ratings")
    indptr = np.zeros(array.shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(r, minlength=array.shape[0]), out=indptr[1:])
    return array.shape, indptr, c, array[r, c]


def _check_options(k, lr, reg, reg_bias, epochs, schedule, decay, init_scale, blocks,
                   time_bins, patience, dtype, reg_power):  # fmt: skip
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise UsageError(f"rank k must be a positive integer, got {k!r}", hint="use -k 1 or more")
    for name, value, low in (("lr", lr, 0.0), ("decay", decay, 0.0)):
        if not (np.isfinite(value) and value > low):
            raise UsageError(f"{name} must be a positive number, got {value!r}")
    for name, value in (("reg", reg), ("reg_bias", reg_bias), ("init_scale", init_scale),
                        ("reg_power", reg_power)):  # fmt: skip
        if not (np.isfinite(value) and value >= 0):
            raise UsageError(f"{name} must be a non-negative number, got {value!r}")
    for name, value, low in (
        ("epochs", epochs, 1),
        ("blocks", blocks, 1),
        ("time_bins", time_bins, 0),
    ):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise UsageError(f"{name} must be an integer >= {low}, got {value!r}")
    if patience is not None and (not isinstance(patience, (int, np.integer)) or patience < 1):
        raise UsageError(f"patience must be a positive integer, got {patience!r}")
    if schedule not in SCHEDULES:
        raise UsageError(f"unknown schedule {schedule!r}", hint="use " + ", ".join(SCHEDULES))
    if schedule == "decay" and decay > 1:
        raise UsageError(f"decay must be at most 1 (a factor per epoch), got {decay!r}")
    if np.dtype(dtype) not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise UsageError(f"dtype must be float32 or float64, got {np.dtype(dtype)}")


# ------------------------------------------------------------------ layout
def _groups(counts: np.ndarray, n_groups: int, rng: np.random.Generator) -> np.ndarray:
    """Group of each row: a seeded permutation cut into runs of ~equal ratings."""
    perm = rng.permutation(counts.shape[0])
    ordered = counts[perm].astype(np.float64)
    total = max(ordered.sum(), 1.0)
    middle = np.cumsum(ordered) - 0.5 * ordered
    group = np.empty(counts.shape[0], dtype=np.int64)
    group[perm] = np.minimum((middle * n_groups / total).astype(np.int64), n_groups - 1)
    return group


def _time_parts(times, rows, m, n, bins, init_time, notes):
    """Bin edges, per-entry bins and deviations, user mean times, scale."""
    t = np.asarray(times, dtype=np.float64)
    if not np.isfinite(t).all():
        raise InputDataError("some timestamps are NaN or infinite")
    if init_time is not None:
        edges = np.asarray(init_time["bin_edges"], dtype=np.float64)
        if edges.shape[0] - 1 != bins:
            raise UsageError(
                f"the resumed model has {edges.shape[0] - 1} time bins, not {bins}",
                hint="resume with the same time_bins",
            )
    else:
        lo, hi = float(t.min()), float(t.max())
        if hi <= lo:
            hi = lo + 1.0
        edges = np.linspace(lo, hi, bins + 1)
    tbin = _bin_of(t, edges)
    counts = np.bincount(rows, minlength=m).astype(np.float64)
    sums = np.bincount(rows, weights=t, minlength=m)
    mean = np.divide(sums, counts, out=np.zeros(m), where=counts > 0)
    if init_time is not None:
        old = np.asarray(init_time["user_mean_time"], dtype=np.float64)
        mean[: old.shape[0]] = old[:m]
    raw = _dev_raw(t, mean[rows])
    if init_time is not None:
        scale = float(init_time["dev_scale"])
    else:
        scale = float(np.mean(np.abs(raw)))
        scale = scale if scale > 0 else 1.0
    if scale == 1.0 and init_time is None:
        notes.append("timestamps: every user rated at a single time; the drift term is idle")
    return edges, tbin, raw / scale, mean, scale


def _bin_of(t, edges):
    bins = edges.shape[0] - 1
    width = (edges[-1] - edges[0]) / bins
    b = np.floor((t - edges[0]) / width)
    return np.clip(b, 0, bins - 1).astype(np.int32)


def _dev_raw(t, mean):
    d = (t - mean) / SECONDS_PER_DAY
    return np.sign(d) * np.abs(d) ** DEV_POWER


def _row_reg(reg, counts, power, dt):
    w = np.maximum(counts, 1).astype(np.float64) ** (-power)
    return (reg * w).astype(dt)


def _threads_for(nnz: int):
    """Run with at most one numba thread per ``MIN_RATINGS_PER_THREAD`` ratings."""
    return numba_threads_for(nnz, MIN_RATINGS_PER_THREAD)


# ------------------------------------------------------------------ the fit
def sgd(
    X,
    k: int,
    *,
    lr: float | None = None,
    reg: float | None = None,
    reg_bias: float | None = None,
    epochs: int = 20,
    schedule: str | None = None,
    decay: float | None = None,
    init_scale: float | None = None,
    biases: bool = True,
    blocks: int = DEFAULT_BLOCKS,
    seed: int = 0,
    dtype=np.float32,
    times: np.ndarray | None = None,
    time_bins: int = 0,
    init: SGDFit | None = None,
    callback: Callback | None = None,
    validate: Validate | None = None,
    patience: int | None = None,
    higher_is_better: bool = False,
    reg_power: float | None = None,
    resume: dict | None = None,
    checkpoint: Callable | None = None,
) -> SGDFit:
    """Fit a biased MF model to explicit ratings by blocked SGD.

    Parameters
    ----------
    X : (m, n) mfcli Matrix (CSR; a dense one takes zeros as missing),
        scipy.sparse matrix or dense array of ratings, rows = users
    k : rank, at least 1
    lr, reg, reg_bias, schedule, decay, init_scale : see the module
        docstring; None takes ``DEFAULTS``
    epochs : passes over the ratings
    biases : fit ``b_u`` and ``b_i``; without, the model is ``mu + p_u . q_i``
    blocks : groups per side of the block grid (results depend on it, not on threads)
    seed : non-negative int; same seed and blocks, same factors
    dtype : float32 (default) or float64 factors
    times : (nnz,) timestamps in Unix seconds aligned with the CSR entries of
        ``X`` (default: ``X.timestamps`` when ``time_bins > 0``)
    time_bins : time-aware biases over this many bins; 0 turns them off
    init : a previous fit to continue (rows and columns beyond its arrays
        get fresh seeded factors and zero biases)
    callback : ``callback(epoch, stats)`` after each epoch (1-based); stats
        hold "loss", "rmse", "lr", "seconds" and the validation metrics; a
        true return value stops the fit
    validate : ``validate(fit) -> {metric: value}`` after each epoch, on a
        fit sharing the live arrays (do not modify them); the first metric
        picks the best epoch, whose model is returned
    patience : with ``validate``, stop after this many epochs without improvement
    higher_is_better : the first validation metric is better when higher
    reg_power : per-row scaling of ``reg`` by ``n_u**-reg_power`` (see the
        module docstring); None takes ``DEFAULTS``
    resume : the state a ``checkpoint`` call saved after an epoch (arrays,
        AdaGrad accumulators, step scale, history, best epoch): the fit goes on
        from the next epoch and ends as the uninterrupted fit does (each epoch's
        order depends only on the seed and the epoch)
    checkpoint : ``checkpoint(epoch, state)`` after every epoch but the last;
        ``state()`` returns the resume state (live arrays); it may raise to stop

    Returns
    -------
    SGDFit

    Raises
    ------
    UsageError
        bad options, or ``init``/``times`` inconsistent with ``X``
    InputDataError
        empty matrix, NaN or infinite ratings or times
    NumericsError
        training diverged even after ``MAX_RESTARTS`` halvings of ``lr``
    """
    start = time.perf_counter()
    lr = DEFAULTS["lr"] if lr is None else float(lr)
    reg = DEFAULTS["reg"] if reg is None else float(reg)
    reg_bias = DEFAULTS["reg_bias"] if reg_bias is None else float(reg_bias)
    schedule = DEFAULTS["schedule"] if schedule is None else schedule
    decay = DEFAULTS["decay"] if decay is None else float(decay)
    init_scale = DEFAULTS["init_scale"] if init_scale is None else float(init_scale)
    reg_power = DEFAULTS["reg_power"] if reg_power is None else float(reg_power)
    _check_options(k, lr, reg, reg_bias, epochs, schedule, decay, init_scale, blocks,
                   time_bins, patience, dtype, reg_power)  # fmt: skip
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise UsageError(f"seed must be a non-negative integer, got {seed!r}")
    dt = np.dtype(dtype)
    data = _ratings(X)
    (m, n), nnz = data.shape, data.vals.shape[0]
    notes = list(data.notes)

    if time_bins > 0 and times is None:
        times = getattr(X, "timestamps", None)
        if times is None:
            raise UsageError("time_bins needs timestamps", hint="give times or use time_bins=0")
    if times is not None and time_bins > 0 and np.shape(times) != (nnz,):
        raise InputDataError(f"{np.shape(times)[0]} timestamps for {nnz} ratings")

    model = _start_model(init, m, n, k, dt, data.vals, biases, time_bins)
    timed = time_bins > 0
    if timed:
        edges, tbin, tdev, tmean, dev_scale = _time_parts(
            times, data.rows, m, n, time_bins, model.time, notes
        )

    from mfcli.kernels import sgd as kern

    # Block layout: fixed by (seed, blocks) only.
    rng = np.random.default_rng(seed)
    row_counts = np.bincount(data.rows, minlength=m)
    col_counts = np.bincount(data.cols, minlength=n)
    reg_rows = _row_reg(reg, row_counts, reg_power, dt)
    reg_cols = _row_reg(reg, col_counts, reg_power, dt)
    row_group = _groups(row_counts, blocks, rng)
    col_group = _groups(col_counts, blocks, rng)
    ptr, order = kern.block_order(data.rows, data.cols, row_group, col_group, blocks)
    src_i = data.rows[order]
    src_j = data.cols[order]
    src_v = data.vals[order].astype(dt)
    src_bin = tbin[order] if timed else np.empty(0, np.int32)
    src_dev = tdev[order].astype(dt) if timed else np.empty(0, dt)
    del order
    perm = np.empty(nnz, dtype=np.int64)
    work = [np.empty_like(a) for a in (src_i, src_j, src_v, src_bin, src_dev)]
    limit = EXPLODED * max(model.clip[1] - model.clip[0], 1.0)
    sse = np.empty(blocks * blocks, dtype=np.float64)
    ok = np.empty(blocks * blocks, dtype=np.bool_)
    empty = np.empty(0, dt)

    with _threads_for(nnz):
        scale = 1.0 if resume is None else float(resume["scale"])
        first_attempt = 0 if resume is None else int(resume["attempt"])
        for attempt in range(first_attempt, MAX_RESTARTS + 1):
            st = _State.fresh(model, row_counts, col_counts, k, dt, seed, init_scale, biases, timed,
                              time_bins, schedule == "adagrad")  # fmt: skip
            hist: dict[str, list[float]] = {"loss": [], "rmse": [], "lr": [], "seconds": []}
            best = None
            best_value = np.inf
            best_iter = 0
            waited = 0
            stop_note = None
            diverged = 0
            epoch = 0
            if resume is not None and attempt == first_attempt:
                st.restore(resume["state"])
                hist = {n: [float(v) for v in vals] for n, vals in resume["history"].items()}
                start -= hist["seconds"][-1] if hist.get("seconds") else 0.0
                epoch, waited = int(resume["epoch"]), int(resume["waited"])
                best_iter, best_value = int(resume["best_iter"]), float(resume["best_value"])
                if resume.get("best") is not None:
                    best = st.copy()
                    best.restore(resume["best"])
            if timed:
                st.tmean = tmean
            done = epoch
            for epoch in range(done + 1, epochs + 1):
                step = lr * scale * (decay ** (epoch - 1) if schedule == "decay" else 1.0)
                shifts = np.random.default_rng([seed, epoch]).permutation(blocks).astype(np.int64)
                kern.sgd_epoch(
                    ptr, shifts, seed, epoch, perm, src_i, src_j, src_v, src_bin, src_dev, *work,
                    st.U, st.V, st.bu if biases else empty, st.bv if biases else empty,
                    st.Gu, st.Gv, st.Gbu, st.Gbv, st.tbias, st.alpha, reg_rows, reg_cols,
                    model.global_bias, model.clip[0], model.clip[1],
                    step, step, reg_bias, biases, schedule == "adagrad", timed, limit, sse, ok,
                )  # fmt: skip
                if not ok.all():
                    diverged = epoch
                    break
                rmse = float(np.sqrt(sse.sum() / nnz))
                hist["loss"].append(rmse)
                hist["rmse"].append(rmse)
                hist["lr"].append(step)
                stats = {"loss": rmse, "rmse": rmse, "lr": step}
                if validate is not None:
                    current = st.fit(model, biases, timed, edges if timed else None,
                                     dev_scale if timed else 1.0)  # fmt: skip
                    scores = {name: float(v) for name, v in dict(validate(current)).items()}
                    if not scores:
                        raise UsageError("validate returned no metric")
                    for name, value in scores.items():
                        hist.setdefault(name, []).append(value)
                    stats.update(scores)
                    first = next(iter(scores.values()))
                    value = -first if higher_is_better else first
                    if value < best_value:
                        best_value, best_iter, waited = value, epoch, 0
                        best = st.copy()
                    else:
                        waited += 1
                seconds = time.perf_counter() - start
                hist["seconds"].append(seconds)
                stats["seconds"] = seconds
                if callback is not None:
                    answer = callback(epoch, stats)
                    if answer is not None and bool(answer):
                        stop_note = f"stopped by the callback after epoch {epoch}"
                        break
                if patience is not None and validate is not None and waited >= patience:
                    stop_note = (
                        f"early stop after epoch {epoch}: no better validation score in "
                        f"{patience} epochs; kept epoch {best_iter}"
                    )
                    break
                if checkpoint is not None and epoch < epochs:
                    snapshot = functools.partial(
                        _snapshot, st, best, hist, model, biases, timed,
                        edges if timed else None, dev_scale if timed else 1.0, epoch=epoch,
                        attempt=attempt, scale=scale, waited=waited, best_iter=best_iter,
                        best_value=best_value,
                    )  # fmt: skip
                    checkpoint(epoch, snapshot)
            # The kernel bounds every value it reads; the last updates are checked here.
            kept = best if validate is not None and best is not None else st
            if not diverged and not kept.sane(limit):
                diverged = max(epoch, 1)
            if not diverged:
                break
            if attempt == MAX_RESTARTS:
                raise NumericsError(
                    f"SGD diverged (non-finite values) in epoch {diverged} even with "
                    f"lr={lr * scale:g}",
                    hint=f"lower --lr (e.g. {lr * scale / 4:g}) or raise --reg",
                )
            scale *= 0.5
            notes.append(
                f"SGD diverged in epoch {diverged} with lr={lr * scale * 2:g}; restarted from "
                f"the initial state with lr={lr * scale:g}"
            )
    if stop_note:
        notes.append(stop_note)
    n_iter = epoch
    if validate is not None and best is not None:
        st = best
    else:
        best_iter = n_iter
    out = st.fit(model, biases, timed, edges if timed else None, dev_scale if timed else 1.0)
    out.n_iter = n_iter
    out.best_iter = best_iter
    out.history = {name: np.asarray(v, dtype=np.float64) for name, v in hist.items()}
    out.notes = notes
    return out


def _snapshot(st, best, hist, model, biases, timed, edges, dev_scale, **info) -> dict:
    """The resume state after an epoch (live arrays), and the model as it stands."""
    return {
        **info,
        "history": hist,
        "state": st.arrays(),
        "best": None if best is None else best.arrays(),
        "fit": st.fit(model, biases, timed, edges, dev_scale),
    }


@dataclass
class _Start:
    """Where a fit starts: kept parts of ``init`` and the model constants."""

    U: np.ndarray | None
    V: np.ndarray | None
    bu: np.ndarray | None
    bv: np.ndarray | None
    global_bias: float
    clip: tuple[float, float]
    time: dict | None


def _start_model(init, m, n, k, dt, vals, biases, time_bins) -> _Start:
    lo, hi = float(vals.min()), float(vals.max())
    if init is None:
        return _Start(None, None, None, None, float(vals.mean()), (lo, hi), None)
    U = np.asarray(init.U)
    V = np.asarray(init.V)
    if U.ndim != 2 or V.ndim != 2 or U.shape[1] != k or V.shape[1] != k:
        raise UsageError(
            f"the model to resume has rank {U.shape[-1]}, not k={k}", hint="resume with its rank"
        )
    if U.shape[0] > m or V.shape[0] > n:
        raise UsageError(
            f"the model to resume is {U.shape[0]} x {V.shape[0]}, larger than the ratings "
            f"({m} x {n})",
            hint="give the new ratings with the model's rows and columns first",
        )
    has_bias = getattr(init, "row_bias", None) is not None
    if biases and not has_bias and U.shape[0] > 0:
        raise UsageError("the model to resume has no biases", hint="resume with biases=False")
    old_time = getattr(init, "time", None)
    if time_bins > 0 and old_time is None and U.shape[0] > 0:
        raise UsageError("the model to resume is not time-aware", hint="resume with time_bins=0")
    old_lo, old_hi = (float(c) for c in init.clip)
    return _Start(
        U,
        V,
        np.asarray(init.row_bias) if biases else None,
        np.asarray(init.col_bias) if biases else None,
        float(init.global_bias),
        (min(lo, old_lo), max(hi, old_hi)),
        old_time if time_bins > 0 else None,
    )


@dataclass
class _State:
    """The arrays SGD updates."""

    U: np.ndarray
    V: np.ndarray
    bu: np.ndarray
    bv: np.ndarray
    Gu: np.ndarray
    Gv: np.ndarray
    Gbu: np.ndarray
    Gbv: np.ndarray
    tbias: np.ndarray
    alpha: np.ndarray
    tmean: np.ndarray | None = None

    @classmethod
    def fresh(cls, start: _Start, row_counts, col_counts, k, dt, seed, init_scale, biases, timed,
              bins, adagrad):  # fmt: skip
        m, n = row_counts.shape[0], col_counts.shape[0]
        from mfcli.kernels import sgd as kern

        U = np.empty((m, k), dtype=dt)
        V = np.empty((n, k), dtype=dt)
        m0 = n0 = 0
        if start.U is not None:
            m0, n0 = start.U.shape[0], start.V.shape[0]
            U[:m0] = start.U
            V[:n0] = start.V
        kern.init_factors(U, m0, seed, 0, init_scale, False)
        kern.init_factors(V, n0, seed, 1, init_scale, False)
        # Rows without ratings would keep random factors: zero them, so their
        # predictions fall back to the biases.
        U[m0:][row_counts[m0:] == 0] = 0
        V[n0:][col_counts[n0:] == 0] = 0
        bu = np.zeros(m if biases else 0, dtype=dt)
        bv = np.zeros(n if biases else 0, dtype=dt)
        if biases and start.bu is not None:
            bu[:m0] = start.bu
            bv[:n0] = start.bv
        ones = (lambda size: np.ones(size, dtype=dt)) if adagrad else (lambda size: np.ones(0, dt))
        tbias = np.zeros((n, bins) if timed else (0, 0), dtype=dt)
        alpha = np.zeros(m if timed else 0, dtype=dt)
        if timed and start.time is not None:
            old = np.asarray(start.time["item_bin_bias"])
            tbias[: old.shape[0]] = old
            a = np.asarray(start.time["user_alpha"])
            alpha[: a.shape[0]] = a
        return cls(U, V, bu, bv, ones(m), ones(n), ones(m), ones(n), tbias, alpha)

    def sane(self, limit: float) -> bool:
        """Finite, every factor entry squared and every bias at most ``limit``."""
        # max and min propagate NaN and allocate nothing (unlike abs(a).max()).
        return all(
            a.size == 0 or max(float(a.max()), -float(a.min())) ** p <= limit
            for a, p in ((self.U, 2), (self.V, 2), (self.bu, 1), (self.bv, 1), (self.tbias, 1),
                         (self.alpha, 1))
        )  # fmt: skip

    ARRAYS = ("U", "V", "bu", "bv", "Gu", "Gv", "Gbu", "Gbv", "tbias", "alpha")

    def arrays(self) -> dict[str, np.ndarray]:
        """What a checkpoint keeps (live arrays)."""
        return {name: getattr(self, name) for name in self.ARRAYS}

    def restore(self, arrays: dict) -> None:
        """Take a checkpoint's arrays, in this state's shapes and dtypes."""
        for name in self.ARRAYS:
            mine = getattr(self, name)
            value = np.asarray(arrays[name], dtype=mine.dtype)
            if value.shape != mine.shape:
                raise UsageError(
                    f"the checkpoint's {name} is {value.shape}, this fit needs {mine.shape}",
                    hint="resume with the input, -k and --blocks the checkpoint was written for",
                )
            setattr(self, name, value.copy())

    def copy(self) -> _State:
        return _State(
            *(a.copy() for a in (self.U, self.V, self.bu, self.bv)),
            self.Gu, self.Gv, self.Gbu, self.Gbv,
            self.tbias.copy(), self.alpha.copy(), self.tmean,
        )  # fmt: skip

    def fit(self, start: _Start, biases, timed, edges, dev_scale) -> SGDFit:
        time_parts = None
        if timed:
            time_parts = {
                "item_bin_bias": self.tbias,
                "bin_edges": edges,
                "user_alpha": self.alpha,
                "user_mean_time": self.tmean,
                "dev_scale": np.asarray(dev_scale, dtype=np.float64),
            }
        return SGDFit(
            U=self.U,
            V=self.V,
            global_bias=start.global_bias,
            row_bias=self.bu if biases else None,
            col_bias=self.bv if biases else None,
            clip=start.clip,
            time=time_parts,
        )


# ------------------------------------------------------------------ predict
def predict(fit: SGDFit, rows, cols, times=None) -> np.ndarray:
    """Clipped predictions of ``fit`` at (row, column) pairs.

    Parameters
    ----------
    fit : SGDFit
    rows, cols : (q,) integer indices of known users and items
    times : (q,) Unix seconds, or None for the static model; used only by
        time-aware fits (a time-aware fit without times predicts
        ``mu + b_u + b_i + p_u . q_i``)

    Returns
    -------
    (q,) float64 predictions in ``fit.clip``

    Raises
    ------
    UsageError
        indices out of range, or shapes that differ
    """
    from mfcli.kernels import sgd as kern

    rows = np.asarray(rows, dtype=np.int64).reshape(-1)
    cols = np.asarray(cols, dtype=np.int64).reshape(-1)
    if rows.shape != cols.shape:
        raise UsageError(f"{rows.shape[0]} rows but {cols.shape[0]} columns to predict")
    m, n = fit.U.shape[0], fit.V.shape[0]
    for name, idx, size in (("row", rows, m), ("column", cols, n)):
        if idx.size and (idx.min() < 0 or idx.max() >= size):
            raise UsageError(
                f"{name} index out of range 0..{size - 1}", hint="unknown users or items"
            )
    dt = fit.U.dtype
    bu = fit.row_bias if fit.row_bias is not None else np.empty(0, dt)
    bv = fit.col_bias if fit.col_bias is not None else np.empty(0, dt)
    tbin = np.empty(0, np.int32)
    tdev = np.empty(0, dt)
    tbias = np.empty((0, 0), dt)
    alpha = np.empty(0, dt)
    if times is not None and fit.time is not None:
        t = np.asarray(times, dtype=np.float64).reshape(-1)
        if t.shape != rows.shape:
            raise UsageError(f"{t.shape[0]} times for {rows.shape[0]} pairs")
        if not np.isfinite(t).all():
            raise InputDataError("some timestamps are NaN or infinite")
        tp = fit.time
        tbin = _bin_of(t, np.asarray(tp["bin_edges"], dtype=np.float64))
        mean = np.asarray(tp["user_mean_time"], dtype=np.float64)[rows]
        tdev = (_dev_raw(t, mean) / float(tp["dev_scale"])).astype(dt)
        tbias = np.ascontiguousarray(tp["item_bin_bias"], dtype=dt)
        alpha = np.ascontiguousarray(tp["user_alpha"], dtype=dt)
    out = np.empty(rows.shape[0], dtype=np.float64)
    kern.predict_entries(
        rows, cols, np.ascontiguousarray(fit.U), np.ascontiguousarray(fit.V, dtype=dt),
        np.ascontiguousarray(bu, dtype=dt), np.ascontiguousarray(bv, dtype=dt),
        float(fit.global_bias), float(fit.clip[0]), float(fit.clip[1]),
        tbin, tdev, tbias, alpha, out,
    )  # fmt: skip
    return out


# ------------------------------------------------------------------ fold-in
FOLD_IN_CHUNK = 1024  # users whose (k+1) x (k+1) systems are solved in one batched call


def fold_in(
    V: np.ndarray,
    rows,
    *,
    global_bias: float = 0.0,
    col_bias: np.ndarray | None = None,
    reg: float | None = None,
    reg_bias: float | None = None,
    reg_power: float | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Factors (and biases) of new users from their ratings, items fixed.

    Solves, for each new user ``u`` with ratings ``r_ui`` on the items ``I_u``
    (``n_u = |I_u|``), the ridge problem the fit's SGD updates are stationary
    for::

        min  sum_i (r_ui - mu - b_i - b_u - p_u . q_i)**2
             + reg * n_u**(1 - reg_power) * |p_u|**2 + reg_bias * n_u * b_u**2

    (each per-update penalty ``reg * n_u**-reg_power`` resp. ``reg_bias``
    summed over the user's ``n_u`` updates), exactly: one ``(k+1) x (k+1)``
    system per user in float64 (``k x k`` without biases, where the model is
    ``mu + p_u . q_i``). Unlike training it does not clip predictions and
    ignores time-aware biases (new users get the static model). Users
    without ratings get zero factors and bias (as cold rows in a fit). With
    ``reg = 0`` a singular system takes its minimum-norm solution.

    Parameters
    ----------
    V : (n, k) item factors
    rows : (r, n) the new users' ratings: mfcli Matrix, scipy.sparse or
        ndarray (dense: nonzero entries are the ratings)
    global_bias : the fit's ``mu``
    col_bias : (n,) item biases, or None for a model without biases
    reg, reg_bias, reg_power : the fit's; None takes ``DEFAULTS``

    Returns
    -------
    U : (r, k) float64 user factors
    row_bias : (r,) float64 user biases, or None without ``col_bias``

    Raises
    ------
    UsageError
        negative or non-finite regularisation, ``col_bias`` of the wrong shape
    InputDataError
        ``rows`` with a column count other than ``V``'s rows, NaN/inf ratings
    """
    from mfcli.solvers.svd import as_input

    reg = DEFAULTS["reg"] if reg is None else float(reg)
    reg_bias = DEFAULTS["reg_bias"] if reg_bias is None else float(reg_bias)
    reg_power = DEFAULTS["reg_power"] if reg_power is None else float(reg_power)
    for name, value in (("reg", reg), ("reg_bias", reg_bias), ("reg_power", reg_power)):
        if not (np.isfinite(value) and value >= 0):
            raise UsageError(f"{name} must be a non-negative number, got {value!r}")
    V = np.asarray(V, dtype=np.float64)
    if V.ndim != 2:
        raise UsageError(f"V must be 2-D, got {V.ndim}-D")
    n, k = V.shape
    biased = col_bias is not None
    bv = np.asarray(col_bias, dtype=np.float64).reshape(-1) if biased else np.zeros(n)
    if bv.shape != (n,):
        raise UsageError(f"col_bias has {bv.shape[0]} entries for {n} items")
    inp = as_input(rows, what="new rows")
    if inp.shape[1] != n:
        raise InputDataError(
            f"the new rows have {inp.shape[1]} columns, the model has {n} items",
            hint="use the item ids of the training matrix",
        )
    if inp.is_sparse:
        indptr, indices, data = inp.indptr, inp.indices, inp.data
    else:
        import scipy.sparse as sp

        csr = sp.csr_matrix(np.asarray(inp.dense))
        indptr, indices, data = csr.indptr, csr.indices, csr.data
    data = np.asarray(data, dtype=np.float64)
    if not np.isfinite(data).all():
        raise InputDataError("some ratings of the new rows are NaN or infinite")
    indptr = np.asarray(indptr, dtype=np.int64)
    r = inp.shape[0]
    d = k + 1 if biased else k
    # Each entry's design row [q_i, 1] and target r_ui - mu - b_i.
    A = np.empty((n, d))
    A[:, :k] = V
    if biased:
        A[:, k] = 1.0
    counts = np.diff(indptr)
    out = np.zeros((r, d))
    users = np.flatnonzero(counts > 0)
    eye = np.arange(d)
    for a in range(0, users.shape[0], FOLD_IN_CHUNK):
        chunk = users[a : a + FOLD_IN_CHUNK]
        G = np.empty((chunk.shape[0], d, d))
        b = np.empty((chunk.shape[0], d))
        for j, u in enumerate(chunk):
            lo, hi = indptr[u], indptr[u + 1]
            items = indices[lo:hi]
            Au = A[items]
            G[j] = Au.T @ Au
            b[j] = Au.T @ (data[lo:hi] - global_bias - bv[items])
        n_u = counts[chunk].astype(np.float64)
        G[:, eye[:k], eye[:k]] += (reg * n_u ** (1.0 - reg_power))[:, None]
        if biased:
            G[:, k, k] += reg_bias * n_u
        try:
            out[chunk] = np.linalg.solve(G, b[:, :, None])[:, :, 0]
        except np.linalg.LinAlgError:  # reg 0 and too few ratings: minimum norm
            for j, u in enumerate(chunk):
                out[u] = np.linalg.lstsq(G[j], b[j], rcond=None)[0]
    return np.ascontiguousarray(out[:, :k]), (out[:, k].copy() if biased else None)
