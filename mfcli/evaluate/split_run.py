"""One ``mfcli split`` run: read the entries, assign them, write the parts and manifests.

Layout of OUTDIR::

    train.<ext>  test.<ext>  [validation.<ext>]  manifest.json

and for ``kfold``::

    fold_0/{train.<ext>, test.<ext>, manifest.json}  ...  fold_{K-1}/...

Each fold directory is self-contained (its manifest describes that fold), so
``--fold i`` runs write exactly the ``fold_i`` directory of a full run and K
of them together give the full run's tree. Manifests hold nothing that
depends on the time or place of the run: the same input, parameters and
seed give byte-identical files and manifests.
"""

from __future__ import annotations

import os
import time

import numpy as np

from mfcli.evaluate import split as sp
from mfcli.evaluate.split_input import SplitInput, give_back_memory, mtx_size_line, read_input
from mfcli.evaluate.split_output import (
    check_target,
    staged_directory,
    write_h5_part,
    write_json,
    write_text_parts,
)
from mfcli.io.options import ReadOptions

MANIFEST = "manifest.json"
MANIFEST_FORMAT = "mfcli-split"
MANIFEST_VERSION = 1


def run_split(
    path: str,
    options: ReadOptions,
    params: sp.SplitParams,
    outdir: str,
    *,
    fold: int | None = None,
    force: bool = False,
) -> dict:
    """Split ``path`` into OUTDIR; returns the run's summary (what the CLI prints).

    Parameters
    ----------
    path : input file (``-`` is stdin; ``file.h5:/object`` names an HDF5 object)
    options : how to read it (format, separator, header, columns, dataset)
    params : the resolved split parameters
    outdir : output directory
    fold : kfold only: write this fold's directory alone
    force : replace an existing output directory that holds files

    Raises
    ------
    MfcliError subclasses: OutputError (73), InputMissingError (66),
    InputDataError (65), UsageError (2).
    """
    kfold = params.strategy == "kfold"
    single = kfold and fold is not None
    target = os.path.join(outdir, f"fold_{fold}") if single else outdir
    check_target(target, force=force, parent_may_be_missing=single)
    start = time.perf_counter()
    inp = read_input(path, options, need_time=params.strategy in sp.USES_TIME)
    entries = inp.entries
    if params.strategy in sp.TIMED and entries.keys is None:
        raise _no_time(inp, params.strategy)
    if params.strategy == "leave-k-out" and entries.keys is None:
        inp.notes.append("no time column: leave-k-out holds out k random entries per user")
    if kfold:
        groups = sp.assign_folds(entries, params)
        n_groups = params.folds
    else:
        groups = sp.assign(entries, params)
        n_groups = len(sp.PARTS)
    give_back_memory()  # the grouping's scratch, before the counts and the copy
    counts = sp.part_counts(groups, entries, n_groups)
    base = _base_manifest(inp, params, counts)
    reports = []
    with staged_directory(target, force=force, make_parent=single) as tmp:
        if not kfold:
            reports.append(_write_parts(inp, groups, counts, params, tmp, base))
        else:
            for i in [fold] if single else range(params.folds):
                here = tmp if single else os.path.join(tmp, f"fold_{i}")
                os.makedirs(here, exist_ok=True)
                reports.append(_write_fold(inp, groups, counts, i, here, base))
    seconds = time.perf_counter() - start
    return _summary(inp, params, outdir, fold, reports, base, seconds)


def _no_time(inp: SplitInput, strategy: str):
    from mfcli.errors import InputDataError

    if inp.format == "csv":
        hint = "name the time column with --columns user,item,rating,time"
    elif inp.format == "mtx":
        hint = "Matrix Market files have no time column"
    else:
        hint = "the matrix has no timestamps dataset beside its data"
    return InputDataError(
        f"the {strategy} strategy needs a time column and the input has none",
        path=inp.path,
        hint=hint + "; random, user, kfold and leave-k-out (random k) work without times",
    )


# ------------------------------------------------------------------ writing
def _write_parts(inp: SplitInput, part, counts, params, directory, base) -> dict:
    names = ["train", "test"]
    table = [0, -1, 1]  # TRAIN, VALIDATION, TEST -> output
    if params.validation_frac > 0:
        names = ["train", "validation", "test"]
        table = [0, 1, 2]
    entries = counts["entries"]
    users, items = counts["users_by_group"], counts["items_by_group"]
    per_output = {
        name: (entries[g], users[g], items[g])
        for name, g in zip(["train", "validation", "test"], range(3), strict=True)
        if name in names
    }
    files = _write(inp, part, np.asarray(table, dtype=np.int64), directory, names, per_output)
    train_users, train_items = users[sp.TRAIN], items[sp.TRAIN]
    unseen = {
        name: sp.unseen(users[g], items[g], train_users, train_items)
        for name, g in (("validation", sp.VALIDATION), ("test", sp.TEST))
        if name in names
    }
    manifest = dict(base)
    manifest["parts"] = _parts(names, per_output, files)
    manifest["unseen_in_train"] = unseen
    manifest["notes"] = list(inp.notes)
    write_json(os.path.join(directory, MANIFEST), manifest)
    return manifest


def _write_fold(inp: SplitInput, fold, counts, i: int, directory, base) -> dict:
    k = counts["entries"].shape[0]
    table = np.zeros(k, dtype=np.int64)
    table[i] = 1
    entries = counts["entries"]
    users, items = counts["users_by_group"], counts["items_by_group"]
    # train is every other fold: its per-id counts are the totals minus fold i's
    train_users = users.sum(axis=0) - users[i]
    train_items = items.sum(axis=0) - items[i]
    per_output = {
        "train": (int(entries.sum() - entries[i]), train_users, train_items),
        "test": (int(entries[i]), users[i], items[i]),
    }
    files = _write(inp, fold, table, directory, ["train", "test"], per_output)
    manifest = dict(base)
    manifest["fold"] = i
    manifest["parts"] = _parts(["train", "test"], per_output, files)
    manifest["unseen_in_train"] = {"test": sp.unseen(users[i], items[i], train_users, train_items)}
    manifest["notes"] = list(inp.notes)
    write_json(os.path.join(directory, MANIFEST), manifest)
    return manifest


def _write(inp: SplitInput, group, table, directory, names, per_output) -> list[dict]:
    """Write one file per name; returns ``{"file", "sha256", "bytes"}`` for each."""
    files = [name + inp.suffix for name in names]
    paths = [os.path.join(directory, f) for f in files]
    src = inp.source
    if inp.format == "h5":
        lookup = table[group]
        digests = [
            write_h5_part(p, src.matrix, inp.entries.users, lookup == o)
            for o, p in enumerate(paths)
        ]
    else:
        preambles = [src.preamble] * len(names)
        if src.size_line is not None:
            a, b = src.size_line
            preambles = [
                src.preamble[:a]
                + mtx_size_line(src.preamble[a:b], int(per_output[name][0]))
                + src.preamble[b:]
                for name in names
            ]
        digests = write_text_parts(src, group, table, paths, preambles)
    return [{"file": f, **d} for f, d in zip(files, digests, strict=True)]


# ---------------------------------------------------------------- manifest
def _base_manifest(inp: SplitInput, params, counts) -> dict:
    import mfcli

    sha, size = inp.digest.result()
    total_users = counts["users_by_group"].sum(axis=0)
    total_items = counts["items_by_group"].sum(axis=0)
    source = {
        "path": inp.path,
        "format": inp.format,
        "sha256": sha,
        "bytes": size,
        "entries": inp.entries.n,
        "users": int(np.count_nonzero(total_users)),
        "items": int(np.count_nonzero(total_items)),
        "columns": inp.columns,
    }
    out = {
        "format": MANIFEST_FORMAT,
        "format_version": MANIFEST_VERSION,
        "mfcli_version": mfcli.__version__,
        "command": "split",
        "strategy": params.strategy,
        "seed": int(params.seed),
        "parameters": sp.recorded_parameters(params),
        "input": source,
    }
    if params.strategy == "kfold":
        out["folds"] = int(params.folds)
    return out


def _parts(names, per_output, files) -> dict:
    out = {}
    for name, f in zip(names, files, strict=True):
        n, users_in, items_in = per_output[name]
        out[name] = {**sp.summarize(users_in, items_in, n), **f}
    return out


def _summary(inp, params, outdir, fold, reports, base, seconds) -> dict:
    summary = {
        "input": inp.path,
        "outdir": outdir,
        "format": inp.format,
        "strategy": params.strategy,
        "seed": int(params.seed),
        "parameters": base["parameters"],
        "entries": inp.entries.n,
        "input_sha256": base["input"]["sha256"],
    }
    if params.strategy != "kfold":
        report = reports[0]
        summary["parts"] = report["parts"]
        summary["unseen_in_train"] = report["unseen_in_train"]
        summary["files"] = [os.path.join(outdir, p["file"]) for p in report["parts"].values()]
        summary["files"].append(os.path.join(outdir, MANIFEST))
    else:
        summary["folds"] = []
        summary["files"] = []
        for r in reports:
            folder = os.path.join(outdir, f"fold_{r['fold']}")
            summary["folds"].append(
                {"fold": r["fold"], "parts": r["parts"], "unseen_in_train": r["unseen_in_train"]}
            )
            summary["files"] += [os.path.join(folder, p["file"]) for p in r["parts"].values()]
            summary["files"].append(os.path.join(folder, MANIFEST))
        if fold is not None:
            summary["fold"] = fold
    summary["notes"] = list(inp.notes)
    summary["seconds"] = round(seconds, 3)
    return summary
