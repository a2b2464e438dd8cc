"""Delimited text reader: rating/interaction triplets or dense numeric tables.

Dialect (sniffed from the first lines unless given):

- separator: ``--sep`` (a character, ``::``, or the names ``tab``, ``comma``,
  ``semicolon``, ``pipe``, ``space``/``whitespace`` = runs of blanks), else the
  first of tab, ``,``, ``;``, ``|``, ``::``, blanks that splits the sample
  lines into a constant number (>= 2) of fields;
- comments: lines starting with ``#``, ``//`` or ``%`` are skipped, blank
  lines too; CRLF line ends, a UTF-8 BOM and double-quoted fields are accepted;
- header: ``--header``/``--no-header``, else auto: the first line is a header
  when one of its fields is not a number in a column that holds numbers below.
  A comment line right before the data with as many fields as the data (e.g.
  ``//userID<TAB>artistID<TAB>weight`` or ``# it Gata2 ...``) is a header too.
  A first line ``n_samples,n_features[,class names]`` (the scikit-learn
  layout, e.g. ``150,4,setosa,versicolor,virginica``) is recognised when
  n_samples equals the number of rows and n_features is the width or the
  width minus one; it is skipped and noted in ``meta``.

Layout:

- ``--columns user,item[,value[,time]]`` (names from the header or 0-based
  indices; ``-`` or an empty entry for "no value column") always means triplets.
- Otherwise a table whose columns are all numeric is **dense** when it is wider
  than 4 columns. With 2 to 4 numeric columns it is **triplets** when the first
  two columns are integer ids (without a header) or when the header names them
  like ids (``userId``, ``item``, ``SessionId`` ...) or names a rating or time
  column; otherwise dense (``Chins Situps Jumps`` is a 3-column dense table).
- A non-numeric first column followed by numbers is dense with row labels when
  the table is wider than 4 columns, the header's first name is empty, the
  header has one name fewer than the data, or the second column is not
  integer; else (``alice,42,5``) triplets with string user ids.
- Triplets with text ids (``gene<TAB>cell<TAB>count``) are read as such.
- In a dense table, an integer first column that counts rows (0, 1, 2, ...
  possibly restarting) is taken as row labels, not data.

Triplet columns default to user, item, value, time in that order; a third
column named like a time (``Time``, ``timestamp``, ``date``) or holding ISO
dates is the time column and every entry is then 1. Ids (integers or strings)
map to contiguous 0-based indices in ascending id order and are kept as
``row_labels``/``col_labels``; times (integers, floats or ISO dates, which
become Unix seconds) are kept in ``Matrix.timestamps``.

Duplicate (user, item) pairs: the default policy is ``last`` (the later line
wins) when there is a value column and ``sum`` (counts add up) when there is
none; ``--duplicates`` overrides, and ``error`` names the line of the first
duplicate.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

import numpy as np

from mfcli.data import Matrix
from mfcli.errors import InputDataError, MfcliError, TableLayoutError, UsageError
from mfcli.io import textscan as ts
from mfcli.io.options import ReadOptions
from mfcli.io.source import display_name, map_bytes, release

COMMENTS = ("#", "//", "%")
SNIFF_ORDER = ("\t", ",", ";", "|", "::", None)
SEP_NAMES = {
    "tab": "\t",
    "\\t": "\t",
    "\t": "\t",
    "comma": ",",
    ",": ",",
    "semicolon": ";",
    ";": ";",
    "pipe": "|",
    "|": "|",
    "::": "::",
    "space": None,
    "whitespace": None,
    " ": None,
    "blank": None,
    "blanks": None,
}
SAMPLE_BYTES = 1 << 20
SAMPLE_LINES = 200
MAX_TRIPLET_WIDTH = 4
SNIFF_COLUMNS = 256

_INT_RE = re.compile(r"[+-]?\d+\Z")
_FLOAT_RE = re.compile(
    r"[+-]?(\d+\.?\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?|inf|infinity|nan)\Z", re.IGNORECASE
)
_DATE_RE = re.compile(r"\d{4}-\d{1,2}-\d{1,2}([T ]\d{1,2}:\d{2}(:\d{2}(\.\d*)?)?)?Z?\Z")
_ID_WORDS = tuple(
    "user item session customer client visitor member product movie artist track song "
    "book doc word term gene cell node source target src dst".split()
)
_VALUE_WORDS = tuple(
    "rating score value weight count plays clicks stars preference freq implicit feedback".split()
)
_TIME_WORDS = ("time", "date", "epoch")
_ID_NAMES = {"u", "i", "uid", "iid", "sid", "pid", "row", "col", "from", "to"}
_VALUE_NAMES = {"r", "v", "w", "y", "val"}
_TIME_NAMES = {"t", "ts"}


def read(path: str, options: ReadOptions) -> Matrix:
    """Read a delimited text file into a :class:`~mfcli.data.Matrix`.

    Parameters
    ----------
    path : file path (``.gz``/``.bz2`` decompressed transparently) or ``-``
    options : ``sep``, ``header``, ``columns``, ``duplicates`` and ``dtype``

    Returns
    -------
    Matrix : CSR (n_users, n_items) with labels and timestamps for triplets, or
        dense (n_rows, n_cols) for numeric tables; ``meta`` says which layout,
        separator, header and columns were used.

    Raises
    ------
    InputDataError : malformed content (exit 65), with the line when known
    UsageError : ``--sep``/``--columns`` that do not fit the file (exit 2)
    """
    try:
        # the text is passed in a box so that the CSR build can run without it
        matrix = _read([map_bytes(path)], options)
        if not matrix.meta.get("notes"):
            matrix.meta.pop("notes", None)
        return matrix
    except MfcliError as exc:
        raise exc.located(display_name(path)) from None


# ------------------------------------------------------------------ sniffing
@dataclass
class _Line:
    number: int  # 1-based
    start: int  # byte offsets of the line (end excludes the newline)
    end: int
    text: str
    kind: str  # "data", "comment", "blank"


@dataclass
class _Sniff:
    sep: str | None
    width: int
    names: list[str] | None  # header names (stripped), or None
    data_start: int  # byte offset and line number where the scan starts
    data_line: int
    kinds: list[str]  # per column: int, float, date, str
    header_source: str | None  # "line", "comment" or None
    sklearn: list[str] | None  # the scikit-learn first line's fields, if any
    first_fields: list[str] | None = None


def _sample_lines(data: bytes, start: int) -> list[_Line]:
    end = min(len(data), start + SAMPLE_BYTES)
    lines = []
    pos = start
    number = 0
    n_data = 0
    while pos < end and n_data <= SAMPLE_LINES:
        nl = data.find(b"\n", pos, end)
        if nl < 0 and n_data < 3:
            nl = data.find(b"\n", pos)  # very long lines: take at least three whole
            end = len(data) if nl < 0 else max(end, nl + 1)
        if nl < 0:
            if end < len(data):
                break  # a partial line at the end of the sample
            nl = len(data)
        number += 1
        text = data[pos:nl].decode("utf-8", errors="replace").rstrip("\r")
        stripped = text.strip()
        if not stripped:
            kind = "blank"
        elif stripped.startswith(COMMENTS):
            kind = "comment"
        else:
            kind = "data"
            n_data += 1
        lines.append(_Line(number, pos, nl, text, kind))
        pos = nl + 1
    return lines


def split_fields(text: str, sep: str | None) -> list[str]:
    """Split one line the way the scanner does (quotes and padding removed)."""
    text = text.rstrip("\r")
    parts = text.split() if sep is None else text.split(sep)
    if sep is not None and len(parts) > 1 and parts[-1].strip() == "":
        parts = parts[:-1]  # a trailing separator
    return [_unquote(p.strip(" \t\r")) for p in parts]


def _unquote(field: str) -> str:
    if len(field) >= 2 and field[0] == '"' and field[-1] == '"':
        return field[1:-1]
    return field


def _kind_of(token: str) -> str:
    if _INT_RE.match(token):
        return "int"
    if _FLOAT_RE.match(token):
        return "float"
    if _DATE_RE.match(token):
        return "date"
    return "str"


def _is_number(token: str) -> bool:
    return _kind_of(token) in ("int", "float")


def _column_kind(tokens: list[str]) -> str:
    """int, float, date or str: what most of the sample holds (a stray bad value
    is left for the scanner to report with its line)."""
    kinds = Counter(_kind_of(t) for t in tokens)
    n = sum(kinds.values())
    numbers = kinds["int"] + kinds["float"]
    if n and 2 * numbers >= n:
        return "float" if kinds["float"] else "int"
    if n and 2 * kinds["date"] >= n:
        return "date"
    return "str"


def _kinds(rows: list[list[str]], width: int) -> list[str]:
    """Column kinds from the sample rows of the usual width.

    Only the first SNIFF_COLUMNS columns are classified; in wider tables the
    rest are taken as numbers and the scanner reports any that is not, with
    its line (classifying 10**5 columns in Python would take seconds).
    """
    rows = [f for f in rows if len(f) == width]
    n = min(width, SNIFF_COLUMNS)
    return [_column_kind([f[j] for f in rows]) for j in range(n)] + ["float"] * (width - n)


def _parse_sep(sep: str | None) -> tuple[bool, str | None]:
    """(given, separator) from --sep; None separator means runs of blanks."""
    if sep is None:
        return False, None
    key = sep if sep in SEP_NAMES else sep.lower()
    if key in SEP_NAMES:
        return True, SEP_NAMES[key]
    if len(sep.encode()) == 1 and sep not in '\r\n"':
        return True, sep
    raise UsageError(
        f"unsupported separator {sep!r}",
        hint="use one character, '::', or tab, comma, semicolon, pipe, space, whitespace",
    )


def _sep_name(sep: str | None) -> str:
    return {None: "whitespace", "\t": "tab"}.get(sep, repr(sep))


def _sniff_sep(rows: list[str]) -> str | None:
    """The first candidate giving every sample line the same field count >= 2."""
    best, best_share = None, 0.0
    for sep in SNIFF_ORDER:
        counts = Counter(len(split_fields(t, sep)) for t in rows)
        width, hits = counts.most_common(1)[0]
        if width < 2:
            continue
        if hits == len(rows):
            return sep
        if hits / len(rows) > best_share:
            best, best_share = sep, hits / len(rows)
    if best is None:
        raise InputDataError(
            "cannot find a separator: the lines have a single field",
            hint="a matrix needs at least two columns; use --sep to name the separator",
        )
    return best


def _sniff(data: bytes, options: ReadOptions) -> _Sniff:
    start = 3 if data[:3] == b"\xef\xbb\xbf" else 0
    lines = _sample_lines(data, start)
    data_lines = [ln for ln in lines if ln.kind == "data"]
    if not data_lines:
        raise InputDataError("no data lines (the file is empty or all comments)")
    given, sep = _parse_sep(options.sep)
    if not given:
        body = [ln.text for ln in data_lines[1:]] or [data_lines[0].text]
        sep = _sniff_sep(body)
    fields = [split_fields(ln.text, sep) for ln in data_lines]
    first = fields[0]
    below = fields[1:]
    width = Counter(len(f) for f in fields).most_common(1)[0][0]  # ties: the first line
    if width < 2:
        raise InputDataError(
            f"every line has a single field (separator: {_sep_name(sep)})",
            hint="a matrix needs at least two columns; check --sep",
        )
    below_kinds = _kinds(below, width)

    # a comment line right before the data that names the columns
    commented = None
    idx = lines.index(data_lines[0])
    for ln in reversed(lines[:idx]):
        if ln.kind == "blank":
            continue
        if ln.kind == "comment":
            text = ln.text.strip()
            for prefix in COMMENTS:
                if text.startswith(prefix):
                    text = text[len(prefix) :]
                    break
            names = split_fields(text.strip(), sep)
            if len(names) in (width, width - 1) and not all(map(_is_number, names)):
                commented = names
        break

    sklearn = _sklearn_candidate(first, width) if options.header is not False else None
    header = options.header
    names = None
    source = None
    if header is None:
        if sklearn is not None:
            header = True
        elif below:
            header = any(
                j < width and not _is_number(tok) and below_kinds[j] in ("int", "float")
                for j, tok in enumerate(first)
            )
        else:  # a single line: a header when nothing in it is a number
            header = not any(map(_is_number, first))
        if not header and commented is not None:
            names, source = commented, "comment"
    elif header and commented is not None:
        names, source = commented, "comment"
        header = False  # the first data line is data
    if header:
        if not below:
            raise InputDataError("no data lines after the header")
        if sklearn is None:
            names, source = first, "line"
        data_start = data_lines[0].end + 1
        data_line = data_lines[0].number + 1
        kinds = below_kinds
    else:
        data_start = start
        data_line = 1
        kinds = _kinds(fields, width)
    example = below[0] if header and below else first
    return _Sniff(
        sep=sep,
        width=width,
        names=names,
        data_start=data_start,
        data_line=data_line,
        kinds=kinds,
        header_source=source,
        sklearn=sklearn,
        first_fields=example,
    )


def _sklearn_candidate(first: list[str], width: int) -> list[str] | None:
    """``n_samples,n_features[,class names]``: the scikit-learn CSV first line."""
    if len(first) < 2 or not (_INT_RE.match(first[0]) and _INT_RE.match(first[1])):
        return None
    if int(first[1]) not in (width, width - 1) or any(map(_is_number, first[2:])):
        return None
    if len(first) == width and not first[2:]:
        return None  # two integers on a two-column line are data
    return first


# -------------------------------------------------------------------- layout
def _norm(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", name.lower())


def _id_like(name: str) -> bool:
    n = _norm(name)
    return n in _ID_NAMES or n.endswith(("id", "ids")) or any(w in n for w in _ID_WORDS)


def _time_like(name: str) -> bool:
    n = _norm(name)
    return n in _TIME_NAMES or any(w in n for w in _TIME_WORDS)


def _value_like(name: str) -> bool:
    n = _norm(name)
    return n in _VALUE_NAMES or any(w in n for w in _VALUE_WORDS)


@dataclass
class _Triplets:
    user: int
    item: int
    value: int | None
    time: int | None


@dataclass
class _Dense:
    label: str | None  # None, "text" (first column) or "counter" (to check)


def _names_for(sn: _Sniff) -> list[str] | None:
    """Header names aligned with the columns ('' where unnamed)."""
    if sn.names is None:
        return None
    names = list(sn.names)
    if len(names) == sn.width - 1:
        names = [""] + names
    if len(names) != sn.width:
        return None
    return names


def _decide(sn: _Sniff, options: ReadOptions):
    names = _names_for(sn)
    if options.columns:
        return _columns_option(options.columns, names, sn.width)
    k = sn.kinds
    w = sn.width
    numeric = [x in ("int", "float") for x in k]
    if all(numeric):
        if sn.sklearn is not None or w > MAX_TRIPLET_WIDTH:
            return _Dense(label="counter")
        if names is not None and sn.header_source is not None:
            named = (_id_like(names[0]) and _id_like(names[1])) or any(
                _value_like(n) or _time_like(n) for n in names[2:]
            )
            return _default_roles(sn, names) if named else _Dense(label=None)
        if k[0] == "int" and k[1] == "int":
            return _default_roles(sn, names)
        return _Dense(label="counter")
    if k[0] == "str" and all(numeric[1:]):
        empty_first = names is not None and names[0] == ""
        r_style = sn.names is not None and len(sn.names) == w - 1
        named_ids = names is not None and _id_like(names[0]) and _id_like(names[1])
        if (
            w > MAX_TRIPLET_WIDTH
            or empty_first
            or r_style
            or k[1] != "int"
            or (names is not None and not named_ids)
        ):
            return _Dense(label="text")
        return _default_roles(sn, names)
    rest_ok = all(x or t == "date" for x, t in zip(numeric[2:], k[2:], strict=True))
    if w <= MAX_TRIPLET_WIDTH and rest_ok:
        return _default_roles(sn, names)  # ids of any kind, then numbers or dates
    lo = 2 if w <= MAX_TRIPLET_WIDTH else 1  # column 0 may hold row labels
    bad = next(j for j in range(lo, w) if not numeric[j])
    label = f"column {bad}" + (f" ({names[bad]!r})" if names and names[bad] else "")
    raise TableLayoutError(
        f"cannot tell the layout: {label} is not numeric "
        f"(e.g. {_example(sn, bad)!r}) in a {w}-column table",
        hint="name the columns with --columns user,item[,rating[,time]]",
        columns=[
            {
                "index": j,
                "name": names[j] if names else "",
                "kind": k[j],
                "example": _example(sn, j),
            }
            for j in range(w)
        ],
    )


def _example(sn: _Sniff, col: int) -> str:
    return sn.first_fields[col] if sn.first_fields and col < len(sn.first_fields) else ""


def _default_roles(sn: _Sniff, names) -> _Triplets:
    named = _named_roles(names)
    if named is not None:
        return named
    w = sn.width
    value = time = None
    if w >= 3:
        third_is_time = sn.kinds[2] == "date" or (names is not None and _time_like(names[2]))
        if third_is_time and w == 3:
            time = 2
        else:
            value = 2
    if w == 4:
        time = 3
    return _Triplets(user=0, item=1, value=value, time=time)


def _named_roles(names) -> _Triplets | None:
    """Roles from a header whose second column is not an id but a later one is.

    ``user,rank,item,score`` (mfcli recommend's lists) is user, item, value
    by name; a column no name claims is skipped. Headers that fit the
    positional order (``user,item,...``) keep it.
    """
    if names is None or len(names) < 3 or not _id_like(names[0]) or _id_like(names[1]):
        return None
    rest = range(1, len(names))
    item = next((j for j in rest if _id_like(names[j])), None)
    if item is None:
        return None
    others = [j for j in rest if j != item]
    value = next((j for j in others if _value_like(names[j]) and not _time_like(names[j])), None)
    time = next((j for j in others if j != value and _time_like(names[j])), None)
    return _Triplets(user=0, item=item, value=value, time=time)


def _columns_option(spec: str, names, width: int) -> _Triplets:
    parts = [p.strip() for p in spec.split(",")]
    if not 2 <= len(parts) <= 4:
        raise UsageError(f"--columns needs 2 to 4 entries (user,item[,value[,time]]), got {spec!r}")
    parts += [""] * (4 - len(parts))
    picked = []
    for role, part in zip(("user", "item", "value", "time"), parts, strict=True):
        if part in ("", "-"):
            if role in ("user", "item"):
                raise UsageError(f"--columns: the {role} column is required")
            picked.append(None)
            continue
        picked.append(_column_index(part, names, width, role))
    used = [p for p in picked if p is not None]
    if len(set(used)) != len(used):
        raise UsageError(f"--columns names the same column twice: {spec!r}")
    return _Triplets(*picked)


def _column_index(part: str, names, width: int, role: str) -> int:
    if names is not None:
        lowered = [n.lower() for n in names]
        if part.lower() in lowered:
            return lowered.index(part.lower())
    if part.isdigit():
        idx = int(part)
        if idx >= width:
            raise UsageError(
                f"--columns: {role} column {idx} does not exist (the file has {width} columns, "
                f"numbered from 0)"
            )
        return idx
    if names is None:
        raise UsageError(
            f"--columns: {role} column {part!r} is a name but the file has no header",
            hint="use 0-based column numbers, or --header if the first line names the columns",
        )
    raise UsageError(
        f"--columns: no column named {part!r}",
        hint="the header has " + ", ".join(repr(n) for n in names if n),
    )


# --------------------------------------------------------------------- read
def _read(box: list, options: ReadOptions) -> Matrix:
    sn = _sniff(box[0], options)
    layout = _decide(sn, options)
    dialect = ts.Dialect(sep=sn.sep, comments=COMMENTS, skip_blank=True)
    meta = {
        "sep": {None: "whitespace", "\t": "tab"}.get(sn.sep, sn.sep),
        "header": sn.names is not None,
        "header_names": list(sn.names) if sn.names is not None else None,
        "header_source": sn.header_source,
        "width": sn.width,
        "notes": [],
    }
    if isinstance(layout, _Triplets):
        return _read_triplets(box, sn, layout, dialect, options, meta)
    return _read_dense(box.pop(), sn, layout, dialect, options, meta)


def _scan(data, sn: _Sniff, kinds: list[int], dialect, names, retry, float_layout="columns"):
    """Scan; on a type error in a column listed in ``retry`` widen its kind and rescan."""
    for _ in range(2 * len(kinds) + 1):
        result = ts.scan(
            data,
            kinds,
            dialect=dialect,
            n_fields=sn.width,
            start=sn.data_start,
            first_line=sn.data_line,
            float_layout=float_layout,
            release=lambda lo, hi: release(data, lo, hi),
        )
        err = result.error
        if err is None:
            return result
        wider = retry.get(err.field, ()) if err.code in (ts.ERR_NUMBER, ts.ERR_OVERFLOW) else ()
        nxt = next((k for k in wider if _token_fits(err.token, k)), None)
        if nxt is None or nxt == kinds[err.field]:
            raise err.to_error(names)
        kinds = list(kinds)
        kinds[err.field] = nxt
    raise err.to_error(names)


def _token_fits(token: str, kind: int) -> bool:
    token = _unquote(token.strip())
    if kind == ts.TOKEN:
        return bool(token)
    if kind == ts.FLOAT:
        return _is_number(token)
    if kind == ts.DATE:
        return bool(_DATE_RE.match(token))
    return bool(_INT_RE.match(token))


def _read_triplets(box, sn, plan: _Triplets, dialect, options, meta) -> Matrix:
    data = box.pop()
    names = _names_for(sn)
    kinds = [ts.SKIP] * sn.width
    retry = {}
    for col in (plan.user, plan.item):
        kinds[col] = ts.INT if sn.kinds[col] == "int" else ts.TOKEN
        retry[col] = (ts.TOKEN,)
    if plan.value is not None:
        kinds[plan.value] = ts.FLOAT
    if plan.time is not None:
        tk = sn.kinds[plan.time]
        if tk == "str":
            raise InputDataError(
                f"time column {_label(plan.time, names)} holds neither numbers nor dates "
                f"(e.g. {_example(sn, plan.time)!r})",
                hint="times must be numbers (e.g. Unix seconds) or ISO dates YYYY-MM-DD",
            )
        kinds[plan.time] = {"int": ts.INT, "float": ts.FLOAT, "date": ts.DATE}[tk]
        retry[plan.time] = (ts.FLOAT, ts.DATE)
    result = _scan(data, sn, kinds, dialect, names, retry)
    n = result.n_rows

    rows, row_labels, user_kind = _ids(data, result, plan.user)
    cols, col_labels, item_kind = _ids(data, result, plan.item)
    values = result.column(plan.value) if plan.value is not None else None
    times = result.column(plan.time) if plan.time is not None else None
    del result
    policy = options.duplicates or ("last" if values is not None else "sum")
    meta.update(
        layout="triplets",
        columns={
            role: _name_or_index(getattr(plan, role), names)
            for role in ("user", "item", "value", "time")
        },
        id_kinds={"user": user_kind, "item": item_kind},
        time_kind=None if plan.time is None else ts.KIND_NAMES[kinds[plan.time]],
        entries_read=n,
    )
    where = {}

    def entry_label(i: int) -> str:
        line, _ = ts.locate_row(
            data, i, dialect=dialect, start=sn.data_start, first_line=sn.data_line
        )
        where["line"] = line
        return f"line {line}"

    if policy != "error":
        data = None  # the text is not needed any more: free it before building CSR
    try:
        return Matrix.from_coo(
            rows,
            cols,
            values,
            (len(row_labels), len(col_labels)),
            duplicates=policy,
            dtype=np.dtype(options.dtype),
            timestamps=times,
            entry_label=entry_label,
            row_labels=row_labels,
            col_labels=col_labels,
            meta=meta,
            copy=False,  # the columns are ours: the matrix may keep them (no fresh memory)
            in_range=True,  # codes of the factorized ids
        )
    except InputDataError as exc:
        raise exc.located(line=where.get("line")) from None


def _ids(data, result, col):
    """0-based codes and sorted labels of an id column."""
    if result.kinds[col] == ts.TOKEN:
        starts, ends = result.tokens(col)
        codes, labels = ts.factorize_tokens(data, starts, ends)
        return codes, labels, "str"
    codes, labels = ts.factorize_ints(result.column(col), in_place=True)
    return codes, labels, "int"


def _label(col: int, names) -> str:
    return f"{col} ({names[col]!r})" if names and names[col] else str(col)


def _name_or_index(col, names):
    if col is None:
        return None
    return names[col] if names and names[col] else col


def _read_dense(data, sn, plan: _Dense, dialect, options, meta) -> Matrix:
    names = _names_for(sn)
    counter = plan.label == "counter" and sn.width > 2 and _counter_sample(data, sn)
    first = ts.TOKEN if plan.label == "text" else (ts.INT if counter else ts.FLOAT)
    kinds = [first] + [ts.FLOAT] * (sn.width - 1)
    result = _scan(data, sn, kinds, dialect, names, {}, float_layout="rows")
    row_labels = None
    label_name = None
    if first == ts.TOKEN:
        starts, ends = result.tokens(0)
        row_labels = ts.token_strings(data, starts, ends)
        label_name = names[0] if names else 0
        values = result.floats
    elif first == ts.INT:
        labels = result.column(0)
        if _is_counter(labels):
            row_labels = labels.copy()
            label_name = names[0] if names else 0
            values = result.floats
        else:  # the sample misled us: the column is data after all
            values = np.column_stack((labels.astype(np.float64), result.floats))
    else:
        values = result.floats
    col_labels = None
    if names is not None:
        col_names = names[1:] if row_labels is not None else names
        if all(col_names):
            col_labels = np.asarray(col_names)
    if sn.sklearn is not None:
        n_samples = int(sn.sklearn[0])
        if n_samples == values.shape[0]:
            meta["first_line"] = "n_samples,n_features[,class names] (scikit-learn layout)"
            meta["class_names"] = list(sn.sklearn[2:])
        else:
            meta["notes"].append(
                f"first line {','.join(sn.sklearn)} skipped as a header "
                f"({values.shape[0]} rows follow, not {n_samples})"
            )
    meta.update(layout="dense", row_label_column=label_name)
    return Matrix.from_dense(
        values,
        dtype=np.dtype(options.dtype),
        row_labels=row_labels,
        col_labels=col_labels,
        meta=meta,
    )


def _counter_sample(data, sn: _Sniff) -> bool:
    """Does the sample's first column look like a row counter?"""
    if sn.kinds[0] != "int":
        return False
    lines = _sample_lines(data, sn.data_start)
    values = []
    for ln in lines:
        if ln.kind == "data":
            f = split_fields(ln.text, sn.sep)
            if f and _INT_RE.match(f[0]):
                values.append(int(f[0]))
    return len(values) >= 3 and _is_counter(np.asarray(values))


def _is_counter(col: np.ndarray) -> bool:
    """0, 1, 2, ... (or from 1), possibly restarting: a row number, not data."""
    if col.size < 3 or col[0] not in (0, 1):
        return False
    steps = np.diff(col)
    restarts = col[1:] == col[0]
    ok = (steps == 1) | restarts
    return bool(ok.all()) and int(restarts.sum()) * 2 < col.size
