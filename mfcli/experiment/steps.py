"""The run manifest: which step made which file from what, so re-runs skip like make.

Each step has a key: the sha256 of everything that decides its outputs (the
step kind, the resolved config without paths and thread counts, the sha256 of
its input files, the mfcli version). A step is skipped when the manifest
holds the same key and every output it recorded is still on disk with the
recorded sha256. The manifest is rewritten atomically after every step, so a
run stopped half-way keeps the steps it finished.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

MANIFEST = "manifest.json"
FORMAT = "mfcli-run"
FORMAT_VERSION = 1


def step_key(kind: str, **parts: Any) -> str:
    """A stable hash of a step's kind and its deciding inputs (JSON-serialisable values)."""
    import mfcli

    blob = json.dumps(
        {"kind": kind, "mfcli": mfcli.__version__, **parts}, sort_keys=True, default=str
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class Manifest:
    """``OUT/manifest.json``: the experiment, and one record per step."""

    def __init__(self, folder: str, experiment: str) -> None:
        self.folder = folder
        self.path = os.path.join(folder, MANIFEST)
        self.previous = _read(self.path)
        self.steps: dict[str, dict] = {}
        self.experiment = experiment

    def fresh(self, step: str, key: str) -> dict | None:
        """The previous record of ``step`` when its key matches and its outputs are intact."""
        from mfcli.io.results import sha256_file

        old = self.previous.get(step)
        if not old or old.get("key") != key:
            return None
        for rel, digest in old.get("outputs", {}).items():
            path = os.path.join(self.folder, rel)
            if not os.path.isfile(path) or sha256_file(path) != digest:
                return None
        return old

    def record(self, step: str, key: str, outputs: list[str], **info: Any) -> dict:
        """Store a finished step (outputs relative to the run folder) and save the manifest."""
        from mfcli.io.results import sha256_file

        entry = {
            "key": key,
            "outputs": {rel: sha256_file(os.path.join(self.folder, rel)) for rel in outputs},
            **info,
        }
        self.steps[step] = entry
        self.save()
        return entry

    def keep(self, step: str, old: dict) -> dict:
        """Carry a skipped step's record over unchanged."""
        self.steps[step] = old
        self.save()
        return old

    def save(self) -> None:
        import mfcli
        from mfcli.evaluate.split_output import write_json
        from mfcli.io.atomic import atomic_path

        body = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "mfcli_version": mfcli.__version__,
            "experiment": self.experiment,
            # steps not (yet) run this time keep their old records, so an
            # interrupted re-run does not forget what is still valid
            "steps": {**self.previous, **self.steps},
        }
        with atomic_path(self.path, force=True) as tmp:
            write_json(tmp, body)


def _read(path: str) -> dict[str, dict]:
    """Previous step records; an unreadable or foreign manifest counts as none."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        return {}
    steps = data.get("steps")
    return steps if isinstance(steps, dict) else {}
