"""The typer app and its error boundary.

Every command module registers itself here. This module imports only typer
and mfcli's light modules so `mfcli --help` and `--version` stay fast.
"""

from __future__ import annotations

import os
import sys

import typer
from typer.core import TyperGroup

try:  # typer >= 0.2x vendors click; older releases use click itself
    from typer._click import exceptions as cx
except ImportError:  # pragma: no cover
    from click import exceptions as cx


from mfcli import __version__
from mfcli.errors import EXIT_INTERNAL, EXIT_SIGINT, EXIT_USAGE, MfcliError

_NoArgsIsHelp = getattr(cx, "NoArgsIsHelpError", ())

DEBUG_FLAG = "--debug"


class MfcliGroup(TyperGroup):
    """Runs commands behind one error boundary: one-line errors, guide exit codes."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        args = list(sys.argv[1:] if args is None else args)
        debug = DEBUG_FLAG in args or os.environ.get("MFCLI_DEBUG") == "1"
        args = [a for a in args if a != DEBUG_FLAG]
        from mfcli.runtime import calm_spinning_threads, terminate_as_exception

        calm_spinning_threads()  # before any command loads numpy

        try:
            with terminate_as_exception():
                rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
            code = rv if isinstance(rv, int) else 0
        except typer.Exit as exc:
            code = exc.exit_code
        except _NoArgsIsHelp as exc:
            sys.stdout.write(exc.ctx.get_help() + "\n")
            code = EXIT_USAGE
        except cx.UsageError as exc:
            command = exc.ctx.command_path if exc.ctx else "mfcli"
            _error(f"{exc.format_message()} (see '{command} --help')")
            code = EXIT_USAGE
        except typer.Abort:
            _error("interrupted")
            code = EXIT_SIGINT
        except KeyboardInterrupt:
            if debug:
                raise
            _error("interrupted by SIGINT")
            code = EXIT_SIGINT
        except MfcliError as exc:
            if debug:
                raise
            _error(exc.one_line(), prefixed=True)
            code = exc.exit_code
        except cx.ClickException as exc:
            _error(exc.format_message())
            code = exc.exit_code
        except Exception as exc:  # noqa: BLE001 - the boundary for bugs
            if debug:
                raise
            _error(
                f"internal error: {type(exc).__name__}: {exc} "
                "(this is a bug in mfcli; rerun with --debug for the traceback)"
            )
            code = EXIT_INTERNAL
        if standalone_mode:
            sys.exit(code)
        return code

    def invoke(self, ctx):
        # typer turns KeyboardInterrupt into a silent exit; keep it a one-line error.
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            import signal

            from mfcli.errors import Interrupted

            raise Interrupted(signal.SIGINT) from None


def _error(message: str, prefixed: bool = False) -> None:
    line = message if prefixed else f"error: {message}"
    sys.stderr.write(" ".join(line.split()) + "\n")
    sys.stderr.flush()


app = typer.Typer(
    cls=MfcliGroup,
    name="mfcli",
    help=(
        "Factorize matrix files: Matrix Market, CSV and HDF5 in, one self-describing "
        "HDF5 result file out.\n\nExit codes: 0 ok, 1 internal error, 2 usage/config error, "
        "3 quality gate failed, 4 numerics failed, 65 invalid input data, 66 input missing, "
        "73 output exists or cannot be created, 130 SIGINT, 143 SIGTERM."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"mfcli {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
    debug: bool = typer.Option(
        False, "--debug", help="Show tracebacks (accepted anywhere on the command line)."
    ),
) -> None:
    """Factorize matrix files."""


def _register() -> None:
    # Command modules import only typer-level code at top; heavy work is inside.
    from mfcli.cli import (  # noqa: F401
        als,
        demo,
        evaluate,
        generate,
        info,
        nmf,
        plot,
        recommend,
        rerun,
        run,
        sgd,
        split,
        svd,
        transform,
    )


_register()


# A command imports numba, scipy and h5py (about a million long-lived objects); with
# the default thresholds the collector walks them all several times over, about 0.1 s
# of a cold `mfcli info`. Cycles are still collected, only in bigger batches.
GC_THRESHOLDS = (50_000, 20, 20)


def run() -> None:
    """Console-script entry point."""
    import gc

    gc.set_threshold(*GC_THRESHOLDS)
    app()
