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
    output: str | None = typer.Option(
        None,
        "-o",
        "--output",
        help="Keep the experiment's run folder here (default: a temporary folder, removed).",
    ),
    json_out: bool = typer.Option(False, "--json", help="Machine-readable summary on stdout."),
) -> None:
    """Read every bundled sample file, then run the demo experiment on the ratings.

    The experiment is sample_data/experiment.yaml: a seeded 70/10/20 split of
    ratings.csv; svd (soft-impute), nmf (observed entries), als (explicit
    and implicit) and sgd, each with a small grid or random search chosen on
    validation rmse; every chosen model scored on test (rmse, mae,
    precision@10, ndcg@10); the comparison table. 'mfcli run
    sample_data/experiment.yaml -o runs/demo' does the same by hand. The
    first run compiles mfcli's kernels (under a minute on 2 cores) and
    caches them; later runs take seconds.
    """
    from mfcli.cli import render
    from mfcli.demo import run_demo

    report = run_demo(data_dir, output)
    if json_out:
        render.print_json(report)
    else:
        render.print_demo(report)
