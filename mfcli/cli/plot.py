"""`mfcli plot RESULT.h5|RUN_DIR -o FIG.png`: options only; the drawing is in mfcli.plot."""

from __future__ import annotations

import typer

from mfcli.cli import options as opt
from mfcli.cli.main import app

HELP = """Draw a result file or a 'mfcli run' directory to a PNG, PDF or SVG file.

\b
RESULT.h5  convergence: every per-iteration series in /history (loss,
           objective, validation metrics ...; log y where positive) against
           the iteration, or --x seconds; svd adds the singular values and
           the explained variance, per component and cumulative
RUN_DIR    the runs of 'mfcli run' side by side: one bar panel per metric
           (mean, error bars = std over folds), plus fit seconds

\b
The format follows the suffix of -o. An existing output needs --force; the
file is written atomically. Needs matplotlib (mfcli's "plot" extra).
"""


@app.command(help=HELP)
def plot(
    input: str = typer.Argument(
        ..., metavar="RESULT|RUN_DIR", help="A result file (.h5) or a 'mfcli run' directory."
    ),
    output: str = typer.Option(..., "-o", "--output", help="Figure file: .png, .pdf or .svg."),
    force: bool = opt.FORCE,
    dpi: float | None = typer.Option(
        None, "--dpi", help="Dots per inch (default 100; sets the png size)."
    ),
    width: float | None = typer.Option(None, "--width", help="Figure width in inches."),
    height: float | None = typer.Option(None, "--height", help="Figure height in inches."),
    x: str = typer.Option("iteration", "--x", help="History x axis: iteration|seconds."),
    json_out: bool = opt.JSON,
    quiet: bool = opt.QUIET,
) -> None:
    from mfcli.errors import UsageError

    fmt = _checked_options(output, dpi, width, height, x)
    from mfcli import plot as draw
    from mfcli.cli import render
    from mfcli.io.atomic import check_output

    draw.require_matplotlib()
    data = draw.load(input)
    check_output(output, force=force)
    size = (width, height)
    if isinstance(data, draw.RunData):
        if x != "iteration":
            raise UsageError("--x applies to result files, not to a run directory", path=input)
        fig, summary = draw.run_figure(data, size=size)
    else:
        fig, summary = draw.result_figure(data, x=x, size=size)
    draw.save_figure(fig, output, dpi=dpi, force=force)
    summary = {"input": input, "output": output, "format": fmt, **summary}
    if json_out:
        render.print_json(summary)
    elif not quiet:
        panels = summary["panels"]
        names = ", ".join(p["name"] for p in panels)
        typer.echo(f"wrote {output}: {len(panels)} panel{'s' * (len(panels) != 1)} ({names})")


def _checked_options(output, dpi, width, height, x) -> str:
    from mfcli.errors import UsageError
    from mfcli.plot import output_format

    for name, value in (("--dpi", dpi), ("--width", width), ("--height", height)):
        if value is not None and not value > 0:
            raise UsageError(f"{name} must be positive, not {value:g}")
    if x not in ("iteration", "seconds"):
        raise UsageError(f"invalid --x {x!r}", hint="use iteration or seconds")
    return output_format(output)
