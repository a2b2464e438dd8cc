"""`mfcli rerun RESULT.h5`: `mfcli METHOD --config RESULT.h5`, METHOD read from the file."""

from __future__ import annotations

import typer

from mfcli.cli import configure
from mfcli.cli import options as opt
from mfcli.cli.main import app

FIT_METHODS = ("svd", "nmf", "als", "sgd")

HELP = """Run the fit that wrote RESULT.h5 again, from its stored config.

\b
The same as 'mfcli METHOD --config RESULT.h5' (plus the options below),
with METHOD (svd, nmf, als or sgd) read from the file: the same input,
options and seed, so the same factors. The input must still have the
sha256 stored in the result (exit 65 otherwise) unless
--allow-changed-input. Without -o the result goes to the path stored in
its config, so an existing file needs -o NEW.h5 or --force (--force
without -o replaces RESULT.h5 itself).
"""


@app.command(help=HELP)
def rerun(
    ctx: typer.Context,
    result: str = typer.Argument(..., help="A result file written by svd, nmf, als or sgd."),
    output: str | None = opt.OUTPUT,
    force: bool = opt.FORCE,
    allow_changed_input: bool = configure.ALLOW_CHANGED_INPUT,
    threads: int | None = opt.THREADS,
    json_out: bool = opt.JSON,
    quiet: bool = opt.QUIET,
    print_config: bool = configure.PRINT_CONFIG,
) -> None:
    from mfcli.errors import InputDataError
    from mfcli.io.results import read_result

    method = read_result(result, load=()).method
    if method not in FIT_METHODS:
        raise InputDataError(
            f"cannot rerun a result of method {method!r}",
            path=result,
            hint="rerun replays files written by " + ", ".join(FIT_METHODS),
        )
    args = ["--config", result]
    if output is not None:
        args += ["--output", output]
    if threads is not None:
        args += ["--threads", str(threads)]
    flags = {
        "--force": force,
        "--allow-changed-input": allow_changed_input,
        "--json": json_out,
        "--quiet": quiet,
        "--print-config": print_config,
    }
    args += [flag for flag, on in flags.items() if on]
    # The method's own command parses these, so the run is exactly `mfcli METHOD ARGS`.
    group = ctx.parent.command
    command = group.get_command(ctx.parent, method)
    with command.make_context(method, args, parent=ctx.parent) as sub:
        command.invoke(sub)
