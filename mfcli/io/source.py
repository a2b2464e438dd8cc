"""Opening inputs: plain, gzip, bzip2 and stdin, with exit-66 errors."""

from __future__ import annotations

import bz2
import gzip
import io
import mmap
import os
import sys

from mfcli.errors import InputDataError, InputMissingError

GZIP_MAGIC = b"\x1f\x8b"
BZ2_MAGIC = b"BZh"
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def display_name(path: str) -> str:
    return "<stdin>" if path == "-" else str(path)


def strip_compression(path: str) -> str:
    """``a.mtx.gz`` -> ``a.mtx``: the name that tells the format."""
    lower = str(path).lower()
    for ext in (".gz", ".bz2"):
        if lower.endswith(ext):
            return str(path)[: -len(ext)]
    return str(path)


def check_readable(path: str) -> None:
    """Raise exit-66 errors for missing, directory or unreadable inputs."""
    if path == "-":
        return
    if not os.path.exists(path):
        raise InputMissingError("no such file", path=path, hint="check the path")
    if os.path.isdir(path):
        raise InputMissingError("is a directory, not a file", path=path)
    if not os.access(path, os.R_OK):
        raise InputMissingError("permission denied", path=path)


_stdin_cache: dict[str, bytes] = {}


def read_stdin() -> bytes:
    """All of stdin, read once: sniffing and parsing both see the same bytes."""
    if "raw" not in _stdin_cache:
        _stdin_cache["raw"] = sys.stdin.buffer.read()
    return _stdin_cache["raw"]


def read_bytes(path: str) -> bytes:
    """The whole (decompressed) content of ``path``; ``-`` reads stdin."""
    check_readable(path)
    try:
        if path == "-":
            raw = read_stdin()
        else:
            with open(path, "rb") as fh:
                raw = fh.read()
    except OSError as exc:
        raise InputMissingError(f"cannot read: {exc.strerror or exc}", path=path) from None
    return decompress(raw, path)


MAP_MIN_BYTES = 1 << 24  # below this a plain read is as fast


def map_bytes(path: str) -> bytes | mmap.mmap:
    """The content of ``path`` like :func:`read_bytes`, mapped instead of read
    when it is a large uncompressed regular file.

    A map costs no copy, and :func:`release` can hand its pages back once
    they are parsed, so the text never has to be resident all at once. The
    map supports what the text readers use of bytes (``len``, slicing,
    ``find``, the buffer protocol). The file must not be truncated while it is
    read (as with any memory map).
    """
    if path == "-":
        return read_bytes(path)
    check_readable(path)
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            magic = fh.read(4)
            if (
                size < MAP_MIN_BYTES
                or magic[:2] == GZIP_MAGIC
                or magic[:3] == BZ2_MAGIC
                or not os.path.isfile(path)
            ):
                return read_bytes(path)
            return mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError):
        return read_bytes(path)  # not mappable (e.g. a pipe): read it


def release(data, lo: int, hi: int) -> None:
    """Drop the resident pages of ``data[lo:hi]`` when ``data`` is a map.

    The pages stay in the page cache; touching them again reads them back.
    Only whole pages inside the range are dropped. Bytes are left alone.
    """
    if not isinstance(data, mmap.mmap) or not hasattr(data, "madvise"):
        return
    page = mmap.PAGESIZE
    first = -(-lo // page) * page
    last = (hi // page) * page
    if last > first:
        data.madvise(mmap.MADV_DONTNEED, first, last - first)


def decompress(raw: bytes, path: str) -> bytes:
    """Transparent gzip/bzip2 by magic bytes, whatever the suffix."""
    try:
        if raw[:2] == GZIP_MAGIC:
            return gzip.decompress(raw)
        if raw[:3] == BZ2_MAGIC:
            return bz2.decompress(raw)
    except (OSError, EOFError, ValueError) as exc:
        raise InputDataError(
            f"compressed data is corrupt or truncated ({exc})", path=display_name(path)
        ) from None
    return raw


def head(path: str, n: int = 4096) -> bytes:
    """The first ``n`` decompressed bytes, for sniffing (not for stdin)."""
    check_readable(path)
    try:
        with open(path, "rb") as fh:
            magic = fh.read(4)
            fh.seek(0)
            if magic[:2] == GZIP_MAGIC:
                with gzip.open(fh) as gz:
                    return _read_upto(gz, n)
            if magic[:3] == BZ2_MAGIC:
                with bz2.open(fh) as bz:
                    return _read_upto(bz, n)
            return fh.read(n)
    except (OSError, EOFError) as exc:
        raise InputDataError(f"cannot read: {exc}", path=path) from None


def _read_upto(stream: io.BufferedIOBase, n: int) -> bytes:
    try:
        return stream.read(n)
    except (OSError, EOFError):
        return b""
