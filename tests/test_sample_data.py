"""sample_data/ is exactly what sample_data/make.sh writes.

The commands are read from make.sh itself (one source of truth) and run
in-process into a temporary folder. Text files must match byte for byte.
HDF5 files are compared by content (every dataset, attribute and object
name): their bytes are reproducible for one HDF5 library version (see
tests/cli/test_generate.py) but may legitimately change with another.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import h5py
import numpy as np
import pytest

from tests.cli.helpers import invoke

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data"
MAX_BYTES = 1_600_000


def _commands() -> list[list[str]]:
    """Arguments after ``$MFCLI`` of every generate line in make.sh."""
    commands = []
    for line in (SAMPLE / "make.sh").read_text().splitlines():
        words = shlex.split(line, comments=True)
        if words and words[0] == "$MFCLI":
            commands.append(words[1:])
    return commands


def _outputs(commands) -> list[str]:
    names = []
    for args in commands:
        out = args[args.index("-o") + 1]
        names.append(out)
        if args[1] == "docterm" and ".mtx" in out:
            names.append(out.split(".mtx")[0] + ".terms")
    return names


def test_make_sh_covers_every_data_file():
    commands = _commands()
    assert len(commands) >= 7 and all(c[0] == "generate" for c in commands)
    data_files = {p.name for p in SAMPLE.iterdir()} - {"README.md", "make.sh", "experiment.yaml"}
    assert data_files == set(_outputs(commands))


def test_sample_folder_stays_small():
    assert sum(p.stat().st_size for p in SAMPLE.iterdir()) < MAX_BYTES


def test_regenerated_files_match(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    commands = _commands()
    for args in commands:
        result = invoke(*args)
        assert result.exit_code == 0, (args, result.output)
    for name in _outputs(commands):
        fresh, committed = tmp_path / name, SAMPLE / name
        if name.endswith(".h5"):
            assert _h5_content(fresh) == _h5_content(committed), name
        else:
            assert fresh.read_bytes() == committed.read_bytes(), (
                f"{name} differs from what make.sh writes now; if the generator changed on "
                "purpose, run: sh sample_data/make.sh"
            )


def _h5_content(path: Path) -> dict:
    content = {}

    def visit(name, obj):
        attrs = {k: np.asarray(v).tolist() for k, v in obj.attrs.items()}
        data = obj[()].tobytes() if isinstance(obj, h5py.Dataset) else None
        dtype = str(obj.dtype) if isinstance(obj, h5py.Dataset) else None
        content[name] = (attrs, dtype, data)

    with h5py.File(path, "r") as h5:
        h5.visititems(visit)
    return content


@pytest.mark.parametrize("name", _outputs(_commands()))
def test_readme_describes_every_file(name):
    assert f"`{name}`" in (SAMPLE / "README.md").read_text()


def test_python_sample_commands_equal_make_sh():
    from mfcli.sample import COMMANDS

    stripped = [[w for w in c if w not in ("--force", "-q")] for c in _commands()]
    assert [list(c) for c in COMMANDS] == stripped


def test_demo_regenerates_sample_data_outside_a_checkout(tmp_path):
    from mfcli.sample import make_sample_data

    written = make_sample_data(tmp_path)
    for path in written:
        if path.suffix != ".h5":
            assert path.read_bytes() == (SAMPLE / path.name).read_bytes()


def test_committed_demo_experiment_is_the_one_the_demo_runs():
    from mfcli.sample import EXPERIMENT, EXPERIMENT_NAME

    assert (SAMPLE / EXPERIMENT_NAME).read_text(encoding="utf-8") == EXPERIMENT
