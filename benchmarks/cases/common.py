"""Helpers shared by cases: result facts and the usual targets."""

from __future__ import annotations

import importlib

from benchmarks.harness import Measurement, Scenario, Target

MIB = 1024 * 1024
# What read_matrix and from_coo import lazily on a first read (so that `mfcli --help`
# starts fast); a read case imports them in setup, as imports are untimed for every tool.
READ_PATH_MODULES = ("mfcli.io.detect", "mfcli.io.labels", "mfcli.io.parts",
                     "mfcli.kernels.sparse_build")  # fmt: skip


def import_reader(reader: str) -> None:
    """Import the reader module ``reader`` and :data:`READ_PATH_MODULES`."""
    for name in (reader, *READ_PATH_MODULES):
        importlib.import_module(name)


def read_matrix_facts(args: dict) -> dict:
    """The read cases' mfcli call: ``read_matrix(args["path"])``, as :func:`matrix_facts`."""
    from mfcli.io import read_matrix

    return matrix_facts(read_matrix(args["path"]))


def read_prefault_mib(nnz: int) -> int:
    """Memory for a read's child to touch first (``Scenario.prefault_mib``): 96 bytes an
    entry covers the largest peer's peak (pandas + CSR, about 80 bytes an entry)."""
    return max(256, nnz * 96 // MIB)


def matrix_facts(matrix) -> dict:
    """nnz, shape and the bytes of the arrays a reader hands back."""
    parts = {}
    for name in ("indptr", "indices", "data", "timestamps", "row_labels", "col_labels"):
        array = getattr(matrix, name, None)
        if array is not None:
            parts[name] = int(array.nbytes)
    return {
        "shape": list(matrix.shape),
        "nnz": int(matrix.nnz),
        "final_bytes": sum(parts.values()),
        "final_parts": parts,
        "dtypes": {k: str(getattr(matrix, k).dtype) for k in parts},
    }


def time_target(tool: str, peer: str, at_most: float, *, warm: bool = False) -> Target:
    """``tool``'s time is at most ``at_most`` times ``peer``'s.

    ``warm`` compares second calls in the same process (JIT compiled and
    loaded); otherwise first calls in a fresh process (numba loading its
    on-disk cache is then part of mfcli's time).
    """

    def check(results: dict[str, Measurement]):
        a, b = results.get(tool), results.get(peer)
        if a is None or b is None or not (a.ok and b.ok):
            return None, "not measured"
        ta, tb = (a.warm_seconds, b.warm_seconds) if warm else (a.seconds, b.seconds)
        if ta is None or tb is None:
            return None, "not measured"
        ratio = ta / tb
        return ratio <= at_most, f"{ratio:.2f}x ({ta:.3f} s vs {tb:.3f} s)"

    when = "warm, second call in the process" if warm else "first call in a fresh process"
    return Target(f"{tool} time <= {at_most:g}x {peer} ({when})", check)


def memory_target(tool: str, at_most: float) -> Target:
    """Peak RSS above the post-import baseline <= ``at_most`` x the final arrays."""

    def check(results: dict[str, Measurement]):
        m = results.get(tool)
        if m is None or not m.ok or m.rss_above_base is None or "final_bytes" not in m.info:
            return None, "not measured"
        final = m.info["final_bytes"]
        ratio = m.rss_above_base / final
        return ratio <= at_most, (
            f"{ratio:.2f}x ({m.rss_above_base / MIB:.0f} MiB above the "
            f"{m.base_rss / MIB:.0f} MiB baseline; final arrays {final / MIB:.0f} MiB)"
        )

    return Target(f"{tool} peak RSS <= {at_most:g}x the final arrays", check)


def reset_peak() -> None:
    """Reset this process's memory high-water mark (VmHWM) to its current RSS.

    Called at the end of a tool's setup so that setup's temporaries (reading
    the file) do not count in the timed call's peak (Linux >= 4.0).
    """
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass


def load_matrix(args: dict):
    """The scenario's input as mfcli reads it, minus labels and timestamps (no solver uses them)."""
    from mfcli.io import read_matrix

    matrix = read_matrix(args["path"])
    matrix.timestamps = None
    matrix.row_labels = matrix.col_labels = None
    return matrix


def input_bytes(matrix) -> int:
    """Bytes of a matrix's value and index arrays."""
    return sum(int(a.nbytes) for a in (matrix.data, matrix.indptr, matrix.indices) if a is not None)


def skipped(label: str, source) -> Scenario:
    """The scenario row for a real file that is absent (it lives outside the repository)."""
    return Scenario(
        label=f"{label}: skipped",
        tools=[],
        notes=[f"Skipped: {source} is absent (a real file outside the repo)."],
    )


def child_sidecar(path, **empty) -> dict:
    """The sidecar JSON at ``path`` as a child adds its run to it: the file when an
    earlier child of the same harness run (the same parent) wrote it, else a new
    one, ``{"ppid": ..., **empty}``. The parent reads it with :func:`this_runs`."""
    import json
    import os

    try:
        side = json.loads(path.read_text())
    except (OSError, ValueError):
        side = {}
    if side.get("ppid") != os.getppid():
        side = {"ppid": os.getppid(), **empty}
    return side


def this_runs(path) -> dict | None:
    """A child's sidecar JSON at ``path`` when a child of this harness run wrote it
    (its ``ppid`` is this process), else None: nothing scored, or an old run's file."""
    import json
    import os

    try:
        side = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return side if side.get("ppid") == os.getpid() else None
