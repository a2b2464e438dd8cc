"""ALS on a 2-worker LocalCluster vs one process: time, equal factors and metrics, bytes
moved per iteration against the cost model, and partitioned CSV parts read by the workers."""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.cases import als as A
from benchmarks.cases.common import MIB, child_sidecar, reset_peak, this_runs, time_target
from benchmarks.harness import REPO, Measurement, Scenario, Target, Tool

NAME = "distributed"
GROUP = "cluster"
TITLE = (
    "ALS on a Dask cluster (implicit, k = 64, 15 iterations, cg): one process with 2 "
    "threads vs a 2-worker LocalCluster; bytes moved per iteration vs the cost model; "
    "partitioned CSV parts read by the workers"
)
K = A.K
ITERS = A.ITERS
WORKERS = 2
N_PARTS = 8
ITEMSIZE = 4  # float32 factors
TIME_RATIO = 1.5  # cluster time <= this x one process
BYTES_TOLERANCE = 0.20  # measured bytes per iteration within 20% of the cost model
FACTOR_TOLERANCE = 1e-5  # max |difference| of factors (the tests' tolerance)
METRIC_TOLERANCE = 1e-6  # P@10 and NDCG@10 "equal"
PLUGIN = "mfcli-bench-bytes"
LOG_LENGTH = 100_000  # the workers' transfer logs keep every transfer of a fit
HERE = "benchmarks.cases.distributed"
DATA_DIR = A.DATA_DIR
WORK = A.WORK

ONE = "mfcli als, one process (2 threads)"
CLU = "mfcli als on a LocalCluster (2 workers x 1 thread)"
PARTS = f"mfcli als on a LocalCluster, {N_PARTS} CSV parts read by the workers"
# The als case's scoring at exit names its model and result files by these slugs.
A.SLUG.setdefault(ONE, "dist-one-process")
A.SLUG.setdefault(CLU, "dist-cluster")
A.SLUG.setdefault(PARTS, "dist-parts")

ABOUT = (
    "The data is the als case's synthetic implicit set (data kind `implicit`: 500k users x "
    "50k items, 20M distinct pairs) and its training split (`mfcli split --strategy user "
    "--test-frac 0.2 --seed 0`), generated and cached by the als case's own code "
    "(`benchmarks.data.ensure` and `ensure_split` of `benchmarks/cases/als.py`: the same "
    "files in benchmarks/_data/); `--quick` makes a set of the same kind, 25k x 5k, 500k "
    "pairs, the same way. Every tool fits the same model as the als case's mfcli tool: "
    f"implicit, k = {K}, {ITERS} iterations, cg with 3 steps, alpha 1 (linear confidence), "
    "reg 0.01 without scaling, seed 0, float32. "
    f"*{ONE}*: `mfcli.solvers.als.als(train, ...)` in one process with 2 numba threads "
    "(the als case's setup and fit, verbatim). "
    f"*{CLU}*: `mfcli.distributed.cluster.connect('local:2', threads_per_worker=1)` (two "
    "worker processes, one numba thread each, on this machine, TCP over the loopback), "
    "then `mfcli.distributed.als.als_from_matrix(client, train, 64, ...)` with the same "
    "options. Its *time* is the fit including cutting the matrix into row blocks of both "
    "orientations and sending them to the workers; the cluster's start-up (LocalCluster and "
    "Client) happens in setup, is not timed, and is reported on its own; a tiny fit on "
    "the cluster in setup imports the modules and load numba's kernels in the workers, as the "
    "one-process tool's setup does in its process. The training matrix is read in setup "
    "for both. Equal factors: the one-process tool saves its factors at exit (after the "
    "timed call); the cluster tools' children compare theirs at exit (max |difference| of "
    "U and of V). P@10 and NDCG@10 of both come from `mfcli eval MODEL test` through the "
    "als case's scoring at the child's exit (its code, not a copy): the model is written as "
    "an mfcli result file with the training matrix and ranked over all items but the "
    "user's training items. "
    "Bytes per iteration: the cost model is `mfcli.distributed.als.bytes_per_iteration(m, "
    f"n, 64, {WORKERS}, 4)` = (W + 2)(m + n) k 4 (the fixed factor matrix broadcast to every "
    "worker, the solved side's rows sent out and gathered back, in both half-steps). It is "
    "compared with three measurements of the same timed fit: (a) the engine's own count (the "
    "fit's last note, factor bytes moved, divided by the iterations); (b) Dask's counters on "
    "the workers: a WorkerPlugin registered on both workers adds up Dask's size (`sizeof`, "
    "stored as the task's nbytes) of every key that lands in a worker's memory without being "
    "computed there (scattered by the client, or replicated from the other worker for a "
    "broadcast), and each worker's `transfer_outgoing_log` (Dask's record of every "
    "`get_data` it served, with bytes and recipient) gives what was served for the client's "
    "gathers (the entries without a worker recipient: `connect` makes the client gather "
    "directly from the workers; `transfer_outgoing_bytes_total` is the sum of all "
    "entries); the bytes moved are arrivals + bytes served for the client's gathers, "
    "each hop out of a worker counted once (the scheduler keeps no byte counters); (c) "
    "the wire: the kernel's count of bytes received (tcp_info `bytes_received`, read with "
    "`ss -tin`) on every established TCP "
    "socket with an end at the scheduler's, a worker's or a nanny's port, summed over both "
    "ends of each loopback connection (each byte once, whichever way it went): Dask's "
    "frames and task messages, scheduler relays and heartbeats included, other processes' "
    "traffic excluded; the loopback interface's transmitted bytes from /proc/net/dev "
    "(everything on the machine's loopback) are reported beside it. (b) and (c) are read in "
    "the "
    "fit's callback after iteration 1 and after the last iteration (`client.run` on the "
    "workers, inside the timed call; the reads' total time is reported), so their "
    "per-iteration figure is the difference over iterations 2..15 divided by 14: sending the "
    "blocks and preparing the weights are left out, as in the model. "
    f"*{PARTS}*: the same training matrix written once as {N_PARTS} CSV parts (`row,col,"
    "value` triplets with the users' and items' ids and a header line; contiguous user "
    "ranges of about equal entries) in benchmarks/_data/; the timed call is "
    "`mfcli.distributed.load.load_row_blocks(client, parts, ReadOptions(dtype='float32'), "
    "columns=True)` (the workers read the parts and build both orientations' blocks; the "
    "client gathers only ids and counts) then `mfcli.distributed.als.als(client, users, "
    "items, 64, ...)`; the read and the fit are timed apart inside it. Its factors are "
    "compared with the one-process fit's (the same ids give the same rows and columns), and "
    "its peak RSS is the client process's (the workers' memory is not counted), against the "
    "one-process fit's peak RSS (that process holds the matrix, its weights and transpose). "
    "Threads: the one-process tool and every client process get 2 numba threads and calm "
    "BLAS (`runtime.use_threads`); the workers get NUMBA_NUM_THREADS=1 and one Dask thread "
    "each (`connect`'s worker environment)."
)

IMPLICIT_20M = A.IMPLICIT_20M
# --quick: half the als case's quick set (12 fresh processes, 8 of them start a cluster,
# must finish in under 2 minutes on 2 cores)
QUICK_IMPLICIT = {**IMPLICIT_20M, "name": "dist-500k", "users": 25_000, "items": 5_000,
                  "nnz": 500_000}  # fmt: skip
# (key, label, data spec, the als case's split name: the same cached split)
SCENARIOS = {
    False: ("dist-synth-20m", "synthetic implicit counts, 500,000 x 50,000, 20M pairs "
            "(its 80% training split)", IMPLICIT_20M, "synth-20m"),
    True: ("dist-quick-synth-500k", "synthetic implicit counts, 25,000 x 5,000, 500k pairs "
           "(its 80% training split)", QUICK_IMPLICIT, "quick-synth-500k"),
}  # fmt: skip
_STATE: dict = {}


# ------------------------------------------------------------ data
def ensure_parts(train: str, split_dir: str) -> Path:
    """The training file as ``N_PARTS`` CSV parts, written once into benchmarks/_data/."""
    key = {"v": 1, "split": split_dir, "parts": N_PARTS}
    digest = hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()[:10]
    outdir = DATA_DIR / f"dist-parts-{Path(split_dir).name}-{digest}"
    if not (outdir / "manifest.json").exists():
        A._log(f"  writing {N_PARTS} CSV parts of {Path(train).name} -> {outdir.name} ...")
        argv = [sys.executable, "-m", HERE, "write-parts", train, str(outdir)]
        subprocess.run(argv, check=True, cwd=REPO)
    return outdir


def _write_parts(train: str, outdir: str) -> None:
    """Contiguous user ranges of about equal entries, one CSV part each (ids, header)."""
    import shutil

    from mfcli.data import Matrix
    from mfcli.distributed.blocks import row_bounds
    from mfcli.io import read_matrix
    from mfcli.io.write import write_triplets_csv

    matrix = read_matrix(train)
    out = Path(outdir)
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    m, n = matrix.shape
    parts = []
    for i, (a, b) in enumerate(row_bounds(matrix.indptr, m, N_PARTS)):
        lo, hi = int(matrix.indptr[a]), int(matrix.indptr[b])
        part = Matrix.from_csr(
            matrix.indptr[a : b + 1] - lo, matrix.indices[lo:hi], matrix.data[lo:hi], (b - a, n),
            dtype=matrix.data.dtype,
            row_labels=None if matrix.row_labels is None else matrix.row_labels[a:b],
            col_labels=matrix.col_labels,
        )  # fmt: skip
        name = f"part-{i:05d}.csv"
        write_triplets_csv(str(tmp / name), part, timestamps=False)
        parts.append({"file": name, "rows": [a, b], "entries": hi - lo})
    manifest = {"source": train, "shape": [m, n], "nnz": int(matrix.nnz), "parts": parts}
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1))
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)


def scenarios(quick: bool) -> list[Scenario]:
    from benchmarks import data

    key, label, spec, split_name = SCENARIOS[quick]
    path = data.ensure(spec, log=A._log)
    split = A.ensure_split(str(path), split_name, "user", spec)
    parts = ensure_parts(split["train"], split["split_dir"])
    manifest = json.loads((parts / "manifest.json").read_text())
    args = {"key": key, "k": K, "columns": None, "train": split["train"],
            "test": split["test"], "parts": str(parts)}  # fmt: skip
    tools = [
        Tool(ONE, func=f"{HERE}:one_fit", setup=f"{HERE}:one_setup",
             note="mfcli.solvers.als.als, numba 2 threads"),
        Tool(CLU, func=f"{HERE}:cluster_fit", setup=f"{HERE}:cluster_setup", peer=False,
             note="als_from_matrix: blocks sent + fit; cluster start-up not timed"),
        Tool(PARTS, func=f"{HERE}:parts_fit", setup=f"{HERE}:parts_setup", peer=False,
             note="load_row_blocks(columns=True) + distributed als"),
    ]  # fmt: skip
    targets = [
        time_target(CLU, ONE, TIME_RATIO),
        _startup(),
        _factors(key, CLU),
        A._quality_facts(key, [ONE, CLU]),
        _equal_metric(key, "precision@10"),
        _equal_metric(key, "ndcg@10"),
        _bytes("engine", "the engine's count (the fit's note)"),
        _bytes("dask", "Dask's worker counters (arrivals + served to the client)"),
        _bytes("tcp", "the cluster's TCP connections (kernel tcp_info, `ss -tin`)"),
        _parts_times(),
        _parts_memory(),
        _factors(key, PARTS),
    ]
    notes = [
        f"Split: the als case's `mfcli split --strategy user --test-frac {A.TEST_FRAC} --seed "
        f"{A.SEED}` in {split['split_dir']}: {split['train_entries']:,} training and "
        f"{split['test_entries']:,} test entries; parts: benchmarks/_data/{parts.name} "
        f"({len(manifest['parts'])} CSV parts, {manifest['nnz']:,} entries, "
        f"{sum((parts / p['file']).stat().st_size for p in manifest['parts']) / 1e6:,.1f} MB).",
        f"*mfcli / peer* (on {ONE}'s row) is {CLU}'s time over {ONE}'s.",
    ]
    return [Scenario(label=label, args=args, tools=tools, targets=targets, notes=notes)]


# ------------------------------------------------------------ targets (harness side)
def _sidecar(key: str, tool: str) -> Path:
    return WORK / f"distributed-{key}-{A.SLUG[tool]}.json"


def _read_sidecar(key: str, tool: str) -> dict | None:
    return this_runs(_sidecar(key, tool))


def _startup() -> Target:
    def check(results: dict[str, Measurement]):
        parts = []
        for tool in (CLU, PARTS):
            r = results.get(tool)
            if r is None or not r.ok or "startup_seconds" not in r.info:
                parts.append(f"{tool}: not measured")
                continue
            i = r.info
            parts.append(
                f"{tool}: cluster start-up {i['startup_seconds']:.2f} s, warm-up fits "
                f"{i['warmup_seconds']:.2f} s"
            )
        return None, "; ".join(parts)

    return Target("cluster start-up and warm-up in setup, not timed (reported)", check)


def _factors(key: str, tool: str) -> Target:
    def check(results: dict[str, Measurement]):
        side = _read_sidecar(key, tool)
        if side is None or not side.get("runs"):
            return None, "not compared"
        runs = side["runs"]
        bad = [r.get("error") for r in runs if "du" not in r]
        if bad:
            return None, f"not compared: {bad[0]}"
        du, dv = max(r["du"] for r in runs), max(r["dv"] for r in runs)
        worst = max(du, dv)
        text = f"max |U - U_one| {du:.3g}, max |V - V_one| {dv:.3g} over {len(runs)} runs"
        if worst == 0:
            text += " (bit for bit)"
        return worst <= FACTOR_TOLERANCE, text

    return Target(
        f"{tool}: factors equal to {ONE}'s (max abs difference <= {FACTOR_TOLERANCE:g})", check
    )


def _equal_metric(key: str, metric: str) -> Target:
    def check(results: dict[str, Measurement]):
        a, b = A._scored(key, CLU), A._scored(key, ONE)
        if a is None or b is None or "metrics" not in a or "metrics" not in b:
            return None, "not scored"
        va, vb = a["metrics"][metric], b["metrics"][metric]
        return abs(va - vb) <= METRIC_TOLERANCE, f"{va:.6f} vs {vb:.6f} ({va - vb:+.2g})"

    return Target(f"{CLU}: {metric} equal to {ONE}'s (both from `mfcli eval`)", check)


def _bytes(kind: str, what: str) -> Target:
    def check(results: dict[str, Measurement]):
        r = results.get(CLU)
        if r is None or not r.ok or "bytes" not in r.info:
            return None, "not measured"
        b = r.info["bytes"]
        model, measured = b["model"], b.get(kind)
        if measured is None:
            why = "`ss` unavailable" if kind == "tcp" and "error" not in b else b.get("error")
            return None, f"not measured ({why})"
        ratio = measured / model
        text = (
            f"{measured / MIB:,.2f} MiB per iteration vs the model's {model / MIB:,.2f} MiB "
            f"({ratio - 1:+.1%}; m {b['m']:,}, n {b['n']:,}, W {b['workers']})"
        )
        if kind == "dask":
            text += (
                f": scattered by the client {b['scattered'] / MIB:,.2f}, replicated "
                f"worker-to-worker {b['replicated'] / MIB:,.2f}, served to the client's "
                f"gathers {b['gathered'] / MIB:,.2f} MiB per iteration"
            )
        elif kind == "tcp":
            excess = measured - model
            text += (
                f"; {excess / MIB:+,.2f} MiB per iteration beyond the model (Dask's frames, "
                "task messages, heartbeats)"
            )
            if b.get("tcp_closed"):
                text += f"; {b['tcp_closed']} connections closed in between (not counted)"
            text += (
                f"; all loopback traffic (/proc/net/dev, other processes included): "
                f"{b['wire'] / MIB:,.2f} MiB per iteration, {b['wire_fit'] / MIB:,.1f} MiB "
                f"over the whole timed fit (blocks included); counter reads took "
                f"{1e3 * b['read_seconds']:.0f} ms of the timed call"
            )
        return abs(ratio - 1) <= BYTES_TOLERANCE, text

    return Target(
        f"{CLU}: bytes moved per iteration, {what}, within {BYTES_TOLERANCE:.0%} of "
        f"bytes_per_iteration(m, n, {K}, {WORKERS}, {ITEMSIZE})",
        check,
    )


def _parts_times() -> Target:
    def check(results: dict[str, Measurement]):
        r, one = results.get(PARTS), results.get(ONE)
        if r is None or not r.ok or "read_seconds" not in r.info:
            return None, "not measured"
        i = r.info
        text = (
            f"read {i['read_seconds']:.2f} s ({i['n_parts']} parts), fit "
            f"{i['fit_seconds']:.2f} s, total {r.seconds:.2f} s"
        )
        if one is not None and one.ok:
            text += f"; {ONE}: fit {one.seconds:.2f} s (matrix read in setup, not timed)"
        return None, text

    return Target(f"{PARTS}: read time and fit time (reported)", check)


def _parts_memory() -> Target:
    def check(results: dict[str, Measurement]):
        r, one, clu = results.get(PARTS), results.get(ONE), results.get(CLU)
        if r is None or one is None or not (r.ok and one.ok):
            return None, "not measured"
        text = (
            f"client {r.peak_rss / MIB:,.0f} MiB peak ({_above(r)}) vs {one.peak_rss / MIB:,.0f} "
            f"MiB ({_above(one)}) for {ONE}"
        )
        if clu is not None and clu.ok:
            text += f"; {CLU}'s client {clu.peak_rss / MIB:,.0f} MiB ({_above(clu)})"
        if "matrix_bytes" in one.info:
            text += f"; the training matrix's arrays {one.info['matrix_bytes'] / MIB:,.0f} MiB"
        return r.peak_rss < one.peak_rss, text

    return Target(
        f"{PARTS}: the client's peak RSS below {ONE}'s (the client does not hold the matrix)",
        check,
    )


def _above(m: Measurement) -> str:
    if m.rss_above_base is None:
        return "baseline unknown"
    return f"{m.rss_above_base / MIB:,.0f} MiB above the {m.base_rss / MIB:,.0f} MiB baseline"


# ------------------------------------------------------------ child side: one process
def one_setup(args: dict) -> None:
    A._als_setup(args, ONE, implicit=True)
    atexit.register(_save_reference, args)


def one_fit(args: dict) -> dict:
    from benchmarks.cases.common import input_bytes

    info = A._als_fit(args, implicit=True)
    info["matrix_bytes"] = input_bytes(A._STATE["train"])
    return info


def _reference_paths(key: str) -> tuple[Path, Path]:
    return WORK / f"distributed-{key}-reference.npz", WORK / f"distributed-{key}-reference.json"


def _save_reference(args: dict) -> None:
    """The one-process factors, once per harness run (after the timed call)."""
    import numpy as np

    scored = A._STATE.get("scored")
    if scored is None:
        return
    arrays, meta = _reference_paths(args["key"])
    try:
        if json.loads(meta.read_text()).get("ppid") == os.getppid():
            return
    except (OSError, ValueError):
        pass
    WORK.mkdir(parents=True, exist_ok=True)
    train = A._STATE["train"]
    labels = {f"{side}_labels": np.asarray(value).astype(str)
              for side, value in (("row", train.row_labels), ("col", train.col_labels))
              if value is not None}  # fmt: skip
    np.savez(arrays, U=scored["factors"]["row"], V=scored["factors"]["col"], **labels)
    meta.write_text(json.dumps({"ppid": os.getppid(), "fingerprint": A._fingerprint(scored)}))


# ------------------------------------------------------------ child side: cluster
def _start_cluster(count_bytes: bool) -> None:
    """A 2-worker LocalCluster, its start-up timed apart (not part of the timed call)."""
    import dask

    from mfcli.distributed.cluster import connect

    # keep every transfer of the fit in the workers' logs (read for the byte counts);
    # the nannies hand this process's dask config to the workers
    dask.config.set({"distributed.admin.low-level-log-length": LOG_LENGTH})

    start = time.perf_counter()
    context = connect(f"local:{WORKERS}", threads_per_worker=1)
    client = context.__enter__()
    client.wait_for_workers(WORKERS)
    _STATE.update(context=context, client=client, startup=time.perf_counter() - start)
    if count_bytes:
        client.register_plugin(_arrivals_plugin(), name=PLUGIN)
        _STATE["ports"] = _cluster_ports(client)


def _warm_up(run=None) -> None:
    """A tiny job on the cluster (``run``, else a tiny fit of the training matrix's dtypes):
    modules imported and numba kernels loaded in the workers before the timed call."""
    from mfcli.distributed.als import als_from_matrix
    from mfcli.kernels.probe import touch_threads

    touch_threads()
    start = time.perf_counter()
    if run is None:  # users rotated to a diagonal Gram, items not: both paths run
        tiny = A._tiny(A._STATE["train"])
        als_from_matrix(_STATE["client"], tiny, 4, **{**A._als_kw(True), "iters": 2})
    else:
        run()
    _STATE["warmup"] = time.perf_counter() - start


def _close_cluster() -> None:
    context = _STATE.pop("context", None)
    if context is not None:
        context.__exit__(None, None, None)


def cluster_setup(args: dict) -> None:
    A._mfcli_threads()
    A._common_setup(args, CLU)  # reads the training matrix; scores the model at exit
    _start_cluster(count_bytes=True)
    _warm_up()
    atexit.register(_compare_at_exit, args, CLU)
    import gc

    gc.collect()
    reset_peak()


def cluster_fit(args: dict) -> dict:
    from mfcli.distributed.als import als_from_matrix, bytes_per_iteration

    client, train = _STATE["client"], A._STATE["train"]
    snaps: dict = {"read_seconds": 0.0}

    def callback(it, stats):
        if it == 1 or it == ITERS:
            t = time.perf_counter()
            snaps[it] = _snapshot(client)
            snaps["read_seconds"] += time.perf_counter() - t
        return None

    wire_start = _loopback_bytes()
    fit = als_from_matrix(client, train, args["k"], callback=callback, **A._als_kw(True))
    wire_fit = _loopback_bytes() - wire_start
    A._STATE["scored"] = {"method": "als", "factors": {"row": fit.U, "col": fit.V},
                          "biases": {}}  # fmt: skip
    _STATE["fit"] = fit
    m, n = train.shape
    workers = len(client.scheduler_info()["workers"])
    bytes_info = {"m": m, "n": n, "workers": workers, "wire_fit": wire_fit,
                  "model": bytes_per_iteration(m, n, args["k"], workers, ITEMSIZE),
                  "read_seconds": snaps["read_seconds"]}  # fmt: skip
    moved = _engine_bytes(fit.notes)
    if moved is not None:
        bytes_info["engine"] = moved / fit.n_iter
    full = any(w["log_full"] for s in snaps.values() if isinstance(s, dict)
               for w in s["workers"].values())  # fmt: skip
    if 1 in snaps and ITERS in snaps and fit.n_iter == ITERS and not full:
        bytes_info.update(_per_iteration(snaps[1], snaps[ITERS], ITERS - 1))
    elif full:
        bytes_info["error"] = "a worker's transfer log overflowed"
    else:
        bytes_info["error"] = "the fit stopped before the last iteration"
    return {
        "n_iter": int(fit.n_iter),
        "loss": float(fit.history["loss"][-1]),
        "shape": [m, n],
        "nnz": int(train.nnz),
        "startup_seconds": _STATE["startup"],
        "warmup_seconds": _STATE["warmup"],
        "bytes": bytes_info,
    }


def _engine_bytes(notes: list[str]) -> int | None:
    """The engine's count: the last note ends with "factor bytes moved: N"."""
    for note in reversed(notes):
        head, sep, tail = note.rpartition("factor bytes moved: ")
        if sep and tail.strip().isdigit():
            return int(tail.strip())
    return None


def _per_iteration(a: dict, b: dict, iterations: int) -> dict:
    """Dask's and the wire's bytes between two snapshots, per iteration."""
    workers = a["workers"].keys() & b["workers"].keys()
    arrived = sum(b["workers"][w]["arrived"] - a["workers"][w]["arrived"] for w in workers)
    peers = sum(b["workers"][w]["to_peers"] - a["workers"][w]["to_peers"] for w in workers)
    client = sum(b["workers"][w]["to_client"] - a["workers"][w]["to_client"] for w in workers)
    served = sum(
        b["workers"][w]["outgoing_total"] - a["workers"][w]["outgoing_total"] for w in workers
    )
    tcp = None
    if a["tcp"] is not None and b["tcp"] is not None:
        # a connection closed in between loses its bytes: counted and reported
        closed = len(a["tcp"].keys() - b["tcp"].keys())
        tcp = sum(v - a["tcp"].get(k, 0) for k, v in b["tcp"].items()) / iterations
    return {
        "tcp": tcp,
        "tcp_closed": closed if tcp is not None else None,
        "dask": (arrived + client) / iterations,
        "scattered": (arrived - peers) / iterations,
        "replicated": peers / iterations,
        "gathered": client / iterations,
        "outgoing_total": served / iterations,  # transfer_outgoing_bytes_total: peers + client
        "wire": (b["wire"] - a["wire"]) / iterations,
    }


def _snapshot(client) -> dict:
    return {
        "workers": client.run(_worker_counts),
        "tcp": _tcp_bytes(_STATE["ports"]),
        "wire": _loopback_bytes(),
    }


def _cluster_ports(client) -> set[int]:
    """The listening ports of the scheduler, the workers and their nannies."""
    info = client.scheduler_info()
    addresses = [client.scheduler.address, *info["workers"]]
    addresses += [w.get("nanny") for w in info["workers"].values()]
    return {int(a.rsplit(":", 1)[1]) for a in addresses if a and ":" in a}


def _tcp_bytes(ports: set[int]) -> dict | None:
    """Bytes received so far on every established TCP socket with an end at a cluster port,
    from the kernel's tcp_info (`ss -tin`), keyed by (local, peer) address.

    Both ends of a loopback connection are listed, so the sum over sockets of the bytes
    received counts every byte sent either way once.
    """
    try:
        out = subprocess.run(
            ["ss", "-tinH", "state", "established"], capture_output=True, text=True, timeout=10
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    counts, socket = {}, None
    for line in out.splitlines():
        if not line[:1].isspace():
            fields = line.split()
            ends = fields[-2:] if len(fields) >= 4 else []
            ok = len(ends) == 2 and {_port(ends[0]), _port(ends[1])} & ports
            socket = tuple(ends) if ok else None
        elif socket is not None:
            for field in line.split():
                if field.startswith("bytes_received:"):
                    counts[" ".join(socket)] = int(field.partition(":")[2])
            socket = None
    return counts


def _port(address: str) -> int:
    try:
        return int(address.rsplit(":", 1)[1])
    except (IndexError, ValueError):
        return -1


def _worker_counts(dask_worker) -> dict:
    """On a worker: Dask's byte counters (cumulative since the worker started)."""
    plugin = dask_worker.plugins.get(PLUGIN)
    to_peers = to_client = 0
    for entry in dask_worker.transfer_outgoing_log:
        if entry.get("who") is None:  # a client's gather
            to_client += int(entry["total"])
        else:  # another worker fetching (a broadcast's replication)
            to_peers += int(entry["total"])
    return {
        "arrived": int(getattr(plugin, "arrived", 0)),
        "to_peers": to_peers,
        "to_client": to_client,
        "outgoing_total": int(dask_worker.transfer_outgoing_bytes_total),
        "log_full": len(dask_worker.transfer_outgoing_log)
        == dask_worker.transfer_outgoing_log.maxlen,
    }


def _arrivals_plugin():
    """A WorkerPlugin adding up Dask's nbytes of keys that reach memory without being
    computed on the worker (scattered by the client, or replicated from a peer)."""
    from distributed import WorkerPlugin

    class Arrivals(WorkerPlugin):
        def setup(self, worker):
            self.worker = worker
            self.arrived = 0

        def transition(self, key, start, finish, *args, **kwargs):
            if finish != "memory" or start == "executing":
                return
            ts = self.worker.state.tasks.get(key)
            if ts is not None and ts.nbytes is not None and ts.nbytes > 0:
                self.arrived += int(ts.nbytes)

    return Arrivals()


def _loopback_bytes() -> int:
    """Bytes transmitted on the loopback interface so far (/proc/net/dev)."""
    try:
        with open("/proc/net/dev") as fh:
            for line in fh:
                name, sep, rest = line.partition(":")
                if sep and name.strip() == "lo":
                    return int(rest.split()[8])  # transmit bytes
    except OSError:
        pass
    return 0


# ------------------------------------------------------------ child side: parts
def parts_setup(args: dict) -> None:
    import tempfile

    from mfcli.io.options import ReadOptions

    A._mfcli_threads()
    _start_cluster(count_bytes=False)
    # the reader's kernels too: a tiny partitioned input read by the workers
    tmp = tempfile.mkdtemp(prefix="dist-parts-warm-")
    _STATE["tmp"] = tmp
    for i in range(2):
        with open(os.path.join(tmp, f"part-{i}.csv"), "w") as fh:
            fh.write("row,col,value\n" + "".join(
                f"{u},{v},{1 + (u + v) % 4}\n" for u in range(i * 40, i * 40 + 40)
                for v in range(1 + u % 7, 61, 7)))  # fmt: skip

    def read_tiny():
        from mfcli.distributed.als import als
        from mfcli.distributed.load import load_row_blocks

        users, items, _, _ = load_row_blocks(
            _STATE["client"], tmp, ReadOptions(dtype="float32"), columns=True
        )
        als(_STATE["client"], users, items, 4, **{**A._als_kw(True), "iters": 2})

    _warm_up(read_tiny)
    # the parts' layout and sizes, for the report only (the client reads no data)
    manifest = json.loads((Path(args["parts"]) / "manifest.json").read_text())
    _STATE["manifest"] = manifest
    atexit.register(_compare_at_exit, args, PARTS)
    import gc

    gc.collect()
    reset_peak()


def parts_fit(args: dict) -> dict:
    from mfcli.distributed.als import als
    from mfcli.distributed.load import load_row_blocks
    from mfcli.io.options import ReadOptions

    client = _STATE["client"]
    start = time.perf_counter()
    users, items, row_labels, col_labels = load_row_blocks(
        client, args["parts"], ReadOptions(dtype="float32"), columns=True
    )
    read = time.perf_counter() - start
    fit = als(client, users, items, args["k"], **A._als_kw(True))
    fit_seconds = time.perf_counter() - start - read
    _STATE["fit"] = fit
    _STATE["labels"] = (row_labels, col_labels)
    return {
        "n_iter": int(fit.n_iter),
        "loss": float(fit.history["loss"][-1]),
        "shape": list(users.shape),
        "nnz": int(users.nnz),
        "n_parts": len(_STATE["manifest"]["parts"]),
        "read_seconds": read,
        "fit_seconds": fit_seconds,
        "startup_seconds": _STATE["startup"],
        "warmup_seconds": _STATE["warmup"],
    }


# ------------------------------------------------------------ child side: at exit
def _compare_at_exit(args: dict, tool: str) -> None:
    """Max |difference| of the factors from the one-process fit's; then the cluster closes."""
    try:
        record = _compare(args, tool)
    except Exception as exc:  # noqa: BLE001 - reported in the table, never a crash at exit
        record = {"error": repr(exc)[:300]}
    finally:
        try:
            _close_cluster()
        finally:
            import shutil

            if "tmp" in _STATE:
                shutil.rmtree(_STATE.pop("tmp"), ignore_errors=True)
    if record is None:
        return
    path = _sidecar(args["key"], tool)
    side = child_sidecar(path, runs=[])
    side["runs"].append(record)
    WORK.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(side, indent=1))


def _compare(args: dict, tool: str) -> dict | None:
    import numpy as np

    fit = _STATE.get("fit")
    if fit is None:
        return None
    arrays, meta = _reference_paths(args["key"])
    try:
        ok = json.loads(meta.read_text()).get("ppid") == os.getppid()
    except (OSError, ValueError):
        ok = False
    if not ok:
        return {"error": f"no reference from {ONE} in this harness run"}
    with np.load(arrays) as ref:
        U, V = ref["U"], ref["V"]
        ref_labels = {name: ref[name] for name in ("row_labels", "col_labels") if name in ref}
    if tool == PARTS:
        # the parts' ids must name the same rows and columns as the training file's labels
        for side, labels in zip(("row", "col"), _STATE["labels"], strict=True):
            ref_side = ref_labels.get(f"{side}_labels")
            if labels is None or ref_side is None:
                continue
            if not np.array_equal(np.asarray(labels).astype(str), ref_side):
                return {"error": f"the parts' {side} ids differ from the training file's"}
    if U.shape != fit.U.shape or V.shape != fit.V.shape:
        return {"error": f"shapes differ: {fit.U.shape[0]} x {fit.V.shape[0]} vs "
                         f"{U.shape[0]} x {V.shape[0]}"}  # fmt: skip
    du = float(np.max(np.abs(fit.U.astype(np.float64) - U))) if U.size else 0.0
    dv = float(np.max(np.abs(fit.V.astype(np.float64) - V))) if V.size else 0.0
    return {"du": du, "dv": dv}


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "write-parts":
        _write_parts(sys.argv[2], sys.argv[3])
    else:
        raise SystemExit(f"usage: python -m {HERE} write-parts TRAIN OUTDIR")
