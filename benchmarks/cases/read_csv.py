"""Reading a triplet CSV (user,item,rating,timestamp): mfcli vs pandas."""

from __future__ import annotations

from benchmarks.cases.common import import_reader, memory_target, read_prefault_mib, time_target
from benchmarks.harness import Scenario, Tool

NAME = "read-csv"
GROUP = "read"
TITLE = "Read an integer triplet CSV (user,item,rating,timestamp)"
ABOUT = (
    "MovieLens-shaped ratings from `mfcli generate ratings` (integer ratings 1..5, unix "
    "timestamps, header line, sorted by user then item). `mfcli.io.read_matrix` detects the "
    "separator and header itself and returns CSR (int32 indices, float64 values) with the "
    "original ids as labels and the timestamps aligned with the entries. `pandas.read_csv` uses "
    "the C engine with dtypes given (int32 ids, float64 rating, int64 timestamp) and returns "
    "only the four columns; `pandas + CSR` also factorizes the ids and builds the scipy CSR "
    "matrix, i.e. the same job as mfcli. Time is the call itself in a fresh process: imports "
    "are excluded for every tool (for mfcli that includes the modules `read_matrix` imports lazily "
    "on its first call), and so is numba's one-time start-up for mfcli (its compiler "
    "target and thread pool, about 0.3 s once per process, shown as `numba start-up` in the "
    "start-up table), as pandas' own start-up is part of its import; the whole cold path is "
    "*spawn to result*. numba's on-disk cache is warm; *warm* is a second call in the same "
    "process."
)
MFCLI = "mfcli.io.read_matrix"
PANDAS = "pandas.read_csv (C engine)"
SIZES = {
    True: [("100k rows", 943, 1682, 100_000)],
    False: [("1M rows", 6040, 3706, 1_000_000), ("20M rows", 138_493, 26_744, 20_000_000)],
}
READ = "benchmarks.cases.common:read_matrix_facts"
HERE = "benchmarks.cases.read_csv"


def scenarios(quick: bool) -> list[Scenario]:
    out = []
    for label, users, items, nnz in SIZES[quick]:
        spec = {
            "kind": "ratings", "name": f"{nnz}", "users": users, "items": items, "nnz": nnz,
            "step": 1.0, "seed": 1, "format": "csv",
            "names": ["user", "item", "rating", "timestamp"],
        }  # fmt: skip
        tools = [
            Tool(MFCLI, func=READ, setup=f"{HERE}:mfcli_setup", peer=False, warm=True),
            Tool(PANDAS, func=f"{HERE}:pandas_read", setup=f"{HERE}:pandas_setup", warm=True),
            Tool("pandas.read_csv + CSR", func=f"{HERE}:pandas_csr", setup=f"{HERE}:pandas_setup",
                 warm=True, note="ids factorized, scipy CSR built: what mfcli returns"),
        ]  # fmt: skip
        out.append(
            Scenario(
                label=f"{label} ({users:,} users x {items:,} items)",
                data=spec,
                tools=tools,
                targets=[
                    time_target(MFCLI, PANDAS, 1.0),
                    time_target(MFCLI, PANDAS, 1.0, warm=True),
                    memory_target(MFCLI, 3.0),
                ],
                prefault_mib=read_prefault_mib(nnz),
                repeat=9 if nnz <= 1_000_000 else 0,  # calls of ~60 ms
            )
        )
    return out


# ------------------------------------------------------------ child side


def mfcli_setup(args: dict) -> None:
    import_reader("mfcli.io.csv")
    from mfcli.kernels.probe import touch_threads

    touch_threads()  # numba's one-time start-up, the counterpart of importing pandas


def pandas_setup(args: dict) -> None:
    import pandas  # noqa: F401
    import scipy.sparse  # noqa: F401


def _frame(path: str):
    import numpy as np
    import pandas as pd

    dtypes = {"user": np.int32, "item": np.int32, "rating": np.float64, "timestamp": np.int64}
    return pd.read_csv(path, engine="c", dtype=dtypes)


def pandas_read(args: dict) -> dict:
    frame = _frame(args["path"])
    return {"rows": len(frame), "final_bytes": int(frame.memory_usage(index=False).sum())}


def pandas_csr(args: dict) -> dict:
    import pandas as pd
    import scipy.sparse as sp

    frame = _frame(args["path"])
    rows, users = pd.factorize(frame["user"], sort=True)
    cols, items = pd.factorize(frame["item"], sort=True)
    csr = sp.csr_matrix((frame["rating"].to_numpy(), (rows, cols)), shape=(len(users), len(items)))
    return {"nnz": int(csr.nnz), "shape": list(csr.shape)}
