"""Splitting a ratings CSV into train/test files: mfcli split vs pandas."""

from __future__ import annotations

from benchmarks.harness import Measurement, Scenario, Target, Tool

NAME = "split"
GROUP = "split"
TITLE = "Split a ratings CSV into train/test files (user,item,rating,timestamp)"
ABOUT = (
    "The `read-csv` ratings files (header line, integer ids, unix timestamps). Each tool reads "
    "the CSV and writes train and test files of the same format into a fresh directory on the "
    "same disk. `mfcli split` is the library call behind the CLI (`mfcli.evaluate.split_run."
    "run_split`): it scans the file for users, items and times, assigns every line and copies "
    "the lines byte for byte, with the sha256 of input and outputs and the manifest; shown for "
    "`random` (20% test), `temporal --per-user --validation-frac 0.1` (a per-user sort by time, "
    "three files) and `kfold --fold 0` (one array job of a 5-fold split). `pandas` reads with "
    "the C engine, draws 20% with `DataFrame.sample` and writes both parts with `to_csv` (no "
    "hashes). Time is the call in a fresh process (imports excluded, numba's cache warm); "
    "*warm* a second call in the process. *Input arrays* are what `mfcli.io.read_matrix` holds "
    "for the same file (CSR with int32 indices, float64 values, int64 timestamps, labels)."
)
RANDOM = "mfcli split --strategy random"
SIZES = {
    True: [("1M rows", 6040, 3706, 1_000_000)],
    False: [("20M rows", 138_493, 26_744, 20_000_000)],
}
HERE = "benchmarks.cases.split"
MIB = 1024 * 1024
# tool name -> (child function, split parameters)
STRATEGIES = {
    RANDOM: ("mfcli_random", {"strategy": "random"}),
    "mfcli split --strategy temporal --per-user --validation-frac 0.1": (
        "mfcli_temporal",
        {"strategy": "temporal", "per_user": True, "validation_frac": 0.1},
    ),
    "mfcli split --strategy kfold --fold 0": ("mfcli_kfold", {"strategy": "kfold", "fold": 0}),
}
MAX_SECONDS = 30.0
MAX_MEMORY = 3.0


def scenarios(quick: bool) -> list[Scenario]:
    out = []
    for label, users, items, nnz in SIZES[quick]:
        spec = {
            "kind": "ratings", "name": f"{nnz}", "users": users, "items": items, "nnz": nnz,
            "step": 1.0, "seed": 1, "format": "csv",
            "names": ["user", "item", "rating", "timestamp"],
        }  # fmt: skip
        tools = [
            Tool(name, func=f"{HERE}:{func}", setup=f"{HERE}:mfcli_setup", peer=False, warm=True)
            for name, (func, _) in STRATEGIES.items()
        ]  # fmt: skip
        tools.append(
            Tool("pandas read_csv + sample + to_csv", func=f"{HERE}:pandas_split",
                 setup=f"{HERE}:pandas_setup", warm=True, note="values re-formatted, no hashes")
        )  # fmt: skip
        targets = []
        for name in STRATEGIES:
            targets += [time_limit(name, MAX_SECONDS), memory_limit(name, MAX_MEMORY)]
        out.append(
            Scenario(
                label=f"{label} ({users:,} users x {items:,} items)",
                data=spec,
                tools=tools,
                targets=targets,
            )
        )
    return out


def time_limit(tool: str, seconds: float) -> Target:
    def check(results: dict[str, Measurement]):
        m = results.get(tool)
        if m is None or not m.ok:
            return None, "not measured"
        return m.seconds <= seconds, f"{m.seconds:.2f} s (warm {m.warm_seconds or 0:.2f} s)"

    return Target(f"{tool} in at most {seconds:g} s", check)


def memory_limit(tool: str, ratio: float) -> Target:
    def check(results: dict[str, Measurement]):
        m = results.get(tool)
        if m is None or not m.ok or m.rss_above_base is None or "input_bytes" not in m.info:
            return None, "not measured"
        arrays = m.info["input_bytes"]
        r = m.rss_above_base / arrays
        return r <= ratio, (
            f"{r:.2f}x ({m.rss_above_base / MIB:,.0f} MiB above the {m.base_rss / MIB:,.0f} MiB "
            f"baseline; input arrays {arrays / MIB:,.0f} MiB)"
        )

    return Target(f"{tool} peak RSS <= {ratio:g}x the input arrays", check)


# ------------------------------------------------------------ child side


def _fresh_dir() -> str:
    import tempfile
    from pathlib import Path

    work = Path(__file__).resolve().parent.parent / "_work"
    work.mkdir(parents=True, exist_ok=True)
    return tempfile.mkdtemp(prefix="split-", dir=work)


def mfcli_setup(args: dict) -> None:
    import mfcli.evaluate.split_run  # noqa: F401 - the command and its numba kernels
    import mfcli.io.csv  # noqa: F401


def mfcli_random(args: dict) -> dict:
    return _mfcli_split(args, RANDOM)


def mfcli_temporal(args: dict) -> dict:
    return _mfcli_split(args, "mfcli split --strategy temporal --per-user --validation-frac 0.1")


def mfcli_kfold(args: dict) -> dict:
    return _mfcli_split(args, "mfcli split --strategy kfold --fold 0")


def _mfcli_split(args: dict, name: str) -> dict:
    import shutil

    from mfcli.evaluate.split import SplitParams
    from mfcli.evaluate.split_run import run_split
    from mfcli.io.options import ReadOptions

    options = dict(STRATEGIES[name][1])
    fold = options.pop("fold", None)
    outdir = _fresh_dir()
    try:
        summary = run_split(args["path"], ReadOptions(), SplitParams(**options), outdir,
                            fold=fold, force=True)  # fmt: skip
    finally:
        shutil.rmtree(outdir, ignore_errors=True)
    return _facts(summary)


def _facts(summary: dict) -> dict:
    """Entries per part and the bytes read_matrix would hold for the same input."""
    n = summary["entries"]
    parts = summary.get("parts") or summary["folds"][0]["parts"]
    users = max(p["users"] for p in parts.values())
    items = max(p["items"] for p in parts.values())
    # indices int32 + data float64 + timestamps int64, indptr int32, labels int64
    input_bytes = n * (4 + 8 + 8) + (users + 1) * 4 + (users + items) * 8
    return {
        "entries": n,
        "parts": {k: v["entries"] for k, v in parts.items()},
        "input_bytes": input_bytes,
    }


def pandas_setup(args: dict) -> None:
    import pandas  # noqa: F401


def pandas_split(args: dict) -> dict:
    import os
    import shutil

    import numpy as np
    import pandas as pd

    dtypes = {"user": np.int32, "item": np.int32, "rating": np.float64, "timestamp": np.int64}
    frame = pd.read_csv(args["path"], engine="c", dtype=dtypes)
    test = frame.sample(frac=0.2, random_state=0)
    train = frame.drop(test.index)
    outdir = _fresh_dir()
    try:
        train.to_csv(os.path.join(outdir, "train.csv"), index=False)
        test.to_csv(os.path.join(outdir, "test.csv"), index=False)
    finally:
        shutil.rmtree(outdir, ignore_errors=True)
    return {"entries": len(frame), "parts": {"train": len(train), "test": len(test)}}
