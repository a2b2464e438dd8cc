"""The one place that chains reading, computing and writing for the commands.

The CLI resolves a config and calls one function here; nothing here parses
options or prints.
"""

from __future__ import annotations

import dataclasses
import os
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from mfcli.config import EvalConfig, SvdConfig, TransformConfig
    from mfcli.evaluate.metrics import EvalReport
    from mfcli.io.results import Result


def evaluate_files(cfg: EvalConfig) -> EvalReport:
    """Score the result file ``cfg.eval.model`` on the test file ``cfg.input.path``.

    The test (and ``cfg.eval.train``, when given) are read with the config's
    input options; their ids are matched to the model's labels. With
    ``cfg.eval.write`` the values go to the model's ``/metrics`` together with
    what they were measured on.

    Raises
    ------
    UsageError : exit 2, no model or test file
    InputMissingError, InputDataError : exit 66 / 65, unreadable or invalid files
    """
    from mfcli.errors import UsageError
    from mfcli.evaluate.metrics import evaluate
    from mfcli.io import read_matrix
    from mfcli.io.results import read_result, record_metrics, sha256_file

    e = cfg.eval
    if not e.model:
        raise UsageError("no model given", hint="mfcli eval MODEL.h5 TEST")
    if not cfg.input.path:
        raise UsageError("no test file given", hint="mfcli eval MODEL.h5 TEST")
    result = read_result(e.model)
    # held-out values are compared in float64, whatever the model's dtype
    options = dataclasses.replace(cfg.read_options(), dtype="float64")
    test = read_matrix(cfg.input.path, options)
    train = read_matrix(e.train, options) if e.train else None
    report = evaluate(
        result,
        test,
        train,
        metrics=e.metrics,
        relevance_threshold=e.relevance_threshold,
        cold_start=e.cold_start,
    )
    if e.write:
        record_metrics(e.model, report.values, _measured_on(cfg, report, sha256_file))
    return report


def _measured_on(cfg: EvalConfig, report: EvalReport, sha256_file) -> dict:
    """The ``/metrics`` split attributes: which files, settings and counts."""
    e = cfg.eval
    out = {
        "test": os.fspath(cfg.input.path),
        "train": os.fspath(e.train) if e.train else "model /train",
        "cold_start": e.cold_start,
        "entries": report.entries,
        "users": report.users,
        "unseen_users": report.unseen_users,
        "unseen_items": report.unseen_items,
    }
    if cfg.input.path != "-":
        out["test_sha256"] = sha256_file(cfg.input.path)
    if e.relevance_threshold is not None:
        out["relevance_threshold"] = e.relevance_threshold
    if report.ranking_users is not None:
        out["ranking_users"] = report.ranking_users
    return out


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
    result.provenance = _provenance(cfg, matrix, threads.n, timer.elapsed)
    _write(result, cfg)
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
        labels=_labels(matrix),
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


def _labels(matrix) -> dict:
    out = {}
    if matrix.row_labels is not None:
        out["row"] = np.asarray(matrix.row_labels)
    if matrix.col_labels is not None:
        out["col"] = np.asarray(matrix.col_labels)
    return out


def _provenance(cfg, matrix, threads: int, elapsed: float) -> dict:
    from mfcli.io.results import provenance
    from mfcli.runtime import peak_rss_bytes

    return provenance(
        cfg.input.path, matrix, seed=cfg.runtime.seed, threads=threads, elapsed_s=elapsed,
        peak_rss_bytes=peak_rss_bytes(),
    )  # fmt: skip


def _write(result: Result, cfg) -> None:
    from mfcli.io.results import write_result

    write_result(result, cfg.output.path, force=cfg.output.force)


def transform_rows(cfg: TransformConfig) -> dict:
    """Fold the rows of ``cfg.input.path`` into the model ``cfg.transform.model``.

    The rows' columns are matched to the model's by label (or position when
    neither has labels); columns the model does not know are left out and
    counted. Writes ``cfg.output.path``: HDF5 (``/projections`` with
    ``/labels/row``) or CSV/TSV (row label, then one column per factor).

    Returns
    -------
    dict : summary (rows, k, rule used, unknown columns, output path)
    """
    from mfcli.data import Matrix
    from mfcli.errors import UsageError
    from mfcli.evaluate.model import map_labels
    from mfcli.io import read_matrix, write
    from mfcli.io.results import read_result
    from mfcli.solvers import svd as solver

    model_path, out = cfg.transform.model, cfg.output.path
    if not model_path or not cfg.input.path:
        raise UsageError("give a model and the rows", hint="mfcli transform MODEL.h5 ROWS -o OUT")
    if not out:
        raise UsageError("no output file given", hint="use -o OUT.h5 or -o OUT.csv")
    fmt = write.output_format(out, "auto")
    write.check_output(out, force=cfg.output.force)
    result = read_result(model_path)
    if result.method != "svd":
        raise UsageError(f"transform does not support {result.method} models yet")
    options = dataclasses.replace(cfg.read_options(), dtype="float64")
    rows = read_matrix(cfg.input.path, options)
    factors, biases = result.factors, result.biases
    n_model = factors["col"].shape[0]
    cols = map_labels(result.labels.get("col"), rows.col_labels, n_model, rows.shape[1])
    known = cols >= 0
    rows_in_model = _in_model_columns(rows, cols, n_model)
    missing = _fitted_missing(result)
    stored = result.extra.get("svd", {})
    fit = solver.SVDFit(
        U=factors["row"], s=np.asarray(factors["singular_values"], dtype=np.float64),
        V=factors["col"], mean=None if missing else biases.get("col"),
        explained_variance=np.zeros(0), explained_variance_ratio=np.zeros(0),
        method="soft-impute" if missing else "stored", offset=float(biases.get("global", 0.0)),
        shrink=float(np.asarray(stored.get("shrink", 0.0))),
    )  # fmt: skip
    rule = "observed least squares" if missing else "projection"
    coords = solver.fold_in(fit, rows_in_model)
    k = coords.shape[1]
    names = [f"f{j}" for j in range(k)]
    projected = Matrix.from_dense(
        coords.astype(factors["row"].dtype), row_labels=rows.row_labels,
        col_labels=np.asarray(names),
    )  # fmt: skip
    if fmt == "h5":
        write.write_h5_dense(out, projected, name="projections", force=cfg.output.force)
    elif fmt in ("csv", "tsv"):
        write.write_dense_csv(
            out, projected, sep="\t" if fmt == "tsv" else ",", header=True,
            row_label_name="row", force=cfg.output.force,
        )  # fmt: skip
    else:
        raise UsageError(f"transform writes .h5, .csv or .tsv, not {fmt}")
    return {
        "path": out,
        "model": model_path,
        "method": result.method,
        "rule": rule,
        "rows": int(rows.shape[0]),
        "k": int(k),
        "columns_matched": int(known.sum()),
        "columns_unknown": int((~known).sum()),
    }


def _in_model_columns(rows, cols: np.ndarray, n_model: int):
    """``rows`` re-indexed to the model's columns (unknown columns dropped)."""
    from mfcli.data import Matrix
    from mfcli.evaluate.model import entries

    r, c, v = entries(rows)
    keep = cols[c] >= 0
    if not rows.is_sparse and keep.all() and np.array_equal(cols, np.arange(n_model)):
        return rows
    return Matrix.from_coo(
        r[keep], cols[c[keep]], v[keep], (rows.shape[0], n_model), duplicates="sum",
        row_labels=rows.row_labels,
    )  # fmt: skip


def _fitted_missing(result) -> bool:
    """Was the model fitted to the stored entries only (``svd --missing``)?"""
    import yaml

    config = yaml.safe_load(result.config_yaml or "") or {}
    section = config.get("svd") if isinstance(config, dict) else None
    if isinstance(section, dict) and "missing" in section:
        return bool(section["missing"])
    return "global" in result.biases  # files written without a config
