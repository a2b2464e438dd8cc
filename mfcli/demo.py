"""The demo tour behind `mfcli demo` (no printing here: it returns a report)."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path


def find_sample_data(data_dir: str | None = None) -> tuple[Path, str]:
    """The sample folder to use and where it came from."""
    if data_dir:
        return Path(data_dir), "--data-dir"
    here = Path(__file__).resolve().parent.parent / "sample_data"
    for candidate, origin in ((Path.cwd() / "sample_data", "./sample_data"), (here, str(here))):
        if (candidate / "ratings.csv").is_file():
            return candidate, origin
    target = Path(tempfile.mkdtemp(prefix="mfcli-demo-"))
    from mfcli.sample import make_sample_data

    make_sample_data(target)
    return target, f"generated into {target}"


def run_demo(data_dir: str | None = None, output: str | None = None) -> dict:
    """Read every sample file, then run the demo experiment on the ratings.

    The run folder is ``output`` when given (kept), else a temporary folder
    removed afterwards.
    """
    folder, origin = find_sample_data(data_dir)
    report = {"sample_data": str(folder), "origin": origin, "files": _read_all(folder)}
    start = time.perf_counter()
    if output is not None:
        report["experiment"] = _experiment(folder, output)
    else:
        with tempfile.TemporaryDirectory(prefix="mfcli-demo-") as work:
            report["experiment"] = _experiment(folder, os.path.join(work, "run"))
    report["seconds"] = round(time.perf_counter() - start, 3)
    report["kept"] = output
    return report


def _read_all(folder: Path) -> list[dict]:
    from mfcli.describe import describe_matrix
    from mfcli.io import read_matrix

    files = []
    for name in sorted(os.listdir(folder)):
        path = folder / name
        if not path.is_file() or name.endswith((".md", ".sh", ".terms", ".yaml")):
            continue
        start = time.perf_counter()
        matrix = read_matrix(str(path))
        seconds = time.perf_counter() - start
        info = describe_matrix(matrix)
        files.append(
            {
                "file": name,
                "format": info["format"],
                "storage": info["storage"],
                "shape": info["shape"],
                "nnz": info["nnz"],
                "labels": bool(matrix.row_labels is not None or matrix.col_labels is not None),
                "timestamps": matrix.timestamps is not None,
                "read_s": round(seconds, 4),
            }
        )
    return files


def _experiment(folder: Path, output: str) -> dict:
    """The demo experiment (``sample_data/experiment.yaml``) run into ``output``."""
    from mfcli.experiment.runner import run_experiment
    from mfcli.experiment.spec import load_experiment
    from mfcli.sample import EXPERIMENT, EXPERIMENT_NAME

    path = folder / EXPERIMENT_NAME
    if path.is_file():
        return run_experiment(load_experiment(str(path), output=output), force=True)
    with tempfile.TemporaryDirectory(prefix="mfcli-demo-") as spare:  # data files alone
        path = Path(spare) / EXPERIMENT_NAME
        path.write_text(EXPERIMENT.replace("data: ratings.csv", f"data: {folder / 'ratings.csv'}"))
        return run_experiment(load_experiment(str(path), output=output), force=True)
