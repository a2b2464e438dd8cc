"""`--config`, `--set` and `--print-config`: the same plumbing for every command."""

from __future__ import annotations

from typing import Any

import typer

CONFIG = typer.Option(
    None,
    "--config",
    help="YAML config (or a result .h5 to replay); repeatable, later files win.",
)
SET = typer.Option(None, "--set", help="Override one key, e.g. --set model.rank=32; repeatable.")
PRINT_CONFIG = typer.Option(
    False, "--print-config", help="Print the resolved config as YAML and exit without running."
)
ALLOW_CHANGED_INPUT = typer.Option(
    False,
    "--allow-changed-input",
    help=(
        "Replay a result .h5 (--config) even when its input file has changed since: "
        "without it a sha256 other than the stored one is an error (exit 65)."
    ),
)


def resolve_from_cli(
    ctx: typer.Context,
    command: str,
    config_files: list[str] | None,
    set_items: list[str] | None,
    params: dict[str, Any],
):
    """Defaults < config files < --set < the flags the user actually typed."""
    from mfcli.config import config_class, resolve

    try:
        from typer._click.core import ParameterSource
    except ImportError:  # pragma: no cover - older typer uses click itself
        from click.core import ParameterSource

    typed = {
        name: value
        for name, value in params.items()
        if ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE
    }
    return resolve(config_class(command), config_files or [], set_items or [], typed)


def print_config(config) -> None:
    from mfcli.config import to_yaml

    typer.echo(to_yaml(config), nl=False)


def run_fit(
    cfg,
    fit,
    *,
    only_print: bool,
    json_out: bool,
    quiet: bool,
    config_files: list[str] | None = None,
    allow_changed_input: bool = False,
) -> None:
    """What every fit command does with its resolved config: print it, or fit and report.

    A result file among ``config_files`` is a replay: its input must still
    have the stored sha256 unless ``allow_changed_input`` (exit 65 otherwise).
    """
    from mfcli.cli import render

    if only_print:
        print_config(cfg)
        return
    if config_files and not allow_changed_input:
        from mfcli.api.replay import check_replayed_input

        check_replayed_input(cfg, config_files)
    _, summary = fit(cfg)
    if json_out:
        render.print_json(summary)
    elif not quiet:
        render.print_fit(summary)
