"""CLI start-up: `mfcli --help` and `--version` in a cold process vs bare Python."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from benchmarks.harness import Scenario, Tool

NAME = "startup"
GROUP = "cli"
TITLE = "CLI start-up (cold process)"
ABOUT = (
    "Wall time of a whole process from spawn to exit: the installed `mfcli` entry point with "
    "`--help` and `--version`, against `python -c pass` (the floor any Python CLI pays) and "
    "`python -c 'import numpy'` (for scale). The ratio is against `python -c pass`."
)
BASELINE = "python -c pass"


def _mfcli() -> list[str]:
    script = Path(sys.executable).with_name("mfcli")
    if script.exists():
        return [str(script)]
    found = shutil.which("mfcli")
    return [found] if found else [sys.executable, "-m", "mfcli"]


def scenarios(quick: bool) -> list[Scenario]:
    mfcli = _mfcli()
    tools = [
        Tool("mfcli --help", argv=(*mfcli, "--help"), peer=False),
        Tool("mfcli --version", argv=(*mfcli, "--version"), peer=False),
        Tool(
            "numba start-up",
            argv=(sys.executable, "-c", "from mfcli.kernels import probe; probe.touch_threads()"),
            peer=False,
            note="import numba, load one cached parallel kernel, start the thread pool",
        ),
        Tool(BASELINE, argv=(sys.executable, "-c", "pass")),
        Tool("python -c 'import numpy'", argv=(sys.executable, "-c", "import numpy")),
    ]
    return [
        Scenario(
            label="entry point " + " ".join(Path(a).name for a in mfcli),
            tools=tools,
            args={"baseline": BASELINE},
            notes=[
                "No target was set; the ratio is mfcli / `python -c pass`. Peak RSS of a "
                "command comes from wait4, which on Linux also counts the harness's own size "
                "at fork (about 20 MiB), so small figures are floors rather than measurements."
            ],
        )
    ]
