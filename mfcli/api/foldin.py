"""Fold-in: factors for new rows of a fitted model, without refitting.

One dispatch per method, shared by `mfcli transform` (the rows' coordinates)
and `mfcli recommend --from` (scores for users the model has not seen). Each
rule reads its settings from the config stored in the result file, so a row
is folded in the way the model was fitted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(eq=False)
class Folded:
    """New rows' factors from :func:`fold_in`.

    Attributes
    ----------
    coords : (n, k) float64, in the space of ``/factors/row`` (svd: U, not U s)
    rule : what was solved, in words (for summaries)
    row_bias : (n,) the rows' own biases when the method fits them (als with
        biases), else None
    """

    coords: np.ndarray
    rule: str
    row_bias: np.ndarray | None = None


def fold_in(result, rows, *, command: str = "transform") -> Folded:
    """Fold ``rows`` (already in the model's columns) into the model ``result``.

    Parameters
    ----------
    result : :class:`mfcli.io.results.Result` with factors, biases, config and extra
    rows : :class:`mfcli.data.Matrix` (n, n_model_cols), e.g. from :func:`in_model_columns`
    command : named in the error for a method without a fold-in rule

    Raises
    ------
    UsageError
        exit 2: the method has no fold-in rule (yet).
    """
    require(result.method, command)
    return _FOLD_IN[result.method](result, rows)


def require(method: str, command: str = "transform") -> None:
    """Raise UsageError (exit 2) unless ``method`` models can be folded into now."""
    from mfcli.errors import UsageError

    only = _ONLY_FOR.get(method)
    if (
        method not in _FOLD_IN
        or (only is not None and not command.startswith(only))
        or (method == "als" and _als_solver() is None)
    ):
        raise UsageError(f"{command} does not support {method} models yet")


def _als_solver():
    """``mfcli.solvers.als`` when it exists and has ``fold_in``, else None."""
    import importlib

    try:
        als = importlib.import_module("mfcli.solvers.als")
    except ModuleNotFoundError as exc:
        if exc.name != "mfcli.solvers.als":
            raise
        return None
    return als if hasattr(als, "fold_in") else None


def _fold_svd(result, rows) -> Folded:
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
    return Folded(solver.fold_in(fit, rows), rule)


def _fold_nmf(result, rows) -> Folded:
    """NMF: non-negative W rows for the new rows, H fixed, with the fit's loss and penalties."""
    from mfcli.solvers import nmf as solver

    n = config_section(result, "nmf")
    loss, mask = n.get("loss", "frobenius"), n.get("mask", "none")
    coords = solver.fold_in(
        np.asarray(result.factors["col"]), rows, loss=loss, mask=mask,
        l1_w=float(n.get("l1_w", 0.0)), l2_w=float(n.get("l2_w", 0.0)),
    )  # fmt: skip
    where = "stored entries" if mask == "observed" else "all entries"
    return Folded(coords, f"non-negative {loss} fit on {where}, H fixed")


# The keys of the stored `als` config section that als.fold_in takes.
_ALS_KEYS = ("implicit", "alpha", "confidence", "eps", "reg", "reg_scaling")


def _fold_als(result, rows) -> Folded:
    """ALS: one user half-step (ridge, or implicit confidence-weighted) with the items fixed."""
    solver = _als_solver()
    section = config_section(result, "als")
    kwargs = {key: section[key] for key in _ALS_KEYS if section.get(key) is not None}
    biases = result.biases
    coords, row_bias = solver.fold_in(
        np.asarray(result.factors["col"]), rows, global_bias=biases.get("global"),
        col_bias=biases.get("col"), **kwargs,
    )  # fmt: skip
    kind = "implicit confidence-weighted" if section.get("implicit") else "ridge"
    return Folded(
        np.asarray(coords), f"{kind} least squares, items fixed",
        None if row_bias is None else np.asarray(row_bias),
    )  # fmt: skip


def _fold_sgd(result, rows) -> Folded:
    """SGD: the ridge solution for (p_u, b_u) the fit's updates are stationary for, items fixed."""
    from mfcli.solvers import sgd as solver

    section = config_section(result, "sgd")
    stored = result.extra.get("sgd", {}) if isinstance(result.extra, dict) else {}
    biases = result.biases
    mu = biases.get("global", stored.get("global_mean", 0.0))
    coords, row_bias = solver.fold_in(
        np.asarray(result.factors["col"]), rows, global_bias=float(np.asarray(mu)),
        col_bias=biases.get("col"), reg=section.get("reg"), reg_bias=section.get("reg_bias"),
        reg_power=section.get("reg_power"),
    )  # fmt: skip
    what = "factors and bias" if row_bias is not None else "factors"
    return Folded(coords, f"ridge least squares ({what}), items fixed", row_bias)


_FOLD_IN = {"svd": _fold_svd, "nmf": _fold_nmf, "als": _fold_als, "sgd": _fold_sgd}
# Methods folded in by some commands only: an sgd user is its factors and its
# bias, and transform's output has no place for the bias yet.
_ONLY_FOR = {"sgd": ("recommend",)}


def config_section(result, name: str) -> dict:
    """The ``name`` section of the config stored in a result file ({} when absent)."""
    import yaml

    config = yaml.safe_load(result.config_yaml or "") or {}
    section = config.get(name) if isinstance(config, dict) else None
    return section if isinstance(section, dict) else {}


def in_model_columns(rows, cols: np.ndarray, n_model: int):
    """``rows`` re-indexed to the model's columns (unknown columns dropped).

    Parameters
    ----------
    rows : Matrix (n, m) read with its own column ids
    cols : (m,) model column of each of ``rows``' columns, ``-1`` when unknown
        (:func:`mfcli.evaluate.model.map_labels`)
    n_model : the model's number of columns

    Returns
    -------
    Matrix (n, n_model), keeping ``rows``' row labels
    """
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
    section = config_section(result, "svd")
    if "missing" in section:
        return bool(section["missing"])
    return "global" in result.biases  # files written without a config


# The names transform.py used before the move.
_config_section = config_section
_in_model_columns = in_model_columns
