"""Which reader a file needs: by suffix first, then by sniffing content."""

from __future__ import annotations

import os

from mfcli.errors import UnsupportedFormatError
from mfcli.io.source import BZ2_MAGIC, GZIP_MAGIC, HDF5_MAGIC, head, strip_compression

SUFFIXES = {
    ".mtx": "mtx",
    ".mm": "mtx",
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".dat": "csv",
    ".data": "csv",
    ".ascii": "csv",
    ".tab": "csv",
    ".h5": "h5",
    ".hdf5": "h5",
    ".he5": "h5",
    ".h5ad": "h5",
    ".mat": "mat",
    ".rda": "rdata",
    ".rdata": "rdata",
    ".rds": "rdata",
}
UNSUPPORTED = {
    ".npz": "NumPy .npz",
    ".npy": "NumPy .npy",
    ".parquet": "Parquet",
    ".xlsx": "Excel",
    ".zip": "zip archive",
}
MAT_MAGIC = b"MATLAB "  # v5 and v7.3 (HDF5 behind a 512-byte MATLAB header)


def split_object_path(path: str) -> tuple[str, str | None]:
    """``file.h5:/group/x`` -> (``file.h5``, ``/group/x``); plain paths unchanged."""
    if ":/" in path and not os.path.exists(path):
        base, _, obj = path.rpartition(":/")
        if os.path.exists(base):
            return base, "/" + obj
    return path, None


def by_suffix(path: str) -> str | None:
    name = strip_compression(path)
    ext = os.path.splitext(name)[1].lower()
    if ext in UNSUPPORTED:
        raise UnsupportedFormatError(
            f"unsupported format: {UNSUPPORTED[ext]}",
            path=path,
            hint="convert it to Matrix Market, CSV or HDF5",
        )
    return SUFFIXES.get(ext)


def sniff(data: bytes) -> str:
    """Format from the first bytes of (decompressed) content."""
    if data.startswith(HDF5_MAGIC):
        return "h5"
    if data.startswith(MAT_MAGIC):
        return "mat"
    if data[:5] in (b"RDX2\n", b"RDX3\n") or (
        data[:2] == b"X\n" and data[2:6] in (b"\x00\x00\x00\x02", b"\x00\x00\x00\x03")
    ):
        return "rdata"
    stripped = data.lstrip()
    if stripped[:14].lower() == b"%%matrixmarket" or stripped[:13].lower() == b"%matrixmarket":
        return "mtx"
    if data[:2] == GZIP_MAGIC or data[:3] == BZ2_MAGIC:
        return "unknown"
    if b"\x00" in data[:4096]:
        return "unknown"
    return "csv"


def detect_format(path: str) -> str:
    """mtx | csv | h5 | mat | rdata for ``path`` (``-``: sniff is done by the caller)."""
    fmt = by_suffix(path)
    if path == "-":
        return fmt or "auto"
    content = head(path, 4096)
    sniffed = sniff(content)
    if sniffed in ("h5", "mat", "mtx", "rdata"):
        # Content wins over a misleading suffix for self-identifying formats.
        return sniffed
    if fmt is not None:
        return fmt
    if sniffed == "unknown":
        raise UnsupportedFormatError(
            "unrecognised binary format", path=path, hint="use --format mtx|csv|h5"
        )
    return sniffed
