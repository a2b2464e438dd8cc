"""Run an experiment: split, fit every parameter set, choose, evaluate, compare.

Layout of the output folder::

    manifest.json            every step: its key, outputs and their sha256, timings
    experiment.yaml          the experiment file as run
    split/                   train/validation/test (kfold: fold_i/train, fold_i/test)
    models/NAME/NN/model.h5  one result file per method, parameter set (and fold)
    results.json, results.csv   the comparison (one row per method)
    trials.csv               every parameter set with the score it was chosen on

A method with several parameter sets is scored on the validation part (or,
with a kfold split, on the held-out folds, averaged) by ``select``; the
chosen set's model (trained on train) is then scored on test. Only the
chosen set ever touches the test part.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from collections.abc import Callable
from typing import Any

from mfcli.experiment.spec import Candidate, Experiment, Method
from mfcli.experiment.steps import Manifest, step_key

Progress = Callable[[str], None]


def run_experiment(exp: Experiment, *, force: bool = False, progress: Progress | None = None):
    """Run ``exp`` into ``exp.output``; returns the comparison (what ``results.json`` holds).

    Raises
    ------
    MfcliError subclasses of the steps: a fit that fails stops the run (its
    finished steps stay recorded), except a diverging parameter set inside a
    search, which is recorded as failed and skipped.
    """
    from mfcli.errors import MfcliError, UsageError
    from mfcli.io.source import check_readable

    if exp.data == "-":
        raise UsageError("an experiment cannot read stdin", hint="name the data file")
    check_readable(exp.data)
    _make_folder(exp.output)
    say = progress or (lambda _line: None)
    manifest = Manifest(exp.output, os.path.abspath(exp.path))
    if force:
        manifest.previous = {}
    _copy_experiment(exp)
    start = time.perf_counter()
    folds = _split(exp, manifest, say)
    rows, trials = [], []
    for method in exp.methods:
        try:
            row, tried = _method(exp, method, folds, manifest, say)
        except MfcliError as exc:  # say which method failed; the run so far stays recorded
            exc.message = f"methods.{method.name} ({method.command}): {exc.message}"
            raise
        rows.append(row)
        trials += tried
    from mfcli.experiment.table import comparison, write_tables

    results = comparison(exp, rows)
    results["seconds"] = round(time.perf_counter() - start, 3)
    results["steps"] = _counts(manifest)
    write_tables(exp.output, results, trials)
    return results


# ------------------------------------------------------------------ split
def _split(exp: Experiment, manifest: Manifest, say: Progress) -> list[dict]:
    """The split step; returns per fold the train/validation/test paths and sha256."""
    from mfcli.evaluate.split import params_from_config, recorded_parameters
    from mfcli.io.results import sha256_file

    params = params_from_config(exp.split)
    key = step_key(
        "split",
        data=sha256_file(exp.data),
        read=exp.read,
        parameters=recorded_parameters(params),
        seed=params.seed,
    )
    old = manifest.fresh("split", key)
    if old is not None:
        say("split: unchanged, skipped")
        return manifest.keep("split", {**old, "status": "skipped"})["folds"]
    import dataclasses as dc

    from mfcli.evaluate.split_run import run_split

    options = dc.replace(exp.split.read_options(), dtype="float64")
    target = os.path.join(exp.output, "split")
    summary = run_split(exp.data, options, params, target, force=True)
    folds = []
    for parts in [f["parts"] for f in summary["folds"]] if exp.kfold else [summary["parts"]]:
        where = f"fold_{len(folds)}" if exp.kfold else ""
        folds.append(
            {
                name: {"path": os.path.join("split", where, p["file"]), "sha256": p["sha256"]}
                for name, p in parts.items()
            }
        )
    outputs = [os.path.relpath(f, exp.output) for f in summary["files"]]
    say(f"split: {params.strategy}, {summary['entries']} entries ({summary['seconds']:.2f} s)")
    manifest.record("split", key, outputs, status="ran", seconds=summary["seconds"], folds=folds)
    return folds


# ---------------------------------------------------------------- methods
def _method(exp, method: Method, folds, manifest, say) -> tuple[dict, list[dict]]:
    """Fit every parameter set on every fold, choose one, score it on test."""
    from mfcli.errors import NumericsError

    searching = len(method.candidates) > 1
    scored = []  # (candidate, fits per fold, choice score)
    trials = []
    for cand in method.candidates:
        try:
            fits = [_fit(exp, method, cand, i, fold, manifest, say) for i, fold in enumerate(folds)]
        except NumericsError as exc:
            if not searching:
                raise
            say(f"fit {_name(method, cand)}: failed ({exc.message}), left out of the search")
            trials.append(_trial(method, cand, None, "failed: " + exc.message))
            continue
        choice = None
        if searching:
            part = "test" if exp.kfold else "validation"
            values = [
                _eval(exp, method, cand, i, f, part, manifest, say) for i, f in enumerate(fits)
            ]
            choice = _mean([v.get(exp.select) for v in values])
        trials.append(_trial(method, cand, choice, "ok"))
        scored.append((cand, fits, choice))
    if not scored:
        raise NumericsError(
            f"methods.{method.name}: every parameter set diverged",
            hint="lower the learning rate or raise the regularisation",
        )
    cand, fits, choice = _best(exp, scored) if searching else scored[0]
    for t in trials:
        t["chosen"] = t["trial"] == cand.index
    tests = [_eval(exp, method, cand, i, f, "test", manifest, say) for i, f in enumerate(fits)]
    row = {
        "name": method.name,
        "method": method.command,
        "params": {**method.params, **cand.searched},
        "search": method.search,
        "trials": len(method.candidates),
        "chosen": cand.index,
        "selected_on": None if not searching else {exp.select: choice},
        "metrics": {m: _spread([t.get(m) for t in tests]) for m in exp.metrics.split(",")},
        "fit_seconds": _mean([f["seconds"] for f in fits]),
        "model": fits[0]["model"],
    }
    return row, trials


def _fit(exp, method: Method, cand: Candidate, i: int, fold: dict, manifest, say) -> dict:
    from mfcli.api import fit_als, fit_nmf, fit_sgd, fit_svd

    fitters = {"svd": fit_svd, "nmf": fit_nmf, "als": fit_als, "sgd": fit_sgd}
    rel = os.path.join("models", method.name, f"{cand.index:02d}")
    if exp.kfold:
        rel = os.path.join(rel, f"fold_{i}")
    rel = os.path.join(rel, "model.h5")
    path = os.path.join(exp.output, rel)
    cfg = cand.config
    cfg = dataclasses.replace(
        cfg,
        input=dataclasses.replace(cfg.input, path=os.path.join(exp.output, fold["train"]["path"])),
        output=dataclasses.replace(cfg.output, path=path, force=True),
    )
    step = "fit/" + rel[len("models/") : -len("/model.h5")]
    key = step_key("fit", command=method.command, config=_deciding(cfg),
                   train=fold["train"]["sha256"])  # fmt: skip
    old = manifest.fresh(step, key)
    label = _name(method, cand) + (f" fold {i}" if exp.kfold else "")
    if old is not None:
        say(f"fit {label}: unchanged, skipped")
        return {**manifest.keep(step, {**old, "status": "skipped"}), "step": step, "fold": fold}
    os.makedirs(os.path.dirname(path), exist_ok=True)
    start = time.perf_counter()
    _, summary = fitters[method.command](cfg)
    seconds = round(time.perf_counter() - start, 3)
    say(f"fit {label}: {seconds:.2f} s")
    entry = manifest.record(step, key, [rel], status="ran", seconds=seconds, model=rel,
                            params={**method.params, **cand.searched})  # fmt: skip
    return {**entry, "step": step, "fold": fold}


def _eval(exp, method, cand, i: int, fit: dict, part: str, manifest, say) -> dict:
    from mfcli.api import evaluate_files
    from mfcli.config import EvalConfig, resolve

    target = fit["fold"][part]
    step = f"eval/{fit['step'][len('fit/') :]}/{part}"
    key = step_key(
        "eval", fit=fit["key"], data=target["sha256"], metrics=exp.metrics,
        relevance_threshold=exp.relevance_threshold, cold_start=exp.cold_start,
    )  # fmt: skip
    old = manifest.fresh(step, key)
    if old is not None:
        return manifest.keep(step, {**old, "status": "skipped"})["values"]
    flags = {f"input.{k}": v for k, v in exp.read.items()}
    cfg = resolve(EvalConfig, explicit={
        **flags, "model_path": os.path.join(exp.output, fit["model"]),
        "test": os.path.join(exp.output, target["path"]), "metrics": exp.metrics,
        "relevance_threshold": exp.relevance_threshold, "cold_start": exp.cold_start,
    })  # fmt: skip
    report = evaluate_files(cfg)
    values = {k: (None if _nan(v) else float(v)) for k, v in report.values.items()}
    shown = ", ".join(f"{k} {v:.4f}" for k, v in values.items() if v is not None)
    label = _name(method, cand) + (f" fold {i}" if exp.kfold else "")
    say(f"eval {label} on {part}: {shown}")
    manifest.record(step, key, [], status="ran", part=part, values=values)
    return values


# ---------------------------------------------------------------- helpers
RUN_ONLY = ("threads", "scheduler", "checkpoint", "checkpoint_every")  # never change factors


def _deciding(cfg) -> dict:
    """The config without what never changes the factors: paths, threads, the scheduler."""
    d = cfg.to_dict()
    d["input"] = {k: v for k, v in d["input"].items() if k != "path"}
    d.pop("output", None)
    d["runtime"] = {k: v for k, v in d["runtime"].items() if k not in RUN_ONLY}
    return d


def _best(exp: Experiment, scored: list) -> tuple:
    """The parameter set with the best choice score (NaN last, ties to the first)."""

    def rank(item):
        value = item[2]
        if value is None:
            return (1, 0.0)
        return (0, value if exp.lower_is_better else -value)

    return min(scored, key=rank)


def _trial(method: Method, cand: Candidate, score, status: str) -> dict:
    return {"name": method.name, "trial": cand.index, "params": cand.searched,
            "score": score, "status": status}  # fmt: skip


def _name(method: Method, cand: Candidate) -> str:
    if len(method.candidates) == 1:
        return method.name
    shown = " ".join(f"{k}={v}" for k, v in cand.searched.items())
    return f"{method.name} #{cand.index:02d} ({shown})"


def _mean(values: list) -> float | None:
    kept = [v for v in values if v is not None and not _nan(v)]
    return sum(kept) / len(kept) if len(kept) == len(values) and kept else None


def _spread(values: list) -> dict:
    """Mean and (sample) standard deviation over folds; std is None for one fold."""
    mean = _mean(values)
    std = None
    if mean is not None and len(values) > 1:
        std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
    return {"mean": mean, "std": std, "folds": values}


def _nan(v: Any) -> bool:
    return isinstance(v, float) and math.isnan(v)


def _counts(manifest: Manifest) -> dict:
    out = {"ran": 0, "skipped": 0}
    for record in manifest.steps.values():
        out[record.get("status", "ran")] = out.get(record.get("status", "ran"), 0) + 1
    return out


def _make_folder(folder: str) -> None:
    from mfcli.errors import OutputError

    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise OutputError(
            f"cannot create the run folder: {exc.strerror or exc}", path=folder
        ) from None
    if not os.access(folder, os.W_OK):
        raise OutputError("run folder is not writable", path=folder)


def _copy_experiment(exp: Experiment) -> None:
    """``experiment.yaml`` in the run folder: the file as run, its paths made absolute,
    so ``mfcli run OUT/experiment.yaml`` repeats the run in place."""
    import yaml

    from mfcli.io.atomic import atomic_path

    raw = dict(exp.raw)
    raw["data"] = os.path.abspath(exp.data)
    raw["output"] = "."
    if exp.read:
        raw["input"] = {k: (os.path.abspath(v) if k.endswith("_labels") and v else v)
                        for k, v in exp.read.items()}  # fmt: skip
    header = f"# mfcli run: {os.path.abspath(exp.path)} as run (paths made absolute)\n"
    with atomic_path(os.path.join(exp.output, "experiment.yaml"), force=True) as tmp:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(header + yaml.safe_dump(raw, sort_keys=False, allow_unicode=True))
