"""The CLI reference (docs/cli.md), rendered from the commands' own ``--help``.

Regenerate the checked-in file with::

    python -m mfcli.cli.reference > docs/cli.md

``tests/cli/test_reference.py`` fails when docs/cli.md and :func:`render_reference` differ.

The help is rendered by click's plain formatter at a fixed width, never by rich: the text
does not depend on the terminal (COLUMNS, a TTY) or on environment variables such as
TYPER_USE_RICH, so the file is the same on every machine.
"""

from __future__ import annotations

import typer

try:  # typer >= 0.2x vendors click; older releases use click itself
    from typer import _click as click
except ImportError:  # pragma: no cover
    import click

WIDTH = 100
PROG = "mfcli"
REGENERATE = "python -m mfcli.cli.reference > docs/cli.md"


def _root_command() -> click.Command:
    from mfcli.cli.main import _register, app

    _register()
    return typer.main.get_command(app)


def _plain_help(command: click.Command, ctx: click.Context) -> str:
    """``command --help`` as click formats it, WIDTH columns, no rich."""
    # get_command() builds fresh click objects on every call, so switching rich off here
    # changes nothing for the running app.
    if hasattr(command, "rich_markup_mode"):
        command.rich_markup_mode = None
    formatter = click.HelpFormatter(width=WIDTH, max_width=WIDTH)
    command.format_help(ctx, formatter)
    # Trailing blanks are invisible and editors strip them: drop them so the file survives.
    return "\n".join(line.rstrip() for line in formatter.getvalue().rstrip("\n").splitlines())


def _walk(command: click.Command, ctx: click.Context):
    """Yield (path, help text) for ``command`` and every subcommand, depth first."""
    yield ctx.command_path, _plain_help(command, ctx)
    if hasattr(command, "list_commands"):  # a group (typer's is not a click.Group)
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is None or getattr(sub, "hidden", False):
                continue
            sub_ctx = click.Context(
                sub,
                info_name=name,
                parent=ctx,
                terminal_width=WIDTH,
                max_content_width=WIDTH,
                **sub.context_settings,
            )
            yield from _walk(sub, sub_ctx)


def command_helps() -> list[tuple[str, str]]:
    """(``mfcli <command>``, plain ``--help`` text) for the root and every subcommand."""
    root = _root_command()
    settings = dict(root.context_settings)
    settings.pop("terminal_width", None)
    settings.pop("max_content_width", None)
    ctx = click.Context(
        root, info_name=PROG, terminal_width=WIDTH, max_content_width=WIDTH, **settings
    )
    return list(_walk(root, ctx))


def _anchor(title: str) -> str:
    """The GitHub-style anchor of a Markdown heading."""
    kept = "".join(ch for ch in title.lower() if ch.isalnum() or ch in " -_")
    return kept.replace(" ", "-")


def render_reference() -> str:
    """The whole docs/cli.md: title, note, contents, one section per command."""
    helps = command_helps()
    lines = [
        "# mfcli command-line reference",
        "",
        f"Generated from `--help` by `{REGENERATE}`; do not edit by hand.",
        "",
        "## Contents",
        "",
    ]
    for path, _ in helps:
        lines.append(f"- [`{path}`](#{_anchor(path)})")
    for path, text in helps:
        lines += ["", f"## {path}", "", "```text", text, "```"]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    import sys

    sys.stdout.write(render_reference())
