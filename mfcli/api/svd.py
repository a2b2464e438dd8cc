"""`mfcli svd`: read, fit a truncated SVD or soft-impute, write the result."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from mfcli.api.common import labels_of, provenance_of, write_atomic

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
    from mfcli.errors import UsageError
    from mfcli.io import read_matrix
    from mfcli.io.atomic import check_output
    from mfcli.runtime import Timer, use_threads
    from mfcli.solvers import softimpute
    from mfcli.solvers import svd as solver

    if not cfg.input.path:
        raise UsageError("no input file given", hint="mfcli svd INPUT -k K -o OUT.h5")
    if not cfg.output.path:
        raise UsageError("no output file given", hint="use -o OUT.h5")
    check_output(cfg.output.path, force=cfg.output.force)  # fail before the work
    threads = use_threads(cfg.runtime.threads)
    timer = Timer()
    matrix = read_matrix(cfg.input.path, cfg.read_options())
    read_s = timer.elapsed
    s, dtype, k = cfg.svd, np.dtype(cfg.model.dtype), cfg.model.rank
    if s.missing:
        fit = softimpute.soft_impute(
            matrix, k, shrink=s.shrink, max_iter=s.max_iter or 100, tol=s.tol or 1e-4,
            seed=cfg.runtime.seed, dtype=dtype, callback=callback,
        )  # fmt: skip
    else:
        fit = solver.truncated_svd(
            matrix, k, method=s.method, oversample=s.oversample, power_iters=s.power_iters,
            tol=s.tol, max_iter=s.max_iter, center=s.center, seed=cfg.runtime.seed,
            dtype=dtype, callback=callback,
        )  # fmt: skip
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
        train=matrix if matrix.is_sparse else None,
        extra={
            "svd": {
                "explained_variance": fit.explained_variance,
                "explained_variance_ratio": fit.explained_variance_ratio,
                "shrink": np.float64(fit.shrink),  # the fold-in ridge of soft-impute
            }
        },
    )
