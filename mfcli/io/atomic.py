"""Atomic output: a temp file beside the target, renamed into place on success.

Every writer in mfcli goes through :func:`atomic_path`, so no command ever leaves
a partial or clobbered output file (guide section 3).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from mfcli.errors import OutputError


def check_output(path: str | os.PathLike, *, force: bool = False) -> None:
    """Fail early (exit 73) when ``path`` cannot be written.

    Call it before a long computation so the user learns at once;
    :func:`atomic_path` checks again.

    Raises
    ------
    OutputError
        ``path`` exists and ``force`` is false, is a directory, or its
        directory is missing or not writable.
    """
    path = os.fspath(path)
    if not path:
        raise OutputError("empty output path", hint="give -o FILE")
    if os.path.isdir(path):
        raise OutputError("is a directory", path=path, hint="give a file name")
    if os.path.lexists(path) and not force:
        raise OutputError("output exists", path=path, hint="use --force")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise OutputError("directory does not exist", path=path, hint="create it first")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise OutputError("directory is not writable", path=path)


@contextmanager
def atomic_path(path: str | os.PathLike, *, force: bool = False) -> Iterator[str]:
    """Yield a temporary path beside ``path``; publish it there on success.

    The temp file is fsynced before the rename and the directory after it. On
    any exception (KeyboardInterrupt and SIGTERM included) the temp file is
    removed and ``path`` is untouched. Without ``force`` the final step links
    rather than renames, so a file that appeared meanwhile is never replaced.

    Raises
    ------
    OutputError
        See :func:`check_output`; also when the file cannot be written.
    """
    path = os.fspath(path)
    check_output(path, force=force)
    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(
            prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory
        )
        os.close(fd)
    except OSError as exc:
        raise OutputError(f"cannot create: {exc.strerror or exc}", path=path) from None
    try:
        try:
            yield tmp
            _fsync(tmp)
            os.chmod(tmp, 0o666 & ~_umask())  # mkstemp made it 0600
        except OSError as exc:
            raise OutputError(f"cannot write: {exc.strerror or exc}", path=path) from None
        _publish(tmp, path, force)
    except BaseException:
        _remove(tmp)
        raise
    _fsync_dir(directory)


def _publish(tmp: str, path: str, force: bool) -> None:
    try:
        if force:
            os.replace(tmp, path)
            return
        # A hard link fails if the name exists: a file that appeared since
        # check_output is never clobbered.
        try:
            os.link(tmp, path)
        except FileExistsError:
            raise OutputError("output exists", path=path, hint="use --force") from None
        except OSError:  # no hard links on this file system: accept the tiny race
            if os.path.lexists(path):
                raise OutputError("output exists", path=path, hint="use --force") from None
            os.replace(tmp, path)
            return
        _remove(tmp)
    except OSError as exc:
        raise OutputError(f"cannot write: {exc.strerror or exc}", path=path) from None


def _fsync(path: str) -> None:
    with open(path, "rb+") as fh:
        os.fsync(fh.fileno())


def _fsync_dir(directory: str) -> None:
    # Makes the rename durable; not supported everywhere, hence best effort.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
