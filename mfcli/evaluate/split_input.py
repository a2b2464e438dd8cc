"""Reading an input for ``mfcli split``: its entries in file order, and how to copy them.

Text inputs (CSV and Matrix Market coordinate files) are split by lines:
the header and leading comments (the *preamble*) go to every output and each
data line is copied byte for byte to its part. So they are read here without
building a matrix: the file is sniffed with the CSV reader's own rules, then
scanned window by window (a mapped file hands each window's pages back when
it is done) for the user, item and time of every data line. Lines are
classified exactly like the scanner does (see :mod:`mfcli.kernels.split`),
and each window's count is checked against the scanner's.

HDF5 inputs are read with :func:`mfcli.io.read_matrix`; their entries are the
stored entries of the CSR matrix in row order (a dense dataset's nonzeros).
"""

from __future__ import annotations

import hashlib
import mmap
import os
import re
import threading
from dataclasses import dataclass, field

import numpy as np

from mfcli.errors import InputDataError, InputMissingError, MfcliError, UnsupportedFormatError
from mfcli.evaluate.split import Entries
from mfcli.io import textscan as ts
from mfcli.io.options import ReadOptions
from mfcli.io.source import BZ2_MAGIC, GZIP_MAGIC, check_readable, decompress, display_name

WINDOW_BYTES = 1 << 25  # text is scanned and copied in windows of about this size
SNIFF_BYTES = 1 << 22
MAP_MIN_BYTES = 1 << 22  # smaller files are simply read
HASH_BLOCK = 1 << 22
TEXT_SUFFIXES = {"csv": ".csv", "mtx": ".mtx"}


@dataclass
class TextInput:
    """A text input split by lines.

    buf : (n_bytes,) read-only uint8, the whole (decompressed) text
    cuts : (n_windows + 1,) byte offsets of the windows, each starting a line
    row0s : (n_windows + 1,) entry number at each cut
    preamble : bytes copied to every output before its lines
    size_line : Matrix Market only: (start, end) of the size line in the preamble
    """

    format: str
    buf: np.ndarray
    dialect: ts.Dialect
    cuts: np.ndarray
    row0s: np.ndarray
    preamble: bytes
    compression: str | None
    mapped: mmap.mmap | None = None
    size_line: tuple[int, int] | None = None

    def release(self, lo: int, hi: int) -> None:
        """Hand the pages of ``buf[lo:hi]`` back when the text is a mapped file."""
        if self.mapped is None or not hasattr(self.mapped, "madvise"):
            return
        page = mmap.PAGESIZE
        first = -(-int(lo) // page) * page
        last = (int(hi) // page) * page
        if last > first:
            self.mapped.madvise(mmap.MADV_DONTNEED, first, last - first)


@dataclass
class H5Input:
    """An HDF5 input: the CSR matrix whose stored entries are split."""

    matrix: object  # mfcli.data.Matrix, CSR
    format: str = "h5"
    compression: str | None = None


@dataclass
class SplitInput:
    """What :func:`read_input` found: the entries and the source to copy from."""

    path: str
    format: str
    source: TextInput | H5Input
    entries: Entries
    suffix: str  # output suffix, compression included (".csv", ".mtx.gz", ".h5")
    columns: dict = field(default_factory=dict)  # role -> column name or index
    notes: list[str] = field(default_factory=list)
    digest: InputDigest | None = None


class InputDigest:
    """sha256 of the input file as stored, computed on a thread while the split runs."""

    def __init__(self, path: str, data: bytes | None = None) -> None:
        self._hash = hashlib.sha256()
        self.size = 0
        self._error: BaseException | None = None
        if data is not None:  # stdin: the bytes are all there is
            self._hash.update(data)
            self.size = len(data)
            self._thread = None
            return
        self._thread = threading.Thread(target=self._run, args=(path,), daemon=True)
        self._thread.start()

    def _run(self, path: str) -> None:
        try:
            with open(path, "rb") as fh:
                while block := fh.read(HASH_BLOCK):
                    self._hash.update(block)  # releases the GIL for large blocks
                    self.size += len(block)
        except BaseException as exc:  # noqa: BLE001 - reported by result()
            self._error = exc

    def result(self) -> tuple[str, int]:
        """(hex digest, bytes)."""
        if self._thread is not None:
            self._thread.join()
        if self._error is not None:
            raise InputMissingError(f"cannot read: {self._error}")
        return self._hash.hexdigest(), self.size


# ------------------------------------------------------------------- entry
def _refuse_partitioned(spec: str) -> None:
    """A directory or glob of part files (which the fitting commands read) is not
    split: the outputs copy the input's lines into one file per part."""
    from mfcli.errors import InputMissingError, UsageError
    from mfcli.io.parts import is_partitioned, list_parts

    if not is_partitioned(spec):
        return
    try:
        parts = list_parts(spec)
    except InputMissingError:
        return  # no part files: the read says what is wrong with the path
    raise UsageError(
        f"split reads one file, not a partitioned input ({len(parts)} part files)",
        path=spec,
        hint="join the parts into one file (one header line), or split each part",
    )


def read_input(path: str, options: ReadOptions, *, need_time: bool = True) -> SplitInput:
    """Find the entries of ``path`` (``-`` is stdin) and prepare their copying.

    Without ``need_time`` a time column is still checked but its values are
    not kept (``entries.keys`` is None): splits that ignore time save the memory.

    Raises
    ------
    InputMissingError : the file is missing or unreadable (exit 66)
    InputDataError : malformed content, or no entries to split (exit 65)
    UsageError : reader options that do not fit the file (exit 2)
    """
    from mfcli.io import detect

    given = str(path)
    _refuse_partitioned(given)
    path, obj = detect.split_object_path(given)
    if obj is not None:
        options = _with(options, dataset=obj)
    check_readable(path)
    name = display_name(path)
    try:
        fmt = options.format
        raw = None
        if path == "-":
            from mfcli.io.source import read_stdin

            raw = read_stdin()
        digest = InputDigest(path, raw)  # hashes on a thread while the file is parsed
        if path == "-":
            if fmt == "auto":
                fmt = detect.sniff(decompress(raw, path)[:4096]) if raw else "csv"
        elif fmt == "auto":
            fmt = detect.detect_format(path)
        if fmt == "h5":
            if path == "-":
                raise UnsupportedFormatError("HDF5 cannot be read from stdin")
            result = _read_h5(path, options)
        elif fmt in ("csv", "mtx"):
            result = _read_text(path, raw, fmt, options, need_time)
        else:
            raise UnsupportedFormatError(
                f"split reads Matrix Market, CSV and HDF5 files, not {fmt}",
                hint="convert the file with 'mfcli generate'-style tools to .mtx, .csv or .h5",
            )
        result.digest = digest
        result.path = given
        return result
    except MfcliError as exc:
        raise exc.located(name) from None
    except MemoryError:
        raise InputDataError("not enough memory to split this file", path=name) from None


def _with(options: ReadOptions, **changes) -> ReadOptions:
    from dataclasses import replace

    return replace(options, **changes)


def _suffix(path: str, fmt: str, compression: str | None) -> str:
    """Output suffix: the input's own (``.tsv``, ``.dat`` ...) or the format's."""
    from mfcli.io.source import strip_compression

    ext = ""
    if path != "-":
        ext = os.path.splitext(os.path.basename(strip_compression(path)))[1]
    if fmt == "h5":
        return ".h5"
    if not ext or not re.fullmatch(r"\.[A-Za-z0-9_]{1,10}", ext):
        ext = TEXT_SUFFIXES[fmt]
    return ext + (compression or "")


# -------------------------------------------------------------------- text
def _open_text(path: str, raw: bytes | None):
    """(buffer, map or None, compression) for a text input."""
    if raw is not None:
        compression = _compression_of(raw[:4])
        return ts.as_buffer(decompress(raw, path)), None, compression
    try:
        with open(path, "rb") as fh:
            magic = fh.read(4)
            size = os.fstat(fh.fileno()).st_size
            compression = _compression_of(magic)
            if compression is None and size >= MAP_MIN_BYTES:
                mapped = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
                return ts.as_buffer(mapped), mapped, None
            fh.seek(0)
            data = fh.read()
    except OSError as exc:
        raise InputMissingError(f"cannot read: {exc.strerror or exc}") from None
    return ts.as_buffer(decompress(data, path)), None, compression


def _compression_of(magic: bytes) -> str | None:
    if magic[:2] == GZIP_MAGIC:
        return ".gz"
    if magic[:3] == BZ2_MAGIC:
        return ".bz2"
    return None


def _read_text(path: str, raw, fmt: str, options: ReadOptions, need_time: bool) -> SplitInput:
    buf, mapped, compression = _open_text(path, raw)
    plan = _MtxPlan(buf) if fmt == "mtx" else _CsvPlan(buf, options)
    end = buf.shape[0]
    n_windows = max(1, -(-(end - plan.data_start) // WINDOW_BYTES))
    text = TextInput(
        format=fmt,
        buf=buf,
        dialect=plan.dialect,
        cuts=ts.chunk_bounds(buf, plan.data_start, end, n_windows),
        row0s=np.zeros(1, dtype=np.int64),  # filled by the scan
        preamble=bytes(buf[: plan.data_start]),
        compression=compression,
        mapped=mapped,
        size_line=getattr(plan, "size_line", None),
    )
    entries = plan.entries(text, need_time)
    notes = list(plan.notes)
    if compression:
        notes.append(f"the input is {compression[1:]}-compressed: so are the outputs")
    return SplitInput(
        path=path,
        format=fmt,
        source=text,
        entries=entries,
        suffix=_suffix(path, fmt, compression),
        columns=plan.columns,
        notes=notes,
    )


class _Chunks:
    """The columns an entry needs, kept window by window from the scan results.

    ``fields`` maps a role (user, item, time) to its field index. Numbers are
    copied out of each window's result (int64; float times become int64 keys),
    tokens as their byte offsets. The scan's row count of each window gives
    ``text.row0s``, which the copying pass checks line by line.
    """

    def __init__(self, text: TextInput, fields: dict[str, int], names, first_line: int) -> None:
        self.text = text
        self.fields = fields
        self.names = names
        self.first_line = first_line
        self.kinds: list[int] = []
        self.store: dict[str, list] = {}

    def scan(self, kinds: list[int], n_fields: int, bounds=None, retry=None) -> list[int]:
        """Scan every window; on a number error in a field listed in ``retry`` widen
        its kind (e.g. integer ids that turn out to be text) and start over.
        Returns the kinds finally used."""
        from mfcli.io.csv import _token_fits

        kinds = list(kinds)
        retry = retry or {}
        for _ in range(2 * len(kinds) + 1):
            err = self._scan_all(kinds, n_fields, bounds)
            if err is None:
                return kinds
            wider = retry.get(err.field, ()) if err.code in (ts.ERR_NUMBER, ts.ERR_OVERFLOW) else ()
            nxt = next((k for k in wider if _token_fits(err.token, k)), None)
            if nxt is None or nxt == kinds[err.field]:
                break
            kinds[err.field] = nxt
        raise err.to_error(self.names)

    def _scan_all(self, kinds, n_fields, bounds):
        text = self.text
        self.kinds = kinds
        self.store = {role: [] for role in self.fields}
        rows = [0]
        line0 = self.first_line
        for w in range(text.cuts.shape[0] - 1):
            lo, hi = int(text.cuts[w]), int(text.cuts[w + 1])
            result = ts.scan(text.buf, kinds, dialect=text.dialect, n_fields=n_fields,
                             start=lo, end=hi, first_line=line0, bounds=bounds)  # fmt: skip
            if result.error is not None:
                return result.error
            self._keep(result, lo, line0)
            rows.append(rows[-1] + result.n_rows)
            line0 += result.n_lines
            text.release(lo, hi)
        text.row0s = np.asarray(rows, dtype=np.int64)
        return None

    def _keep(self, result, lo: int, line0: int) -> None:
        from mfcli.kernels.split import float_time_keys

        for role, f in self.fields.items():
            kind = self.kinds[f]
            if kind == ts.TOKEN:
                starts, ends = result.tokens(f)
                self.store[role].append((starts.copy(), ends.copy()))
            elif kind == ts.FLOAT:
                keys = np.empty(result.n_rows, dtype=np.int64)
                bad = float_time_keys(result.column(f), keys)
                if bad >= 0:
                    line, _ = ts.locate_row(self.text.buf, bad, dialect=self.text.dialect,
                                            start=lo, first_line=line0)  # fmt: skip
                    raise InputDataError(
                        f"time is NaN in {_field_name(f, self.names)}",
                        line=line,
                        hint="every entry needs a time for a time-based split",
                    )
                self.store[role].append(keys)
            elif role == "time":
                self.store[role].append(result.column(f).copy())
            else:  # ids: a copy (a view keeps the window's result alive), int32 if they fit
                self.store[role].append(_compact(result.column(f)))

    @property
    def n(self) -> int:
        return int(self.text.row0s[-1])

    def codes(self, role: str) -> tuple[np.ndarray, int]:
        """0-based codes of an id column in ascending id order, and their count."""
        chunks = self.store.pop(role)
        if self.kinds[self.fields[role]] == ts.TOKEN:
            starts = _concat([c[0] for c in chunks])
            ends = _concat([c[1] for c in chunks])
            del chunks
            codes, labels = ts.factorize_tokens(self.text.buf, starts, ends)
            n_ids = int(labels.shape[0])
            del starts, ends, labels
            codes = narrow(codes, n_ids)
        else:
            codes, n_ids = factorize_chunks(chunks, self.n)
        give_back_memory()  # the chunks are gone: their pages before the next big array
        return codes, n_ids

    def keys(self, role: str) -> np.ndarray:
        keys = _concat(self.store.pop(role))
        give_back_memory()
        return keys

    def shifted(self, role: str, n_ids: int) -> np.ndarray:
        """1-based indices (Matrix Market) as 0-based codes."""
        out = np.empty(self.n, dtype=_code_dtype(n_ids))
        pos = 0
        chunks = self.store.pop(role)
        while chunks:
            c = chunks.pop(0)
            np.subtract(c, 1, out=out[pos : pos + c.shape[0]], casting="unsafe")
            pos += c.shape[0]
            del c
            give_back_memory()
        return out


def give_back_memory() -> None:
    """Return freed heap pages to the system (glibc's ``malloc_trim``; a no-op elsewhere).

    The per-window chunks are small enough for malloc to serve them from its
    heap, where freeing them keeps the pages resident; without this the next
    large array would come on top of them.
    """
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _compact(ids: np.ndarray) -> np.ndarray:
    """A copy of integer ids, as int32 when every id fits."""
    small = np.iinfo(np.int32)
    if ids.size and small.min <= ids.min() and ids.max() <= small.max:
        return ids.astype(np.int32)
    return ids.copy()


def _concat(chunks: list) -> np.ndarray:
    if not chunks:
        return np.zeros(0, dtype=np.int64)
    return np.concatenate(chunks) if len(chunks) > 1 else chunks[0]


def _field_name(f: int, names) -> str:
    if names is not None and f < len(names) and names[f]:
        return repr(names[f])
    return f"field {f + 1}"


def _code_dtype(n: int):
    return np.int32 if n <= np.iinfo(np.int32).max else np.int64


def narrow(codes: np.ndarray, n: int) -> np.ndarray:
    """Codes below ``n`` as int32 when they fit (half the memory), else int64."""
    return codes.astype(_code_dtype(n), copy=False)


def factorize_chunks(chunks: list[np.ndarray], n: int) -> tuple[np.ndarray, int]:
    """Integer ids held in chunks -> (codes in ascending id order, number of ids).

    A lookup table over the id range when it is not much larger than the data
    (the chunks are freed as they are relabelled); otherwise the chunks are
    joined and sorted (:func:`mfcli.io.textscan.factorize_ints`).
    """
    from mfcli.kernels import split as ks

    if n == 0:
        return np.zeros(0, dtype=np.int32), 0
    lo = min(int(c.min()) for c in chunks if c.size)
    hi = max(int(c.max()) for c in chunks if c.size)
    span = hi - lo + 1
    if span > max(n, 1 << 22) or span >= (1 << 31):
        codes, uniques = ts.factorize_ints(_concat(chunks), in_place=True)
        return narrow(codes, int(uniques.shape[0])), int(uniques.shape[0])
    table = np.zeros(span, dtype=np.int32)
    for c in chunks:
        ks.mark_ids(c, lo, table)
    n_ids = int(ks.number_ids(table))
    out = np.empty(n, dtype=_code_dtype(n_ids))
    pos = 0
    while chunks:
        c = chunks.pop(0)
        ks.relabel_ids(c, lo, table, out[pos : pos + c.shape[0]])
        pos += c.shape[0]
        del c
        give_back_memory()  # each chunk's pages as it goes, while ``out`` fills
    return out, n_ids


class _CsvPlan:
    """A delimited triplet file: the CSV reader's sniffing and column roles."""

    def __init__(self, buf: np.ndarray, options: ReadOptions) -> None:
        from mfcli.io import csv as csvmod

        sample = bytes(buf[: min(buf.shape[0], SNIFF_BYTES)])
        sn = csvmod._sniff(sample, options)
        layout = csvmod._decide(sn, options)
        if not isinstance(layout, csvmod._Triplets):
            raise InputDataError(
                "a dense table has no entries to split",
                hint="split needs user,item[,value[,time]] triplets; name them with --columns",
            )
        self.sn = sn
        self.layout = layout
        self.names = csvmod._names_for(sn)
        self.dialect = ts.Dialect(sep=sn.sep, comments=csvmod.COMMENTS, skip_blank=True)
        self.data_start = sn.data_start
        self.data_line = sn.data_line
        self.notes: list[str] = []
        self.columns = {
            role: csvmod._name_or_index(getattr(layout, role), self.names)
            for role in ("user", "item", "value", "time")
        }

    def entries(self, text: TextInput, need_time: bool) -> Entries:
        sn, plan = self.sn, self.layout
        kinds = [ts.SKIP] * sn.width
        retry: dict[int, tuple] = {}
        fields = {"user": plan.user, "item": plan.item}
        for col in (plan.user, plan.item):
            kinds[col] = ts.INT if sn.kinds[col] == "int" else ts.TOKEN
            retry[col] = (ts.TOKEN,)
        if plan.value is not None:
            kinds[plan.value] = ts.FLOAT  # not kept: scanned so bad values are refused
        if plan.time is not None:
            tk = sn.kinds[plan.time]
            if tk == "str":
                raise InputDataError(
                    f"time column {self.columns['time']!r} holds neither numbers nor dates",
                    hint="times must be numbers (e.g. Unix seconds) or ISO dates YYYY-MM-DD",
                )
            kinds[plan.time] = {"int": ts.INT, "float": ts.FLOAT, "date": ts.DATE}[tk]
            retry[plan.time] = (ts.FLOAT, ts.DATE)
            if need_time:
                fields["time"] = plan.time
        chunks = _Chunks(text, fields, self.names, self.data_line)
        kinds = chunks.scan(kinds, sn.width, retry=retry)
        if chunks.n == 0:
            raise InputDataError("no data lines to split")
        users, n_users = chunks.codes("user")
        items, n_items = chunks.codes("item")
        keys = time_kind = None
        if "time" in fields:
            keys = chunks.keys("time")
            time_kind = "float" if kinds[plan.time] == ts.FLOAT else "int"
        return Entries(users, items, n_users, n_items, keys=keys, time_kind=time_kind)


class _MtxPlan:
    """A Matrix Market coordinate file: rows are users, columns items; no times."""

    def __init__(self, buf: np.ndarray) -> None:
        from mfcli.io import mtx

        sample = bytes(buf[: min(buf.shape[0], SNIFF_BYTES)])
        try:
            head = mtx._parse_header(sample)
        except InputDataError:
            if len(sample) == buf.shape[0]:
                raise
            sample = bytes(buf)  # a preamble longer than the sample
            head = mtx._parse_header(sample)
        if head.format != "coordinate":
            raise InputDataError(
                "a dense (array) Matrix Market file has no entries to split",
                line=head.banner_line,
                hint="split needs a coordinate file (one entry per line)",
            )
        self.head = head
        self.dialect = mtx.DIALECT
        self.data_start = head.data_start
        self.data_line = head.data_line
        before = sample.rfind(b"\n", 0, max(head.data_start - 1, 0)) + 1
        self.size_line = (before, head.data_start)
        self.notes: list[str] = []
        if head.symmetry != "general":
            self.notes.append(
                f"{head.symmetry} storage: stored lines are split, each output keeps the banner"
            )
        self.columns = {"user": "row", "item": "column", "value": None, "time": None}

    def entries(self, text: TextInput, need_time: bool) -> Entries:
        h = self.head
        n_rows, n_cols, declared = h.size
        width = {"pattern": 2, "complex": 4}.get(h.field, 3)
        kinds = [ts.INT, ts.INT] + [ts.FLOAT] * (width - 2)
        names = ["row index", "column index", "value", "imaginary part"][:width]
        chunks = _Chunks(text, {"user": 0, "item": 1}, names, self.data_line)
        bounds = [(1, max(n_rows, 1)), (1, max(n_cols, 1))]
        chunks.scan(kinds, width, bounds=bounds)
        found = chunks.n
        if found < declared:
            raise InputDataError(
                f"truncated: size line declares {declared} entries, found {found}",
                hint="the file is incomplete or the size line is wrong",
            )
        if found > declared:
            line, _ = ts.locate_row(text.buf, declared, dialect=text.dialect,
                                    start=self.data_start, first_line=self.data_line)  # fmt: skip
            raise InputDataError(
                f"too many entries: size line declares {declared}, found {found}", line=line
            )
        users = chunks.shifted("user", n_rows)
        items = chunks.shifted("item", n_cols)
        return Entries(users, items, int(n_rows), int(n_cols))


def mtx_size_line(line: bytes, entries: int) -> bytes:
    """The size line with its entry count replaced (spacing and line end kept)."""
    match = re.match(rb"(\s*\S+\s+\S+\s+)(\S+)(.*)$", line, re.DOTALL)
    if match is None:  # cannot happen for a parsed header; keep it simple
        return line
    return match.group(1) + str(int(entries)).encode() + match.group(3)


# -------------------------------------------------------------------- HDF5
def _read_h5(path: str, options: ReadOptions) -> SplitInput:
    from mfcli.data import Matrix
    from mfcli.io import read_matrix

    matrix = read_matrix(path, options)
    notes = []
    if not matrix.is_sparse:
        rows, cols = np.nonzero(matrix.data)
        indptr = np.zeros(matrix.shape[0] + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=matrix.shape[0]), out=indptr[1:])
        matrix = Matrix(
            shape=matrix.shape,
            data=matrix.data[rows, cols],
            indptr=indptr,
            indices=cols,
            row_labels=matrix.row_labels,
            col_labels=matrix.col_labels,
            meta=matrix.meta,
        )
        notes.append("dense input: its nonzeros are the entries; outputs are CSR")
    if matrix.timestamps is None:
        matrix.timestamps = _h5_timestamps(path, matrix)
    n_rows, n_cols = matrix.shape
    users = narrow(np.repeat(np.arange(n_rows, dtype=np.int64), np.diff(matrix.indptr)), n_rows)
    items = narrow(matrix.indices, n_cols)
    keys = time_kind = None
    if matrix.timestamps is not None:
        keys, time_kind = _time_keys(matrix.timestamps)
    entries = Entries(users, items, n_rows, n_cols, keys=keys, time_kind=time_kind)
    columns = {
        "object": matrix.meta.get("object"),
        "time": "timestamps" if keys is not None else None,
    }
    return SplitInput(
        path=path,
        format="h5",
        source=H5Input(matrix),
        entries=entries,
        suffix=".h5",
        columns=columns,
        notes=notes,
    )


def _h5_timestamps(path: str, matrix) -> np.ndarray | None:
    """``timestamps`` stored beside a CSR group's data (as mfcli writes them), if aligned."""
    import h5py

    name = matrix.meta.get("object")
    if not name:
        return None
    try:
        with h5py.File(path, "r") as h5:
            group = h5[name]
            if not isinstance(group, h5py.Group) or "timestamps" not in group:
                return None
            stamps = group["timestamps"]
            if stamps.shape != (matrix.nnz,) or stamps.dtype.kind not in "iuf":
                return None
            # Only when the reader kept the stored order (sorted, no duplicates).
            same = np.array_equal(group["indptr"][()], matrix.indptr) and np.array_equal(
                group["indices"][()], matrix.indices
            )
            return stamps[()] if same else None
    except (OSError, KeyError):
        return None


def _time_keys(stamps: np.ndarray) -> tuple[np.ndarray, str]:
    from mfcli.kernels.split import float_time_keys

    stamps = np.asarray(stamps)
    if stamps.dtype.kind in "iu":
        return stamps.astype(np.int64), "int"
    keys = np.empty(stamps.shape[0], dtype=np.int64)
    bad = float_time_keys(np.ascontiguousarray(stamps, dtype=np.float64), keys)
    if bad >= 0:
        raise InputDataError(f"timestamp of stored entry {bad + 1} is NaN")
    return keys, "float"
