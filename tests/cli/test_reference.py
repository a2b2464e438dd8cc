"""docs/cli.md is the commands' own --help, and stays so."""

from __future__ import annotations

from pathlib import Path

import pytest

from mfcli.cli.reference import REGENERATE, command_helps, render_reference

ROOT = Path(__file__).resolve().parents[2]
CLI_MD = ROOT / "docs" / "cli.md"


def _registered_commands() -> list[str]:
    import typer

    from mfcli.cli.main import _register, app

    _register()
    group = typer.main.get_command(app)
    return [name for name in group.commands if not group.commands[name].hidden]


def test_checked_in_reference_is_current():
    expected = render_reference()
    actual = CLI_MD.read_text(encoding="utf-8") if CLI_MD.exists() else ""
    assert actual == expected, f"docs/cli.md is out of date; regenerate it with: {REGENERATE}"


def test_every_registered_command_has_a_section():
    text = render_reference()
    names = _registered_commands()
    assert names, "no commands registered"
    for name in names:
        assert f"\n## mfcli {name}\n" in text, name
        assert f"](#mfcli-{name})" in text, name
        assert f"Usage: mfcli {name} " in text, name
    assert "\n## mfcli\n" in text


def test_reference_is_plain_text_at_fixed_width():
    for path, text in command_helps():
        assert text.startswith(f"Usage: {path}"), path
        assert all(len(line) <= 100 for line in text.splitlines()), path
        for box in "│╭╰─":  # rich's panels
            assert box not in text, path
        assert "\x1b[" not in text, path


@pytest.mark.parametrize("columns", ["40", "200"])
def test_rendering_does_not_depend_on_the_terminal(monkeypatch, columns):
    baseline = render_reference()
    monkeypatch.setenv("COLUMNS", columns)
    monkeypatch.setenv("LINES", "10")
    monkeypatch.setenv("TERM", "dumb")
    assert render_reference() == baseline
