"""Biased MF by SGD, k = 100: mfcli vs LIBMF and Surprise SVD, test RMSE and fit time."""

from __future__ import annotations

import atexit
import json
import os
from pathlib import Path

from benchmarks.cases.common import child_sidecar, reset_peak, this_runs, time_target
from benchmarks.harness import REPO, Measurement, Scenario, Target, Tool

NAME = "sgd"
GROUP = "fit"
TITLE = (
    "Biased MF by SGD, k = 100, 20 epochs (mfcli.solvers.sgd vs LIBMF and Surprise SVD): "
    "test RMSE and fit time"
)
K = 100
EPOCHS = 20
THREADS = 2
SEED = 0
TEST_FRAC = 0.2
LIBMF_MARGIN = 0.005  # mfcli's test RMSE at most LIBMF's minus this
SURPRISE_MARGIN = 0.02  # ... and at most Surprise's minus this
LIBMF_RATIO = 1.0  # mfcli's fit time at most this times LIBMF's
SURPRISE_RATIO = 0.1  # ... and at most this times Surprise's
# LIBMF's own defaults (its CLI and mf_get_default_param in the installed library):
# L2 0.1 on both sides, no L1, AdaGrad base step 0.1, 26 bins per side.
LIBMF_PARAMS = {"lambda_p1": 0.0, "lambda_q1": 0.0, "lambda_p2": 0.1, "lambda_q2": 0.1,
                "eta": 0.1, "nr_bins": 26}  # fmt: skip
ABOUT = (
    f"Each tool fits k = {K} factors for {EPOCHS} epochs on the same training ratings and "
    "predicts the same held-out pairs. Split: one random 80/20 split per data set (a "
    f"`numpy.random.default_rng({SEED})` permutation of all ratings; "
    "`benchmarks/ratings_sets.py`), made once and cached in benchmarks/_data/ as .npz "
    "triplets that every tool reads. The real sets are the files in "
    "../shared/data/real/ratings/ (outside the repository; a scenario is skipped when its "
    "file is absent), read with mfcli's own readers (`mfcli.io.read_matrix`, the MATLAB "
    "files included: Epinions is a v5 table read with `--columns 0,1,3`, Douban the v7.3 "
    "(HDF5) dense matrix `M` with zeros as missing, its own train/test masks unused); a "
    "repeated (user, item) pair is kept once (the last). The synthetic set is mfcli's "
    "generator (data kind `ratings`: mean + user bias + item bias + a rank-10 term + "
    "Gaussian noise 0.5, rounded to 1-5, power-law user activity and item popularity). "
    f"**mfcli**: `mfcli.solvers.sgd.sgd(train, {K}, epochs={EPOCHS}, seed={SEED})` with "
    "its `DEFAULTS` otherwise (listed under each table; no per-data-set tuning), float32 "
    f"factors, {THREADS} numba threads (the solver itself uses one thread per 20,000 "
    "training ratings at most, `MIN_RATINGS_PER_THREAD`, so FilmTrust runs on one). "
    "**LIBMF**: the pip `libmf` "
    f"package (LIBMF 2.x, ctypes), `MF(k={K}, nr_iters={EPOCHS}, nr_threads={THREADS}, "
    "lambda_p2=0.1, lambda_q2=0.1, lambda_p1=0, lambda_q1=0, eta=0.1, nr_bins=26, "
    "quiet=True)`: LIBMF's own defaults (its CLI's and `mf_get_default_param`'s; the "
    "wrapper's Python defaults differ: L1 0.04 and no L2), squared loss, AdaGrad, no "
    "biases (its factors absorb the mean). Wrapper quirks: `fit` reads the (nnz, 3) "
    "float32 array row by row (user, item, rating; C order) but `predict` reads its "
    "(q, 2) array column-major, so `predict` on a C-ordered array returns wrong values; "
    "predictions here are computed from `p_factors()` / `q_factors()` instead (checked "
    "against `predict` on a Fortran-ordered array). LIBMF's model spans the largest "
    "training index only and gives users and items without training ratings NaN factor "
    "rows; those pairs get the training mean (its `mf_predict` fallback, the model's `b`). "
    f"**Surprise**: `SVD(n_factors={K}, n_epochs={EPOCHS}, random_state={SEED})` with its "
    "defaults otherwise (lr 0.005, reg 0.02, biased, float64), single-threaded; its "
    "trainset is built in setup with `Reader(rating_scale=(training min, max))`; its "
    "predictions are its `estimate` rule vectorised (mean + known biases + p.q when both "
    "are known), clipped to that scale as `predict` does (checked against `predict` on "
    "1,000 pairs). RMSE: the same function for every tool, over all test pairs, on the "
    "tool's predictions clipped to the training rating range (mfcli and Surprise clip "
    "already; LIBMF does not, its unclipped RMSE is reported too); a user or item without "
    "training ratings gets each tool's own fallback (mfcli: mu plus the known side's "
    "bias, from zero factors and biases; Surprise: the same; LIBMF: the training mean). "
    "Scoring runs in an exit handler after the timed call, so it is not in the time; "
    "LIBMF's multi-threaded schedule is not deterministic, so its RMSE is the mean over the "
    "runs of the harness invocation (warm-up included; the range is reported). *time* is "
    "the fit alone: the split is loaded, the tool's input built (mfcli's CSR, LIBMF's "
    "float32 array, Surprise's trainset) and numba's kernels compiled (a tiny fit) in "
    "setup; LIBMF's time includes the wrapper's own copies of the array. Surprise is run "
    "as often as the others (the harness has no per-tool repeat); it only needs the 0.1x "
    "ratio."
)
HERE = "benchmarks.cases.sgd"
MF = "mfcli sgd"
LM = "LIBMF"
SP = "Surprise SVD"
SLUG = {MF: "mfcli", LM: "libmf", SP: "surprise"}
WORK = REPO / "benchmarks" / "_work"
_STATE: dict = {}

SYNTH_1M = {"kind": "ratings", "name": "sgd-ratings-1m", "users": 6040, "items": 3706,
            "nnz": 1_000_000, "step": 1.0, "seed": 0, "format": "h5"}  # fmt: skip
QUICK_SYNTH = {**SYNTH_1M, "name": "sgd-ratings-100k", "users": 943, "items": 1682,
               "nnz": 100_000}  # fmt: skip

# key: a real set of benchmarks.ratings_sets.SETS, or (label, data spec)
SCENARIOS = {
    False: [
        "filmtrust",
        "ciaodvd",
        "epinions",
        "douban",
        ("synth-1m", "synthetic ratings with biases, 6,040 x 3,706, 1M ratings 1-5", SYNTH_1M),
    ],
    True: [
        "filmtrust",
        ("quick-synth-100k", "synthetic ratings with biases, 943 x 1,682, 100k ratings 1-5",
         QUICK_SYNTH),
    ],
}  # fmt: skip


def _log(message: str) -> None:
    import sys

    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def _tools() -> list[Tool]:
    return [
        Tool(MF, func=f"{HERE}:mfcli_fit", setup=f"{HERE}:mfcli_setup", peer=False,
             note=f"float32, DEFAULTS, {THREADS} threads, seed {SEED}"),
        Tool(LM, func=f"{HERE}:libmf_fit", setup=f"{HERE}:libmf_setup",
             note=f"float32, l2 0.1, eta 0.1, no biases, {THREADS} threads"),
        Tool(SP, func=f"{HERE}:surprise_fit", setup=f"{HERE}:surprise_setup",
             note="float64, lr 0.005, reg 0.02, biased, 1 thread"),
    ]  # fmt: skip


def scenarios(quick: bool) -> list[Scenario]:
    from benchmarks import data, ratings_sets

    out = []
    for entry in SCENARIOS[quick]:
        spec, notes = None, []
        if isinstance(entry, str):
            key, real = entry, ratings_sets.SETS[entry]
            if not real.path.exists():
                out.append(
                    Scenario(
                        label=f"{real.name} (real): skipped",
                        tools=[],
                        notes=[f"Skipped: {real.path} is absent (a real file outside the repo)."],
                    )
                )
                continue
            source, read, identity = real.path, real.read, ratings_sets.identity_of(real.path)
            flags = " ".join(f"--{k} {v}" for k, v in read.items())
            notes.append(f"Input: {real.path} ({real.about}; read as `mfcli ... {flags}` does).")
        else:
            key, label, spec = entry
            source, read, identity = data.ensure(spec, log=_log), {}, spec
        split, meta = ratings_sets.ensure_split(
            key, source, read, identity, test_frac=TEST_FRAC, seed=SEED, log=_log
        )
        if spec is None:
            label = (
                f"{real.name} (real), {meta['shape'][0]:,} x {meta['shape'][1]:,}, "
                f"{meta['nnz']:,} ratings {meta['rating_min']:g}-{meta['rating_max']:g}"
            )
        dup = meta["duplicates_merged"]
        notes.append(
            f"Split: random {1 - TEST_FRAC:.0%}/{TEST_FRAC:.0%} of all {meta['nnz']:,} ratings "
            f"(seed {SEED}{f'; {dup:,} repeated pairs merged first' if dup else ''}): "
            f"{meta['train']:,} training, {meta['test']:,} test ratings, of which "
            f"{meta['test_cold']:,} have a user ({meta['test_new_user']:,}) or an item "
            f"({meta['test_new_item']:,}) without training ratings. Cached in "
            f"benchmarks/_data/{split.name}."
        )
        args = {"key": key, "split": str(split), "k": K, "epochs": EPOCHS}
        targets = [
            _facts(key),
            _rmse(key, LM, LIBMF_MARGIN),
            _rmse(key, SP, SURPRISE_MARGIN),
            time_target(MF, LM, LIBMF_RATIO),
            time_target(MF, SP, SURPRISE_RATIO),
        ]
        out.append(
            Scenario(label=label, data=spec, args=args, tools=_tools(), targets=targets,
                     notes=notes)
        )  # fmt: skip
    return out


# ------------------------------------------------------------ targets
def sidecar_path(key: str, tool: str) -> Path:
    return WORK / f"sgd-rmse-{key}-{SLUG[tool]}.json"


def _scored(key: str, tool: str) -> dict | None:
    """What the tool's children scored in this harness run (None if nothing)."""
    return this_runs(sidecar_path(key, tool))


def _rmse_of(key: str, tool: str) -> tuple[float | None, str]:
    """The mean test RMSE over this harness run's scored runs, and a note on them."""
    side = _scored(key, tool)
    if side is None:
        return None, "not scored"
    runs = side.get("runs", [])
    if not runs:
        return None, f"scoring failed ({side.get('error', '?')})"
    values = [r["rmse"] for r in runs]
    mean = sum(values) / len(values)
    spread = ""
    if max(values) - min(values) > 5e-5:
        spread = f" (mean of {len(values)} runs, {min(values):.4f}-{max(values):.4f})"
    return mean, spread


def _facts(key: str) -> Target:
    def check(results: dict[str, Measurement]):
        parts = []
        for tool in (MF, LM, SP):
            value, note = _rmse_of(key, tool)
            if value is None:
                parts.append(f"{tool} {note}")
                continue
            text = f"{tool} {value:.4f}{note}"
            runs = _scored(key, tool)["runs"]
            raw = sum(r["rmse_raw"] for r in runs) / len(runs)
            if abs(raw - value) > 5e-5:
                text += f" ({raw:.4f} unclipped)"
            if runs[-1]["warm"] < runs[-1]["test"]:
                warm = sum(r["rmse_warm"] for r in runs) / len(runs)
                text += f" [{warm:.4f} on pairs with both sides trained]"
            check_diff = runs[-1].get("check_max_diff")
            if check_diff is not None and check_diff > 1e-3:
                text += f" (its predict differs by up to {check_diff:.3g}!)"
            r = results.get(tool)
            if r is not None and r.ok:
                text += f", {1e3 * r.seconds / EPOCHS:.0f} ms per epoch"
            parts.append(text)
        text = "test RMSE: " + "; ".join(parts)
        m = results.get(MF)
        if m is not None and m.ok and m.info:
            i = m.info
            text += (
                f". mfcli ran on {i['threads_used']} thread(s) of {i['threads']} "
                f"(training loss {i['loss']:.4f}); DEFAULTS "
                + ", ".join(f"{k} {v}" for k, v in i["defaults"].items())
            )
        return None, text

    return Target("test RMSE of every tool and time per epoch (reported)", check)


def _rmse(key: str, peer: str, margin: float) -> Target:
    def check(results: dict[str, Measurement]):
        a, _ = _rmse_of(key, MF)
        b, _ = _rmse_of(key, peer)
        if a is None or b is None:
            return None, "not scored"
        bound = b - margin
        return a <= bound, (
            f"{a:.4f} vs {b:.4f} ({a - b:+.4f}; needs <= {bound:.4f}, "
            f"{'met by' if a <= bound else 'missed by'} {abs(bound - a):.4f})"
        )

    return Target(f"{MF} test RMSE <= {peer}'s - {margin:g}", check)


# ------------------------------------------------------------ child side
def _threads() -> int:
    """The thread count (the harness's --threads wins), set before numpy loads."""
    n = int(os.environ.get("NUMBA_NUM_THREADS") or THREADS)
    for var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, str(n))
    return n


def _common_setup(args: dict, tool: str) -> dict:
    from benchmarks.ratings_sets import load

    split = load(args["split"])
    _STATE["split"] = split
    _STATE["tool"] = tool
    vals = split["train_vals"]
    _STATE["range"] = (float(vals.min()), float(vals.max()))
    atexit.register(_score_at_exit, args)
    return split


def mfcli_setup(args: dict) -> None:
    n = _threads()
    from mfcli.runtime import use_threads

    use_threads(n)  # as `mfcli sgd --threads N`
    import numpy as np

    from mfcli.data import Matrix
    from mfcli.kernels.probe import touch_threads
    from mfcli.solvers.sgd import sgd

    split = _common_setup(args, MF)
    shape = tuple(int(x) for x in split["shape"])
    train = Matrix.from_coo(split["train_rows"], split["train_cols"], split["train_vals"], shape)
    _STATE["train"] = train
    touch_threads()
    # Compile and load the kernels (same index and value dtypes) before the clock starts.
    rng = np.random.default_rng(0)
    r = rng.integers(0, 300, 6000).astype(split["train_rows"].dtype)
    c = rng.integers(0, 200, 6000).astype(split["train_cols"].dtype)
    tiny = Matrix.from_coo(r, c, rng.integers(1, 6, 6000).astype(np.float64), (300, 200))
    for _ in range(2):
        sgd(tiny, 4, epochs=2, seed=SEED)
    reset_peak()


def mfcli_fit(args: dict) -> dict:
    import numba

    from mfcli.solvers.sgd import DEFAULTS, MIN_RATINGS_PER_THREAD, sgd

    train = _STATE["train"]
    fit = sgd(train, args["k"], epochs=args["epochs"], seed=SEED)
    _STATE["model"] = fit
    threads = numba.get_num_threads()
    return {
        "n_iter": int(fit.n_iter),
        "loss": float(fit.history["loss"][-1]),
        "threads": threads,
        "threads_used": max(1, min(threads, train.nnz // MIN_RATINGS_PER_THREAD)),
        "defaults": dict(DEFAULTS),
        "notes": list(fit.notes),
        "nnz": int(train.nnz),
    }


def _mfcli_predict(rows, cols):
    from mfcli.solvers.sgd import predict

    return predict(_STATE["model"], rows, cols), None


def libmf_setup(args: dict) -> None:
    _threads()
    import contextlib
    import io

    import numpy as np

    with contextlib.redirect_stdout(io.StringIO()):  # the module prints the library's path
        from libmf import mf  # noqa: F401

    split = _common_setup(args, LM)
    # (nnz, 3) float32 in C order: the wrapper's fit reads it row by row.
    _STATE["X"] = np.ascontiguousarray(
        np.stack([split["train_rows"], split["train_cols"], split["train_vals"]], axis=1),
        dtype=np.float32,
    )
    tiny = np.ascontiguousarray(_STATE["X"][:2000])
    _libmf_model(4, 2).fit(tiny)  # load the library, start its threads once
    reset_peak()


def _libmf_model(k: int, iters: int):
    from libmf import mf

    return mf.MF(k=k, nr_iters=iters, nr_threads=int(os.environ["NUMBA_NUM_THREADS"]),
                 quiet=True, **LIBMF_PARAMS)  # fmt: skip


def libmf_fit(args: dict) -> dict:
    model = _libmf_model(args["k"], args["epochs"])
    model.fit(_STATE["X"])
    _STATE["model"] = model
    return {"threads": int(model._options.nr_threads), "m": int(model.model.m),
            "n": int(model.model.n)}  # fmt: skip


def _libmf_predict(rows, cols):
    """p_u . q_i from the factors; the training mean where LIBMF has no factors."""
    import numpy as np

    model = _STATE["model"]
    P, Q = model.p_factors(), model.q_factors()
    b = float(model.model.b)
    known = (rows < P.shape[0]) & (cols < Q.shape[0])
    out = np.full(rows.shape[0], b, dtype=np.float64)
    out[known] = np.einsum(
        "ij,ij->i",
        P[rows[known]].astype(np.float64),
        Q[cols[known]].astype(np.float64),
    )
    out[~np.isfinite(out)] = b  # NaN rows: no training ratings
    # The wrapper's predict reads its (q, 2) array column-major: Fortran order.
    pairs = np.asfortranarray(np.stack([rows, cols], axis=1), dtype=np.float32)
    theirs = np.asarray(model.predict(pairs), dtype=np.float64)
    return out, float(np.max(np.abs(theirs - out))) if out.size else 0.0


def surprise_setup(args: dict) -> None:
    _threads()
    import numpy as np
    import pandas as pd
    from surprise import SVD, Dataset, Reader

    split = _common_setup(args, SP)
    frame = pd.DataFrame(
        {"u": split["train_rows"], "i": split["train_cols"], "r": split["train_vals"]}
    )
    reader = Reader(rating_scale=_STATE["range"])
    _STATE["trainset"] = Dataset.load_from_df(frame, reader).build_full_trainset()
    del frame
    rng = np.random.default_rng(0)
    tiny = pd.DataFrame({"u": rng.integers(0, 50, 500), "i": rng.integers(0, 40, 500),
                         "r": rng.integers(1, 6, 500).astype(float)})  # fmt: skip
    tiny_set = Dataset.load_from_df(tiny.drop_duplicates(["u", "i"]), Reader(rating_scale=(1, 5)))
    SVD(n_factors=4, n_epochs=2, random_state=0).fit(tiny_set.build_full_trainset())
    reset_peak()


def surprise_fit(args: dict) -> dict:
    from surprise import SVD

    algo = SVD(n_factors=args["k"], n_epochs=args["epochs"], random_state=SEED)
    algo.fit(_STATE["trainset"])
    _STATE["model"] = algo
    return {"n_ratings": int(_STATE["trainset"].n_ratings)}


def _surprise_predict(rows, cols):
    """SVD.estimate vectorised, clipped to the rating scale as SVD.predict does."""
    import numpy as np

    algo, ts = _STATE["model"], _STATE["trainset"]
    users, items = ts._raw2inner_id_users, ts._raw2inner_id_items
    iu = np.fromiter((users.get(u, -1) for u in rows.tolist()), np.int64, rows.shape[0])
    ii = np.fromiter((items.get(i, -1) for i in cols.tolist()), np.int64, cols.shape[0])
    ku, ki = iu >= 0, ii >= 0
    est = np.full(rows.shape[0], ts.global_mean, dtype=np.float64)
    est[ku] += algo.bu[iu[ku]]
    est[ki] += algo.bi[ii[ki]]
    both = ku & ki
    est[both] += np.einsum("ij,ij->i", algo.pu[iu[both]], algo.qi[ii[both]])
    lo, hi = ts.rating_scale
    np.clip(est, lo, hi, out=est)
    n = min(1000, rows.shape[0])
    pairs = zip(rows[:n].tolist(), cols[:n].tolist(), strict=True)
    theirs = np.array([algo.predict(u, i).est for u, i in pairs])
    return est, float(np.max(np.abs(theirs - est[:n]))) if n else 0.0


PREDICT = {MF: _mfcli_predict, LM: _libmf_predict, SP: _surprise_predict}


def _score_at_exit(args: dict) -> None:
    """Test RMSE of the timed call's model, appended to this harness run's sidecar.

    An exit handler: the child has written its timing already, so scoring is
    not part of the time. The sidecar is tagged with the harness's pid so a
    stale file is never read.
    """
    if "model" not in _STATE:
        return
    import numpy as np

    tool = _STATE["tool"]
    path = sidecar_path(args["key"], tool)
    side = child_sidecar(path, runs=[])
    try:
        split = _STATE["split"]
        rows = split["test_rows"].astype(np.int64)
        cols = split["test_cols"].astype(np.int64)
        truth = split["test_vals"]
        raw, check_diff = PREDICT[tool](rows, cols)
        lo, hi = _STATE["range"]
        clipped = np.clip(raw, lo, hi)
        shape = split["shape"]
        warm = (np.bincount(split["train_rows"], minlength=shape[0])[rows] > 0) & (
            np.bincount(split["train_cols"], minlength=shape[1])[cols] > 0
        )
        side["runs"].append({
            "rmse": float(np.sqrt(np.mean((clipped - truth) ** 2))),
            "rmse_raw": float(np.sqrt(np.mean((raw - truth) ** 2))),
            "rmse_warm": float(np.sqrt(np.mean((clipped[warm] - truth[warm]) ** 2))),
            "warm": int(np.count_nonzero(warm)),
            "mae": float(np.mean(np.abs(clipped - truth))),
            "check_max_diff": check_diff,
            "test": int(truth.shape[0]),
        })  # fmt: skip
    except Exception as exc:  # noqa: BLE001 - reported in the table, never a crash at exit
        side["error"] = repr(exc)[:300]
    WORK.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(side, indent=1))
