"""docs/tutorial.md: every `mfcli` line of its sh blocks runs, in order, as written.

A line ending in a comment `# exits N` must exit with N; every other one with 0. Lines of an
sh block that do not start with `mfcli` (mkdir, cp, echo) are for the reader and skipped.
"""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest

from tests.cli.helpers import invoke

ROOT = Path(__file__).resolve().parents[1]
TUTORIAL = ROOT / "docs" / "tutorial.md"
SAMPLE = ROOT / "sample_data" / "ratings.csv"

_BLOCK = re.compile(r"^```sh\n(.*?)^```", re.S | re.M)
_EXITS = re.compile(r"#\s*exits\s+(\d+)\s*$")


def tutorial_commands(text: str) -> list[tuple[list[str], int, str]]:
    """(args after `mfcli`, expected exit code, the line) for each mfcli line of sh blocks."""
    commands = []
    for block in _BLOCK.findall(text):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.strip()
            if not line.startswith("mfcli "):
                continue
            match = _EXITS.search(line)
            expected = int(match.group(1)) if match else 0
            words = shlex.split(line, comments=True)
            for word in words:  # the test has no shell: pipes and redirections cannot run
                assert word not in {"|", ">", ">>", "<", "&&", "||", ";"}, line
            commands.append((words[1:], expected, line))
    return commands


def test_tutorial_parses():
    commands = tutorial_commands(TUTORIAL.read_text(encoding="utf-8"))
    assert len(commands) >= 10
    assert any(expected == 3 for _, expected, _ in commands), "the --fail-if example is gone"
    verbs = {args[0] for args, _, _ in commands}
    assert {"info", "split", "sgd", "als", "svd", "eval", "recommend", "rerun"} <= verbs


@pytest.mark.slow
def test_tutorial_commands_run_in_order(tmp_path, monkeypatch):
    shutil.copy(SAMPLE, tmp_path / "ratings.csv")
    monkeypatch.chdir(tmp_path)
    for args, expected, line in tutorial_commands(TUTORIAL.read_text(encoding="utf-8")):
        result = invoke(*args)
        assert result.exit_code == expected, (
            f"docs/tutorial.md: `{line}` exited {result.exit_code}, expected {expected}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
    # The tutorial says `mfcli generate ... -o ratings.csv` writes the bundled file's bytes.
    assert (tmp_path / "ratings.csv").read_bytes() == SAMPLE.read_bytes()
    assert (tmp_path / "recs.csv").exists()
