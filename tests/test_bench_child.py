"""The benchmark child's memory conditioning: warm pages, an unchanged peak."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import child

REPO = Path(__file__).resolve().parents[1]
needs_clear_refs = pytest.mark.skipif(
    not os.access(child.CLEAR_REFS, os.W_OK), reason="no /proc/self/clear_refs"
)


def run_child(tmp_path: Path, prefault_mib: int) -> dict:
    result = tmp_path / "result.json"
    spec = {"func": "json:dumps", "setup": None, "args": {}, "warm": False,
            "prefault_mib": prefault_mib, "result": str(result)}  # fmt: skip
    subprocess.run(
        [sys.executable, "-m", "benchmarks.child", json.dumps(spec)], check=True, cwd=REPO
    )
    return json.loads(result.read_text())


@needs_clear_refs
def test_prefault_leaves_the_peak_of_the_call_alone(tmp_path):
    plain = run_child(tmp_path, 0)
    conditioned = run_child(tmp_path, 256)
    # 256 MiB were resident for a moment; the reported peak must not show them.
    assert conditioned["peak_rss"] < plain["peak_rss"] + 32 * 2**20
    assert conditioned["peak_rss"] - conditioned["base_rss"] < 32 * 2**20


def test_prefault_of_nothing_touches_nothing():
    assert child.prefault(0) is False
