"""Truncated SVD (k = 50): mfcli randomized and Lanczos vs scikit-learn and scipy."""

from __future__ import annotations

import json
import os

from benchmarks.cases.common import input_bytes, load_matrix, reset_peak
from benchmarks.harness import REPO, Measurement, Scenario, Target, Tool

NAME = "svd"
GROUP = "fit"
TITLE = "Truncated SVD, k = 50 (mfcli.solvers.svd vs scikit-learn TruncatedSVD and scipy svds)"
ABOUT = (
    "`mfcli.solvers.svd.truncated_svd` on a file read in setup, against scikit-learn's "
    "`TruncatedSVD` and `scipy.sparse.linalg.svds` on the same matrix (float64 CSR or "
    "array, as read). *Fast* scenarios: mfcli's randomized method (float32 factors, the "
    "default; a float64 row for reference) against TruncatedSVD(algorithm='randomized') at the "
    "same settings: 10 oversamples, 5 power iterations. *Accurate* scenarios: mfcli's "
    "thick-restart block Lanczos (float32 factors, default tol 1e-5 on the residuals "
    "relative to s[0]) against ARPACK through TruncatedSVD(algorithm='arpack') and svds "
    "(both tol=0). Quality is the largest relative error of the top-10 (and all 50) singular "
    "values against ARPACK's (the *accurate* scenarios run first and leave ARPACK's values "
    "in benchmarks/_work for the *fast* ones). Times are the fit alone, warm: the matrix is "
    "read, numba's start-up done and the compiled kernels loaded (a tiny fit) in setup, and "
    "the memory high-water mark is reset after setup, so peak RSS is the process during the "
    "fit (interpreter, libraries and the input included)."
)
HERE = "benchmarks.cases.svd"
K, OVERSAMPLE, POWER_ITERS = 50, 10, 5
MFCLI = "mfcli randomized"
MFCLI64 = "mfcli randomized, float64"
MFCLI_LANCZOS = "mfcli lanczos"
SK_RANDOMIZED = "sklearn TruncatedSVD randomized"
SK_ARPACK = "sklearn TruncatedSVD arpack"
SVDS = "scipy svds (arpack)"
MIB = 2**20
_STATE: dict = {}

DATASETS = {
    False: [
        (
            "200k x 50k sparse, 20M entries",
            {"kind": "lowrank-sparse", "name": "svd-20M", "rows": 200_000, "cols": 50_000,
             "nnz": 20_000_000, "rank": 10, "seed": 1, "format": "h5"},
            0.5,
        ),
        (
            "dense 5,000 x 2,000",
            {"kind": "lowrank", "name": "svd-dense", "rows": 5000, "cols": 2000, "rank": 100,
             "noise": 0.01, "seed": 1, "format": "h5"},
            1.0,
        ),
        (
            "943 x 1,682 ratings (MovieLens-100k shaped)",
            {"kind": "ratings", "name": "svd-100k", "users": 943, "items": 1682,
             "nnz": 100_000, "step": 1.0, "seed": 1, "format": "h5"},
            1.0,
        ),
    ],
    True: [
        (
            "20k x 5k sparse, 200k entries",
            {"kind": "lowrank-sparse", "name": "svd-200k", "rows": 20_000, "cols": 5000,
             "nnz": 200_000, "rank": 10, "seed": 1, "format": "h5"},
            0.5,
        ),
    ],
}  # fmt: skip


def _reference_path(spec: dict):
    return REPO / "benchmarks" / "_work" / f"svd-arpack-{spec['name']}.json"


def scenarios(quick: bool) -> list[Scenario]:
    out = []
    for label, spec, fast_ratio in DATASETS[quick]:
        args = {"k": K, "oversample": OVERSAMPLE, "power_iters": POWER_ITERS,
                "reference": str(_reference_path(spec))}  # fmt: skip
        accurate = [
            Tool(MFCLI_LANCZOS, func=f"{HERE}:mfcli_lanczos", setup=f"{HERE}:mfcli_setup",
                 peer=False, note="float32, tol 1e-5"),
            Tool(SK_ARPACK, func=f"{HERE}:sklearn_arpack", setup=f"{HERE}:peer_setup",
                 note="tol=0"),
            Tool(SVDS, func=f"{HERE}:scipy_svds", setup=f"{HERE}:peer_setup", note="tol=0"),
        ]  # fmt: skip
        fast = [
            Tool(MFCLI, func=f"{HERE}:mfcli_randomized", setup=f"{HERE}:mfcli_setup",
                 peer=False, note="float32"),
            Tool(MFCLI64, func=f"{HERE}:mfcli_randomized64", setup=f"{HERE}:mfcli_setup64",
                 peer=False, note="float64"),
            Tool(SK_RANDOMIZED, func=f"{HERE}:sklearn_randomized", setup=f"{HERE}:peer_setup",
                 note="n_iter=5, n_oversamples=10"),
        ]  # fmt: skip
        out.append(
            Scenario(
                label=f"{label}, accurate (Lanczos vs ARPACK)",
                data=spec,
                args=args,
                tools=accurate,
                targets=[
                    _time(MFCLI_LANCZOS, SK_ARPACK, 1.0),
                    _quality(MFCLI_LANCZOS, 1e-6),
                    _memory(MFCLI_LANCZOS),
                ],
            )
        )
        out.append(
            Scenario(
                label=f"{label}, fast (randomized)",
                data=spec,
                args=args,
                tools=fast,
                targets=[
                    _time(MFCLI, SK_RANDOMIZED, fast_ratio),
                    _quality(MFCLI, None),
                    _quality(SK_RANDOMIZED, None),
                    _memory(MFCLI),
                ],
            )
        )
    return out


# ------------------------------------------------------------ targets
def _time(tool: str, peer: str, at_most: float) -> Target:
    def check(results: dict[str, Measurement]):
        a, b = results.get(tool), results.get(peer)
        if a is None or b is None or not (a.ok and b.ok):
            return None, "not measured"
        ratio = a.seconds / b.seconds
        return ratio <= at_most, f"{ratio:.2f}x ({a.seconds:.2f} s vs {b.seconds:.2f} s)"

    return Target(f"{tool} time <= {at_most:g}x {peer}", check)


def _reference(results: dict[str, Measurement]) -> list[float] | None:
    for name in (SK_ARPACK, SVDS):
        m = results.get(name)
        if m is not None and m.ok and "s" in m.info:
            return m.info["s"]
    for m in results.values():
        path = m.info.get("reference") if m.ok else None
        if path:
            try:
                return json.loads(open(path).read())["s"]
            except (OSError, ValueError, KeyError):
                return None
    return None


def _errors(s: list[float], ref: list[float]) -> tuple[float, float]:
    rel = [abs(a - b) / b for a, b in zip(s, ref, strict=True)]
    return max(rel[:10]), max(rel)


def _quality(tool: str, at_most: float | None) -> Target:
    def check(results: dict[str, Measurement]):
        m = results.get(tool)
        ref = _reference(results)
        if m is None or not m.ok or ref is None or "s" not in m.info:
            return None, "not measured (needs ARPACK's values)"
        top, every = _errors(m.info["s"], ref)
        text = f"top-10 {top:.1e}, all {len(ref)} {every:.1e}"
        return (None if at_most is None else top <= at_most), text

    if at_most is None:
        return Target(f"{tool}: singular-value relative error vs ARPACK (reported)", check)
    return Target(f"{tool}: top-10 singular values within {at_most:g} of ARPACK's", check)


def _memory(tool: str) -> Target:
    """Peak RSS <= input + 3 (m + n)(k + oversample) 8 bytes + 200 MiB."""

    def check(results: dict[str, Measurement]):
        m = results.get(tool)
        if m is None or not m.ok or "input_bytes" not in m.info:
            return None, "not measured"
        rows, cols = m.info["shape"]
        budget = m.info["input_bytes"] + 3 * (rows + cols) * (K + OVERSAMPLE) * 8 + 200 * MIB
        return m.peak_rss <= budget, (
            f"{m.peak_rss / MIB:,.0f} MiB of {budget / MIB:,.0f} MiB "
            f"(input {m.info['input_bytes'] / MIB:,.0f} MiB; "
            f"{m.rss_above_base / MIB:,.0f} MiB above the post-setup baseline)"
        )

    return Target(
        f"{tool}: peak RSS <= input + 3 (m + n)(k + oversample) x 8 bytes + 200 MiB", check
    )


# ------------------------------------------------------------ child side
def _setup(args: dict, dtype) -> None:
    import numpy as np

    from mfcli.data import Matrix
    from mfcli.kernels.probe import touch_threads
    from mfcli.solvers.svd import truncated_svd

    touch_threads()
    matrix = load_matrix(args)
    _STATE["matrix"] = matrix
    # Load the compiled kernels for these index and value dtypes before the clock starts.
    if matrix.is_sparse:
        n = 400
        idx = np.arange(n, dtype=matrix.indices.dtype) % 97
        ptr = np.arange(n + 1, dtype=matrix.indptr.dtype)
        tiny = Matrix(shape=(n, 97), data=np.ones(n, matrix.data.dtype), indptr=ptr, indices=idx)
    else:
        tiny = np.random.default_rng(0).standard_normal((300, 97))
    for method in ("randomized", "lanczos"):
        truncated_svd(tiny, 3, method=method, dtype=dtype, oversample=2)
    reset_peak()


def mfcli_setup(args: dict) -> None:
    import numpy as np

    _setup(args, np.float32)


def mfcli_setup64(args: dict) -> None:
    import numpy as np

    _setup(args, np.float64)


def _mfcli(args: dict, method: str, dtype) -> dict:
    from mfcli.solvers.svd import truncated_svd

    matrix = _STATE["matrix"]
    fit = truncated_svd(
        matrix,
        args["k"],
        method=method,
        oversample=args["oversample"],
        power_iters=args["power_iters"],
        dtype=dtype,
    )
    return {
        "s": [float(v) for v in fit.s],
        "n_iter": fit.n_iter,
        "notes": fit.notes,
        "shape": list(matrix.shape),
        "input_bytes": input_bytes(matrix),
        "reference": args["reference"],
    }


def mfcli_randomized(args: dict) -> dict:
    import numpy as np

    return _mfcli(args, "randomized", np.float32)


def mfcli_randomized64(args: dict) -> dict:
    import numpy as np

    return _mfcli(args, "randomized", np.float64)


def mfcli_lanczos(args: dict) -> dict:
    import numpy as np

    return _mfcli(args, "lanczos", np.float32)


def peer_setup(args: dict) -> None:
    import scipy.sparse.linalg  # noqa: F401
    import sklearn.decomposition  # noqa: F401

    matrix = load_matrix(args)
    _STATE["x"] = matrix.to_scipy()
    _STATE["shape"] = list(matrix.shape)
    _STATE["input_bytes"] = input_bytes(matrix)
    del matrix
    reset_peak()


def _peer_facts(s) -> dict:
    return {"s": [float(v) for v in s], "shape": _STATE["shape"],
            "input_bytes": _STATE["input_bytes"]}  # fmt: skip


def sklearn_randomized(args: dict) -> dict:
    from sklearn.decomposition import TruncatedSVD

    model = TruncatedSVD(
        args["k"],
        algorithm="randomized",
        n_iter=args["power_iters"],
        n_oversamples=args["oversample"],
        random_state=0,
    ).fit(_STATE["x"])
    return _peer_facts(model.singular_values_)


def sklearn_arpack(args: dict) -> dict:
    from sklearn.decomposition import TruncatedSVD

    model = TruncatedSVD(args["k"], algorithm="arpack", random_state=0).fit(_STATE["x"])
    facts = _peer_facts(model.singular_values_)
    # The fast scenarios measure their quality against these values.
    os.makedirs(os.path.dirname(args["reference"]), exist_ok=True)
    with open(args["reference"], "w") as fh:
        json.dump({"s": facts["s"]}, fh)
    return facts


def scipy_svds(args: dict) -> dict:
    from scipy.sparse.linalg import svds

    s = svds(_STATE["x"], k=args["k"], tol=0, random_state=0)[1]
    return _peer_facts(sorted(s, reverse=True))
