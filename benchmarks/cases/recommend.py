"""`mfcli recommend --all`: top-10 for every user of a 138k x 27k rank-64 model, end to end."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

from benchmarks.cases.common import reset_peak
from benchmarks.harness import REPO, Measurement, Scenario, Target, Tool

NAME = "recommend"
GROUP = "eval"
TITLE = "recommend --all: top-10 for every user of a rank-64 model (CLI end to end; vs implicit)"
ABOUT = (
    "A synthetic result file shaped like an ALS model of MovieLens-20M: float32 user and item "
    "factors with N(0, 1/8) entries, int64 user and item ids, and a /train CSR of ~20M "
    "interactions (power-law user activity and item popularity, no repeats within a user), "
    "written once with `mfcli.io.results.write_result` and cached in benchmarks/_data/ (the "
    "model is synthetic because the timing does not depend on how the factors were fitted). "
    "*End to end*: `mfcli recommend MODEL.h5 --all -n 10 --threads 2 -o out.csv --force` in a "
    "fresh process: start-up, reading the factors, ids and the /train pattern (not its "
    "values), scoring every user a 64 MiB block at a time with the training items excluded, "
    "and writing the 1.38M-line CSV atomically; its wall time and peak RSS (from wait4) are "
    "the targets. *Lists only*: the same top-10 with training items excluded, in process, the "
    "model read in setup, `mfcli.evaluate.top_k` against implicit's "
    "`AlternatingLeastSquares.recommend(all users, N=10, filter_already_liked_items=True)` on "
    "the same factors and CSR (implicit's CPU top-k, 2 threads)."
)
HERE = "benchmarks.cases.recommend"
CLI = "mfcli recommend --all (CLI, end to end)"
TOPK = "mfcli top_k, training items excluded"
IMPLICIT = "implicit ALS.recommend, filter_already_liked_items"
THREADS = 2
MIB = 2**20
SIZES = {
    False: ("138k x 27k", 138_000, 27_000, 20_000_000),
    True: ("6k x 3.7k", 6040, 3706, 1_000_000),
}
TIME_LIMIT = 60.0
# Peak RSS of the whole CLI process: the interpreter with numpy, numba, h5py and
# the compiled kernels (~250 MiB), the model's factors, ids and /train pattern
# (~170 MiB at full size), the 64 MiB score block, the (users, 10) lists and the
# output formatter's 1M-line chunks. 1 GiB leaves no room for anything users x items.
RSS_BUDGET = 2**30
DATA_DIR = REPO / "benchmarks" / "_data"
WORK = REPO / "benchmarks" / "_work"
_STATE: dict = {}


def model_path(spec: dict):
    key = json.dumps({"v": 1, **spec}, sort_keys=True)
    return DATA_DIR / f"recommend-model-{hashlib.sha1(key.encode()).hexdigest()[:10]}.h5"


def ensure_model(spec: dict):
    """The cached model file, written in a subprocess (keeps the harness small) if absent."""
    path = model_path(spec)
    if not path.exists():
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        sys.stderr.write(f"  writing {path.name} ...\n")
        subprocess.run([sys.executable, "-m", HERE, json.dumps(spec)], check=True, cwd=REPO)
    return path


def scenarios(quick: bool) -> list[Scenario]:
    label, users, items, nnz = SIZES[quick]
    spec = {"users": users, "items": items, "rank": 64, "train_nnz": nnz, "seed": 0}
    path = ensure_model(spec)
    WORK.mkdir(parents=True, exist_ok=True)
    out = WORK / "recommend-all.csv"
    argv = (
        sys.executable, "-m", "mfcli", "recommend", str(path), "--all", "-n", "10",
        "--threads", str(THREADS), "-o", str(out), "--force", "-q",
    )  # fmt: skip
    shape = f"{users:,} users x {items:,} items, rank 64, {nnz / 1e6:.0f}M training entries"
    args = {"path": str(path), "k": 10, "threads": THREADS}
    return [
        Scenario(
            label=f"{label} end to end ({shape}, top-10, {THREADS} threads)",
            tools=[Tool(CLI, argv=argv, peer=False, note=f"--threads {THREADS}")],
            targets=[_time_below(CLI, TIME_LIMIT), _rss_below(CLI, RSS_BUDGET)],
            notes=[
                f"Model file: benchmarks/_data/{path.name} ({_size(path)}); output "
                f"benchmarks/_work/{out.name}, {users * 10:,} lines."
            ],
        ),
        Scenario(
            label=f"{label} lists only ({shape}, top-10, {THREADS} threads)",
            args=args,
            tools=[
                Tool(
                    TOPK,
                    func=f"{HERE}:mfcli_topk",
                    setup=f"{HERE}:setup_mfcli",
                    peer=False,
                    warm=True,
                ),
                Tool(
                    IMPLICIT,
                    func=f"{HERE}:implicit_recommend",
                    setup=f"{HERE}:setup_implicit",
                    warm=True,
                    note="num_threads=2",
                ),
            ],  # fmt: skip
            targets=[_time_ratio(TOPK, IMPLICIT, 1.0)],
        ),
    ]


def _size(path) -> str:
    try:
        return f"{os.path.getsize(path) / MIB:,.0f} MiB"
    except OSError:
        return "size unknown"


# ------------------------------------------------------------ targets
def _time_below(tool: str, limit: float) -> Target:
    def check(results: dict[str, Measurement]):
        m = results.get(tool)
        if m is None or not m.ok:
            return None, "not measured"
        return m.seconds <= limit, f"{m.seconds:.1f} s"

    return Target(f"{tool}: wall time <= {limit:g} s", check)


def _rss_below(tool: str, limit: int) -> Target:
    def check(results: dict[str, Measurement]):
        m = results.get(tool)
        if m is None or not m.ok:
            return None, "not measured"
        return m.peak_rss <= limit, f"{m.peak_rss / MIB:,.0f} MiB"

    return Target(f"{tool}: peak RSS of the process <= {limit / MIB:,.0f} MiB", check)


def _time_ratio(tool: str, peer: str, at_most: float) -> Target:
    def check(results: dict[str, Measurement]):
        a, b = results.get(tool), results.get(peer)
        if a is None or b is None or not (a.ok and b.ok):
            return None, "not measured"
        ta = a.warm_seconds or a.seconds
        tb = b.warm_seconds or b.seconds
        return ta / tb <= at_most, f"{ta / tb:.2f}x ({ta:.2f} s vs {tb:.2f} s, warm)"

    return Target(f"{tool} time <= {at_most:g}x {peer} (warm)", check)


# ------------------------------------------------------------ the model file
def write_model(spec: dict) -> None:
    """Factors, ids and a /train of ``train_nnz`` distinct (user, item) pairs."""
    import numpy as np

    from mfcli.data import Matrix
    from mfcli.io.results import Result, write_result

    rng = np.random.default_rng(spec["seed"])
    users, items, rank, nnz = spec["users"], spec["items"], spec["rank"], spec["train_nnz"]
    scale = np.float32(1 / np.sqrt(8))
    user = rng.standard_normal((users, rank), dtype=np.float32) * scale
    item = rng.standard_normal((items, rank), dtype=np.float32) * scale
    # Power-law activity per user (at least 1, at most half the items) ...
    activity = rng.pareto(1.5, users) + 1.0
    counts = np.minimum(np.maximum(1, activity / activity.sum() * nnz), items // 2)
    counts = counts.astype(np.int64)
    indptr = np.zeros(users + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    # ... and popular items: each user's items drawn by Zipf weight without repeats.
    popularity = 1.0 / np.arange(1, items + 1) ** 0.8
    cdf = np.cumsum(popularity / popularity.sum())
    order = rng.permutation(items).astype(np.int32)
    indices = np.empty(indptr[-1], dtype=np.int32)
    for u in range(users):
        a, b = indptr[u], indptr[u + 1]
        need = b - a
        picked = np.unique(np.searchsorted(cdf, rng.random(need * 2 + 8)))
        while picked.size < need:
            more = np.searchsorted(cdf, rng.random(need * 2 + 8))
            picked = np.unique(np.concatenate([picked, more]))
        picked = np.minimum(picked, items - 1)
        indices[a:b] = np.sort(order[rng.choice(picked, need, replace=False)])
    train = Matrix.from_csr(indptr, indices, np.ones(indices.size, np.float32), (users, items))
    result = Result(
        "als",
        config_yaml="command: als\n",
        factors={"row": user, "col": item},
        labels={"row": np.arange(1, users + 1, dtype=np.int64),
                "col": np.arange(1, items + 1, dtype=np.int64) * 7},
        train=train,
    )  # fmt: skip
    write_result(result, model_path(spec), force=True)


# ------------------------------------------------------------ child side
def _read(path: str):
    from mfcli.api.recommend import _train_pattern
    from mfcli.evaluate.model import ScoringModel
    from mfcli.io.results import read_result

    model = ScoringModel.from_result(read_result(path, load=("factors", "biases", "labels")))
    return model, _train_pattern(path, model)


def setup_mfcli(args: dict) -> None:
    import numpy as np

    from mfcli.evaluate.topk import top_k
    from mfcli.runtime import use_threads

    use_threads(args["threads"])
    model, train = _read(args["path"])
    _STATE.update(model=model, train=train)
    top_k((model.user_factors[:3], model.item_factors[:5]), np.arange(3), 2)  # load the kernels
    reset_peak()


def mfcli_topk(args: dict) -> dict:
    import numpy as np

    from mfcli.evaluate.topk import top_k

    model, train = _STATE["model"], _STATE["train"]
    items, scores = top_k(model, np.arange(model.n_users), args["k"], exclude=train)
    return {"users": int(items.shape[0]), "final_bytes": int(items.nbytes + scores.nbytes)}


def setup_implicit(args: dict) -> None:
    import numpy as np
    import scipy.sparse as sp
    from implicit.cpu.als import AlternatingLeastSquares

    model, train = _read(args["path"])
    als = AlternatingLeastSquares(factors=model.k, num_threads=args["threads"])
    als.user_factors, als.item_factors = model.user_factors, model.item_factors
    csr = sp.csr_matrix(
        (np.ones(train.indices.size, np.float32), train.indices, train.indptr), shape=train.shape
    )
    _STATE.update(als=als, csr=csr)
    als.recommend(np.arange(3), csr[:3], N=2, filter_already_liked_items=True)
    reset_peak()


def implicit_recommend(args: dict) -> dict:
    import numpy as np

    als, csr = _STATE["als"], _STATE["csr"]
    ids, scores = als.recommend(
        np.arange(csr.shape[0]), csr, N=args["k"], filter_already_liked_items=True
    )
    return {"users": int(ids.shape[0]), "final_bytes": int(ids.nbytes + scores.nbytes)}


if __name__ == "__main__":
    write_model(json.loads(sys.argv[1]))
