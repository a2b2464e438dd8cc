"""`mfcli svd`: read, fit a truncated SVD or soft-impute, write the result."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from mfcli.api.common import labels_of, provenance_of, train_of, write_atomic

if TYPE_CHECKING:
    from mfcli.config import SvdConfig
    from mfcli.io.results import Result


def fit_svd(cfg: SvdConfig, callback=None) -> tuple[Result, dict]:
    """Read ``cfg.input.path``, fit the truncated SVD the config asks for, write the result.

    Returns the written :class:`~mfcli.io.results.Result` and a summary for
    printing. Nothing is written unless the fit succeeds (atomic output).

    Raises
    ------
    UsageError : exit 2 (no input/output, k too large for the matrix)
    InputDataError, InputMissingError : exit 65 / 66
    OutputError : exit 73 (the output exists without --force)
    """
    from mfcli.distributed.cluster import resolve_scheduler
    from mfcli.errors import UsageError
    from mfcli.io import read_matrix
    from mfcli.io.atomic import check_output
    from mfcli.io.parts import is_partitioned
    from mfcli.runtime import Timer, use_threads

    if not cfg.input.path:
        raise UsageError("no input file given", hint="mfcli svd INPUT -k K -o OUT.h5")
    if not cfg.output.path:
        raise UsageError("no output file given", hint="use -o OUT.h5")
    check_output(cfg.output.path, force=cfg.output.force)  # fail before the work
    threads = use_threads(cfg.runtime.threads)
    timer = Timer()
    s = cfg.svd
    scheduler = resolve_scheduler(cfg.runtime.scheduler).address
    on_cluster = bool(scheduler) and s.method == "randomized" and not s.missing
    if on_cluster and is_partitioned(cfg.input.path):
        matrix, fit, read_s = _parts_on_cluster(cfg, scheduler, timer, callback)
    else:
        matrix = read_matrix(cfg.input.path, cfg.read_options())
        read_s = timer.elapsed
        if on_cluster:
            fit = _on_cluster(cfg, scheduler, matrix, callback)
        else:
            fit = _local(cfg, matrix, callback)
            if scheduler:
                fit.notes.append(
                    "ran in this process: on a cluster svd runs the randomized method "
                    "without --missing"
                )
    fit_s = timer.elapsed - read_s
    result = _svd_result(cfg, matrix, fit)
    result.provenance = provenance_of(cfg, matrix, threads.n, timer.elapsed)
    write_atomic(result, cfg)
    summary = {
        "method": f"svd ({fit.method})",
        "path": cfg.output.path,
        "shape": list(matrix.shape),
        "nnz": int(matrix.nnz),
        "k": int(fit.s.shape[0]),
        "singular_values": [float(v) for v in fit.s],
        "explained_variance_ratio": float(np.sum(fit.explained_variance_ratio)),
        "iterations": int(fit.n_iter),
        "read_s": round(read_s, 3),
        "fit_s": round(fit_s, 3),
        "threads": threads.n,
        "notes": list(fit.notes),
    }
    return result, summary


def _local(cfg, matrix, callback):
    from mfcli.solvers import softimpute
    from mfcli.solvers import svd as solver

    s, dtype, k = cfg.svd, np.dtype(cfg.model.dtype), cfg.model.rank
    if s.missing:
        return softimpute.soft_impute(
            matrix, k, shrink=s.shrink, max_iter=s.max_iter or 100, tol=s.tol or 1e-4,
            seed=cfg.runtime.seed, dtype=dtype, callback=callback,
        )  # fmt: skip
    return solver.truncated_svd(
        matrix, k, method=s.method, oversample=s.oversample, power_iters=s.power_iters,
        tol=s.tol, max_iter=s.max_iter, center=s.center, seed=cfg.runtime.seed,
        dtype=dtype, callback=callback,
    )  # fmt: skip


def _cluster_options(cfg, callback) -> dict:
    s = cfg.svd
    return dict(
        oversample=s.oversample, power_iters=s.power_iters, center=s.center,
        seed=cfg.runtime.seed, dtype=np.dtype(cfg.model.dtype), callback=callback,
    )  # fmt: skip


def _on_cluster(cfg, address, matrix, callback):
    """Randomized SVD with the matrix's row blocks on the workers (same factors)."""
    from mfcli.distributed.blocks import scatter_rows
    from mfcli.distributed.cluster import connect
    from mfcli.distributed.svd import randomized_svd
    from mfcli.solvers.svd import as_input

    as_input(matrix)  # NaN, inf, empty: refused here as in a local fit
    with connect(address, cfg.runtime.threads) as client:
        blocks = scatter_rows(client, matrix)
        fit = randomized_svd(client, blocks, cfg.model.rank, **_cluster_options(cfg, callback))
    fit.notes.append(f"ran on a Dask cluster, {blocks.n_blocks} row blocks")
    return fit


def _parts_on_cluster(cfg, address, timer, callback):
    """A partitioned input: the workers read the parts into row blocks (no /train)."""
    from mfcli.api.common import MatrixSummary
    from mfcli.distributed.cluster import connect
    from mfcli.distributed.load import load_row_blocks
    from mfcli.distributed.svd import randomized_svd

    with connect(address, cfg.runtime.threads) as client:
        blocks, _, row_labels, col_labels = load_row_blocks(
            client, cfg.input.path, cfg.read_options()
        )
        read_s = timer.elapsed
        fit = randomized_svd(client, blocks, cfg.model.rank, **_cluster_options(cfg, callback))
    fit.notes.append(f"ran on a Dask cluster, {blocks.n_blocks} row blocks read by the workers")
    summary = MatrixSummary(blocks.shape, blocks.nnz, row_labels, col_labels, "parts")
    return summary, fit, read_s


def _svd_result(cfg, matrix, fit) -> Result:
    """The result-file twin of an SVD fit (guide section 4).

    A centering mean is the column bias and a soft-impute offset the global
    bias, so the reconstruction rule ``row @ diag(s) @ col.T + biases`` holds.
    """
    from mfcli.config import to_yaml
    from mfcli.io.results import Result

    biases = {}
    if fit.mean is not None:
        biases["col"] = fit.mean
    if getattr(fit, "offset", 0.0):
        biases["global"] = float(fit.offset)
    history = {name: np.asarray(values) for name, values in fit.history.items()}
    return Result(
        "svd",
        config_yaml=to_yaml(cfg),
        factors={"row": fit.U, "col": fit.V, "singular_values": fit.s},
        biases=biases,
        labels=labels_of(matrix),
        history=history,
        train=train_of(matrix),
        extra={
            "svd": {
                "explained_variance": fit.explained_variance,
                "explained_variance_ratio": fit.explained_variance_ratio,
                "shrink": np.float64(fit.shrink),  # the fold-in ridge of soft-impute
            }
        },
    )
