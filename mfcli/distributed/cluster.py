"""Where a fit runs: this process, or a Dask cluster named by ``--scheduler``.

``--scheduler`` (or ``runtime.scheduler`` in YAML, or ``$MFCLI_SCHEDULER``)
is a scheduler address such as ``tcp://10.0.0.5:8786`` (a cluster started
by dask-jobqueue, dask-mpi or ``dask scheduler``), a scheduler file written
by ``dask scheduler --scheduler-file`` / dask-mpi (``file:PATH`` or a path
ending in ``.json``), or ``local:N`` for a LocalCluster of N worker
processes on this machine (tests, and trying the back end out).

Workers get ``threads_per_worker`` numba threads each; the client does the
small dense work (k x k Gram matrices, eigenproblems) and holds the factors,
never the interaction matrix of a partitioned input.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass

ENV_VAR = "MFCLI_SCHEDULER"


@dataclass(frozen=True)
class SchedulerChoice:
    address: str | None  # None: run in this process
    reason: str


def resolve_scheduler(requested: str | None, environ=None) -> SchedulerChoice:
    """``--scheduler`` / ``runtime.scheduler``, else ``$MFCLI_SCHEDULER``, else this process."""
    env = os.environ if environ is None else environ
    if requested:
        return SchedulerChoice(requested, "--scheduler / runtime.scheduler")
    value = env.get(ENV_VAR, "").strip()
    if value:
        return SchedulerChoice(value, f"${ENV_VAR}")
    return SchedulerChoice(None, "no scheduler: this process")


def local_workers(address: str) -> int | None:
    """N of ``local:N`` (None for a remote address). Raises UsageError on a bad N."""
    from mfcli.errors import UsageError

    if not address.startswith("local"):
        return None
    text = address.partition(":")[2] or "2"
    if not text.isdigit() or int(text) < 1:
        raise UsageError(
            f"bad scheduler {address!r}", hint="local:N with N >= 1 worker processes, e.g. local:2"
        )
    return int(text)


@contextmanager
def connect(address: str, threads_per_worker: int | None = None):
    """A ``distributed.Client`` for ``address``; a LocalCluster is closed on exit.

    Raises
    ------
    UsageError : exit 2, dask missing or a scheduler that cannot be reached
    """
    from mfcli.errors import UsageError

    try:
        import distributed
    except ImportError:
        raise UsageError(
            "--scheduler needs dask.distributed, which is not installed",
            hint='pip install "mfcli[dask]"',
        ) from None
    n = local_workers(address)
    if n is not None:
        from mfcli.runtime import available_cores

        threads = threads_per_worker or max(1, available_cores() // n)
        cluster = distributed.LocalCluster(
            n_workers=n,
            threads_per_worker=1,  # one task at a time; numba threads inside it
            processes=True,
            dashboard_address=":0",
            env=_worker_env(threads),
        )
        try:
            with distributed.Client(cluster, direct_to_workers=True) as client:
                client.wait_for_workers(n)  # their addresses known before blocks are placed
                with lost_workers_reported():
                    yield client
        finally:
            cluster.close()
        return
    kwargs = {}
    if address.startswith("file:") or address.endswith(".json"):
        path = address.removeprefix("file:")
        if not os.path.isfile(path):  # dask would wait for it to appear
            raise UsageError(
                f"cannot reach the Dask scheduler {address!r}: no such scheduler file",
                hint="start the scheduler first (dask scheduler --scheduler-file FILE, dask-mpi)",
            )
        kwargs["scheduler_file"] = path
    else:
        kwargs["address"] = address
    try:
        # direct: results come from the workers, not through the scheduler (half the bytes)
        client = distributed.Client(timeout="30s", direct_to_workers=True, **kwargs)
    except (OSError, TimeoutError, ValueError) as exc:
        raise UsageError(
            f"cannot reach the Dask scheduler {address!r}: {exc}",
            hint="check the address, or the scheduler file, and that the scheduler is running",
        ) from None
    try:
        with lost_workers_reported():
            yield client
    finally:
        client.close()


@contextmanager
def lost_workers_reported():
    """Turn Dask's errors for a worker lost mid-fit into one :class:`ClusterError`.

    Blocks live on one worker each (scattered, so Dask cannot recompute them):
    when that worker dies, the fit's futures are cancelled or its connections
    closed, and Dask's own exception would read as an internal error.
    """
    from distributed.client import FutureCancelledError, FuturesCancelledError
    from distributed.comm.core import CommClosedError
    from distributed.scheduler import KilledWorker

    from mfcli.errors import ClusterError

    try:
        yield
    except (FutureCancelledError, FuturesCancelledError, CommClosedError, KilledWorker) as exc:
        try:
            said = str(exc).strip().splitlines()[0][:160]
        except Exception:  # noqa: BLE001 - Dask's __str__ can fail on odd arguments
            said = ""
        raise ClusterError(
            f"a Dask worker was lost during the fit, and the row blocks it held with it "
            f"({type(exc).__name__}{': ' + said if said else ''})",
            hint="rerun the command; a fit with --checkpoint can --resume from its last checkpoint",
        ) from None


def _worker_env(threads: int) -> dict[str, str]:
    """Thread settings of worker processes, set before they import numpy or numba."""
    n = str(threads)
    return {
        "NUMBA_NUM_THREADS": n,
        "OMP_NUM_THREADS": n,
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "OPENBLAS_THREAD_TIMEOUT": "4",
        "OMP_WAIT_POLICY": "passive",
    }


def worker_count(client) -> int:
    return len(workers_of(client))


def workers_of(client, timeout: float = 120) -> list[str]:
    """The workers' addresses, sorted; waits for a first one (a cluster still starting).

    Raises UsageError (exit 2) when none joins within ``timeout`` seconds.
    """
    workers = sorted(client.scheduler_info()["workers"])
    if workers:
        return workers
    from mfcli.errors import UsageError

    try:
        client.wait_for_workers(1, timeout=timeout)
    except (TimeoutError, OSError):
        raise UsageError(
            f"the Dask cluster has no workers after {timeout:g} s",
            hint="start workers (dask worker ADDRESS, dask-jobqueue scale, dask-mpi)",
        ) from None
    return sorted(client.scheduler_info()["workers"])
