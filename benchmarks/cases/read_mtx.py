"""Reading a Matrix Market file: mfcli vs scipy.io.mmread."""

from __future__ import annotations

from benchmarks.cases.common import import_reader, read_prefault_mib
from benchmarks.harness import Scenario, Tool

NAME = "read-mtx"
GROUP = "read"
TITLE = "Read a Matrix Market file (coordinate real general)"
ABOUT = (
    "Ratings with half stars from `mfcli generate ratings --step 0.5` written as Matrix Market "
    "(values such as `3.5`, row-major order). `mfcli.io.read_matrix` returns CSR (sorted, "
    "duplicates summed). `scipy.io.mmread` (fast_matrix_market, multi-threaded C++) returns "
    "COO; `mmread + tocsr` adds the conversion so both deliver CSR. Time is the call itself in "
    "a fresh process (imports excluded, numba's on-disk cache warm); *warm* is a second call in "
    "the same process."
)
MFCLI = "mfcli.io.read_matrix"
SIZES = {
    True: [("200k entries", 943, 1682, 200_000)],
    False: [("20M entries", 138_493, 26_744, 20_000_000)],
}
READ = "benchmarks.cases.common:read_matrix_facts"
HERE = "benchmarks.cases.read_mtx"


def scenarios(quick: bool) -> list[Scenario]:
    out = []
    for label, users, items, nnz in SIZES[quick]:
        spec = {
            "kind": "ratings", "name": f"{nnz}", "users": users, "items": items, "nnz": nnz,
            "step": 0.5, "seed": 2, "timestamps": False, "format": "mtx",
        }  # fmt: skip
        tools = [
            Tool(MFCLI, func=READ, setup=f"{HERE}:mfcli_setup", peer=False, warm=True),
            Tool("scipy.io.mmread", func=f"{HERE}:scipy_read", setup=f"{HERE}:scipy_setup",
                 warm=True, note="COO"),
            Tool("scipy.io.mmread + tocsr", func=f"{HERE}:scipy_csr",
                 setup=f"{HERE}:scipy_setup", warm=True),
        ]  # fmt: skip
        out.append(
            Scenario(
                label=f"{label} ({users:,} x {items:,})",
                data=spec,
                tools=tools,
                notes=["No target was set for this read; the ratios are for the record."],
                prefault_mib=read_prefault_mib(nnz),
            )
        )
    return out


def mfcli_setup(args: dict) -> None:
    import_reader("mfcli.io.mtx")


def scipy_setup(args: dict) -> None:
    import scipy.io
    import scipy.sparse  # noqa: F401

    scipy.io.mmread  # noqa: B018 - resolve the lazy attribute before timing


def scipy_read(args: dict) -> dict:
    import scipy.io

    coo = scipy.io.mmread(args["path"])
    return {"nnz": int(coo.nnz), "shape": list(coo.shape), "final_bytes": _bytes(coo)}


def scipy_csr(args: dict) -> dict:
    import scipy.io

    csr = scipy.io.mmread(args["path"]).tocsr()
    return {"nnz": int(csr.nnz), "shape": list(csr.shape), "final_bytes": _bytes(csr)}


def _bytes(m) -> int:
    names = ("data", "indices", "indptr", "row", "col", "coords")
    total = 0
    for name in names:
        value = getattr(m, name, None)
        if value is None:
            continue
        for array in value if isinstance(value, tuple) else (value,):
            total += int(array.nbytes)
    return total
