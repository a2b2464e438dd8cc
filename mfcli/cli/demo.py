"""`mfcli demo`: the main job on the bundled sample data, no arguments needed."""

from __future__ import annotations

import typer

from mfcli.cli.main import app


@app.command()
def demo(
    data_dir: str | None = typer.Option(
        None,
        "--data-dir",
        help="Folder with the sample files (default: the repo's sample_data/, "
        "else they are generated afresh into a temporary folder).",
    ),
    json_out: bool = typer.Option(False, "--json", help="Machine-readable summary on stdout."),
) -> None:
    """Read every bundled sample file and show what mfcli makes of it.

    Each method issue adds its fit to this tour; today it shows the readers:
    format detection, shape, nnz, labels and timestamps, and read time.
    """
    from mfcli.cli import render
    from mfcli.demo import run_demo

    report = run_demo(data_dir)
    if json_out:
        render.print_json(report)
    else:
        render.print_demo(report)
