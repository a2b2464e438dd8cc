"""`mfcli transform`: fold new rows into a fitted model (options only; see mfcli.api)."""

from __future__ import annotations

import typer

from mfcli.cli import configure
from mfcli.cli import options as opt
from mfcli.cli.main import app

HELP = """Project the rows of ROWS onto MODEL.h5 without refitting (fold-in).

\b
ROWS is any matrix file; its columns are matched to the model's by label
(e.g. item ids of a ratings CSV), or by position when neither has labels.
Columns the model does not know are left out and counted.

\b
svd            (rows - mean) @ V @ diag(1/s): the rows' coordinates in U
svd --missing  ridge least squares on each row's stored entries only
nmf            non-negative least squares (or KL) with H fixed, the fit's
               loss, mask and W penalties

\b
-o OUT.h5 writes /projections (rows x k) and /labels/row; -o OUT.csv (or
.tsv) writes the row label, then columns f0 .. f{k-1}.
"""


@app.command(help=HELP)
def transform(
    ctx: typer.Context,
    model_path: str | None = typer.Argument(None, metavar="MODEL", help="Result file (.h5)."),
    rows: str | None = typer.Argument(
        None, metavar="ROWS", help="New rows (any input format; '-' = stdin)."
    ),
    output: str | None = typer.Option(
        None, "-o", "--output", help="Projections: .h5, .csv or .tsv."
    ),
    force: bool = typer.Option(False, "--force", help="Replace an existing output file."),
    format: str = opt.FORMAT,
    dataset: str | None = opt.DATASET,
    sep: str | None = opt.SEP,
    header: bool | None = opt.HEADER,
    columns: str | None = opt.COLUMNS,
    duplicates: str | None = opt.DUPLICATES,
    json_out: bool = opt.JSON,
    quiet: bool = opt.QUIET,
    config: list[str] | None = configure.CONFIG,
    set_items: list[str] | None = configure.SET,
    print_config: bool = configure.PRINT_CONFIG,
) -> None:
    from mfcli.api import transform_rows
    from mfcli.cli import render

    cfg = configure.resolve_from_cli(ctx, "transform", config, set_items, dict(
        model_path=model_path, rows=rows, output=output, force=force, format=format,
        dataset=dataset, sep=sep, header=header, columns=columns, duplicates=duplicates,
    ))  # fmt: skip
    if print_config:
        configure.print_config(cfg)
        return
    summary = transform_rows(cfg)
    if json_out:
        render.print_json(summary)
    elif not quiet:
        typer.echo(
            f"wrote {summary['path']}: {summary['rows']} rows x {summary['k']} factors "
            f"({summary['rule']}); {summary['columns_matched']} columns matched, "
            f"{summary['columns_unknown']} unknown to the model"
        )
