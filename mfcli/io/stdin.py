"""Reading ``-`` with ``--format auto``: sniff the bytes, then hand them on."""

from __future__ import annotations

from dataclasses import replace

from mfcli.errors import UnsupportedFormatError
from mfcli.io.detect import sniff
from mfcli.io.source import decompress, read_stdin


def read(path: str, options):
    content = decompress(read_stdin(), "-")
    fmt = sniff(content[:4096])
    if fmt in ("h5", "mat"):
        raise UnsupportedFormatError(
            "HDF5 and MATLAB files cannot be read from stdin", hint="pass the file path instead"
        )
    if fmt == "unknown":
        raise UnsupportedFormatError("unrecognised binary data on stdin", hint="use --format")
    from mfcli.io import _reader

    matrix = _reader(fmt, path)(path, replace(options, format=fmt))
    matrix.meta["format"] = fmt
    return matrix
