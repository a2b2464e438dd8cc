"""Figures for `mfcli plot`: a result file's convergence (and SVD spectrum), a run's metrics.

Loading (:func:`load`) turns a path into plain data and raises the usual
exit-coded errors; drawing (:func:`result_figure`, :func:`run_figure`) takes
that data and returns a matplotlib ``Figure`` plus a JSON-able summary of the
panels; :func:`save_figure` writes it atomically. Figures are built with
``matplotlib.figure.Figure`` rather than pyplot, so nothing here touches a
GUI or global figure state; matplotlib is imported only inside functions.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mfcli.errors import InputDataError, InputMissingError, UsageError

FORMATS = ("png", "pdf", "svg")
RUN_TABLE = "results.json"
INSTALL_HINT = 'pip install "mfcli[plot]"'

# History series drawn on a log axis when all their values are positive.
LOSS_LIKE = ("loss", "objective", "error", "residual", "change", "rmse", "mae")
RATING_ERRORS = ("rmse", "mae")  # lower is better (mfcli.api.validation)
RANKING = ("precision", "recall", "ndcg", "map", "hit_rate", "auc", "coverage")
PANEL_INCHES = (4.8, 3.4)
NICE_NAMES = {
    "lr": "learning rate",
    "residual": "residual (largest relative)",
    "converged": "converged singular vectors",
    "change": "relative change",
}


@dataclass
class ResultData:
    """What the figure of one result file needs (small arrays only)."""

    path: str
    method: str
    k: int | None
    input_name: str | None
    history: dict[str, np.ndarray] = field(default_factory=dict)
    singular_values: np.ndarray | None = None
    explained_variance_ratio: np.ndarray | None = None
    best_iteration: int | None = None


@dataclass
class RunData:
    """The comparison table of a directory written by `mfcli run`."""

    path: str
    experiment: str
    folds: int
    metrics: list[str]
    rows: list[dict[str, Any]]
    lower: list[str] | None = None  # the table's own "lower_is_better", when it has one


# ---------------------------------------------------------------------- load
def load(path: str) -> ResultData | RunData:
    """A result file, a `mfcli run` directory, or that directory's results.json.

    Raises
    ------
    InputMissingError
        exit 66: ``path`` does not exist or cannot be read.
    InputDataError
        exit 65: not a result file, a directory without results.json, or a
        results.json of the wrong shape.
    """
    if not os.path.exists(path):
        raise InputMissingError("no such file or directory", path=path, hint="check the path")
    if os.path.isdir(path):
        table = os.path.join(path, RUN_TABLE)
        if not os.path.isfile(table):
            raise InputDataError(
                f"directory has no {RUN_TABLE}",
                path=path,
                hint="give a result file (.h5) or a directory written by 'mfcli run'",
            )
        return load_run(table)
    if os.path.basename(path) == RUN_TABLE:
        return load_run(path)
    return load_result(path)


def load_result(path: str) -> ResultData:
    """The history, rank, input name and SVD spectrum of a result file."""
    from mfcli.io.results import read_result

    result = read_result(path, load=("provenance", "history", "extra"))
    k, s = _factor_shapes(path)
    extra = result.extra.get(result.method, {})
    extra = extra if isinstance(extra, dict) else {}
    ratio = extra.get("explained_variance_ratio")
    best = extra.get("best_iteration", extra.get("best_epoch"))
    input_path = result.provenance.get("input_path")
    return ResultData(
        path=path,
        method=result.method,
        k=k,
        input_name=_input_name(input_path, result.provenance.get("input_dataset")),
        history={n: np.asarray(v) for n, v in result.history.items() if np.ndim(v) == 1},
        singular_values=None if s is None else np.asarray(s, dtype=np.float64),
        explained_variance_ratio=None if ratio is None else np.asarray(ratio, dtype=np.float64),
        best_iteration=None if best is None else int(best),
    )


def _factor_shapes(path: str) -> tuple[int | None, np.ndarray | None]:
    """The rank and the singular values, without reading the factor matrices."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            factors = f.get("factors")
            if factors is None:
                return None, None
            s = factors["singular_values"][()] if "singular_values" in factors else None
            if "row" in factors and len(factors["row"].shape) == 2:
                return int(factors["row"].shape[1]), s
            return (None if s is None else int(np.shape(s)[0])), s
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise InputDataError(f"damaged mfcli result file ({exc})", path=path) from None


def _input_name(input_path: Any, dataset: Any) -> str | None:
    """``ratings.csv`` or ``data.h5:/ratings``: the input's file name, not its directory."""
    if not input_path:
        return None
    text = str(input_path)
    if text == "-":
        return "stdin"
    obj = None
    if ":/" in text:
        text, _, obj = text.rpartition(":/")
        obj = "/" + obj
    name = os.path.basename(text.rstrip("/")) or text
    obj = obj or dataset
    return f"{name}:{obj}" if obj else name


def load_run(path: str) -> RunData:
    """Parse and check a results.json written by `mfcli run`."""
    try:
        with open(path, encoding="utf-8") as fh:
            table = json.load(fh)
    except OSError as exc:
        raise InputMissingError(f"cannot read: {exc.strerror or exc}", path=path) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputDataError(f"not valid JSON ({exc})", path=path) from None
    rows = table.get("rows") if isinstance(table, dict) else None
    if not isinstance(rows, list) or not all(
        isinstance(r, dict) and isinstance(r.get("metrics", {}), dict) for r in rows
    ):
        raise InputDataError(
            "not a run table: expected an object with a list of 'rows'",
            path=path,
            hint="written by 'mfcli run'",
        )
    if not rows:
        raise InputDataError("run table has no rows", path=path)
    metrics = table.get("metrics")
    if not isinstance(metrics, list) or not metrics:
        metrics = list(dict.fromkeys(m for r in rows for m in r.get("metrics", {})))
    folds = table.get("folds")
    lower = table.get("lower_is_better")
    return RunData(
        path=path,
        experiment=str(table.get("experiment") or os.path.basename(os.path.dirname(path))),
        folds=int(folds) if isinstance(folds, (int, float)) and folds else 1,
        metrics=[str(m) for m in metrics],
        rows=rows,
        lower=[str(m) for m in lower] if isinstance(lower, list) else None,
    )


# ------------------------------------------------------------------ figures
def lower_is_better(metric: str) -> bool:
    """rmse, mae (and time) go down; ranking metrics go up."""
    base = _base(metric)
    return base in RATING_ERRORS or base in ("loss", "fit_seconds", "seconds")


def _base(name: str) -> str:
    base = name.split("@")[0].lower()
    for prefix in ("train_", "val_", "validation_", "test_"):
        if base.startswith(prefix):
            base = base[len(prefix) :]
    return base


def _history_groups(names: list[str]) -> list[tuple[str, list[str]]]:
    """Series that share a unit share a panel; the rest get one panel each."""
    groups: dict[str, list[str]] = {}
    for name in names:
        base = _base(name)
        if base in RATING_ERRORS:
            key = "rating error"
        elif base in RANKING:
            key = "ranking metrics"
        else:
            key = name
        groups.setdefault(key, []).append(name)
    return list(groups.items())


def result_figure(data: ResultData, *, x: str = "iteration", size=None):
    """Convergence panels (and for SVD the spectrum); returns ``(figure, summary)``.

    ``x`` is ``"iteration"`` or ``"seconds"`` (the ``/history/seconds`` series).
    Raises InputDataError (exit 65) when there is nothing to draw.
    """
    xs, xlabel = _x_axis(data, x)
    series, same, skipped = _plottable(data.history)
    panels: list[dict[str, Any]] = []
    draws = []
    for title, names in _history_groups(series):
        values = [data.history[n].astype(np.float64) for n in names]
        log = any(_base(n) in LOSS_LIKE for n in names) and _positive(values)
        labels = {n: " = ".join([n, *same.get(n, [])]) for n in names}
        panels.append(
            {"name": " = ".join([title, *same.get(title, [])]), "kind": "history",
             "series": [n for n in names for n in (n, *same.get(n, []))], "log_y": log}
        )  # fmt: skip
        draws.append(
            lambda ax, labels=labels, log=log: _draw_history(ax, data, labels, xs, xlabel, log)
        )
    s = data.singular_values
    if s is not None and s.size:
        log = _positive([s])
        panels.append(
            {"name": "singular values", "kind": "spectrum", "series": ["singular_values"],
             "log_y": log}
        )  # fmt: skip
        draws.append(lambda ax: _draw_spectrum(ax, s, log))
        share, stored = _variance_share(data)
        label = "explained_variance_ratio" if stored else "share of sum of s^2"
        panels.append(
            {"name": "explained variance", "kind": "explained_variance", "series": [label],
             "of_total": stored, "log_y": False}
        )  # fmt: skip
        draws.append(lambda ax: _draw_variance(ax, share, stored))
    if not panels:
        raise InputDataError(
            "nothing to plot: no per-iteration history and no singular values", path=data.path
        )
    title = " | ".join(
        part
        for part in (
            data.method,
            data.input_name,
            None if data.k is None else f"k={data.k}",
        )
        if part
    )
    fig = _grid(len(panels), size)
    fig.suptitle(title)
    for ax, draw in zip(fig.axes, draws, strict=True):
        draw(ax)
    summary = {
        "kind": "result",
        "method": data.method,
        "fit_input": data.input_name,
        "k": data.k,
        "x": x,
        "panels": panels,
        "skipped": skipped,
    }
    return fig, summary


def _plottable(history: dict[str, np.ndarray]):
    """History series to draw, series equal to an earlier one, and those not drawn.

    ``seconds`` is the clock (the x axis with --x seconds), not a series; a
    series with the same values as an earlier one (sgd's ``loss`` is its
    ``train_rmse``) is drawn once and named after both.
    """
    series: list[str] = []
    same: dict[str, list[str]] = {}
    skipped: list[str] = []
    names = []
    for name, values in history.items():
        if name == "seconds" or not values.size or not np.issubdtype(values.dtype, np.number):
            skipped.append(name)
        else:
            names.append(name)
    # A series with a known unit (rmse, ndcg@k ...) names a pair of equal ones, so
    # sgd's training rmse sits beside a validation rmse.
    known = [n for n in names if _base(n) in RATING_ERRORS + RANKING]
    for name in known + [n for n in names if n not in known]:
        twin = next(
            (n for n in series if np.array_equal(history[n], history[name], equal_nan=True)),
            None,
        )
        if twin is None:
            series.append(name)
        else:
            same.setdefault(twin, []).append(name)
    series.sort(key=names.index)
    return series, same, skipped


def _x_axis(data: ResultData, x: str):
    if x == "iteration":
        return None, "iteration"
    if x != "seconds":
        raise UsageError(f"invalid --x {x!r}", hint="use iteration or seconds")
    seconds = data.history.get("seconds")
    if seconds is None or not seconds.size:
        raise InputDataError(
            "no /history/seconds to use as x axis", path=data.path, hint="use --x iteration"
        )
    return np.asarray(seconds, dtype=np.float64), "seconds"


def _positive(arrays) -> bool:
    finite = [a[np.isfinite(a)] for a in arrays]
    return any(f.size for f in finite) and all(bool(np.all(f > 0)) for f in finite)


def _variance_share(data: ResultData) -> tuple[np.ndarray, bool]:
    """The stored share of total variance, else s^2 over the k computed (and say so)."""
    s = data.singular_values
    ratio = data.explained_variance_ratio
    if ratio is not None and ratio.shape == s.shape and np.all(np.isfinite(ratio)):
        return ratio, True
    s2 = s**2
    total = float(s2.sum())
    return (s2 / total if total > 0 else np.zeros_like(s2)), False


def _grid(n: int, size):
    from matplotlib.figure import Figure

    ncols = n if n <= 3 else 2 if n == 4 else 3
    nrows = math.ceil(n / ncols)
    width, height = size or (None, None)  # inches; None: by the number of panels
    width = width or PANEL_INCHES[0] * ncols
    height = height or PANEL_INCHES[1] * nrows + 0.5
    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in axes[n:]:
        fig.delaxes(ax)
    return fig


def _integer_x(ax) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _log_y(ax, arrays) -> None:
    """Log scale; plain number labels when the data spans less than a decade."""
    from matplotlib.ticker import FuncFormatter

    ax.set_yscale("log")
    ax.set_ylabel("log scale", fontsize=8, color="0.4")
    finite = np.concatenate([a[np.isfinite(a)] for a in arrays])
    if finite.size and finite.max() / finite.min() < 10:
        # Under a decade there is no power of ten to label: label the minor ticks.
        plain = FuncFormatter(lambda v, _: _tick(v))
        ax.yaxis.set_major_formatter(plain)
        ax.yaxis.set_minor_formatter(plain)


def _tick(v: float) -> str:
    return f"{v:.4g}" if 1e-3 <= abs(v) < 1e5 else f"{v:.3g}"


def _draw_history(ax, data: ResultData, labels: dict[str, str], xs, xlabel, log) -> None:
    arrays = []
    for name, label in labels.items():
        y = data.history[name].astype(np.float64)
        x = np.arange(1, y.size + 1) if xs is None else xs[: y.size]
        y = y[: x.size]
        arrays.append(y)
        ax.plot(x, y, marker="o" if y.size <= 30 else None, ms=3, label=label)
    if log:
        _log_y(ax, arrays)
    best = data.best_iteration
    if best and xs is None and best < max(a.size for a in arrays):
        ax.axvline(best, color="0.5", ls=":", lw=1, label=f"kept ({best})")
    title = ", ".join(labels.values())
    title = NICE_NAMES.get(title, title)
    direction = _direction(list(labels))
    ax.set_title(title + (f" ({direction})" if direction else ""), fontsize=10)
    ax.set_xlabel(xlabel)
    if xs is None:
        _integer_x(ax)
    if not log and all(data.history[n].dtype.kind in "iub" for n in labels):
        from matplotlib.ticker import MaxNLocator

        ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # counts: rank, converged
        lo, hi = min(float(np.min(a)) for a in arrays), max(float(np.max(a)) for a in arrays)
        if hi - lo < 2:  # a near-constant count: show the integers around it
            ax.set_ylim(lo - 1, hi + 1)
    ax.grid(True, which="major", alpha=0.3)
    if len(ax.get_legend_handles_labels()[1]) > 1:
        ax.legend(fontsize=8)


def _direction(names) -> str | None:
    bases = {_base(n) for n in names}
    if bases <= set(RATING_ERRORS):
        return "lower is better"
    if bases <= set(RANKING):
        return "higher is better"
    return None


def _draw_spectrum(ax, s: np.ndarray, log: bool) -> None:
    idx = np.arange(1, s.size + 1)
    ax.plot(idx, s, marker="o", ms=3)
    if log:
        _log_y(ax, [s])
    ax.set_title("singular values", fontsize=10)
    ax.set_xlabel("component")

    _integer_x(ax)
    ax.grid(True, which="major", alpha=0.3)


def _draw_variance(ax, share: np.ndarray, stored: bool) -> None:
    from matplotlib.ticker import PercentFormatter

    idx = np.arange(1, share.size + 1)
    ax.bar(idx, share, color="C0", alpha=0.6, label="per component")
    cumulative = np.cumsum(share)
    ax.plot(idx, cumulative, color="C1", marker="o", ms=3, label="cumulative")
    top = float(cumulative[-1]) if cumulative.size else 0.0
    ax.annotate(
        f"{top:.1%}", (idx[-1], top), textcoords="offset points", xytext=(0, 5),
        ha="center", fontsize=8, color="C1",
    )  # fmt: skip
    # Up to 100% once half is explained; beyond it when the shares add up to more
    # (soft-impute's singular values are not bounded by the stored entries' variance).
    ax.set_ylim(0, max(1.0 if top > 0.5 else top * 1.2, top * 1.12, 1e-12))
    if top > 1:
        ax.axhline(1.0, color="0.4", ls="--", lw=0.8)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    if stored:
        ax.set_title("explained variance (share of total)", fontsize=10)
    else:
        ax.set_title(f"share of sum of s² over the {share.size} computed", fontsize=10)
    ax.set_xlabel("component")
    _integer_x(ax)
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="center right")


def run_figure(data: RunData, *, size=None):
    """One bar panel per metric (and fit seconds), one bar per row; ``(figure, summary)``."""
    names = [
        str(r.get("name") or r.get("method") or f"row {i + 1}") for i, r in enumerate(data.rows)
    ]
    columns = list(data.metrics)
    if any(isinstance(r.get("fit_seconds"), (int, float)) for r in data.rows):
        columns.append("fit_seconds")
    fig = _grid(len(columns), size)
    panels = []
    for ax, metric in zip(fig.axes, columns, strict=True):
        means, stds = _column(data, metric)
        lower = lower_is_better(metric)
        if data.lower is not None and metric in data.metrics:
            lower = metric in data.lower
        _draw_bars(ax, names, means, stds, metric, lower)
        panels.append(
            {"name": metric, "kind": "bars", "series": names,
             "lower_is_better": lower,
             "values": [None if math.isnan(m) else m for m in means]}
        )  # fmt: skip
    folds = f"{data.folds} folds, mean ± std" if data.folds > 1 else "1 fold"
    fig.suptitle(f"{data.experiment}: {len(names)} runs, {folds}")
    summary = {
        "kind": "run",
        "experiment": data.experiment,
        "folds": data.folds,
        "rows": names,
        "panels": panels,
    }
    return fig, summary


def _column(data: RunData, metric: str) -> tuple[list[float], list[float]]:
    means, stds = [], []
    for row in data.rows:
        if metric == "fit_seconds":
            cell: Any = {"mean": row.get("fit_seconds")}
        else:
            cell = row.get("metrics", {}).get(metric)
        if not isinstance(cell, dict):
            cell = {"mean": cell}
        means.append(_number(cell.get("mean")))
        stds.append(_number(cell.get("std")) if data.folds > 1 else math.nan)
    return means, stds


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return math.nan
    return float(value)


def _draw_bars(ax, names, means, stds, metric: str, lower: bool) -> None:
    idx = np.arange(len(names))
    heights = [0.0 if math.isnan(m) else m for m in means]
    bars = ax.bar(
        idx, heights, yerr=None if all(math.isnan(e) for e in stds) else stds, capsize=4,
        color=[f"C{i % 10}" for i in idx], alpha=0.8,
    )  # fmt: skip
    labels = ["n/a" if math.isnan(m) else f"{m:.4g}" for m in means]
    ax.bar_label(bars, labels=labels, padding=3, fontsize=8)
    ax.margins(y=0.15)
    arrow = "lower is better" if lower else "higher is better"
    ax.set_title(f"{metric} ({arrow})", fontsize=10)
    ax.set_xticks(idx)
    long = sum(len(n) for n in names) > 30
    ax.set_xticklabels(names, rotation=30 if long else 0, ha="right" if long else "center")
    ax.grid(True, axis="y", alpha=0.3)
    ax.set_axisbelow(True)


# --------------------------------------------------------------------- save
def output_format(path: str) -> str:
    """png, pdf or svg from the output's suffix; UsageError (exit 2) otherwise."""
    suffix = os.path.splitext(path)[1].lower().lstrip(".")
    if suffix not in FORMATS:
        shown = f"'.{suffix}'" if suffix else "no suffix"
        raise UsageError(
            f"cannot tell the figure format from {shown}",
            path=path,
            hint="name the output .png, .pdf or .svg",
        )
    return suffix


def require_matplotlib() -> None:
    """Import matplotlib on the headless Agg backend; UsageError (exit 2) when missing."""
    try:
        import matplotlib
    except ImportError:
        raise UsageError("matplotlib is not installed", hint=INSTALL_HINT) from None
    matplotlib.use("Agg")


def save_figure(fig, path: str, *, dpi: float | None = None, force: bool = False) -> None:
    """Write ``fig`` to ``path`` atomically (temp file beside it, then rename)."""
    import matplotlib

    from mfcli.io.atomic import atomic_path

    fmt = output_format(path)
    # A fixed salt makes the SVG's element ids (random by default) reproducible.
    with matplotlib.rc_context({"svg.hashsalt": "mfcli"}), atomic_path(path, force=force) as tmp:
        fig.savefig(tmp, format=fmt, dpi=dpi or "figure", metadata=_metadata(fmt))


def _metadata(fmt: str) -> dict[str, Any]:
    # No creation dates: the same result gives the same figure bytes.
    if fmt == "png":
        return {"Software": None}
    if fmt == "pdf":
        return {"CreationDate": None, "ModDate": None}
    return {"Date": None}
