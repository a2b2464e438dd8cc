"""The error tree: every failure a user can cause maps to one exit code.

The CLI's error boundary prints ``error: <file>[:<line>]: <message> (<hint>)``
on one line and exits with ``exit_code``; tracebacks only with ``--debug``.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_QUALITY = 3
EXIT_NUMERICS = 4
EXIT_DATA = 65
EXIT_NOINPUT = 66
EXIT_CANTCREAT = 73
EXIT_SIGINT = 130
EXIT_SIGTERM = 143


class MfcliError(Exception):
    """Base of all expected errors.

    Parameters
    ----------
    message : what is wrong, without the file name.
    path : the file concerned, if any.
    line : 1-based line number in ``path``, if known.
    hint : what the user can do about it.
    """

    exit_code = EXIT_INTERNAL

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.line = line
        self.hint = hint

    def located(self, path: str | None = None, line: int | None = None) -> MfcliError:
        """Fill in the location if it is not set yet; returns self."""
        if self.path is None and path is not None:
            self.path = str(path)
        if self.line is None and line is not None:
            self.line = line
        return self

    def one_line(self) -> str:
        where = ""
        if self.path is not None:
            where = f"{self.path}:{self.line}: " if self.line else f"{self.path}: "
        hint = f" ({self.hint})" if self.hint else ""
        text = f"error: {where}{self.message}{hint}"
        return " ".join(text.split())  # always one line

    def __str__(self) -> str:
        return self.one_line()


class UsageError(MfcliError):
    """Bad flags or option values (exit 2)."""

    exit_code = EXIT_USAGE


class ConfigError(UsageError):
    """Bad configuration file or --set value (exit 2)."""


class QualityGateError(MfcliError):
    """A quality gate such as ``eval --fail-if`` failed (exit 3)."""

    exit_code = EXIT_QUALITY


class NumericsError(MfcliError):
    """Divergence, NaN or inf during a fit (exit 4)."""

    exit_code = EXIT_NUMERICS


class InputDataError(MfcliError):
    """The input exists but its content is invalid (exit 65)."""

    exit_code = EXIT_DATA


class UnsupportedFormatError(InputDataError):
    """The input is in a format mfcli does not read (exit 65)."""


class AmbiguousInputError(InputDataError):
    """The file holds several matrices and none was named (exit 65).

    ``candidates`` lists them (``/path (m x n, kind)``) so ``info`` can show the
    file's contents instead of failing.
    """

    def __init__(self, message: str, *, candidates: list[str], **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.candidates = list(candidates)


class TableLayoutError(InputDataError):
    """A delimited table whose columns do not say which are user, item, value (exit 65).

    ``columns`` describes each column (name, kind, example) so ``info`` can show
    the table and suggest ``--columns``.
    """

    def __init__(self, message: str, *, columns: list[dict], **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.columns = list(columns)


class ClusterError(UsageError):
    """The Dask cluster named by --scheduler failed the fit: unreachable, or a
    worker lost with the blocks it held (exit 2, as for an unreachable scheduler)."""


class InputMissingError(MfcliError):
    """The input does not exist or cannot be read (exit 66)."""

    exit_code = EXIT_NOINPUT


class OutputError(MfcliError):
    """The output exists (without --force) or cannot be created (exit 73)."""

    exit_code = EXIT_CANTCREAT


class Interrupted(MfcliError):
    """SIGINT (exit 130) or SIGTERM (exit 143)."""

    def __init__(self, signum: int) -> None:
        import signal

        name = "SIGTERM" if signum == signal.SIGTERM else "SIGINT"
        super().__init__(f"interrupted by {name}")
        self.exit_code = EXIT_SIGTERM if signum == signal.SIGTERM else EXIT_SIGINT

    def located(self, path=None, line=None) -> MfcliError:
        return self  # a signal is about the process, not about a file
