"""Process-wide runtime: threads, numba cache location, signals, timing, memory.

Everything here is cheap to import: numba and numpy are imported inside the
functions that need them, so the environment can be set before they load.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass

BLAS_ENV_VARS = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS", "BLIS_NUM_THREADS")


@dataclass(frozen=True)
class ThreadChoice:
    n: int
    reason: str


def resolve_threads(requested: int | None = None, environ=None) -> ThreadChoice:
    """How many threads to use, and why (guide section 5).

    ``--threads``, else ``SLURM_CPUS_PER_TASK``, else ``NUMBA_NUM_THREADS`` /
    ``OMP_NUM_THREADS``, else the cores this process may run on.
    """
    env = os.environ if environ is None else environ
    if requested is not None:
        return ThreadChoice(int(requested), "--threads")
    for var in ("SLURM_CPUS_PER_TASK", "NUMBA_NUM_THREADS", "OMP_NUM_THREADS"):
        value = env.get(var, "").strip()
        if value.isdigit() and int(value) > 0:
            return ThreadChoice(int(value), f"${var}")
    return ThreadChoice(available_cores(), "all available cores")


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def cap_blas_env(n: int) -> None:
    """Cap BLAS threads before numpy loads, unless the user set them.

    Numba kernels and BLAS calls alternate rather than overlap, so each may use
    the chosen count; what must not happen is BLAS taking every core of a node
    when the scheduler gave us fewer.
    """
    for var in BLAS_ENV_VARS:
        os.environ.setdefault(var, str(n))
    calm_spinning_threads()


# Idle worker threads spin before they sleep, and ours share the cores with
# each other and with whatever else runs. OpenBLAS workers spin for 2**28
# cycles (~0.1 s) after each call: between BLAS calls our numba kernels lost
# their cores to them (dense NMF k = 20 ran 2.5x slower on 2 threads than on
# 1); 2**4 cycles (the minimum) makes them sleep at once. numba's OpenMP
# workers spin after every parallel region: on a machine with other work, the
# Douban SGD fit (160 regions) took 2.0-2.5 s on 2 threads instead of 0.3-0.6 s
# with passive waiting, a 943 x 1682 NMF 2.9-5.6 s instead of 0.5-0.8 s. A
# user's own settings win.
SPIN_ENV = (("OPENBLAS_THREAD_TIMEOUT", "4"), ("OMP_WAIT_POLICY", "passive"))


def calm_spinning_threads() -> None:
    """Make idle BLAS and OpenMP threads sleep at once.

    Only effective before numpy loads (OpenBLAS) and before numba's first
    parallel region (OpenMP).
    """
    for var, value in SPIN_ENV:
        os.environ.setdefault(var, value)


def apply_threads(choice: ThreadChoice) -> None:
    """Set numba's thread count (clipped to what numba was started with)."""
    import numba

    numba.set_num_threads(max(1, min(choice.n, numba.config.NUMBA_NUM_THREADS)))


def use_threads(requested: int | None = None) -> ThreadChoice:
    """Resolve the thread count and apply it to BLAS (if numpy is not loaded yet) and numba."""
    choice = resolve_threads(requested)
    cap_blas_env(choice.n)
    apply_threads(choice)
    return choice


def threads_for_work(work: float, per_thread: float, available: int) -> int:
    """Threads worth starting for ``work`` units when each needs ``per_thread`` of them.

    ``min(available, work // per_thread)``, at least 1. Each numba parallel
    region costs a wake-up and a barrier; when another process holds a core,
    the barrier waits for a time slice (~15 ms), so small fits run far faster
    on one thread. Solvers whose results do not depend on the thread count
    use this to cap it for small inputs.
    """
    return max(1, min(int(available), int(work // per_thread)))


@contextmanager
def numba_threads_for(work: float, per_thread: float):
    """Run the block with :func:`threads_for_work` numba threads, then restore the count."""
    import numba

    before = numba.get_num_threads()
    numba.set_num_threads(threads_for_work(work, per_thread, before))
    try:
        yield
    finally:
        numba.set_num_threads(before)


def configure_numba_cache() -> str | None:
    """Point numba's cache somewhere writable before numba is imported.

    Kernels are compiled with ``cache=True``; numba stores the cache beside the
    sources, which fails on a read-only system-wide install. Then we use
    ``$MFCLI_CACHE_DIR`` or ``$XDG_CACHE_HOME/mfcli/numba`` (``~/.cache``).
    """
    if os.environ.get("NUMBA_CACHE_DIR"):
        return os.environ["NUMBA_CACHE_DIR"]
    package_dir = os.path.dirname(os.path.abspath(__file__))
    if os.access(os.path.join(package_dir, "kernels"), os.W_OK):
        return None
    base = os.environ.get("MFCLI_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "mfcli", "numba"
    )
    try:
        os.makedirs(base, exist_ok=True)
    except OSError:
        import tempfile

        base = os.path.join(tempfile.gettempdir(), f"mfcli-numba-{os.getuid()}")
        os.makedirs(base, exist_ok=True)
    os.environ["NUMBA_CACHE_DIR"] = base
    return base


def peak_rss_bytes() -> int:
    """Peak resident set size of this process so far."""
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


class Timer:
    def __init__(self) -> None:
        self.start = time.perf_counter()

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.start


@contextmanager
def terminate_as_exception():
    """Turn SIGTERM into :class:`mfcli.errors.Interrupted` so cleanup code runs.

    SIGINT already raises KeyboardInterrupt. Atomic writers remove their temp
    files on any exception, so neither signal leaves partial output.
    """
    from mfcli.errors import Interrupted

    def _raise(signum, frame):
        raise Interrupted(signum)

    try:
        previous = signal.signal(signal.SIGTERM, _raise)
    except ValueError:  # not the main thread (e.g. inside a test runner thread)
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


_pending: list[int] = []  # signals received under deferred_interrupts, not yet acted on


@contextmanager
def deferred_interrupts():
    """Hold SIGINT and SIGTERM until the fit reaches the end of an iteration.

    Inside, a first signal is only recorded (:func:`pending_interrupt`): the
    iteration loop then writes its checkpoint and raises
    :class:`mfcli.errors.Interrupted` itself, so the checkpoint holds a whole
    iteration. A second signal raises at once (the user insists). Outside
    the main thread it does nothing.
    """
    from mfcli.errors import Interrupted

    def _hold(signum, frame):
        if _pending:
            raise Interrupted(signum)
        _pending.append(signum)

    try:
        previous = {s: signal.signal(s, _hold) for s in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:  # not the main thread
        yield
        return
    _pending.clear()
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        _pending.clear()


def pending_interrupt() -> int | None:
    """The signal held by :func:`deferred_interrupts`, if one arrived."""
    return _pending[0] if _pending else None


def environment_report(requested_threads: int | None = None) -> dict:
    """Versions, the thread choice and why, BLAS and numba threading layer."""
    import platform
    from importlib import metadata

    import numpy as np

    from mfcli import __version__

    choice = resolve_threads(requested_threads)
    versions = {"mfcli": __version__, "python": platform.python_version()}
    for package in ("numpy", "scipy", "numba", "llvmlite", "h5py", "typer", "rich", "pyyaml"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    report = {
        "versions": versions,
        "platform": platform.platform(),
        "cores_available": available_cores(),
        "threads": {"chosen": choice.n, "reason": choice.reason},
        "blas_env": {var: os.environ.get(var) for var in BLAS_ENV_VARS},
        "blas": _blas_info(np),
        "numba": _numba_info(choice),
    }
    return report


def _blas_info(np) -> list[dict]:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        config = np.show_config(mode="dicts") if hasattr(np, "show_config") else {}
        blas = config.get("Build Dependencies", {}).get("blas", {}) if config else {}
        return [{"library": blas.get("name"), "version": blas.get("version"), "threads": None}]
    return [
        {
            "library": pool.get("internal_api"),
            "version": pool.get("version"),
            "threads": pool.get("num_threads"),
            "threading_layer": pool.get("threading_layer"),
        }
        for pool in threadpool_info()
        if pool.get("user_api") == "blas"
    ]


def _numba_info(choice: ThreadChoice) -> dict:
    configure_numba_cache()
    import numba

    apply_threads(choice)
    layer = None
    try:
        from mfcli.kernels.probe import touch_threads

        touch_threads()
        layer = numba.threading_layer()
    except Exception as exc:  # noqa: BLE001 - reported, not fatal
        layer = f"unavailable ({exc})"
    return {
        "threads": numba.get_num_threads(),
        "max_threads": numba.config.NUMBA_NUM_THREADS,
        "threading_layer": layer,
        "cache_dir": os.environ.get("NUMBA_CACHE_DIR") or "beside the package sources",
    }
