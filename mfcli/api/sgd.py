"""`mfcli sgd`: read ratings, fit (or continue) biased MF by SGD, write the result."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from mfcli.api.common import labels_of, provenance_of, write_atomic

if TYPE_CHECKING:
    from mfcli.config import SgdConfig
    from mfcli.data import Matrix
    from mfcli.io.results import Result

# config key -> solver keyword, passed only when the config sets it (null: solver default)
_OPTIONAL = ("lr", "reg", "reg_bias", "reg_power", "schedule", "decay", "init_scale")
# The solver records the training RMSE as "rmse", the name of the default validation
# metric too: validation scores pass through it under this prefix, and the history is
# written with the training series as "train_rmse" and each metric under its own name.
_VALIDATION = "validation:"


def fit_sgd(cfg: SgdConfig, callback=None, checkpoint: str | None = None) -> tuple[Result, dict]:
    """Read ``cfg.input.path``, fit biased MF by SGD, write the result.

    With ``cfg.sgd.resume`` the fit continues from that result file: its
    users and items keep their factors and positions, new ones are appended
    with fresh factors, and the new model's ``/train`` holds the old and the
    new ratings (a new rating of an old pair replaces it). ``cfg.runtime.checkpoint``
    keeps a checkpoint; ``checkpoint`` (such a file) continues the fit that wrote it.

    Raises
    ------
    UsageError : exit 2 (no input/output; resume from a non-sgd model or another rank)
    InputDataError, InputMissingError : exit 65 / 66
    NumericsError : exit 4 (the fit diverged; lower --lr)
    OutputError : exit 73 (the output exists without --force)
    """
    from mfcli.api import checkpoint as ckpt
    from mfcli.api.validation import scorer
    from mfcli.errors import InputDataError, UsageError
    from mfcli.io import read_matrix
    from mfcli.io.atomic import check_output
    from mfcli.runtime import Timer, use_threads
    from mfcli.solvers import sgd as solver

    if not cfg.input.path:
        raise UsageError("no input file given", hint="mfcli sgd INPUT -k K -o OUT.h5")
    if not cfg.output.path:
        raise UsageError("no output file given", hint="use -o OUT.h5")
    check_output(cfg.output.path, force=cfg.output.force)
    ckpt.check_paths(cfg)
    state = _resume_state(checkpoint) if checkpoint else None
    threads = use_threads(cfg.runtime.threads)
    timer = Timer()
    s = cfg.sgd
    matrix = read_matrix(cfg.input.path, cfg.read_options())
    init, train = None, matrix
    if s.resume:
        init, matrix, train = _resume(s.resume, matrix, cfg.model.rank)
    from mfcli.distributed.cluster import resolve_scheduler

    here = []
    if resolve_scheduler(cfg.runtime.scheduler).address:
        here.append("ran in this process: sgd has no cluster back end")
    if s.time_bins and matrix.timestamps is None:
        raise UsageError(
            f"--time-bins {s.time_bins} needs timestamps, and {cfg.input.path} has none",
            hint="give a time column with --columns user,item,rating,time",
        )
    validate, higher = None, False
    if s.validation:
        score, higher = scorer(s.validation, train, cfg.read_options(), s.metric or "rmse")

        def validate(fit) -> dict[str, float]:
            return {_VALIDATION + name: value for name, value in score(fit).items()}

    if callback is not None:
        user_callback = callback

        def callback(epoch: int, stats: dict):
            return user_callback(epoch, _renamed(stats))

    read_s = timer.elapsed
    options = {name: getattr(s, name) for name in _OPTIONAL if getattr(s, name) is not None}
    saver = _saver(cfg, train, matrix, threads, timer)
    try:
        with ckpt.signals_held(cfg):
            fit = solver.sgd(
                matrix, cfg.model.rank, epochs=s.epochs, biases=s.biases, blocks=s.blocks,
                seed=cfg.runtime.seed, dtype=np.dtype(cfg.model.dtype),
                times=matrix.timestamps if s.time_bins else None, time_bins=s.time_bins,
                init=init, callback=callback, validate=validate, patience=s.patience,
                higher_is_better=higher, resume=state, checkpoint=saver, **options,
            )  # fmt: skip
    except InputDataError as exc:  # NaN or infinite ratings or times: the input file's fault
        raise exc.located(cfg.input.path) from None
    fit_s = timer.elapsed - read_s
    fit.notes += here
    fit.history = _renamed(fit.history)
    result = _sgd_result(cfg, train, fit)
    result.provenance = provenance_of(cfg, matrix, threads.n, timer.elapsed)
    write_atomic(result, cfg)
    ckpt.done(cfg)
    lines = [f"training loss {fit.history['loss'][-1]:.6g} after {fit.n_iter} epochs"]
    metrics = [n for n in fit.history if n not in ("loss", "seconds", "lr", "train_rmse")]
    if s.validation:
        shown = ", ".join(f"{n} {float(fit.history[n][fit.best_iter - 1]):.4f}" for n in metrics)
        lines.append(f"validation: {shown} at epoch {fit.best_iter} (kept)")
    summary = {
        "method": "sgd" + (f" (resumed from {s.resume})" if s.resume else ""),
        "path": cfg.output.path,
        "shape": list(train.shape),
        "nnz": int(matrix.nnz),
        "k": int(fit.U.shape[1]),
        "iterations": int(fit.n_iter),
        "best_iteration": int(fit.best_iter),
        "loss": float(fit.history["loss"][-1]),
        "read_s": round(read_s, 3),
        "fit_s": round(fit_s, 3),
        "threads": threads.n,
        "lines": lines,
        "notes": list(fit.notes),
    }
    return result, summary


def _saver(cfg, train, matrix, threads, timer):
    """The solver's checkpoint hook: the model so far, plus /checkpoint with its state."""
    from mfcli.api import checkpoint as ckpt

    def build(state: dict):
        fit = state["fit"]
        fit.n_iter = fit.best_iter = state["epoch"]
        fit.history = _renamed({n: np.asarray(v) for n, v in state["history"].items()})
        result = _sgd_result(cfg, train, fit)
        saved = {
            "iteration": np.int64(state["epoch"]), "of": np.int64(cfg.sgd.epochs),
            "attempt": np.int64(state["attempt"]), "scale": np.float64(state["scale"]),
            "waited": np.int64(state["waited"]), "best_iter": np.int64(state["best_iter"]),
            "best_value": np.float64(state["best_value"]), "state": dict(state["state"]),
            "history": {n: np.asarray(v, dtype=np.float64) for n, v in state["history"].items()},
        }  # fmt: skip
        if state["best"] is not None:
            saved["best"] = dict(state["best"])
        return result, saved

    return ckpt.saver(cfg, build, matrix, threads, timer)


def _resume_state(path: str) -> dict:
    """The solver's resume state from a checkpoint file."""
    from mfcli.api import checkpoint as ckpt

    _, saved = ckpt.load(path, "sgd")
    return {
        "epoch": int(saved["iteration"]),
        "attempt": int(saved["attempt"]),
        "scale": float(saved["scale"]),
        "waited": int(saved["waited"]),
        "best_iter": int(saved["best_iter"]),
        "best_value": float(saved["best_value"]),
        "history": saved["history"],
        "state": saved["state"],
        "best": saved.get("best"),
    }


def _renamed(series: dict) -> dict:
    """The solver's names made unambiguous: "train_rmse", and validation metrics by name."""
    out = {}
    for name, value in series.items():
        if name == "rmse":
            name = "train_rmse"
        elif name.startswith(_VALIDATION):
            name = name[len(_VALIDATION) :]
        out[name] = value
    return out


def _resume(path: str, new: Matrix, rank: int):
    """The stored fit, the new ratings in the union of old and new ids, and the union /train."""
    from mfcli.data import Matrix
    from mfcli.errors import UsageError
    from mfcli.evaluate.model import entries
    from mfcli.io.results import read_result
    from mfcli.solvers.sgd import SGDFit

    old = read_result(path)
    if old.method != "sgd":
        raise UsageError(
            f"cannot resume SGD from a model fitted by {old.method}",
            hint="--resume takes an sgd result",
        ).located(path)
    U, V = (np.asarray(old.factors[n]) for n in ("row", "col"))
    if U.shape[1] != rank:
        raise UsageError(
            f"the model has rank {U.shape[1]}, not {rank}", hint=f"use -k {U.shape[1]}"
        ).located(path)
    row_labels, rows = _union(old.labels.get("row"), new.row_labels, U.shape[0], new.shape[0])
    col_labels, cols = _union(old.labels.get("col"), new.col_labels, V.shape[0], new.shape[1])
    r, c, v = entries(new)
    n_rows = len(row_labels) if row_labels is not None else max(U.shape[0], new.shape[0])
    n_cols = len(col_labels) if col_labels is not None else max(V.shape[0], new.shape[1])
    shape = (n_rows, n_cols)
    mapped = Matrix.from_coo(
        rows[r], cols[c], v, shape, dtype=new.data.dtype, duplicates="last",
        row_labels=row_labels, col_labels=col_labels, timestamps=new.timestamps,
    )  # fmt: skip
    train = mapped
    if old.train is not None:
        r0, c0, v0 = entries(old.train)
        # old first, then new: "last" lets a new rating of an old pair win
        train = Matrix.from_coo(
            np.concatenate([r0, rows[r]]), np.concatenate([c0, cols[c]]),
            np.concatenate([v0.astype(v.dtype), v]), shape, dtype=new.data.dtype,
            duplicates="last", row_labels=row_labels, col_labels=col_labels,
        )  # fmt: skip
    stored = old.extra.get("sgd", {})
    b = old.biases
    init = SGDFit(
        U=U, V=V, global_bias=float(b.get("global", stored.get("global_mean", 0.0))),
        row_bias=b.get("row"), col_bias=b.get("col"),
        clip=tuple(float(x) for x in stored.get("clip", (-np.inf, np.inf))),
        time=stored.get("time") or None, n_iter=0, best_iter=0, history={}, notes=[],
    )  # fmt: skip
    return init, mapped, train


def _union(old, new, n_old: int, n_new: int):
    """Labels of the union (old ids keep their positions) and each new position's index in it."""
    if old is None or new is None:
        return None, np.arange(n_new, dtype=np.int64)  # positions: row i is row i
    old, new = np.asarray(old), np.asarray(new)
    if old.dtype.kind in "iu" and new.dtype.kind in "iu":
        old, new = old.astype(np.int64), new.astype(np.int64)
    else:  # ids read as numbers in one file and as text in the other: compare as text
        old, new = old.astype(str), new.astype(str)
    where = {v: i for i, v in enumerate(old.tolist())}
    added = [v for v in dict.fromkeys(new.tolist()) if v not in where]
    for v in added:
        where[v] = len(where)
    # concatenate widens a string dtype to the longest id (a cast to old's would cut them)
    labels = np.concatenate([old, np.asarray(added)]) if added else old
    return labels, np.asarray([where[v] for v in new.tolist()], dtype=np.int64)


def _sgd_result(cfg, train, fit) -> Result:
    from mfcli.config import to_yaml
    from mfcli.io.results import Result

    # the solver predicts mu + p_u . q_i with --no-biases too: mu is part of every model
    biases = {"global": float(fit.global_bias)}
    if fit.row_bias is not None:
        biases.update(row=fit.row_bias, col=fit.col_bias)
    extra = {
        "clip": np.asarray(fit.clip, dtype=np.float64),
        "global_mean": np.float64(fit.global_bias),
        "epochs": np.int64(fit.n_iter),
        "best_epoch": np.int64(fit.best_iter),
    }
    if fit.time:
        extra["time"] = dict(fit.time)
    return Result(
        "sgd",
        config_yaml=to_yaml(cfg),
        factors={"row": fit.U, "col": fit.V},
        biases=biases,
        labels=labels_of(train),
        history={name: np.asarray(values) for name, values in fit.history.items()},
        train=train if train.is_sparse else None,
        extra={"sgd": extra},
    )
