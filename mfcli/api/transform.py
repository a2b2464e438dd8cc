"""`mfcli transform`: fold new rows into a fitted model."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from mfcli.config import TransformConfig


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

    model_path, out = cfg.transform.model, cfg.output.path
    if not model_path or not cfg.input.path:
        raise UsageError("give a model and the rows", hint="mfcli transform MODEL.h5 ROWS -o OUT")
    if not out:
        raise UsageError("no output file given", hint="use -o OUT.h5 or -o OUT.csv")
    fmt = write.output_format(out, "auto")
    write.check_output(out, force=cfg.output.force)
    result = read_result(model_path)
    fold = _FOLD_IN.get(result.method)
    if fold is None:
        raise UsageError(f"transform does not support {result.method} models yet")
    options = dataclasses.replace(cfg.read_options(), dtype="float64")
    rows = read_matrix(cfg.input.path, options)
    factors = result.factors
    n_model = factors["col"].shape[0]
    cols = map_labels(result.labels.get("col"), rows.col_labels, n_model, rows.shape[1])
    known = cols >= 0
    rows_in_model = _in_model_columns(rows, cols, n_model)
    coords, rule = fold(result, rows_in_model)
    k = coords.shape[1]
    names = [f"f{j}" for j in range(k)]
    projected = Matrix.from_dense(
        coords.astype(np.asarray(factors["row"]).dtype), row_labels=rows.row_labels,
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


def _fold_svd(result, rows) -> tuple[np.ndarray, str]:
    """SVD: projection onto V (minus the centering mean), or soft-impute's ridge."""
    from mfcli.solvers import svd as solver

    factors, biases = result.factors, result.biases
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
    return solver.fold_in(fit, rows), rule


def _fold_nmf(result, rows) -> tuple[np.ndarray, str]:
    """NMF: non-negative W rows for the new rows, H fixed, with the fit's loss and penalties."""
    from mfcli.solvers import nmf as solver

    n = _config_section(result, "nmf")
    loss, mask = n.get("loss", "frobenius"), n.get("mask", "none")
    coords = solver.fold_in(
        np.asarray(result.factors["col"]), rows, loss=loss, mask=mask,
        l1_w=float(n.get("l1_w", 0.0)), l2_w=float(n.get("l2_w", 0.0)),
    )  # fmt: skip
    where = "stored entries" if mask == "observed" else "all entries"
    return coords, f"non-negative {loss} fit on {where}, H fixed"


_FOLD_IN = {"svd": _fold_svd, "nmf": _fold_nmf}


def _config_section(result, name: str) -> dict:
    """The ``name`` section of the config stored in a result file ({} when absent)."""
    import yaml

    config = yaml.safe_load(result.config_yaml or "") or {}
    section = config.get(name) if isinstance(config, dict) else None
    return section if isinstance(section, dict) else {}


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
    section = _config_section(result, "svd")
    if "missing" in section:
        return bool(section["missing"])
    return "global" in result.biases  # files written without a config
