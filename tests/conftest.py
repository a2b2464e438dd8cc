"""Shared fixtures. The real-file corpus lives outside the repo and is optional."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def corpus_root() -> Path | None:
    """``$MFCLI_CORPUS`` or ``../shared/data/real`` beside the repo, if present."""
    env = os.environ.get("MFCLI_CORPUS")
    candidates = [Path(env)] if env else []
    candidates.append(REPO.parent / "shared" / "data" / "real")
    for path in candidates:
        if path.is_dir():
            return path
    return None


@pytest.fixture
def corpus() -> Path:
    root = corpus_root()
    if root is None:
        pytest.skip("real-file corpus (../shared/data/real) not present")
    return root
