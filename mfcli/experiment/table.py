"""The comparison of a run: ``results.json``, ``results.csv`` and ``trials.csv``."""

from __future__ import annotations

import csv
import io
import json
import os

from mfcli.experiment.spec import Experiment

RESULTS_FORMAT = "mfcli-run-results"


def comparison(exp: Experiment, rows: list[dict]) -> dict:
    """What ``results.json`` holds: the settings that make the rows comparable, and the rows."""
    s = exp.split.split
    return {
        "format": RESULTS_FORMAT,
        "format_version": 1,
        "experiment": exp.name,
        "data": exp.data,
        "output": exp.output,
        "split": s.strategy,
        "folds": exp.folds,
        "metrics": exp.metrics.split(","),
        "select": exp.select,
        "lower_is_better": [m for m in exp.metrics.split(",") if _lower(m)],
        "relevance_threshold": exp.relevance_threshold,
        "cold_start": exp.cold_start,
        "rows": rows,
    }


def write_tables(folder: str, results: dict, trials: list[dict]) -> None:
    """Write the three files atomically (each alone; a reader never sees half a file)."""
    _write(os.path.join(folder, "results.json"), json.dumps(results, indent=2) + "\n")
    _write(os.path.join(folder, "results.csv"), results_csv(results))
    _write(os.path.join(folder, "trials.csv"), trials_csv(trials, results["select"]))


def results_csv(results: dict) -> str:
    """One row per method: name, method, params, each metric (and its std over folds), fit s."""
    metrics = results["metrics"]
    kfold = results["folds"] > 1
    head = ["name", "method", "params"]
    for m in metrics:
        head += [m, f"{m}_std"] if kfold else [m]
    head += ["fit_seconds", "trials", "model"]
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(head)
    for r in results["rows"]:
        line = [r["name"], r["method"], params_text(r["params"])]
        for m in metrics:
            v = r["metrics"][m]
            line += [_num(v["mean"]), _num(v["std"])] if kfold else [_num(v["mean"])]
        line += [_num(r["fit_seconds"]), r["trials"], r["model"]]
        w.writerow(line)
    return out.getvalue()


def trials_csv(trials: list[dict], select: str) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["name", "trial", "params", select, "chosen", "status"])
    for t in trials:
        w.writerow([t["name"], t["trial"], params_text(t["params"]), _num(t["score"]),
                    int(bool(t.get("chosen"))), t["status"]])  # fmt: skip
    return out.getvalue()


def params_text(params: dict) -> str:
    """``rank=20 reg=0.05``: short, and the same in the table, the CSV and the log."""
    return " ".join(f"{k}={_value(v)}" for k, v in params.items())


def _value(v) -> str:
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def _num(v) -> str:
    return "" if v is None else repr(round(float(v), 6))


def _lower(metric: str) -> bool:
    from mfcli.experiment.spec import LOWER_IS_BETTER

    return metric.split("@")[0] in LOWER_IS_BETTER


def _write(path: str, text: str) -> None:
    from mfcli.io.atomic import atomic_path

    with atomic_path(path, force=True) as tmp:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
