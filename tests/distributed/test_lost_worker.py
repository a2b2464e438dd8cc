"""Dask's errors for a worker lost mid-fit become one ClusterError (exit 2)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from mfcli.errors import EXIT_USAGE, ClusterError

pytest.importorskip("distributed")


def _lost(exc):
    from mfcli.distributed.cluster import lost_workers_reported

    with pytest.raises(ClusterError) as info:
        with lost_workers_reported():
            raise exc
    return info.value


def test_dask_errors_of_a_lost_worker_are_one_cluster_error():
    from distributed.client import FutureCancelledError, FuturesCancelledError
    from distributed.comm.core import CommClosedError
    from distributed.scheduler import KilledWorker

    for exc in (
        FutureCancelledError("_explicit_block-8e38", "already forgotten."),
        FuturesCancelledError([]),
        CommClosedError("in <TCP (closed) ConnectionPool.update_data>: Connection reset"),
        KilledWorker("_explicit_block-8e38", SimpleNamespace(address="tcp://127.0.0.1:40747"), 3),
    ):
        err = _lost(exc)
        assert err.exit_code == EXIT_USAGE
        line = err.one_line()
        assert line.startswith("error: a Dask worker was lost during the fit")
        assert "\n" not in line and type(exc).__name__ in line and "--resume" in line


def test_other_errors_pass_through():
    from mfcli.distributed.cluster import lost_workers_reported

    with pytest.raises(ValueError, match="not ours"):
        with lost_workers_reported():
            raise ValueError("not ours")
