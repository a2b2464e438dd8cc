"""The child side of a function tool: ``python -m benchmarks.child SPEC_JSON``.

SPEC holds ``func`` and ``setup`` (``module:function``), ``args``, ``warm``,
``prefault_mib`` (memory to touch and free before the call, see :func:`prefault`)
and ``result`` (where to write the JSON result).
"""

from __future__ import annotations

import gc
import importlib
import json
import mmap
import os
import resource
import sys
import time


def _resolve(name: str):
    module, _, func = name.partition(":")
    return getattr(importlib.import_module(module), func)


def _status(field: str) -> int | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def current_rss() -> int:
    """Resident bytes right now."""
    return _status("VmRSS") or peak_rss()


def peak_rss() -> int:
    """This process's high-water mark.

    VmHWM belongs to this process's own address space; ``ru_maxrss`` also
    counts the parent's size at fork (Linux), so it is only the fallback.
    """
    hwm = _status("VmHWM")
    if hwm is not None:
        return hwm
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


CLEAR_REFS = "/proc/self/clear_refs"


def prefault(mib: int) -> bool:
    """Touch and free ``mib`` MiB of huge-page memory; reset the high-water mark.

    A virtual machine's host backs guest memory lazily and takes freed pages
    back after a few seconds, so a fresh process's first touch of a page can
    cost up to 2 s of system time per GiB, depending on what ran before it,
    not on the tool. Pages just touched and freed here are what the call's
    large allocations get next. Skipped (False) where the high-water mark
    cannot be reset, as it would then include this memory.
    """
    if mib <= 0 or not os.access(CLEAR_REFS, os.W_OK):
        return False
    size = mib << 20
    block = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    if hasattr(mmap, "MADV_HUGEPAGE"):  # as numpy does for large arrays
        block.madvise(mmap.MADV_HUGEPAGE)
    for offset in range(0, size, mmap.PAGESIZE):
        block[offset] = 1
    block.close()
    with open(CLEAR_REFS, "w") as fh:
        fh.write("5")  # VmHWM := VmRSS
    return True


def main(argv: list[str]) -> int:
    spec = json.loads(argv[1])
    args = spec["args"]
    if spec.get("setup"):
        _resolve(spec["setup"])(args)
    func = _resolve(spec["func"])
    began = time.perf_counter()
    prefault(int(spec.get("prefault_mib") or 0))
    conditioning = time.perf_counter() - began
    gc.collect()
    base = current_rss()
    start = time.perf_counter()
    info = func(args)
    seconds = time.perf_counter() - start
    done_at = time.time()
    peak = peak_rss()
    warm = None
    if spec.get("warm"):
        gc.collect()
        start = time.perf_counter()
        func(args)
        warm = time.perf_counter() - start
    result = {
        "seconds": seconds,
        "warm_seconds": warm,
        "first_done_at": done_at,
        "prefault_seconds": conditioning,
        "base_rss": base,
        "peak_rss": peak,
        "info": info if isinstance(info, dict) else {},
    }
    with open(spec["result"], "w") as fh:
        json.dump(result, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
