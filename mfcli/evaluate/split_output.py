"""Writing the parts of a split: all files of a run appear at once, or none.

A run writes into a fresh temporary directory beside its target
(``.NAME.XXXX.tmp``); when every file is written and synced, the directory is
renamed into place. An existing target that holds files is replaced only with
``force`` (the old one is moved aside, the new one renamed in, the old one
removed). Interrupted runs (errors, SIGINT, SIGTERM) remove the temporary
directory. The file-level rules are those of :mod:`mfcli.io.atomic`.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np

from mfcli.errors import OutputError
from mfcli.io.atomic import _fsync_dir, _umask

# What a split writes (and may replace with --force); hidden names are leftovers of runs.
SPLIT_NAME = re.compile(r"(train|validation|test)\.[\w.]+|manifest\.json|fold_\d+|\..*\.(tmp|old)")


# --------------------------------------------------------------- directory
def check_target(target: str, *, force: bool, parent_may_be_missing: bool = False) -> None:
    """Fail early (exit 73) when ``target`` cannot be written as a split directory.

    ``parent_may_be_missing`` allows a missing parent (``OUTDIR`` of a
    ``--fold`` run, created on publish) as long as its own parent exists.
    """
    if not target:
        raise OutputError("empty output directory", hint="give -o OUTDIR")
    if os.path.lexists(target) and not os.path.isdir(target):
        raise OutputError("exists and is not a directory", path=target, hint="name a directory")
    if os.path.isdir(target) and os.listdir(target):
        if not force:
            raise OutputError("output directory exists and is not empty", path=target,
                              hint="use --force to replace it")  # fmt: skip
        others = [n for n in sorted(os.listdir(target)) if not SPLIT_NAME.fullmatch(n)]
        if others:  # --force replaces a split's output, never a directory of other files
            raise OutputError(
                f"not replacing a directory that holds other files than a split's "
                f"(e.g. {others[0]!r})",
                path=target,
                hint="name a new directory, or remove it yourself",
            )
    parent = os.path.dirname(os.path.abspath(target))
    if parent_may_be_missing and not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise OutputError("parent directory does not exist", path=target, hint="create it first")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError("parent directory is not writable", path=target)


@contextmanager
def staged_directory(target: str, *, force: bool, make_parent: bool = False) -> Iterator[str]:
    """Yield a temporary directory; publish it as ``target`` on success.

    Raises
    ------
    OutputError
        See :func:`check_target`; also when the directory cannot be written,
        or a non-empty ``target`` appeared meanwhile (without ``force``).
    """
    check_target(target, force=force, parent_may_be_missing=make_parent)
    parent = os.path.dirname(os.path.abspath(target))
    try:
        if make_parent:
            os.makedirs(parent, exist_ok=True)  # concurrent --fold jobs share it
        tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(target)}.", suffix=".tmp", dir=parent)
        os.chmod(tmp, 0o777 & ~_umask())
    except OSError as exc:
        raise OutputError(f"cannot create: {exc.strerror or exc}", path=target) from None
    try:
        try:
            yield tmp
            _fsync_dir(tmp)
        except OSError as exc:
            raise OutputError(f"cannot write: {exc.strerror or exc}", path=target) from None
        _publish(tmp, target, force)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _fsync_dir(parent)


def _publish(tmp: str, target: str, force: bool) -> None:
    # rename(2) replaces a missing or empty directory atomically; a full one
    # only with force, moved aside first so the target is never half written.
    try:
        os.rename(tmp, target)
        return
    except OSError as exc:
        if not os.path.isdir(target) or not os.listdir(target):
            raise OutputError(f"cannot write: {exc.strerror or exc}", path=target) from None
    if not force:
        raise OutputError("output directory exists and is not empty", path=target,
                          hint="use --force to replace it")  # fmt: skip
    parent = os.path.dirname(os.path.abspath(target))
    aside = tempfile.mkdtemp(prefix=f".{os.path.basename(target)}.", suffix=".old", dir=parent)
    try:
        os.rename(target, os.path.join(aside, "old"))
        os.rename(tmp, target)
    except OSError as exc:
        if not os.path.exists(target) and os.path.exists(os.path.join(aside, "old")):
            os.rename(os.path.join(aside, "old"), target)
        shutil.rmtree(aside, ignore_errors=True)
        raise OutputError(f"cannot replace: {exc.strerror or exc}", path=target) from None
    shutil.rmtree(aside, ignore_errors=True)


# ------------------------------------------------------------------- files
class Sink:
    """One output file: compressed by ``compression``, hashed as it lands on disk."""

    def __init__(self, path: str, compression: str | None) -> None:
        self.path = path
        self.sha256 = hashlib.sha256()
        self.size = 0
        self._raw = open(path, "wb", buffering=1 << 20)  # noqa: SIM115 - closed in close()
        if compression == ".gz":
            # No file name and mtime 0 in the header: same input, same bytes.
            self._stream = gzip.GzipFile(
                filename="", mode="wb", fileobj=self, compresslevel=6, mtime=0
            )
        elif compression == ".bz2":
            self._stream = bz2.BZ2File(self, "wb", compresslevel=9)
        else:
            self._stream = None

    # the file object the compressor writes to
    def write(self, data) -> int:
        n = memoryview(data).nbytes
        self.sha256.update(data)
        self.size += n
        self._raw.write(data)
        return n

    def flush(self) -> None:
        self._raw.flush()

    def put(self, data) -> None:
        """Write uncompressed ``data`` (bytes or a contiguous uint8 array)."""
        if self._stream is not None:
            self._stream.write(data)
        else:
            self.write(data)

    def close(self) -> dict:
        """Finish, sync and close; returns ``{"sha256", "bytes"}``."""
        if self._stream is not None:
            self._stream.close()
        self._raw.flush()
        os.fsync(self._raw.fileno())
        self._raw.close()
        return {"sha256": self.sha256.hexdigest(), "bytes": self.size}

    def abort(self) -> None:
        try:
            self._raw.close()
        except OSError:
            pass


def write_text_parts(text, group: np.ndarray, table: np.ndarray, paths: Sequence[str],
                     preambles: Sequence[bytes]) -> list[dict]:  # fmt: skip
    """Copy every data line of ``text`` to ``paths[table[group[entry]]]``.

    Parameters
    ----------
    text : :class:`mfcli.evaluate.split_input.TextInput`
    group : (n_entries,) int8, the part or fold of each entry
    table : (n_groups,) int64, group -> index into ``paths`` (-1: nowhere)
    paths : output files; ``preambles`` their first bytes (header, banner ...)

    Returns
    -------
    list of ``{"sha256", "bytes"}`` per path.
    """
    from concurrent.futures import ThreadPoolExecutor

    from mfcli.kernels.split import gather_lines

    buf, cuts, row0s = text.buf, text.cuts, text.row0s
    cmt, cmt_len = text.dialect.comment_table()
    cap = int(np.diff(cuts).max(initial=0)) + 1
    n_windows = cuts.shape[0] - 1
    # Two buffers: the next window is gathered (no GIL) while this one is written.
    outs = [np.empty((len(paths), cap), dtype=np.uint8) for _ in range(min(2, n_windows))]
    ends = [np.zeros(len(paths), dtype=np.int64) for _ in outs]

    def gather(w: int) -> int:
        k = w % 2
        ends[k][:] = 0
        lo, hi = cuts[w], cuts[w + 1]
        end = gather_lines(buf, lo, hi, row0s[w], group, table, outs[k], ends[k], cmt, cmt_len)
        if end != row0s[w + 1]:  # the line rules drifted from the scanner's
            raise RuntimeError(f"window {w}: {end - row0s[w]} data lines, scanned "
                               f"{row0s[w + 1] - row0s[w]}")  # fmt: skip
        return k

    sinks: list[Sink] = []
    try:
        for path, preamble in zip(paths, preambles, strict=True):
            sinks.append(Sink(path, text.compression))
            sinks[-1].put(preamble)
        with ThreadPoolExecutor(max_workers=1) as pool:
            pending = pool.submit(gather, 0) if n_windows else None
            for w in range(n_windows):
                k = pending.result()
                if w + 1 < n_windows:
                    pending = pool.submit(gather, w + 1)
                for o, sink in enumerate(sinks):
                    if ends[k][o]:
                        sink.put(outs[k][o, : ends[k][o]])
                text.release(cuts[w], cuts[w + 1])
        return [sink.close() for sink in sinks]
    except BaseException:
        for sink in sinks:
            sink.abort()
        raise


def write_h5_part(path: str, matrix, users: np.ndarray, mask: np.ndarray) -> dict:
    """Write the entries of ``matrix`` selected by ``mask`` as a CSR group of the same shape."""
    from mfcli.data import Matrix
    from mfcli.io.write import write_h5_csr

    indptr = np.zeros(matrix.shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(users[mask], minlength=matrix.shape[0]), out=indptr[1:])
    part = Matrix(
        shape=matrix.shape,
        data=matrix.data[mask],
        indptr=indptr,
        indices=matrix.indices[mask],
        row_labels=matrix.row_labels,
        col_labels=matrix.col_labels,
        timestamps=None if matrix.timestamps is None else np.asarray(matrix.timestamps)[mask],
    )
    write_h5_csr(path, part, force=True)
    return file_digest(path)


def file_digest(path: str) -> dict:
    """``{"sha256", "bytes"}`` of a file on disk."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while block := fh.read(1 << 22):
            digest.update(block)
            size += len(block)
    return {"sha256": digest.hexdigest(), "bytes": size}


def write_json(path: str, obj) -> None:
    """Deterministic JSON (insertion order, two-space indent, newline at the end)."""
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(obj, indent=2, ensure_ascii=False) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
