"""`mfcli nmf`: read, check for negative entries, fit, write the result with its topics."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from mfcli.api.common import labels_of, provenance_of, reject_negative, train_of, write_atomic

if TYPE_CHECKING:
    from mfcli.config import NmfConfig
    from mfcli.io.results import Result


def fit_nmf(cfg: NmfConfig, callback=None, resume: str | None = None) -> tuple[Result, dict]:
    """Read ``cfg.input.path``, fit the NMF the config asks for, write the result.

    Returns the written :class:`~mfcli.io.results.Result` and a summary for
    printing (including each component's top labels). Nothing is written
    unless the fit succeeds. ``cfg.runtime.checkpoint`` keeps a checkpoint;
    ``resume`` (such a file) continues the fit that wrote it.

    Raises
    ------
    UsageError : exit 2 (no input/output, k too large, options that do not combine)
    InputDataError : exit 65 (a negative entry, named by row, column and value)
    InputMissingError : exit 66
    NumericsError : exit 4 (the factors stopped being finite)
    OutputError : exit 73 (the output exists without --force)
    """
    from mfcli.api import checkpoint as ckpt
    from mfcli.distributed.cluster import resolve_scheduler
    from mfcli.errors import UsageError
    from mfcli.io import read_matrix
    from mfcli.io.atomic import check_output
    from mfcli.io.parts import is_partitioned
    from mfcli.runtime import Timer, use_threads
    from mfcli.solvers import nmf as solver

    if not cfg.input.path:
        raise UsageError("no input file given", hint="mfcli nmf INPUT -k K -o OUT.h5")
    if not cfg.output.path:
        raise UsageError("no output file given", hint="use -o OUT.h5")
    check_output(cfg.output.path, force=cfg.output.force)  # fail before the work
    ckpt.check_paths(cfg)
    state = _resume_state(resume) if resume else None
    threads = use_threads(cfg.runtime.threads)
    timer = Timer()
    n = cfg.nmf
    scheduler = resolve_scheduler(cfg.runtime.scheduler).address
    on_cluster = bool(scheduler) and (n.solver, n.loss, n.mask) == ("hals", "frobenius", "none")
    if on_cluster and is_partitioned(cfg.input.path):
        matrix, fit, read_s = _parts_on_cluster(cfg, scheduler, timer, callback, state, threads)
    else:
        matrix = read_matrix(cfg.input.path, cfg.read_options())
        read_s = timer.elapsed
        reject_negative(
            matrix, cfg.input.path, "negative value {value} at row {row}, column {col}",
            "NMF needs non-negative input; shift or clip the values, or use 'mfcli svd'",
        )  # fmt: skip
        saver = _saver(cfg, matrix, threads, timer)
        if on_cluster:
            fit = _on_cluster(cfg, scheduler, matrix, callback, state, saver)
        else:
            with ckpt.signals_held(cfg):
                options = _options(cfg, callback)
                fit = solver.nmf(matrix, cfg.model.rank, resume=state, checkpoint=saver, **options)
            if scheduler:
                fit.notes.append(
                    "ran in this process: on a cluster nmf runs hals, frobenius, mask none"
                )
    fit_s = timer.elapsed - read_s
    top = top_components(fit.W, fit.H, labels_of(matrix), n.top)
    result = _nmf_result(cfg, matrix, fit, top)
    result.provenance = provenance_of(cfg, matrix, threads.n, timer.elapsed)
    write_atomic(result, cfg)
    ckpt.done(cfg)
    observed = ", observed entries" if fit.mask == "observed" else ""
    summary = {
        "method": f"nmf ({fit.solver}, {fit.loss}{observed})",
        "path": cfg.output.path,
        "shape": list(matrix.shape),
        "nnz": int(matrix.nnz),
        "k": int(fit.W.shape[1]),
        "init": fit.init,
        "iterations": int(fit.n_iter),
        "converged": bool(fit.converged),
        "objective": float(fit.objective),
        "error": float(fit.error),
        "relative_error": float(fit.relative_error),
        "read_s": round(read_s, 3),
        "fit_s": round(fit_s, 3),
        "threads": threads.n,
        "notes": list(fit.notes),
        "top": {side: entry["labels"].tolist() for side, entry in top.items() if "labels" in entry},
    }  # fmt: skip
    return result, summary


def _options(cfg, callback) -> dict:
    n = cfg.nmf
    return dict(
        solver=n.solver, loss=n.loss, init=n.init, mask=n.mask, l1_w=n.l1_w, l1_h=n.l1_h,
        l2_w=n.l2_w, l2_h=n.l2_h, tol=n.tol, max_iter=n.max_iter, seed=cfg.runtime.seed,
        dtype=np.dtype(cfg.model.dtype), callback=callback,
    )  # fmt: skip


def _cluster_options(cfg, callback) -> dict:
    options = _options(cfg, callback)
    for name in ("solver", "loss", "mask"):
        del options[name]
    return options


def _on_cluster(cfg, address, matrix, callback, state, saver):
    """HALS with the row blocks on the workers, from the init a local fit would use
    (this process holds the matrix), so the factors are the local ones."""
    from mfcli.api import checkpoint as ckpt
    from mfcli.distributed.blocks import scatter_rows
    from mfcli.distributed.cluster import connect
    from mfcli.distributed.nmf import hals
    from mfcli.solvers import nmf as solver
    from mfcli.solvers.nmf_init import initialize

    k, options = cfg.model.rank, _cluster_options(cfg, callback)
    inp = solver._validated(matrix, False, "matrix")
    if k > min(inp.shape):
        return solver.nmf(matrix, k, **_options(cfg, callback))  # the local error message
    init = "nndsvda" if options["init"] == "auto" else options["init"]
    W0, H0 = initialize(inp, k, init, observed=False, seed=options["seed"], dtype=options["dtype"])
    with connect(address, cfg.runtime.threads) as client, ckpt.signals_held(cfg):
        blocks = scatter_rows(client, matrix)
        fit = hals(client, blocks, k, W0=W0, H0=H0, resume=state, checkpoint=saver, **options)
    fit.init = init
    fit.notes.append(f"ran on a Dask cluster, {blocks.n_blocks} row blocks")
    return fit


def _parts_on_cluster(cfg, address, timer, callback, state, threads):
    """A partitioned input: the workers read the parts; the nndsvd starts come from a
    distributed randomized SVD (a one-file fit uses a Lanczos SVD: close, not equal)."""
    from mfcli.api import checkpoint as ckpt
    from mfcli.api.common import MatrixSummary
    from mfcli.distributed.cluster import connect
    from mfcli.distributed.load import load_row_blocks
    from mfcli.distributed.nmf import hals

    with connect(address, cfg.runtime.threads) as client:
        blocks, _, row_labels, col_labels = load_row_blocks(
            client, cfg.input.path, cfg.read_options()
        )
        read_s = timer.elapsed
        summary = MatrixSummary(blocks.shape, blocks.nnz, row_labels, col_labels, "parts")
        saver = _saver(cfg, summary, threads, timer)
        with ckpt.signals_held(cfg):
            fit = hals(
                client, blocks, cfg.model.rank, resume=state, checkpoint=saver,
                **_cluster_options(cfg, callback),
            )  # fmt: skip
    fit.notes.append(f"ran on a Dask cluster, {blocks.n_blocks} row blocks read by the workers")
    return summary, fit, read_s


def _saver(cfg, matrix, threads, timer):
    """The solver's checkpoint hook: the accepted iterate as a model, plus /checkpoint."""
    from mfcli.api import checkpoint as ckpt
    from mfcli.solvers.nmf import NMFFit

    def build(state: dict):
        W, H = state["accepted"]
        hist = {name: np.asarray(v, dtype=np.float64) for name, v in state["history"].items()}
        n = cfg.nmf
        fit = NMFFit(
            W=W, H=H, solver=n.solver, loss=n.loss, init=n.init, mask=n.mask,
            n_iter=state["iteration"], converged=False, objective=float(hist["objective"][-1]),
            error=float(hist["error"][-1]), relative_error=float("nan"), history=hist, notes=[],
        )  # fmt: skip
        result = _nmf_result(cfg, matrix, fit, {})
        saved = {
            "iteration": np.int64(state["iteration"]), "of": np.int64(n.max_iter),
            "prev": np.float64(state["prev"]), "W": state["W"], "H": state["H"],
        }  # fmt: skip
        if state["extrapolation"] is not None:
            saved["extrapolation"] = {
                name: (np.float64(v) if isinstance(v, float) else np.bool_(v))
                if np.isscalar(v) else v
                for name, v in state["extrapolation"].items()
            }  # fmt: skip
        return result, saved

    return ckpt.saver(cfg, build, matrix, threads, timer)


def _resume_state(path: str) -> dict:
    from mfcli.api import checkpoint as ckpt

    result, saved = ckpt.load(path, "nmf")
    extrapolation = saved.get("extrapolation")
    return {
        "iteration": int(saved["iteration"]),
        "prev": float(saved["prev"]),
        "W": saved["W"],
        "H": saved["H"],
        "history": result.history,
        "extrapolation": extrapolation,
    }


def top_components(W: np.ndarray, H: np.ndarray, labels: dict, n: int) -> dict:
    """Each component's ``n`` largest rows of W and of H: indices, weights, labels.

    Returns ``{side: {"index": (k, n) int64, "weight": (k, n), "labels": (k, n)}}``
    for ``side`` in row/col; labels only where the input had them. Entries of
    weight zero are not ranked: a component with fewer nonzeros pads with -1
    (index) and an empty label.
    """
    if n <= 0:
        return {}
    out = {}
    for side, factor in (("row", W), ("col", H)):
        take = min(n, factor.shape[0])
        # stable sort on -weight: ties keep index order, so the output is deterministic
        order = np.argsort(-factor, axis=0, kind="stable")[:take].T
        weight = np.take_along_axis(factor.T, order, axis=1)
        index = np.where(weight > 0, order, -1).astype(np.int64)
        entry = {"index": index, "weight": weight}
        names = labels.get(side)
        if names is not None:
            text = np.asarray([str(v) for v in np.asarray(names).tolist()] + [""], dtype=object)
            entry["labels"] = text[index]  # -1 picks the trailing ""
        out[side] = entry
    return out


def _nmf_result(cfg, matrix, fit, top: dict) -> Result:
    from mfcli.config import to_yaml
    from mfcli.io.results import Result

    stats = {
        "objective": np.float64(fit.objective),
        "error": np.float64(fit.error),
        "relative_error": np.float64(fit.relative_error),
        "iterations": np.int64(fit.n_iter),
        "converged": np.bool_(fit.converged),
        "init": fit.init,
    }
    if fit.mask == "observed" and matrix.nnz:
        # scores of unseen pairs are clipped to the fitted range, as sgd's are (eval, recommend)
        values = matrix.data if matrix.is_sparse else matrix.data[np.isfinite(matrix.data)]
        stats["clip"] = np.asarray([values.min(), values.max()], dtype=np.float64)
    if top:
        stats["top"] = top
    return Result(
        "nmf",
        config_yaml=to_yaml(cfg),
        factors={"row": fit.W, "col": fit.H},
        labels=labels_of(matrix),
        history={name: np.asarray(values) for name, values in fit.history.items()},
        train=train_of(matrix),
        extra={"nmf": stats},
    )
