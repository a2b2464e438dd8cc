"""What the benchmarks ran on: CPU, cores, memory, versions, commit."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata

PACKAGES = ("mfcli", "numpy", "scipy", "numba", "pandas", "h5py", "scikit-learn", "psutil")


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def memory_bytes() -> int | None:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def cores() -> tuple[int, int]:
    """(usable by this process, in the machine)."""
    total = os.cpu_count() or 1
    try:
        return len(os.sched_getaffinity(0)), total
    except (AttributeError, OSError):
        return total, total


def versions() -> dict[str, str | None]:
    found = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def commit(repo) -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=repo,
            capture_output=True,
            text=True,
            timeout=10,
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "mfcli"],
            cwd=repo,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() + (" (mfcli/ modified)" if dirty.stdout.strip() else "")


def describe(repo) -> dict:
    usable, total = cores()
    return {
        "cpu": cpu_model(),
        "cores_usable": usable,
        "cores_total": total,
        "memory_bytes": memory_bytes(),
        "platform": platform.platform(),
        "versions": versions(),
        "commit": commit(repo),
    }
