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

    The tour: every file read (format, shape, nnz, labels, timestamps);
    ratings split, completed by svd --missing and scored; the planted
    spectrum of a low-rank matrix; nmf topics of document-term counts; als
    --implicit on those counts against a popularity baseline (precision@10,
    ndcg@10); sgd on the ratings against the biases alone (test RMSE). Each
    step prints the equivalent commands. Takes seconds once the kernels are
    compiled (the first run compiles and caches them).
    """
    from mfcli.cli import render
    from mfcli.demo import run_demo

    report = run_demo(data_dir)
    if json_out:
        render.print_json(report)
    else:
        render.print_demo(report)
