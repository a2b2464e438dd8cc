"""Running the CLI in-process (CliRunner) and as a real subprocess."""

from __future__ import annotations

import os
import subprocess
import sys

from typer.testing import CliRunner

from mfcli.cli.main import app


def invoke(*args: str, input: str | None = None):
    """Run ``mfcli ARGS`` in-process; returns the click Result (exit_code, stdout, stderr)."""
    return CliRunner().invoke(app, list(args), input=input)


def run_cli(*args: str, input: bytes | None = None, timeout: float = 120, env=None):
    """Run ``python -m mfcli ARGS`` in a subprocess."""
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run(
        [sys.executable, "-m", "mfcli", *args],
        input=input,
        capture_output=True,
        timeout=timeout,
        env=full_env,
    )
