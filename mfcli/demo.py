"""The demo tour behind `mfcli demo` (no printing here: it returns a report)."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

SAMPLE_FILES = (
    "ratings.csv",
    "ratings.mtx",
    "implicit.tsv",
    "lowrank_dense.csv",
    "lowrank_dense.h5",
    "lowrank_csr.h5",
    "docterm.mtx",
)


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


def run_demo(data_dir: str | None = None) -> dict:
    from mfcli.describe import describe_matrix
    from mfcli.io import read_matrix

    folder, origin = find_sample_data(data_dir)
    files = []
    for name in sorted(os.listdir(folder)):
        path = folder / name
        if not path.is_file() or name.endswith((".md", ".sh", ".terms")):
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
    report = {"sample_data": str(folder), "origin": origin, "files": files, "steps": ["read"]}
    with tempfile.TemporaryDirectory(prefix="mfcli-demo-") as work:
        report["fits"] = [
            _complete_ratings(folder / "ratings.csv", Path(work)),
            _planted_spectrum(folder / "lowrank_dense.csv", Path(work)),
            _topics(folder / "docterm.mtx", Path(work)),
        ]
    report["steps"] += ["split", "svd", "eval", "nmf"]
    return report


def _complete_ratings(ratings: Path, work: Path) -> dict:
    """split -> svd --missing on train -> eval on test: a ratings file completed."""
    from mfcli.api import evaluate_files, fit_svd
    from mfcli.config import EvalConfig, SvdConfig, resolve
    from mfcli.evaluate.split import SplitParams
    from mfcli.evaluate.split_run import run_split
    from mfcli.io.options import ReadOptions

    start = time.perf_counter()
    run_split(str(ratings), ReadOptions(), SplitParams(seed=1), str(work / "split"))
    model = str(work / "ratings-svd.h5")
    svd = resolve(SvdConfig, explicit={
        "input": str(work / "split" / "train.csv"), "output": model, "rank": 10,
        "missing": True,
    })  # fmt: skip
    _, summary = fit_svd(svd)
    scored = resolve(EvalConfig, explicit={
        "model_path": model, "test": str(work / "split" / "test.csv"),
        "metrics": "rmse,mae,ndcg@10",
    })  # fmt: skip
    values = evaluate_files(scored).values
    return {
        "what": "ratings.csv: split 80/20, svd --missing -k 10 on train, eval on test",
        "commands": [
            "mfcli split sample_data/ratings.csv -o split --seed 1",
            "mfcli svd split/train.csv -k 10 --missing -o model.h5",
            "mfcli eval model.h5 split/test.csv --metrics rmse,mae,ndcg@10",
        ],
        "result": ", ".join(f"{k} {v:.3f}" for k, v in values.items()),
        "seconds": round(time.perf_counter() - start, 3),
        "fit": summary["method"],
    }


def _planted_spectrum(dense: Path, work: Path) -> dict:
    """svd of the planted rank-5 matrix: its five singular values, the rest noise."""
    from mfcli.api import fit_svd
    from mfcli.config import SvdConfig, resolve

    start = time.perf_counter()
    svd = resolve(SvdConfig, explicit={
        "input": str(dense), "output": str(work / "dense-svd.h5"), "rank": 6,
    })  # fmt: skip
    _, summary = fit_svd(svd)
    values = summary["singular_values"]
    return {
        "what": "lowrank_dense.csv (rank 5 + noise): svd -k 6",
        "commands": ["mfcli svd sample_data/lowrank_dense.csv -k 6 -o dense.h5"],
        "result": "singular values " + ", ".join(f"{v:.3g}" for v in values),
        "seconds": round(time.perf_counter() - start, 3),
        "fit": summary["method"],
    }


def _topics(docterm: Path, work: Path) -> dict:
    """nmf of the document-term counts: the six planted topics, by their top words."""
    from mfcli.api import fit_nmf
    from mfcli.config import NmfConfig, resolve

    start = time.perf_counter()
    nmf = resolve(NmfConfig, explicit={
        "input": str(docterm), "output": str(work / "docterm-nmf.h5"), "rank": 6, "top": 5,
    })  # fmt: skip
    _, summary = fit_nmf(nmf)
    topics = summary["top"].get("col", [])
    return {
        "what": "docterm.mtx (300 documents x 192 terms, six planted topics): nmf -k 6",
        "commands": ["mfcli nmf sample_data/docterm.mtx -k 6 --top 5 -o topics.h5"],
        "result": "topics: "
        + " | ".join(" ".join(words) for words in topics)
        + f" (relative error {summary['relative_error']:.3f})",
        "seconds": round(time.perf_counter() - start, 3),
        "fit": summary["method"],
    }
