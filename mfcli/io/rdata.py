"""R data reader: ``.rda``/``.RData`` (``save``) and ``.rds`` (``saveRDS``) files.

A small parser for R's serialization format, written from the description in
the "R Internals" manual; R itself is not needed.

Containers
    ``.rda`` starts with ``RDX2``/``RDX3`` (XDR) or ``RDB2``/``RDB3`` (native
    little-endian) and holds a pair-list of named objects. ``.rds`` is a bare
    stream holding one object. gzip, bzip2 and xz compression are undone first.
    The ASCII format (``RDA2``, ``A\\n``) is refused.

Objects read
    Every object in the file is parsed (so unrelated objects do not get in the
    way), except byte code (compiled functions), which is refused. ALTREP
    vectors are expanded for compact sequences (``1:n``), ``wrap_*`` and
    deferred strings; other ALTREP classes are refused.

Which object becomes the matrix
    ``options.dataset`` names an object (``name`` or ``list$element`` for an
    element of a named list). Without it, the only matrix-like object is read:
    a ``Matrix`` package general matrix (``dgCMatrix``, ``dgRMatrix``,
    ``dgTMatrix``, pattern/logical variants, ``dgeMatrix``), an S4 object whose
    ``data`` slot is one (recommenderlab's ``realRatingMatrix``), or a base
    numeric/logical matrix. A data.frame is read as ``user,item,value[,time]``
    columns when ``options.columns`` is given.

Values
    Sparse values keep the stored entries exactly (explicit zeros stay
    stored); R's ``NA`` becomes NaN. recommenderlab stores a rating of 0 as
    ``.Machine$double.xmin`` in a realRatingMatrix; those become 0.0.
"""

from __future__ import annotations

import lzma
import os
import re
import struct
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from mfcli.data import Matrix
from mfcli.errors import AmbiguousInputError, InputDataError
from mfcli.io.labels import as_label_array
from mfcli.io.options import ReadOptions
from mfcli.io.source import display_name, read_bytes

# SEXP types (Rinternals.h) and the stream's pseudo-types (serialize.c).
NILSXP, SYMSXP, LISTSXP, CLOSXP, ENVSXP, PROMSXP, LANGSXP = 0, 1, 2, 3, 4, 5, 6
SPECIALSXP, BUILTINSXP, CHARSXP, LGLSXP, INTSXP, REALSXP = 7, 8, 9, 10, 13, 14
CPLXSXP, STRSXP, DOTSXP, VECSXP, EXPRSXP, BCODESXP = 15, 16, 17, 19, 20, 21
EXTPTRSXP, WEAKREFSXP, RAWSXP, S4SXP = 22, 23, 24, 25
ALTREP_SXP, BASEENV_SXP, EMPTYENV_SXP = 238, 241, 242
PERSISTSXP, PACKAGESXP, NAMESPACESXP, BASENAMESPACE_SXP = 247, 248, 249, 250
MISSINGARG_SXP, UNBOUNDVALUE_SXP, GLOBALENV_SXP, NILVALUE_SXP, REFSXP = 251, 252, 253, 254, 255

IS_OBJECT, HAS_ATTR, HAS_TAG = 1 << 8, 1 << 9, 1 << 10
LATIN1_LEVEL = 1 << 2
NA_INT = -(2**31)
MAX_DEPTH = 100  # far beyond real data; keeps Python's recursion limit out of reach
XZ_MAGIC = b"\xfd7zXZ\x00"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
# recommenderlab's stand-in for a stored rating of exactly 0 (.Machine$double.xmin).
RECOMMENDERLAB_ZERO = np.finfo(np.float64).tiny

CORRUPT_HINT = "the file may be incomplete; copy or download it again"
NAME_HINT = "name one with --dataset"
SUPPORTED_HINT = (
    "mfcli reads numeric matrices, dgCMatrix/dgRMatrix/dgTMatrix/dgeMatrix, "
    "realRatingMatrix, and data.frames with --columns user,item,value[,time]"
)
COLUMNS_HINT = "give --columns user,item,value[,time] (column names or 0-based indices)"
SPARSE_CLASS = re.compile(r"^([dlni])g([CRT])Matrix$")
DENSE_CLASS = re.compile(r"^([dln])geMatrix$")
MATRIX_PKG_CLASS = re.compile(r"^[dlniz][a-z][A-Za-z]{1,2}Matrix$")  # dgCMatrix, dsyMatrix
TYPE_NAMES = {
    LGLSXP: "logical",
    INTSXP: "integer",
    REALSXP: "double",
    CPLXSXP: "complex",
    STRSXP: "character",
    VECSXP: "list",
    EXPRSXP: "expression",
    RAWSXP: "raw",
    S4SXP: "S4",
    ENVSXP: "environment",
    CLOSXP: "function",
    SPECIALSXP: "function",
    BUILTINSXP: "function",
    SYMSXP: "symbol",
    LANGSXP: "call",
    LISTSXP: "pairlist",
}


@dataclass(eq=False)
class RObject:
    """One parsed R value. R's NULL is Python ``None``.

    Attributes
    ----------
    type : SEXP type code
    value : ndarray (atomic vectors), list of str/None (character), list of
        RObject/None (lists), list of (tag, value) pairs (pair-lists), str
        (symbols), or None
    attributes : attribute (or S4 slot) name -> value
    """

    type: int
    value: Any = None
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass
class Parsed:
    """A whole file: its top-level object and what the header says."""

    root: Any
    container: str  # "rda" | "rds"
    format: str  # "xdr" | "binary"
    version: int
    writer: str
    min_reader: str
    encoding: str | None


class CompactSeq:
    """A compact ALTREP sequence, expanded only when numpy asks for it."""

    def __init__(self, start, n: int, step, dtype) -> None:
        self.start, self.n, self.step, self.dtype = start, n, step, np.dtype(dtype)

    def __len__(self) -> int:
        return self.n

    def __array__(self, dtype=None, copy=None):
        values = self.start + self.step * np.arange(self.n, dtype=np.float64)
        return values.astype(dtype or self.dtype)


def corrupt(detail: str) -> InputDataError:
    return InputDataError(f"truncated or corrupt R data ({detail})", hint=CORRUPT_HINT)


# ------------------------------------------------------------------ stream
class Stream:
    """Reads items from a serialization stream (XDR or little-endian native)."""

    def __init__(self, data: bytes, pos: int, endian: str) -> None:
        self.data = memoryview(data)
        self.pos = pos
        self.endian = endian
        self.int32 = struct.Struct(endian + "i")
        self.refs: list[Any] = []
        self.depth = 0

    # -- primitives
    def need(self, n: int) -> None:
        left = len(self.data) - self.pos
        if n > left:
            raise corrupt(f"{n} bytes needed at byte {self.pos}, {left} left")

    def int(self) -> int:
        self.need(4)
        (value,) = self.int32.unpack_from(self.data, self.pos)
        self.pos += 4
        return value

    def raw(self, n: int) -> bytes:
        self.need(n)
        out = bytes(self.data[self.pos : self.pos + n])
        self.pos += n
        return out

    def array(self, code: str, n: int) -> np.ndarray:
        """``n`` numbers of type ``code`` ('i4', 'f8') in native byte order."""
        dtype = np.dtype(self.endian + code)
        self.need(n * dtype.itemsize)
        out = np.frombuffer(self.data, dtype=dtype, count=n, offset=self.pos)
        self.pos += n * dtype.itemsize
        return out.astype(dtype.newbyteorder("="))

    def length(self, min_item_bytes: int) -> int:
        """A vector length, checked against the bytes left (never trusted alone)."""
        n = self.int()
        if n == -1:  # long vector: two 32-bit halves
            upper, lower = self.int(), self.int() & 0xFFFFFFFF
            n = (upper << 32) + lower
        if n < 0:
            raise corrupt(f"negative vector length {n}")
        self.need(n * min_item_bytes)
        return n

    # -- items
    def item(self) -> Any:
        return self.item_from(self.int())

    def item_from(self, flags: int) -> Any:
        kind = flags & 0xFF
        if kind == NILVALUE_SXP:
            return None
        if kind in SPECIAL_ENVS:
            return RObject(ENVSXP, SPECIAL_ENVS[kind])
        if kind in (UNBOUNDVALUE_SXP, MISSINGARG_SXP):
            return RObject(kind)
        if kind == REFSXP:
            return self.ref(flags)
        handler = HANDLERS.get(kind)
        if handler is None:
            if kind == BCODESXP:
                raise InputDataError(
                    "R byte code (a compiled function) in this file is not supported",
                    hint="remove functions from the objects before saving them",
                )
            raise corrupt(f"unknown object type {kind} at byte {self.pos - 4}")
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise InputDataError(f"R data nested more than {MAX_DEPTH} levels deep")
        try:
            return handler(self, flags)
        finally:
            self.depth -= 1

    def ref(self, flags: int) -> Any:
        index = flags >> 8 or self.int()
        if not 1 <= index <= len(self.refs):
            raise corrupt(f"reference {index} to {len(self.refs)} known objects")
        return self.refs[index - 1]

    def attributes(self, flags: int) -> dict[str, Any]:
        return as_attributes(self.item()) if flags & HAS_ATTR else {}

    def strings(self, n: int) -> list[str | None]:
        out: list[str | None] = []
        for _ in range(n):
            out.append(read_charsxp(self, self.int()).value)
        return out

    def string_vec(self) -> list[str | None]:
        """The name vector of package, namespace and persistent references."""
        self.int()  # always 0
        return self.strings(self.length(8))


def as_attributes(pairlist: Any) -> dict[str, Any]:
    if pairlist is None:
        return {}
    if not isinstance(pairlist, RObject) or pairlist.type != LISTSXP:
        raise corrupt("attributes are not a pair-list")
    return {tag: value for tag, value in pairlist.value if tag is not None}


def symbol_name(obj: Any) -> str | None:
    return obj.value if isinstance(obj, RObject) and obj.type == SYMSXP else None


def read_symbol(s: Stream, flags: int) -> RObject:
    name = s.item()
    if not isinstance(name, RObject) or name.type != CHARSXP:
        raise corrupt("symbol without a name")
    obj = RObject(SYMSXP, name.value)
    s.refs.append(obj)
    return obj


def read_named_ref(s: Stream, flags: int) -> RObject:
    obj = RObject(flags & 0xFF, s.string_vec())
    s.refs.append(obj)
    return obj


def read_env(s: Stream, flags: int) -> RObject:
    s.int()  # locked
    env = RObject(ENVSXP)
    s.refs.append(env)  # before the contents: they may refer back to it
    for _ in range(3):  # enclosure, frame, hash table: parsed, not kept
        s.item()
    env.attributes = as_attributes(s.item())
    return env


def read_pairlist(s: Stream, flags: int) -> RObject:
    """Pair-lists and their relatives, iterating along the CDR chain."""
    obj = RObject(flags & 0xFF, [])
    first = True
    while True:
        attrs = s.item() if flags & HAS_ATTR else None
        tag = s.item() if flags & HAS_TAG else None
        if first:
            obj.attributes = as_attributes(attrs)
            first = False
        obj.value.append((symbol_name(tag), s.item()))
        flags = s.int()
        if flags & 0xFF != LISTSXP:
            break
    tail = s.item_from(flags)
    if tail is not None:  # dotted pair, or a closure's body
        obj.value.append((None, tail))
    return obj


def read_charsxp(s: Stream, flags: int) -> RObject:
    if flags & 0xFF != CHARSXP:
        raise corrupt(f"expected a string, found object type {flags & 0xFF}")
    n = s.int()
    if n < -1:
        raise corrupt(f"negative string length {n}")
    text = None
    if n >= 0:
        codec = "latin-1" if (flags >> 12) & LATIN1_LEVEL else "utf-8"
        text = s.raw(n).decode(codec, errors="replace")
    if flags & HAS_ATTR:  # only very old files; ignored as R does
        s.item()
    return RObject(CHARSXP, text)


def read_vector(s: Stream, flags: int) -> RObject:
    kind = flags & 0xFF
    if kind in (LGLSXP, INTSXP):
        value = s.array("i4", s.length(4))
    elif kind == REALSXP:
        value = s.array("f8", s.length(8))
    elif kind == CPLXSXP:
        value = s.array("f8", 2 * s.length(16)).view(np.complex128)
    elif kind == STRSXP:
        value = s.strings(s.length(8))
    elif kind == RAWSXP:
        value = s.raw(s.length(1))
    else:  # VECSXP, EXPRSXP
        value = [s.item() for _ in range(s.length(4))]
    return RObject(kind, value, s.attributes(flags))


def read_s4(s: Stream, flags: int) -> RObject:
    return RObject(S4SXP, None, s.attributes(flags))


def read_extptr(s: Stream, flags: int) -> RObject:
    obj = RObject(flags & 0xFF)
    s.refs.append(obj)
    if obj.type == EXTPTRSXP:
        s.item()  # protected value
        s.item()  # tag
    obj.attributes = s.attributes(flags)
    return obj


def read_primitive(s: Stream, flags: int) -> RObject:
    n = s.int()
    return RObject(flags & 0xFF, s.raw(max(n, 0)).decode("ascii", errors="replace"))


def read_altrep(s: Stream, flags: int) -> RObject:
    info, state, attrs = s.item(), s.item(), s.item()
    if not isinstance(info, RObject) or info.type != LISTSXP or not info.value:
        raise corrupt("ALTREP object without class information")
    name = symbol_name(info.value[0][1])
    expand = ALTREP_CLASSES.get(name)
    if expand is None:
        raise InputDataError(
            f"R ALTREP class '{name}' is not supported",
            hint="in R, make an ordinary copy of the object (e.g. x[] <- x) and save it again",
        )
    obj = expand(state)
    obj.attributes = as_attributes(attrs)
    return obj


def altrep_seq(kind: int):
    def expand(state: Any) -> RObject:
        if not isinstance(state, RObject) or state.type != REALSXP or len(state.value) != 3:
            raise corrupt("compact sequence without (length, start, step)")
        n, start, step = (float(v) for v in state.value)
        if not (0 <= n < 2**52) or n != int(n):
            raise corrupt(f"compact sequence of length {n}")
        dtype = np.int32 if kind == INTSXP else np.float64
        return RObject(kind, CompactSeq(start, int(n), step, dtype))

    return expand


def altrep_wrapped(state: Any) -> RObject:
    """wrap_* classes: the state is the pair (data, metadata)."""
    if not isinstance(state, RObject) or state.type != LISTSXP or not state.value:
        raise corrupt("ALTREP wrapper without its data")
    inner = state.value[0][1]
    if not isinstance(inner, RObject):
        raise corrupt("ALTREP wrapper without its data")
    return RObject(inner.type, inner.value)


def altrep_deferred_string(state: Any) -> RObject:
    """Numbers that R turns into strings on first use (e.g. as.character(1:n))."""
    if not isinstance(state, RObject) or state.type != LISTSXP or not state.value:
        raise corrupt("deferred string without its numbers")
    numbers = state.value[0][1]
    if not isinstance(numbers, RObject) or numbers.type not in (INTSXP, REALSXP):
        raise corrupt("deferred string without its numbers")
    values = np.asarray(numbers.value)
    if numbers.type == INTSXP:
        text = [None if v == NA_INT else str(v) for v in values.tolist()]
    else:
        text = [None if np.isnan(v) else format_real(v) for v in values.tolist()]
    return RObject(STRSXP, text)


def format_real(v: float) -> str:
    """as.character() of a double: 15 significant digits."""
    if np.isinf(v):
        return "Inf" if v > 0 else "-Inf"
    return f"{v:.15g}"


SPECIAL_ENVS = {GLOBALENV_SXP: "global", EMPTYENV_SXP: "empty", BASEENV_SXP: "base"}
SPECIAL_ENVS[BASENAMESPACE_SXP] = "base namespace"
HANDLERS = {
    SYMSXP: read_symbol,
    PACKAGESXP: read_named_ref,
    NAMESPACESXP: read_named_ref,
    PERSISTSXP: read_named_ref,
    ENVSXP: read_env,
    CHARSXP: read_charsxp,
    S4SXP: read_s4,
    EXTPTRSXP: read_extptr,
    WEAKREFSXP: read_extptr,
    SPECIALSXP: read_primitive,
    BUILTINSXP: read_primitive,
    ALTREP_SXP: read_altrep,
}
HANDLERS.update(dict.fromkeys((LISTSXP, LANGSXP, CLOSXP, PROMSXP, DOTSXP), read_pairlist))
HANDLERS.update(
    dict.fromkeys((LGLSXP, INTSXP, REALSXP, CPLXSXP, STRSXP, RAWSXP, VECSXP, EXPRSXP), read_vector)
)
ALTREP_CLASSES = {
    "compact_intseq": altrep_seq(INTSXP),
    "compact_realseq": altrep_seq(REALSXP),
    "deferred_string": altrep_deferred_string,
}
ALTREP_CLASSES.update(
    dict.fromkeys(
        ["wrap_integer", "wrap_real", "wrap_logical", "wrap_string"]
        + ["wrap_complex", "wrap_raw", "wrap_list"],
        altrep_wrapped,
    )
)


# ------------------------------------------------------------------ header
def parse(data: bytes) -> Parsed:
    """Parse a whole (decompressed) R data file.

    Parameters
    ----------
    data : bytes
        An ``.rda`` file (``RDX2``/``RDX3``/``RDB2``/``RDB3`` magic) or an
        ``.rds`` stream (``X\\n`` or ``B\\n``), already decompressed.

    Returns
    -------
    Parsed
        The top-level object (a pair-list of named objects for ``.rda``) and
        the header: format, serialization version, writer R version, encoding.

    Raises
    ------
    InputDataError
        Not R data, ASCII format, unsupported version, truncated or corrupt.
    """
    container, offset = container_of(data)
    marker = data[offset : offset + 2]
    if marker == b"A\n":
        raise ascii_error()
    if marker not in (b"X\n", b"B\n"):
        raise corrupt(f"unknown serialization format {marker!r}")
    fmt, endian = ("xdr", ">") if marker == b"X\n" else ("binary", "<")
    s = Stream(data, offset + 2, endian)
    version, writer, min_reader = s.int(), s.int(), s.int()
    if version not in (2, 3):
        raise InputDataError(
            f"R serialization version {version} is not supported (only 2 and 3)",
            hint="save it again with a current R",
        )
    encoding = None
    if version == 3:
        n = s.int()
        if not 0 <= n <= 64:
            raise corrupt(f"encoding name of length {n}")
        encoding = s.raw(n).decode("ascii", errors="replace")
    try:
        root = s.item()
    except RecursionError:
        raise InputDataError(f"R data nested more than {MAX_DEPTH} levels deep") from None
    return Parsed(root, container, fmt, version, r_version(writer), r_version(min_reader), encoding)


def container_of(data: bytes) -> tuple[str, int]:
    """("rda" | "rds", offset of the serialization stream)."""
    magic = data[:5]
    if magic in (b"RDX2\n", b"RDX3\n", b"RDB2\n", b"RDB3\n"):
        return "rda", 5
    if magic in (b"RDA2\n", b"RDA3\n") or data[:2] == b"A\n":
        raise ascii_error()
    if data[:2] in (b"X\n", b"B\n"):
        return "rds", 0
    if data[:2] == b"RD" and data[4:5] == b"\n":
        raise InputDataError(
            f"R save format {magic[:4].decode('ascii', 'replace')} is not supported",
            hint="save it again with a current R",
        )
    if data[:4] == ZSTD_MAGIC:
        raise InputDataError(
            "zstd-compressed R data is not supported", hint="decompress it first (zstd -d)"
        )
    raise InputDataError(
        "not an R data file (no RDX2/RDX3 or serialization header)",
        hint="check the file, or give its real format with --format",
    )


def ascii_error() -> InputDataError:
    return InputDataError(
        "R data in ASCII format is not supported",
        hint="save it again in R with ascii = FALSE (the default)",
    )


def r_version(packed: int) -> str:
    if packed < 0:
        return "unreleased"
    return f"{packed >> 16}.{(packed >> 8) & 0xFF}.{packed & 0xFF}"


def decompress_xz(raw: bytes) -> bytes:
    """xz is R's third compression (save(compress = "xz")); gzip/bzip2 are done already."""
    if not raw.startswith(XZ_MAGIC):
        return raw
    try:
        return lzma.decompress(raw)
    except lzma.LZMAError as exc:
        raise InputDataError(
            f"compressed data is corrupt or truncated ({exc})", hint=CORRUPT_HINT
        ) from None


# ------------------------------------------------------------ what is what
def r_class(obj: Any) -> list[str]:
    """The class attribute (empty when there is none)."""
    if not isinstance(obj, RObject):
        return []
    cls = obj.attributes.get("class")
    if isinstance(cls, RObject) and cls.type == STRSXP:
        return [c for c in cls.value if c is not None]
    return []


def dims(obj: Any) -> tuple[int, int] | None:
    """``dim`` attribute or ``Dim`` slot, when it is 2-D."""
    if not isinstance(obj, RObject):
        return None
    dim = obj.attributes.get("Dim" if obj.type == S4SXP else "dim")
    if not isinstance(dim, RObject) or dim.type not in (INTSXP, REALSXP):
        return None
    values = np.asarray(dim.value)
    if values.shape != (2,) or np.any(values < 0):
        return None
    return int(values[0]), int(values[1])


def is_matrix_pkg(obj: Any) -> bool:
    cls = r_class(obj)
    return obj.type == S4SXP and bool(cls) and MATRIX_PKG_CLASS.match(cls[0]) is not None


def direct_kind(obj: Any) -> str | None:
    """'matrix' (readable), 'other' (a matrix mfcli cannot read) or None."""
    if not isinstance(obj, RObject):
        return None
    if is_matrix_pkg(obj):
        cls = r_class(obj)[0]
        return "matrix" if SPARSE_CLASS.match(cls) or DENSE_CLASS.match(cls) else "other"
    if obj.type != S4SXP and dims(obj) is not None:
        return "matrix" if obj.type in (LGLSXP, INTSXP, REALSXP) else "other"
    return None


def wrapped(obj: Any) -> Any:
    """The matrix in the ``data`` slot of an S4 wrapper (realRatingMatrix), or None."""
    if not isinstance(obj, RObject) or obj.type != S4SXP or is_matrix_pkg(obj):
        return None
    inner = obj.attributes.get("data")
    return inner if direct_kind(inner) == "matrix" else None


def matrix_kind(obj: Any) -> str | None:
    """'matrix', 'table' (data.frame), 'other' (unreadable matrix) or None."""
    if wrapped(obj) is not None:
        return "matrix"
    if isinstance(obj, RObject) and obj.type == VECSXP and "data.frame" in r_class(obj):
        return "table"
    return direct_kind(obj)


def type_name(obj: Any) -> str:
    if not isinstance(obj, RObject):
        return "NULL"
    return TYPE_NAMES.get(obj.type, f"R object type {obj.type}")


def describe(obj: Any) -> str:
    """``dgCMatrix 5000 x 100``, ``character, length 100``, ... for messages."""
    if obj is None:
        return "NULL"
    inner = wrapped(obj)
    shape = dims(inner if inner is not None else obj)
    cls = r_class(obj)
    if "data.frame" in cls:
        return f"data.frame, {len(obj.value)} columns"
    if shape is not None:
        what = cls[0] if cls else f"{TYPE_NAMES.get(obj.type, 'R')} matrix"
        return f"{what} {shape[0]} x {shape[1]}"
    what = cls[0] if cls else TYPE_NAMES.get(obj.type, f"R object type {obj.type}")
    if obj.type in (LGLSXP, INTSXP, REALSXP, CPLXSXP, STRSXP, VECSXP, EXPRSXP):
        return f"{what}, length {len(obj.value)}"
    return what


def named_objects(parsed: Parsed, stem: str) -> list[tuple[str, Any]]:
    """(name, object) for every object, plus matrix-like elements of named lists."""
    root = parsed.root
    if parsed.container == "rds":
        top = [(stem, root)]
    else:
        if root is not None and (not isinstance(root, RObject) or root.type != LISTSXP):
            raise corrupt("an .rda file must hold a pair-list of named objects")
        top = [] if root is None else [(tag or "", value) for tag, value in root.value]
    out = []
    for name, obj in top:
        out.append((name, obj))
        out.extend(list_elements(name, obj))
    return out


def list_elements(name: str, obj: Any) -> list[tuple[str, Any]]:
    if not isinstance(obj, RObject) or obj.type != VECSXP or "data.frame" in r_class(obj):
        return []
    names = obj.attributes.get("names")
    if not isinstance(names, RObject) or names.type != STRSXP:
        return []
    return [
        (f"{name}${key}", child)
        for key, child in zip(names.value, obj.value, strict=False)
        if key and matrix_kind(child) is not None
    ]


def choose(objects: list[tuple[str, Any]], options: ReadOptions) -> tuple[str, Any]:
    """The object to read: the named one, else the only readable one."""
    listing = ", ".join(f"{n} ({describe(o)})" for n, o in objects[:12]) or "nothing"
    if options.dataset:
        for name, obj in objects:
            if name == options.dataset:
                return name, obj
        raise InputDataError(
            f"no object '{options.dataset}' in this R file", hint=f"objects here: {listing}"
        )
    readable = ("matrix", "table") if options.columns else ("matrix",)
    found = [(n, o) for n, o in objects if matrix_kind(o) in readable]
    if len(found) == 1:
        return found[0]
    if found:
        described = [f"{n} ({describe(o)})" for n, o in found]
        raise AmbiguousInputError(
            f"{len(found)} matrices in this R file: {', '.join(described[:12])}",
            hint=NAME_HINT,
            candidates=described,
        )
    near = [(n, o) for n, o in objects if matrix_kind(o) is not None]
    if len(near) == 1:
        return near[0]  # converting it explains why it cannot be read
    raise InputDataError(f"no matrix in this R file (found: {listing})", hint=SUPPORTED_HINT)


# -------------------------------------------------------------- conversion
def to_matrix(name: str, obj: Any, options: ReadOptions) -> Matrix:
    """Convert the chosen object; unreadable objects raise a specific error."""
    inner = wrapped(obj)
    if inner is not None:
        if "realRatingMatrix" not in r_class(obj):
            matrix = to_matrix(name, inner, options)
        else:  # find the zero marker before a float32 conversion blurs it
            matrix = to_matrix(name, inner, replace(options, dtype="float64"))
            restore_zeros(matrix)
            matrix = matrix.astype(options.dtype)
        matrix.meta["r_inner_class"] = matrix.meta.get("r_class")
        return matrix
    kind = matrix_kind(obj)
    if kind == "table":
        if not options.columns:
            raise InputDataError(f"R object '{name}' is a data.frame", hint=COLUMNS_HINT)
        return data_frame_matrix(name, obj, options)
    if kind is None:
        raise InputDataError(
            f"R object '{name}' ({describe(obj)}) is not a matrix", hint=SUPPORTED_HINT
        )
    if is_matrix_pkg(obj):
        return matrix_pkg_matrix(name, obj, options)
    return base_matrix(name, obj, options)


def restore_zeros(matrix: Matrix) -> None:
    """recommenderlab keeps a rating of 0 as double.xmin (exact match only)."""
    marked = matrix.data == RECOMMENDERLAB_ZERO
    matrix.data[marked] = 0.0
    matrix.meta["zeros_restored"] = int(np.count_nonzero(marked))


def matrix_pkg_matrix(name: str, obj: RObject, options: ReadOptions) -> Matrix:
    cls = r_class(obj)[0]
    sparse, dense = SPARSE_CLASS.match(cls), DENSE_CLASS.match(cls)
    if not sparse and not dense:
        raise InputDataError(
            f"R object '{name}' is a {cls}, which mfcli does not read",
            hint='convert it in R with as(x, "generalMatrix") or as.matrix(x)',
        )
    shape = dims(obj)
    if shape is None:
        raise InputDataError(f"{cls} object '{name}' has an invalid Dim slot")
    rows, cols = dimnames(name, obj.attributes.get("Dimnames"), shape)
    meta = {"r_class": cls}
    if dense:
        values = numbers(name, slot(name, obj, cls, "x"))
        grid = column_major(name, values, shape)
        return Matrix.from_dense(
            grid, dtype=options.dtype, row_labels=rows, col_labels=cols, meta=meta
        )
    i, j, values = triplets(name, obj, cls, sparse.group(2), shape)
    return Matrix.from_coo(
        i,
        j,
        values,
        shape,
        duplicates=options.duplicates or "sum",  # Matrix sums duplicate triplets
        dtype=options.dtype,
        row_labels=rows,
        col_labels=cols,
        meta=meta,
    )


def triplets(name: str, obj: RObject, cls: str, layout: str, shape) -> tuple:
    """(rows, cols, values or None) of a C (CSC), R (CSR) or T (triplet) matrix."""
    values = None
    if "x" in obj.attributes or not cls.startswith("n"):
        values = numbers(name, slot(name, obj, cls, "x"))
    if layout == "T":
        i, j = indices(name, obj, cls, "i"), indices(name, obj, cls, "j")
    else:
        minor = indices(name, obj, cls, "i" if layout == "C" else "j")
        p = indices(name, obj, cls, "p")
        n_major = shape[1] if layout == "C" else shape[0]
        if (
            p.shape[0] != n_major + 1
            or p[0] != 0
            or p[-1] != minor.shape[0]
            or np.any(np.diff(p) < 0)
        ):
            raise InputDataError(f"{cls} object '{name}': slot p is not a valid pointer array")
        major = np.repeat(np.arange(n_major, dtype=np.int64), np.diff(p))
        i, j = (minor, major) if layout == "C" else (major, minor)
    if i.shape != j.shape or (values is not None and values.shape != i.shape):
        sizes = f"{i.shape[0]} indices, {'no' if values is None else values.shape[0]} values"
        raise InputDataError(f"{cls} object '{name}': slot lengths differ ({sizes})")
    return i, j, values


def slot(name: str, obj: RObject, cls: str, key: str) -> RObject:
    value = obj.attributes.get(key)
    if not isinstance(value, RObject):
        raise InputDataError(f"{cls} object '{name}' has no slot '{key}'")
    return value


def indices(name: str, obj: RObject, cls: str, key: str) -> np.ndarray:
    value = slot(name, obj, cls, key)
    if value.type != INTSXP:
        raise InputDataError(f"{cls} object '{name}': slot {key} is not an integer vector")
    return np.asarray(value.value, dtype=np.int64)


def numbers(name: str, obj: Any) -> np.ndarray:
    """float64 values of a logical, integer or double vector; NA becomes NaN."""
    if not isinstance(obj, RObject) or obj.type not in (LGLSXP, INTSXP, REALSXP):
        raise InputDataError(f"R object '{name}' holds {type_name(obj)} values, not numbers")
    values = np.asarray(obj.value)
    if obj.type == REALSXP:
        return values.astype(np.float64, copy=False)
    out = values.astype(np.float64)
    out[values == NA_INT] = np.nan
    return out


def column_major(name: str, values: np.ndarray, shape) -> np.ndarray:
    n_rows, n_cols = shape
    if values.shape[0] != n_rows * n_cols:
        raise InputDataError(
            f"R matrix '{name}' has {values.shape[0]} values for {n_rows} x {n_cols}"
        )
    return values.reshape(n_cols, n_rows).T


def dimnames(name: str, value: Any, shape) -> tuple:
    """Row and column labels from ``dimnames``/``Dimnames`` (None where absent)."""
    if not isinstance(value, RObject) or value.type != VECSXP or len(value.value) != 2:
        return None, None
    out = []
    for names, n in zip(value.value, shape, strict=True):
        if not isinstance(names, RObject) or names.type != STRSXP:
            out.append(None)
            continue
        if len(names.value) != n:
            raise InputDataError(
                f"dimnames of R object '{name}' have {len(names.value)} names for {n} entries"
            )
        out.append(as_label_array(["NA" if v is None else v for v in names.value]))
    return out[0], out[1]


def base_matrix(name: str, obj: RObject, options: ReadOptions) -> Matrix:
    if obj.type not in (LGLSXP, INTSXP, REALSXP):
        raise InputDataError(
            f"R object '{name}' ({describe(obj)}) is not a numeric matrix",
            hint="mfcli reads real-valued matrices",
        )
    shape = dims(obj)
    grid = column_major(name, numbers(name, obj), shape)
    rows, cols = dimnames(name, obj.attributes.get("dimnames"), shape)
    meta = {"r_class": "matrix", "r_type": TYPE_NAMES[obj.type]}
    return Matrix.from_dense(grid, dtype=options.dtype, row_labels=rows, col_labels=cols, meta=meta)


# --------------------------------------------------------------- data.frame
def data_frame_matrix(name: str, obj: RObject, options: ReadOptions) -> Matrix:
    """user,item,value[,time] columns as a sparse matrix (ids become labels)."""
    columns = frame_columns(name, obj, options.columns)
    users, user_labels = id_codes(name, columns[0])
    items, item_labels = id_codes(name, columns[1])
    values = numbers(f"{name}${columns[2][0]}", columns[2][1])
    times = None
    if len(columns) == 4:
        label, raw = columns[3]
        if raw.type not in (INTSXP, REALSXP):
            raise InputDataError(f"time column '{label}' of '{name}' is not numeric")
        times = np.asarray(raw.value, dtype=np.int64 if raw.type == INTSXP else np.float64)
    return Matrix.from_coo(
        users,
        items,
        values,
        (len(user_labels), len(item_labels)),
        duplicates=options.duplicates or "last",
        dtype=options.dtype,
        timestamps=times,
        entry_label=lambda k: f"row {k + 1}",
        row_labels=user_labels,
        col_labels=item_labels,
        meta={"r_class": "data.frame"},
    )


def frame_columns(name: str, obj: RObject, spec: str) -> list[tuple[str, RObject]]:
    """The chosen columns as (name, vector), by name or 0-based index."""
    parts = [p.strip() for p in spec.split(",")]
    if len(parts) not in (3, 4) or not all(parts):
        raise InputDataError(
            f"--columns must name 3 or 4 columns (user,item,value[,time]), got '{spec}'"
        )
    names_attr = obj.attributes.get("names")
    names = names_attr.value if isinstance(names_attr, RObject) else []
    out = []
    for part in parts:
        if part in names:
            index = names.index(part)
        elif part.isdigit() and int(part) < len(obj.value):
            index = int(part)
        else:
            listing = ", ".join(str(n) for n in names)
            raise InputDataError(
                f"no column '{part}' in data.frame '{name}'", hint=f"columns: {listing}"
            )
        column = obj.value[index]
        if not isinstance(column, RObject):
            raise InputDataError(f"column '{part}' of data.frame '{name}' is NULL")
        out.append((str(names[index]) if index < len(names) else part, column))
    return out


def id_codes(name: str, column: tuple[str, RObject]) -> tuple[np.ndarray, np.ndarray]:
    """0-based codes and labels for a user or item column (factor, number or string)."""
    label, vec = column
    if vec.type == INTSXP and "factor" in r_class(vec):
        codes = np.asarray(vec.value, dtype=np.int64)
        levels = vec.attributes.get("levels")
        missing = codes == NA_INT
        labels = as_label_array(levels.value if isinstance(levels, RObject) else [])
        codes = codes - 1
    elif vec.type in (INTSXP, REALSXP, STRSXP):
        if vec.type == STRSXP:
            raw = np.array(["" if v is None else v for v in vec.value], dtype=str)
            missing = np.array([v is None for v in vec.value], dtype=bool)
        else:
            raw = np.asarray(vec.value)
            missing = raw == NA_INT if vec.type == INTSXP else np.isnan(raw)
        uniques, codes = np.unique(raw[~missing], return_inverse=True)
        full = np.zeros(raw.shape[0], dtype=np.int64)
        full[~missing] = codes
        codes = full
        if uniques.dtype.kind == "f" and np.all(uniques == np.round(uniques)):
            uniques = uniques.astype(np.int64)
        labels = as_label_array(uniques)
    else:
        raise InputDataError(f"id column '{label}' of '{name}' holds {type_name(vec)} values")
    if np.any(missing):
        row = int(np.flatnonzero(missing)[0]) + 1
        raise InputDataError(f"NA in id column '{label}' of '{name}' at row {row}")
    return codes, labels


# -------------------------------------------------------------------- entry
def read(path: str, options: ReadOptions) -> Matrix:
    """Read one matrix from an R data file (``.rda``, ``.RData``, ``.rds``).

    Parameters
    ----------
    path : str
        File path, or ``-`` for stdin; gzip, bzip2 and xz are decompressed.
    options : ReadOptions
        ``dataset`` names the object, ``columns`` reads a data.frame as
        user,item,value[,time]; ``dtype`` and ``duplicates`` apply.

    Returns
    -------
    Matrix
        CSR for ``Matrix`` package sparse matrices and data.frames, dense for
        base and ``dgeMatrix`` matrices, labelled from the dimnames. ``meta``
        records ``r_class``, ``object``, ``r_version`` (the writing R),
        ``r_serialization``, ``r_container`` and the other ``candidates``.

    Raises
    ------
    InputDataError
        Not R data, ASCII format, corrupt or truncated, no (or several)
        matrices, or an object that cannot be read as a matrix.
    """
    parsed = parse(decompress_xz(read_bytes(path)))
    stem = os.path.splitext(os.path.basename(display_name(path)))[0] or "object"
    objects = named_objects(parsed, stem)
    name, obj = choose(objects, options)
    matrix = to_matrix(name, obj, options)
    matrix.meta.update(
        {
            "object": name,
            "r_class": (r_class(obj) or [matrix.meta.get("r_class", "matrix")])[0],
            "r_version": parsed.writer,
            "r_min_version": parsed.min_reader,
            "r_serialization": parsed.version,
            "r_format": parsed.format,
            "r_container": parsed.container,
            "r_encoding": parsed.encoding,
            "candidates": [f"{n} ({describe(o)})" for n, o in objects if o is not obj],
        }
    )
    return matrix
