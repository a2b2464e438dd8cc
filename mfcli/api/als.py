"""`mfcli als`: read (users as rows), fit explicit or implicit ALS, write the result."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from mfcli.api.common import labels_of, provenance_of, reject_negative, train_of, write_atomic

if TYPE_CHECKING:
    from mfcli.config import AlsConfig
    from mfcli.io.results import Result


def resolved_reg(cfg: AlsConfig) -> tuple[float, str]:
    """The lambda and its scaling after the config's nulls and ``auto`` are filled in."""
    a = cfg.als
    reg = a.reg if a.reg is not None else (0.01 if a.implicit else 0.1)
    scaling = a.reg_scaling if a.reg_scaling != "auto" else ("none" if a.implicit else "count")
    return float(reg), scaling


def fit_als(cfg: AlsConfig, callback=None, resume: str | None = None) -> tuple[Result, dict]:
    """Read ``cfg.input.path``, fit ALS, write the result with its ``/train``.

    With ``cfg.als.validation`` the held-out file is scored after every
    iteration; with ``patience`` the fit stops early and keeps the best
    iteration's factors. ``cfg.runtime.checkpoint`` keeps a checkpoint;
    ``resume`` (a checkpoint file) continues the fit that wrote it.

    Raises
    ------
    UsageError : exit 2 (no input/output, unknown metric, k too large)
    InputDataError, InputMissingError : exit 65 / 66
    NumericsError : exit 4 (the loss stopped being finite)
    OutputError : exit 73 (the output exists without --force)
    """
    from mfcli.api import checkpoint as ckpt
    from mfcli.api.validation import scorer, transposed
    from mfcli.distributed.cluster import resolve_scheduler
    from mfcli.errors import InputDataError, UsageError
    from mfcli.io import read_matrix
    from mfcli.io.atomic import check_output
    from mfcli.io.parts import is_partitioned
    from mfcli.runtime import Timer, use_threads
    from mfcli.solvers import als as solver

    if not cfg.input.path:
        raise UsageError("no input file given", hint="mfcli als INPUT -k K -o OUT.h5")
    if not cfg.output.path:
        raise UsageError("no output file given", hint="use -o OUT.h5")
    check_output(cfg.output.path, force=cfg.output.force)
    ckpt.check_paths(cfg)
    state = _resume_state(resume) if resume else None
    threads = use_threads(cfg.runtime.threads)
    timer = Timer()
    a = cfg.als
    scheduler = resolve_scheduler(cfg.runtime.scheduler)
    if scheduler.address and is_partitioned(cfg.input.path):
        return _fit_parts_on_cluster(cfg, scheduler.address, threads, timer, callback, state)
    matrix = read_matrix(cfg.input.path, cfg.read_options())
    if a.transpose:
        matrix = transposed(matrix)
    m, n = matrix.shape
    _check_rank(cfg, m, n)
    validate, higher = None, True
    metric = a.metric or ("ndcg@10" if a.implicit else "rmse")
    if a.validation:
        validate, higher = scorer(
            a.validation, matrix, cfg.read_options(), metric, transpose=a.transpose
        )
    read_s = timer.elapsed
    if a.implicit:
        reject_negative(
            matrix, cfg.input.path,
            "implicit feedback needs values >= 0, found {value} for user {row}, item {col}",
            "confidence is 1 + alpha * r: use counts or weights >= 0, or fit explicit ratings",
        )  # fmt: skip
    reg, scaling = resolved_reg(cfg)
    options = _options(cfg, reg, scaling, callback, validate, higher)
    options.update(resume=state, checkpoint=_saver(cfg, matrix, reg, scaling, threads, timer))
    try:
        if scheduler.address:
            from mfcli.distributed import als as cluster_als
            from mfcli.distributed.cluster import connect

            with connect(scheduler.address, cfg.runtime.threads) as client:
                with ckpt.signals_held(cfg):
                    fit = cluster_als.als_from_matrix(client, matrix, cfg.model.rank, **options)
        else:
            with ckpt.signals_held(cfg):
                fit = solver.als(matrix, cfg.model.rank, **options)
    except InputDataError as exc:  # NaN, inf, an empty matrix: the input file's fault
        raise exc.located(cfg.input.path) from None
    fit_s = timer.elapsed - read_s
    return _finish(cfg, matrix, fit, reg, scaling, threads, timer, read_s, fit_s)


def _check_rank(cfg, m: int, n: int) -> None:
    from mfcli.errors import UsageError

    if cfg.model.rank > min(m, n):
        raise UsageError(
            f"-k {cfg.model.rank} is larger than min(users, items) = {min(m, n)} "
            f"of the {m} x {n} matrix in {cfg.input.path}",
            hint=f"choose -k <= {min(m, n)}",
        )


def _options(cfg, reg, scaling, callback, validate, higher) -> dict:
    a = cfg.als
    return dict(
        implicit=a.implicit, alpha=a.alpha, confidence=a.confidence, eps=a.eps,
        solver=a.solver, cg_steps=a.cg_steps, reg=reg, reg_scaling=scaling,
        biases=a.biases and not a.implicit, iters=a.iters, seed=cfg.runtime.seed,
        dtype=np.dtype(cfg.model.dtype), callback=callback, validate=validate,
        patience=a.patience, higher_is_better=higher,
    )  # fmt: skip


def _fit_parts_on_cluster(cfg, address, threads, timer, callback, state):
    """A partitioned input on a cluster: the workers read the parts into row blocks
    of both orientations; this process holds the factors only (no /train)."""
    from mfcli.api import checkpoint as ckpt
    from mfcli.api.common import MatrixSummary
    from mfcli.distributed import als as cluster_als
    from mfcli.distributed.cluster import connect
    from mfcli.distributed.load import load_row_blocks
    from mfcli.errors import UsageError

    a = cfg.als
    if a.validation:
        raise UsageError(
            "--validation needs the training matrix in this process, but a partitioned "
            "input on a cluster stays on the workers",
            hint="score the result with 'mfcli eval MODEL TEST --train PARTS' instead",
        )
    options = cfg.read_options()
    with connect(address, cfg.runtime.threads) as client:
        users, items, row_labels, col_labels = load_row_blocks(
            client, cfg.input.path, options, columns=True
        )
        if a.transpose:
            users, items, row_labels, col_labels = items, users, col_labels, row_labels
        m, n = users.shape
        _check_rank(cfg, m, n)
        read_s = timer.elapsed
        reg, scaling = resolved_reg(cfg)
        summary = MatrixSummary((m, n), users.nnz, row_labels, col_labels, "parts")
        options = _options(cfg, reg, scaling, callback, None, True)
        options.update(resume=state, checkpoint=_saver(cfg, summary, reg, scaling, threads, timer))
        with ckpt.signals_held(cfg):
            fit = cluster_als.als(client, users, items, cfg.model.rank, **options)
    fit.notes.append("/train not stored: the input stayed on the workers (give eval --train)")
    return _finish(cfg, summary, fit, reg, scaling, threads, timer, read_s, timer.elapsed - read_s)


def _finish(cfg, matrix, fit, reg, scaling, threads, timer, read_s, fit_s):
    """Write the result; returns it with the summary the CLI prints."""
    from mfcli.api import checkpoint as ckpt

    a = cfg.als
    result = _als_result(cfg, matrix, fit, reg, scaling)
    result.provenance = provenance_of(cfg, matrix, threads.n, timer.elapsed)
    write_atomic(result, cfg)
    ckpt.done(cfg)
    lines = [f"training loss {fit.history['loss'][-1]:.6g} after {fit.n_iter} iterations"]
    if a.validation:
        best = {name: float(v[fit.best_iter - 1]) for name, v in fit.history.items()
                if name not in ("loss", "seconds")}  # fmt: skip
        shown = ", ".join(f"{name} {value:.4f}" for name, value in best.items())
        lines.append(f"validation: {shown} at iteration {fit.best_iter} (kept)")
    kind = "implicit" if a.implicit else "explicit"
    summary = {
        "method": f"als ({kind}, {a.solver})",
        "path": cfg.output.path,
        "shape": list(matrix.shape),
        "nnz": int(matrix.nnz),
        "k": int(fit.U.shape[1]),
        "iterations": int(fit.n_iter),
        "best_iteration": int(fit.best_iter),
        "loss": float(fit.history["loss"][-1]),
        "reg": reg,
        "reg_scaling": scaling,
        "read_s": round(read_s, 3),
        "fit_s": round(fit_s, 3),
        "threads": threads.n,
        "lines": lines,
        "notes": list(fit.notes),
    }
    return result, summary


def _saver(cfg, matrix, reg, scaling, threads, timer):
    """The solver's checkpoint hook: the state as a result file plus /checkpoint."""
    from mfcli.api import checkpoint as ckpt
    from mfcli.solvers.als import ALSFit

    def build(state: dict):
        biased = state["global_bias"] is not None
        history = {name: np.asarray(v, dtype=np.float64) for name, v in state["history"].items()}
        fit = ALSFit(
            U=state["U"], V=state["V"], global_bias=state["global_bias"],
            row_bias=state["row_bias"] if biased else None,
            col_bias=state["col_bias"] if biased else None, n_iter=state["iteration"],
            best_iter=state["best_iter"] or state["iteration"], history=history, notes=[],
        )  # fmt: skip
        result = _als_result(cfg, matrix, fit, reg, scaling)
        saved = {"iteration": np.int64(state["iteration"]), "of": np.int64(cfg.als.iters)}
        if state["best"] is not None:
            saved["best_iter"] = np.int64(state["best_iter"])
            saved["best_value"] = np.float64(state["best_value"])
            names = ("best_U", "best_V", "best_ub", "best_vb")
            saved.update(zip(names, state["best"], strict=True))
        return result, saved

    return ckpt.saver(cfg, build, matrix, threads, timer)


def _resume_state(path: str) -> dict:
    """The solver's resume state from a checkpoint file."""
    from mfcli.api import checkpoint as ckpt

    result, saved = ckpt.load(path, "als")
    empty = np.zeros(0, dtype=result.factors["row"].dtype)
    best = None
    if "best_U" in saved:
        best = tuple(saved[name] for name in ("best_U", "best_V", "best_ub", "best_vb"))
    return {
        "iteration": int(saved["iteration"]),
        "U": result.factors["row"],
        "V": result.factors["col"],
        "row_bias": result.biases.get("row", empty),
        "col_bias": result.biases.get("col", empty),
        "history": result.history,
        "best_iter": int(saved.get("best_iter", 0)),
        "best_value": float(saved["best_value"]) if "best_value" in saved else None,
        "best": best,
    }


def _als_result(cfg, matrix, fit, reg: float, scaling: str) -> Result:
    from mfcli.config import to_yaml
    from mfcli.io.results import Result

    biases = {}
    if fit.global_bias is not None:
        biases["global"] = float(fit.global_bias)
    if fit.row_bias is not None:
        biases["row"] = fit.row_bias
    if fit.col_bias is not None:
        biases["col"] = fit.col_bias
    return Result(
        "als",
        config_yaml=to_yaml(cfg),
        factors={"row": fit.U, "col": fit.V},
        biases=biases,
        labels=labels_of(matrix),
        history={name: np.asarray(values) for name, values in fit.history.items()},
        train=train_of(matrix),
        extra={"als": {
            "reg": np.float64(reg), "reg_scaling": scaling, "iterations": np.int64(fit.n_iter),
            "best_iteration": np.int64(fit.best_iter),
        }},
    )  # fmt: skip
