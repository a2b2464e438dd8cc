"""One LocalCluster of two worker processes for every distributed test."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def client():
    pytest.importorskip("distributed")
    from mfcli.distributed.cluster import connect

    with connect("local:2", threads_per_worker=1) as c:
        yield c
