"""Partitioned inputs: a directory or a glob of CSV or Matrix Market parts.

A *partitioned spec* is an existing directory, or a path holding a glob
character (``*``, ``?``, ``[``) that is not itself an existing file.

Parts
    A directory's parts are its regular files whose name ends in a matrix
    suffix (``.csv``, ``.tsv``, ``.txt``, ``.mtx``, each possibly ``.gz`` or
    ``.bz2``); hidden files and files starting with ``_`` (``_SUCCESS``,
    ``_committed_*``), ``manifest*``/``README*`` files and label lists
    (``barcodes.tsv``, ``.terms`` ...) are skipped, so the output folders of
    Spark, Dask or Hive can be read as they are. A glob's parts are the regular
    files it matches (hidden files only when the pattern names them). Parts are
    read in sorted (code point) order of their paths; that order is the "file
    order" of the concatenation (the ``last`` duplicates policy, timestamps).
    All parts must be of one format: CSV or Matrix Market (``--format`` may
    force it); HDF5 and other formats are refused.

CSV parts
    The result is the Matrix read from the concatenation of the parts as one
    file (each part may repeat the header line): same shape, CSR, labels,
    timestamps and duplicates policy. The layout (columns, roles, separator)
    is decided on the first part with data, as the one-file reader decides it
    on the first lines; each part detects its own header line. Ids map to
    0-based indices exactly as the one-file reader does: the sorted union of
    the ids of all parts (integers ascending; strings in code point order,
    which is the byte order of their UTF-8). A column whose ids are not all
    integers in every part is read as strings in every part, as in one file.
    Parts without data lines (empty Spark partitions, a lone header) add
    nothing. Dense CSV parts (numeric tables) are stacked row-wise.

Matrix Market parts
    Each part is a complete *coordinate* file (banner and size line) whose
    indices are global. The shape is the largest size line of all parts,
    ``(max rows, max columns)``; each part's entries must lie within its own
    size line. Symmetric parts are expanded part by part; pattern parts give
    ones beside valued parts. Duplicates across parts follow ``--duplicates``
    (default ``sum``) in part order. Array (dense) and complex parts are refused.

Digest
    :func:`input_digest` is the input's sha256 for partitioned specs: the hex
    sha256 of the UTF-8 text ``"mfcli-parts-v1\\n"`` followed, for each part in
    sorted order, by ``"<name>\\0<hex sha256 of the part's bytes>\\n"``, where
    ``<name>`` is the part's path relative to the spec's directory (the
    directory itself, or the part of a glob before its first glob character),
    with ``/`` separators. Renaming, adding, removing or changing a part changes
    it; moving the whole folder or adding skipped files does not.
"""

from __future__ import annotations

import glob
import hashlib
import os
from dataclasses import dataclass, field

import numpy as np

from mfcli.data import Matrix
from mfcli.errors import InputDataError, InputMissingError, MfcliError, UsageError
from mfcli.io.options import ReadOptions

GLOB_CHARS = "*?["
PART_SUFFIXES = (".csv", ".tsv", ".txt", ".mtx")
COMPRESSED = ("", ".gz", ".bz2")
SKIPPED_STEMS = ("manifest", "readme")
DIGEST_VERSION = "mfcli-parts-v1"


# ------------------------------------------------------------------ listing
def is_partitioned(spec) -> bool:
    """An existing directory, or a glob pattern that is not an existing file."""
    if spec is None:
        return False
    spec = os.fspath(spec)
    if spec == "-":
        return False
    if os.path.isdir(spec):
        return True
    return any(c in spec for c in GLOB_CHARS) and not os.path.isfile(spec)


def _has_part_suffix(name: str) -> bool:
    lower = name.lower()
    return any(lower.endswith(s + c) for s in PART_SUFFIXES for c in COMPRESSED)


def _skipped(name: str) -> bool:
    from mfcli.io.labels import companion_kind

    lower = name.lower()
    if lower.startswith((".", "_")):
        return True
    if lower.startswith(SKIPPED_STEMS):
        return True
    return companion_kind(name) is not None


def list_parts(spec) -> list[str]:
    """The part files of a partitioned spec, sorted.

    Raises
    ------
    InputMissingError : exit 66, no part (an empty directory, a glob matching nothing)
    InputDataError : exit 65, parts of different formats
    """
    spec = os.fspath(spec)
    if os.path.isdir(spec):
        try:
            names = os.listdir(spec)
        except OSError as exc:
            raise InputMissingError(
                f"cannot list the directory: {exc.strerror}", path=spec
            ) from None
        parts = [
            os.path.join(spec, n)
            for n in names
            if _has_part_suffix(n) and not _skipped(n) and os.path.isfile(os.path.join(spec, n))
        ]
        what = "no part files (.csv .tsv .txt .mtx, possibly .gz/.bz2) in the directory"
    else:
        parts = [p for p in glob.glob(spec) if os.path.isfile(p)]
        what = "no file matches the pattern"
    if not parts:
        raise InputMissingError(what, path=spec, hint="check the path or the pattern")
    parts.sort()
    _formats(parts, "auto")  # mixed formats fail here
    return parts


def _part_format(path: str) -> str:
    from mfcli.io.detect import detect_format

    return detect_format(path)


def _formats(parts: list[str], forced: str) -> str:
    """The one format of all parts (csv or mtx)."""
    if forced not in ("auto", None):
        fmt = forced
        kinds = {fmt: parts[0]}
    else:
        kinds = {}
        for p in parts:
            kinds.setdefault(_part_format(p), p)
        if len(kinds) > 1:
            listed = ", ".join(f"{k} ({os.path.basename(v)})" for k, v in sorted(kinds.items()))
            raise InputDataError(
                f"parts of different formats: {listed}",
                hint="keep one format per directory, or name the parts with a glob",
            )
        fmt = next(iter(kinds))
    if fmt not in ("csv", "mtx"):
        raise InputDataError(
            f"partitioned inputs must be CSV or Matrix Market parts, not {fmt}",
            path=kinds[fmt],
            hint="read the file on its own",
        )
    return fmt


def _root(spec: str) -> str:
    if os.path.isdir(spec):
        return spec
    cut = min((spec.index(c) for c in GLOB_CHARS if c in spec), default=len(spec))
    return os.path.dirname(spec[:cut]) or "."


def input_digest(spec) -> str:
    """The sha256 of a partitioned input (see the module docstring for the rule)."""
    from mfcli.io.results import sha256_file

    spec = os.fspath(spec)
    root = _root(spec)
    entries = []
    for p in list_parts(spec):
        name = os.path.relpath(p, root).replace(os.sep, "/")
        entries.append((name, sha256_file(p)))
    entries.sort()
    digest = hashlib.sha256((DIGEST_VERSION + "\n").encode())
    for name, sha in entries:
        digest.update(f"{name}\0{sha}\n".encode())
    return digest.hexdigest()


# ------------------------------------------------------------- one part
@dataclass
class CsvPlan:
    """How every CSV part is read: decided on the first part with data."""

    sep: str | None
    width: int
    layout: object  # csv._Triplets, or "dense"
    kinds: list  # sniffed column kinds of the first part (start kinds of the scan)
    meta: dict


@dataclass
class Part:
    """One part's entries in file order, with ids local to the part.

    ``rows``/``cols`` are codes into the part's own sorted ``row_ids``/``col_ids``
    (CSV), or global 0-based indices with ``row_ids``/``col_ids`` None (mtx).
    """

    path: str
    n: int
    rows: np.ndarray
    cols: np.ndarray
    values: np.ndarray | None
    times: np.ndarray | None = None
    row_ids: np.ndarray | None = None
    col_ids: np.ndarray | None = None
    row_kind: str | None = None  # "int" | "str"
    col_kind: str | None = None
    time_kind: int | None = None  # textscan kind of the time column
    shape: tuple[int, int] | None = None  # mtx: the size line
    locate: tuple | None = None  # (sep, data_start, data_line) to find a line again
    meta: dict = field(default_factory=dict)


def _empty_message(exc: MfcliError) -> bool:
    return exc.message.startswith("no data lines")


def csv_plan(parts: list[str], options: ReadOptions) -> tuple[int, CsvPlan | None]:
    """(index of the first part with data, its plan); (len(parts), None) when all are empty."""
    from mfcli.io import csv as c
    from mfcli.io.source import map_bytes

    for i, path in enumerate(parts):
        try:
            data = map_bytes(path)
            sn = c._sniff(data, options)
            layout = c._decide(sn, options)
        except MfcliError as exc:
            if _empty_message(exc):
                continue
            raise exc.located(path) from None
        meta = {
            "sep": {None: "whitespace", "\t": "tab"}.get(sn.sep, sn.sep),
            "header": sn.names is not None,
            "header_names": list(sn.names) if sn.names is not None else None,
            "header_source": sn.header_source,
            "width": sn.width,
        }
        names = c._names_for(sn)
        if isinstance(layout, c._Triplets):
            if layout.time is not None and sn.kinds[layout.time] == "str":
                raise InputDataError(
                    f"time column {c._label(layout.time, names)} holds neither numbers nor "
                    f"dates (e.g. {c._example(sn, layout.time)!r})",
                    path=path,
                    hint="times must be numbers (e.g. Unix seconds) or ISO dates YYYY-MM-DD",
                )
            meta["columns"] = {
                role: c._name_or_index(getattr(layout, role), names)
                for role in ("user", "item", "value", "time")
            }
        else:
            layout = "dense"
        return i, CsvPlan(sn.sep, sn.width, layout, list(sn.kinds), meta)
    return len(parts), None


def read_csv_part(
    path: str, options: ReadOptions, plan: CsvPlan, force_text=(False, False)
) -> Part | None:
    """The triplets of one CSV part (None when it holds no data lines).

    ``force_text`` reads the user / item ids as strings even when they are all
    integers (when another part has string ids in that column).
    """
    from mfcli.io import csv as c
    from mfcli.io import textscan as ts
    from mfcli.io.source import map_bytes

    try:
        data = map_bytes(path)
        sn = c._sniff(data, options)
    except MfcliError as exc:
        if _empty_message(exc):
            return None
        raise exc.located(path) from None
    try:
        if sn.width != plan.width or sn.sep != plan.sep:
            raise InputDataError(
                f"this part has {sn.width} columns separated by {c._sep_name(sn.sep)}, "
                f"the first part {plan.width} separated by {c._sep_name(plan.sep)}",
                hint="all parts need the same columns; name them with --sep and --columns",
            )
        lay = plan.layout
        names = c._names_for(sn)
        kinds = [ts.SKIP] * sn.width
        retry = {}
        for j, col in enumerate((lay.user, lay.item)):
            text = force_text[j] or plan.kinds[col] != "int"
            kinds[col] = ts.TOKEN if text else ts.INT
            retry[col] = (ts.TOKEN,)
        if lay.value is not None:
            kinds[lay.value] = ts.FLOAT
        if lay.time is not None:
            kinds[lay.time] = {"int": ts.INT, "float": ts.FLOAT, "date": ts.DATE}[
                plan.kinds[lay.time]
            ]
            retry[lay.time] = (ts.FLOAT, ts.DATE)
        dialect = ts.Dialect(sep=sn.sep, comments=c.COMMENTS, skip_blank=True)
        result = c._scan(data, sn, kinds, dialect, names, retry)
        n = result.n_rows
        rows, row_ids, row_kind = c._ids(data, result, lay.user)
        cols, col_ids, col_kind = c._ids(data, result, lay.item)
        values = result.column(lay.value) if lay.value is not None else None
        times = result.column(lay.time) if lay.time is not None else None
        time_kind = result.kinds[lay.time] if lay.time is not None else None
    except MfcliError as exc:
        raise exc.located(path) from None
    return Part(
        path, n, rows, cols, values, times, row_ids, col_ids, row_kind, col_kind, time_kind,
        locate=(sn.sep, sn.data_start, sn.data_line),
    )  # fmt: skip


def read_mtx_part(path: str, options: ReadOptions) -> Part:
    """The entries of one Matrix Market coordinate part, global 0-based indices."""
    from mfcli.io import mtx as m
    from mfcli.io import textscan as ts
    from mfcli.io.source import map_bytes

    try:
        data = map_bytes(path)
        head = m._parse_header(data)
        if head.format != "coordinate":
            raise InputDataError(
                "array (dense) Matrix Market parts are not supported",
                line=head.banner_line,
                hint="partitioned Matrix Market inputs are coordinate files",
            )
        if head.field == "complex":
            raise InputDataError("complex values are not supported", line=head.banner_line)
        symmetry = head.symmetry
        meta = {"notes": [], "comments": head.comments}
        if symmetry == "hermitian":
            symmetry = "symmetric"
        if head.field == "pattern" and symmetry == "skew-symmetric":
            raise InputDataError("a pattern matrix cannot be skew-symmetric", line=head.banner_line)
        n_rows, n_cols, declared = head.size
        if symmetry != "general" and n_rows != n_cols:
            raise InputDataError(
                f"a {symmetry} matrix must be square, the size line says {n_rows} x {n_cols}",
                line=head.size_line,
            )
        m._check_dims(n_rows, n_cols, len(data), head.size_line)
        kinds = [ts.INT, ts.INT]
        names = ["row index", "column index"]
        if head.field != "pattern":
            kinds.append(ts.FLOAT)
            names.append("value")
        result = m._scan(data, head, kinds, [(1, n_rows), (1, n_cols)], names, declared)
        rows = result.column(0)
        rows -= 1
        cols = result.column(1)
        cols -= 1
        values = None if head.field == "pattern" else result.column(2)
        if values is not None and head.field == "integer":
            m._check_integer(values, data, head, meta)
        source = None
        if symmetry != "general":
            rows, cols, values, source = m._expand(rows, cols, values, symmetry, data, head, meta)
    except MfcliError as exc:
        raise exc.located(path) from None
    part = Part(
        path, int(rows.shape[0]), rows, cols, values, shape=(n_rows, n_cols),
        locate=(None, head.data_start, head.data_line),
        meta={"field": head.field, "symmetry": head.symmetry, "declared_nnz": declared},
    )  # fmt: skip
    part.meta["source"] = source  # stored entry of each expanded entry (None: itself)
    return part


# ------------------------------------------------------------ whole input
def union_ids(id_lists: list[np.ndarray]) -> np.ndarray:
    """The sorted union of per-part sorted ids: the global labels.

    Integer ids ascending, string ids in code point order (numpy's order of
    unicode strings), which is the UTF-8 byte order the one-file reader sorts by.
    """
    return np.unique(np.concatenate(id_lists))


def id_map(part_ids: np.ndarray, global_ids: np.ndarray) -> np.ndarray:
    """Global index of each of a part's ids (both sorted, part ids a subset)."""
    return np.searchsorted(global_ids, part_ids).astype(np.int64)


def default_policy(fmt: str, has_values: bool, options: ReadOptions) -> str:
    if options.duplicates:
        return options.duplicates
    if fmt == "mtx":
        return "sum"
    return "last" if has_values else "sum"


def harmonise_times(parts: list[Part]) -> None:
    """Integer and float times across parts become float (as one file's rescan does)."""
    from mfcli.io import textscan as ts

    kinds = {p.time_kind for p in parts if p.times is not None}
    if len(kinds) <= 1:
        return
    if ts.DATE in kinds:
        bad = next(p for p in parts if p.time_kind != ts.DATE)
        raise InputDataError(
            "the time column holds dates in some parts and numbers in others",
            path=bad.path,
            hint="times must be all numbers or all ISO dates",
        )
    for p in parts:
        if p.time_kind == ts.INT:
            p.times = p.times.astype(np.float64)
            p.time_kind = ts.FLOAT


def locate_entry(part: Part, i: int) -> int | None:
    """The file line of a part's entry ``i`` (for the duplicate error)."""
    from mfcli.io import textscan as ts
    from mfcli.io.csv import COMMENTS
    from mfcli.io.source import map_bytes

    sep, start, first_line = part.locate
    source = part.meta.get("source")
    if source is not None:
        i = int(source[i])
    if part.row_ids is None:  # mtx
        from mfcli.io.mtx import DIALECT as dialect
    else:
        dialect = ts.Dialect(sep=sep, comments=COMMENTS, skip_blank=True)
    line, _ = ts.locate_row(
        map_bytes(part.path), i, dialect=dialect, start=start, first_line=first_line
    )
    return line


def read_csv_parts(paths: list[str], options: ReadOptions):
    """(parts, plan): every CSV part's triplets, id kinds made consistent."""
    first, plan = csv_plan(paths, options)
    if plan is None:
        raise InputDataError("no data lines in any part (the parts are empty or all comments)")
    if plan.layout == "dense":
        return None, plan
    parts = [read_csv_part(p, options, plan) for p in paths[first:]]
    parts = [p for p in parts if p is not None]
    force = (
        any(p.row_kind == "str" for p in parts),
        any(p.col_kind == "str" for p in parts),
    )
    for i, p in enumerate(parts):
        if (force[0] and p.row_kind == "int") or (force[1] and p.col_kind == "int"):
            parts[i] = read_csv_part(p.path, options, plan, force_text=force)
    harmonise_times(parts)
    return parts, plan


def read_partitioned(spec, options: ReadOptions | None = None) -> Matrix:
    """Read a directory or glob of parts as one :class:`~mfcli.data.Matrix`.

    The result equals reading the concatenation of the (CSV) parts as one file;
    see the module docstring for the rules. ``meta["parts"]`` is the number of
    parts.
    """
    options = options or ReadOptions()
    spec = os.fspath(spec)
    if options.format not in ("auto", "csv", "mtx"):
        raise UsageError(
            f"--format {options.format} cannot read a partitioned input",
            hint="partitioned inputs are CSV or Matrix Market parts",
        )
    paths = list_parts(spec)
    fmt = _formats(paths, options.format)
    dtype = np.dtype(options.dtype)
    if fmt == "mtx":
        parts = [read_mtx_part(p, options) for p in paths]
        shape = (max(p.shape[0] for p in parts), max(p.shape[1] for p in parts))
        meta = {
            "object": "matrix",
            "mtx_format": "coordinate",
            "field": _common([p.meta["field"] for p in parts]),
            "symmetry": _common([p.meta["symmetry"] for p in parts]),
            "declared_nnz": int(sum(p.meta["declared_nnz"] for p in parts)),
        }
        row_labels = col_labels = None
        rows = [p.rows for p in parts]
        cols = [p.cols for p in parts]
    else:
        parts, plan = read_csv_parts(paths, options)
        if parts is None:
            return _read_dense_parts(paths, options, plan, fmt, spec)
        meta = dict(plan.meta, layout="triplets")
        meta["id_kinds"] = {
            "user": _common([p.row_kind for p in parts]),
            "item": _common([p.col_kind for p in parts]),
        }
        if plan.layout.time is not None:
            from mfcli.io import textscan as ts

            meta["time_kind"] = ts.KIND_NAMES[parts[0].time_kind]
        row_labels = union_ids([p.row_ids for p in parts])
        col_labels = union_ids([p.col_ids for p in parts])
        shape = (len(row_labels), len(col_labels))
        rows = [id_map(p.row_ids, row_labels)[p.rows] for p in parts]
        cols = [id_map(p.col_ids, col_labels)[p.cols] for p in parts]
    meta["entries_read"] = int(sum(p.n for p in parts))
    meta["parts"] = len(paths)
    has_values = any(p.values is not None for p in parts)
    values = None
    if has_values:
        values = np.concatenate([p.values if p.values is not None else np.ones(p.n) for p in parts])
    times = None
    if parts and parts[0].times is not None:
        times = np.concatenate([p.times for p in parts])
    policy = default_policy(fmt, has_values, options)
    offsets = np.cumsum([0] + [p.n for p in parts])
    where = {}

    def entry_label(i: int) -> str:
        k = int(np.searchsorted(offsets, i, side="right")) - 1
        where["path"] = parts[k].path
        where["line"] = locate_entry(parts[k], i - int(offsets[k]))
        return f"line {where['line']}"

    rows = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    cols = np.concatenate(cols) if cols else np.zeros(0, np.int64)
    try:
        matrix = Matrix.from_coo(
            rows, cols, values, shape, duplicates=policy, dtype=dtype, timestamps=times,
            entry_label=entry_label, row_labels=row_labels, col_labels=col_labels, meta=meta,
            copy=False,
        )  # fmt: skip
    except InputDataError as exc:
        raise exc.located(where.get("path"), where.get("line")) from None
    matrix.meta["format"] = fmt
    matrix.meta["path"] = spec
    return matrix


def _common(values: list):
    distinct = list(dict.fromkeys(v for v in values if v is not None))
    if len(distinct) == 1:
        return distinct[0]
    return "mixed" if distinct else None


def _read_dense_parts(paths, options, plan, fmt, spec) -> Matrix:
    """Numeric tables: each part read on its own, rows stacked."""
    from mfcli.io import csv as c

    mats = []
    for p in paths:
        try:
            mat = c.read(p, options)
        except MfcliError as exc:
            if _empty_message(exc):
                continue
            raise exc.located(p) from None
        if mat.is_sparse or (mats and mat.shape[1] != mats[0].shape[1]):
            raise InputDataError(
                "this part is not a numeric table of as many columns as the first part",
                path=p,
            )
        mats.append(mat)
    labels = [m.row_labels for m in mats]
    row_labels = np.concatenate(labels) if all(x is not None for x in labels) else None
    meta = dict(mats[0].meta, parts=len(paths), format=fmt, path=spec)
    return Matrix.from_dense(
        np.vstack([m.data for m in mats]),
        dtype=np.dtype(options.dtype),
        row_labels=row_labels,
        col_labels=mats[0].col_labels,
        meta=meta,
    )


__all__ = [
    "is_partitioned",
    "list_parts",
    "read_partitioned",
    "input_digest",
]
