"""The demo tour behind `mfcli demo` (no printing here: it returns a report)."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np

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
            _implicit_words(folder / "docterm.mtx", Path(work)),
            _biased_ratings(Path(work)),  # on _complete_ratings' split
        ]
    report["steps"] += ["split", "svd", "eval", "nmf", "als", "sgd"]
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


def _implicit_words(docterm: Path, work: Path) -> dict:
    """als --implicit on the document-term counts: held-out words, against popularity.

    The counts are implicit feedback with a structure a recommender can find
    (each document keeps to its topics). ``implicit.tsv`` has none beyond
    popularity: its generator draws which items a user has by popularity
    alone, the low-rank affinity only sets the counts.
    """
    from mfcli.api import evaluate_files, fit_als
    from mfcli.config import AlsConfig, EvalConfig, resolve
    from mfcli.evaluate.split import SplitParams
    from mfcli.evaluate.split_run import run_split
    from mfcli.io.options import ReadOptions

    start = time.perf_counter()
    split = work / "words"
    run_split(str(docterm), ReadOptions(), SplitParams(seed=1), str(split))
    model = str(work / "words-als.h5")
    als = resolve(AlsConfig, explicit={
        "input": str(split / "train.mtx"), "output": model, "rank": 6, "implicit": True,
    })  # fmt: skip
    _, summary = fit_als(als)
    metrics = "precision@10,ndcg@10"
    scored = resolve(EvalConfig, explicit={
        "model_path": model, "test": str(split / "test.mtx"), "metrics": metrics,
    })  # fmt: skip
    values = evaluate_files(scored).values
    baseline = _baseline_values(model, split / "test.mtx", metrics, _popularity)
    return {
        "what": "docterm.mtx as implicit feedback: als --implicit -k 6 vs popularity",
        "commands": [
            "mfcli split sample_data/docterm.mtx -o words --seed 1",
            "mfcli als words/train.mtx --implicit -k 6 -o words.h5",
            f"mfcli eval words.h5 words/test.mtx --metrics {metrics}",
        ],
        "result": _versus(values, "popularity", baseline),
        "values": values,
        "baseline": {"name": "popularity", "values": baseline},
        "seconds": round(time.perf_counter() - start, 3),
        "fit": summary["method"],
    }


# The sgd step's options: the defaults (tuned for k=100 on larger sets) stop short
# on a sample this small; per-parameter steps get there in 30 epochs.
SGD_DEMO = {"rank": 20, "schedule": "adagrad", "lr": 0.1, "epochs": 30}


def _biased_ratings(work: Path) -> dict:
    """sgd on the ratings split of ``_complete_ratings``: test RMSE against the biases alone."""
    from mfcli.api import evaluate_files, fit_sgd
    from mfcli.config import EvalConfig, SgdConfig, resolve

    start = time.perf_counter()
    split = work / "split"
    model = str(work / "ratings-sgd.h5")
    sgd = resolve(SgdConfig, explicit={
        "input": str(split / "train.csv"), "output": model, **SGD_DEMO,
    })  # fmt: skip
    _, summary = fit_sgd(sgd)
    scored = resolve(EvalConfig, explicit={
        "model_path": model, "test": str(split / "test.csv"), "metrics": "rmse",
    })  # fmt: skip
    values = evaluate_files(scored).values
    baseline = _baseline_values(model, split / "test.csv", "rmse", _biases)
    flags = f"-k {SGD_DEMO['rank']} --schedule {SGD_DEMO['schedule']} --lr {SGD_DEMO['lr']} "
    flags += f"--epochs {SGD_DEMO['epochs']}"
    return {
        "what": f"ratings.csv: sgd -k {SGD_DEMO['rank']} on the same split vs biases alone",
        "commands": [
            f"mfcli sgd split/train.csv {flags} -o sgd.h5",
            "mfcli eval sgd.h5 split/test.csv --metrics rmse",
        ],
        "result": _versus(values, "mean + biases", baseline),
        "values": values,
        "baseline": {"name": "mean + biases", "values": baseline},
        "seconds": round(time.perf_counter() - start, 3),
        "fit": summary["method"],
    }


def _versus(values: dict, name: str, baseline: dict) -> str:
    shown = ", ".join(f"{k} {v:.3f}" for k, v in values.items())
    return f"{shown} ({name}: " + ", ".join(f"{v:.3f}" for v in baseline.values()) + ")"


def _baseline_values(model_path: str, test: Path, metrics: str, make) -> dict:
    """``metrics`` of the baseline ``make(model)`` on ``test``, scored by the eval code."""
    from mfcli.evaluate.metrics import evaluate
    from mfcli.evaluate.model import ScoringModel
    from mfcli.io import read_matrix
    from mfcli.io.options import ReadOptions
    from mfcli.io.results import read_result

    model = ScoringModel.from_result(read_result(model_path))
    test_matrix = read_matrix(str(test), ReadOptions(dtype="float64"))
    return evaluate(make(model), test_matrix, metrics=metrics).values


def _zero_factors(model, **biases):
    """A model scoring by its biases alone, on ``model``'s users, items and /train."""
    from mfcli.evaluate.model import ScoringModel

    return ScoringModel(
        np.zeros((model.n_users, 1)), np.zeros((model.n_items, 1)),
        user_labels=model.user_labels, item_labels=model.item_labels, train=model.train,
        clip=model.clip, **biases,
    )  # fmt: skip


def _popularity(model):
    """Every user gets the items with the most training interactions."""
    counts = np.bincount(model.train.indices, minlength=model.n_items).astype(np.float64)
    return _zero_factors(model, global_bias=0.0, item_bias=counts)


def _biases(model, reg: float = 5.0, passes: int = 10):
    """mu + b_u + b_i: ridge least squares of the biases alone (as Surprise's BaselineOnly).

    ``min sum (r - mu - b_u - b_i)**2 + reg (|b_u|**2 + |b_i|**2)`` by
    alternating exact updates of the item and the user biases.
    """
    train = model.train
    values = np.asarray(train.data, dtype=np.float64)
    rows = np.repeat(np.arange(model.n_users), np.diff(train.indptr))
    cols = np.asarray(train.indices)
    mu = float(values.mean())
    per_item = np.bincount(cols, minlength=model.n_items) + reg
    per_user = np.bincount(rows, minlength=model.n_users) + reg
    b_u = np.zeros(model.n_users)
    for _ in range(passes):
        b_i = np.bincount(cols, values - mu - b_u[rows], model.n_items) / per_item
        b_u = np.bincount(rows, values - mu - b_i[cols], model.n_users) / per_user
    return _zero_factors(model, global_bias=mu, user_bias=b_u, item_bias=b_i)
