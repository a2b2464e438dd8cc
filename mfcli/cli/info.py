"""`mfcli info`: what is in a file (or in this environment)."""

from __future__ import annotations

import typer

from mfcli.cli import options as opt
from mfcli.cli.main import app


@app.command()
def info(
    files: list[str] | None = typer.Argument(
        None, help="Matrix, result or label files ('-' = stdin, FILE.h5:/path for HDF5 objects)."
    ),
    env: bool = typer.Option(
        False, "--env", help="Print versions, threads chosen and why, BLAS and threading layer."
    ),
    threads: int | None = typer.Option(None, "--threads", help="Thread count to report for --env."),
    format: str = opt.FORMAT,
    dataset: str | None = opt.DATASET,
    sep: str | None = opt.SEP,
    header: bool | None = opt.HEADER,
    columns: str | None = opt.COLUMNS,
    duplicates: str | None = opt.DUPLICATES,
    row_labels: str | None = opt.ROW_LABELS,
    col_labels: str | None = opt.COL_LABELS,
    json_out: bool = opt.JSON,
) -> None:
    """Describe files: format, shape, nnz, density, value range, degrees, labels.

    For result files: the method, config, metrics and provenance. Exits with the
    code of the first file that fails (65 invalid data, 66 unreadable), after
    describing the others.
    """
    from mfcli.cli import render
    from mfcli.errors import MfcliError, UsageError

    if not files and not env:
        raise UsageError("give one or more files, or --env", hint="see 'mfcli info --help'")
    reports = []
    if env:
        from mfcli.runtime import environment_report

        reports.append({"kind": "environment", **environment_report(threads)})
    read_opts = opt.read_options(
        format, dataset, sep, header, columns, duplicates, "float64", row_labels, col_labels
    )
    first_error: MfcliError | None = None
    for path in files or []:
        from mfcli.describe import describe_file

        try:
            reports.append(describe_file(path, read_opts))
        except MfcliError as exc:
            exc.located(path)
            if len(files) == 1 and not env:
                raise
            render.error_line(exc)
            reports.append(
                {"path": path, "kind": "error", "error": exc.one_line(), "exit_code": exc.exit_code}
            )
            first_error = first_error or exc
    if json_out:
        render.print_json(reports if len(reports) > 1 else reports[0])
    else:
        for report in reports:
            render.print_report(report)
    if first_error is not None:
        raise typer.Exit(first_error.exit_code)
