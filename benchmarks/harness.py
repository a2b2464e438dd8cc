"""Running one tool in fresh processes: wall time, peak RSS, best of N.

A *function* tool names ``module:function`` pairs: ``setup(args)`` runs first
and is not timed (imports), then ``func(args)`` is timed inside the child
(``benchmarks.child``), which also records its resident memory just before the
call and its peak right after it, and optionally times a second, warm call.
A *command* tool is an argv whose whole process is timed (start-up cases).
The peak RSS of a command comes from ``os.wait4`` on the child; Linux counts
the parent's size at fork in it, so the harness keeps itself small (no numpy).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ANSI = re.compile(r"\x1b\[[0-9;]*m")
EXCEPTION = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)\b")


@dataclass(frozen=True)
class Tool:
    """One way of doing the case's job (mfcli or a peer)."""

    name: str
    func: str | None = None
    setup: str | None = None
    argv: tuple[str, ...] | None = None
    peer: bool = True
    warm: bool = False
    note: str = ""


@dataclass
class Measurement:
    """The best of ``runs`` for one tool, plus what the tool reported."""

    tool: Tool
    seconds: float = float("nan")
    warm_seconds: float | None = None
    process_seconds: float = float("nan")
    peak_rss: int = 0
    base_rss: int | None = None
    info: dict = field(default_factory=dict)
    runs: list[float] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def rss_above_base(self) -> int | None:
        return None if self.base_rss is None else max(self.peak_rss - self.base_rss, 0)


@dataclass
class Target:
    """A goal from an issue; ``check(results)`` returns (passed, measured text)."""

    text: str
    check: Callable[[dict[str, Measurement]], tuple[bool | None, str]]


@dataclass
class Scenario:
    """One data size of a case: the data, the tools and the targets."""

    label: str
    tools: list[Tool]
    data: dict | None = None
    args: dict = field(default_factory=dict)
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # Memory each function tool's child touches and frees just before its call
    # (benchmarks.child.prefault): for calls that allocate hundreds of MiB.
    prefault_mib: int = 0
    # Timed runs per tool when more than ``--repeat``: calls of tens of
    # milliseconds vary by more than the differences they are to show.
    repeat: int = 0


def child_env(threads: int | None) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.pop("MFCLI_DEBUG", None)
    # Every tool imports from byte-code, as a pip-installed package does: the peers'
    # .pyc files were written at install, mfcli's (an editable install) by the warm-up.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if threads:
        for var in (
            "NUMBA_NUM_THREADS",
            "OMP_NUM_THREADS",
            "OPENBLAS_NUM_THREADS",
            "MKL_NUM_THREADS",
        ):
            env[var] = str(threads)
    return env


def _spawn(argv: list[str], env: dict, timeout: float) -> tuple[int, float, int, str, float]:
    """Run ``argv``: (exit code, wall seconds, peak RSS bytes, error line, epoch at spawn)."""
    with tempfile.TemporaryFile() as err:
        spawned_at = time.time()
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err, env=env, cwd=REPO)
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        tail = _error_line(err.read()[-20000:].decode("utf-8", "replace"))
    peak = usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024)
    return proc.returncode, wall, peak, tail, spawned_at


def _error_line(stderr: str) -> str:
    """The exception line of a traceback (colours stripped), else the last line."""
    lines = [ANSI.sub("", line).strip() for line in stderr.splitlines()]
    lines = [line for line in lines if line]
    for line in reversed(lines):
        if EXCEPTION.match(line):
            return line
    return lines[-1] if lines else ""


def run_once(tool: Tool, args: dict, env: dict, timeout: float, prefault_mib: int = 0) -> dict:
    """One fresh-process run of ``tool``; a dict of what was measured."""
    if tool.argv is not None:
        code, wall, peak, tail, _ = _spawn(list(tool.argv), env, timeout)
        if code != 0:
            return {"error": f"exit {code}: {tail[-300:]}"}
        return {"seconds": wall, "process_seconds": wall, "peak_rss": peak}
    with tempfile.TemporaryDirectory() as tmp:
        result_path = os.path.join(tmp, "result.json")
        spec = {
            "func": tool.func,
            "setup": tool.setup,
            "args": args,
            "warm": tool.warm,
            "prefault_mib": prefault_mib,
            "result": result_path,
        }
        argv = [sys.executable, "-m", "benchmarks.child", json.dumps(spec)]
        code, wall, peak, tail, spawned_at = _spawn(argv, env, timeout)
        if code != 0 or not os.path.exists(result_path):
            return {"error": f"exit {code}: {tail[-300:]}"}
        with open(result_path) as fh:
            result = json.load(fh)
    # Spawn to first result: interpreter, imports and the cold call (not the
    # memory conditioning, which no user's process does).
    conditioning = result.pop("prefault_seconds", 0.0)
    result["process_seconds"] = result.pop("first_done_at") - spawned_at - conditioning
    result.setdefault("peak_rss", peak)
    return result


def measure(
    tool: Tool,
    args: dict,
    *,
    repeat: int,
    warmup: int,
    env: dict,
    timeout: float,
    prefault_mib: int = 0,
) -> Measurement:
    """Warm-up runs (JIT caches filled, files in the page cache), then best of ``repeat``."""
    m = Measurement(tool)
    for _ in range(warmup):
        first = run_once(tool, args, env, timeout, prefault_mib)
        if "error" in first:
            m.error = first["error"]
            return m
    results = []
    for _ in range(repeat):
        r = run_once(tool, args, env, timeout, prefault_mib)
        if "error" in r:
            m.error = r["error"]
            return m
        results.append(r)
    best = min(results, key=lambda r: r["seconds"])
    m.runs = [r["seconds"] for r in results]
    m.seconds = best["seconds"]
    warm = [r["warm_seconds"] for r in results if r.get("warm_seconds") is not None]
    m.warm_seconds = min(warm) if warm else None
    m.process_seconds = min(r["process_seconds"] for r in results)
    # Memory is not noise to be minimised: report the worst run.
    m.peak_rss = max(r["peak_rss"] for r in results)
    bases = [r["base_rss"] for r in results if r.get("base_rss") is not None]
    m.base_rss = min(bases) if bases else None
    m.info = best.get("info", {})
    return m
