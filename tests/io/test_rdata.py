"""R data reader: hand-built serialization streams, error messages, and Jester5k.rda."""

from __future__ import annotations

import bz2
import gzip
import lzma
import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp

from mfcli.errors import EXIT_DATA, InputDataError
from mfcli.io import rdata as rd
from mfcli.io import read_matrix
from mfcli.io.options import ReadOptions

# ---------------------------------------------------------------- encoder
# A minimal writer for R's serialization format, enough to build test files.
LIST, CLO, ENV, CHAR, LGL, INT, REAL = 2, 3, 4, 9, 10, 13, 14
CPLX, STR, VEC, BCODE, S4 = 15, 16, 19, 21, 25
ALTREP, GLOBALENV, NIL, MISSINGARG, REF = 238, 253, 254, 251, 255


@dataclass(eq=False)
class RV:
    """An R value to encode: ``kind`` is a SEXP type (or a helper name)."""

    kind: Any
    value: Any = None
    attrs: dict = field(default_factory=dict)


def real(values, **attrs):
    return RV(REAL, list(values), attrs)


def ints(values, **attrs):
    return RV(INT, list(values), attrs)


def strs(values, **attrs):
    return RV(STR, list(values), attrs)


def lst(items, **attrs):
    return RV(VEC, list(items), attrs)


def klass(name, package=None):
    return strs([name], package=strs([package])) if package else strs([name])


def s4(cls, package, **slots):
    return RV(S4, None, {**slots, "class": klass(cls, package)})


def pairlist(named):
    return RV(LIST, list(named.items()))


def compact_intseq(n, start, **attrs):
    return RV(ALTREP, ("compact_intseq", real([n, start, 1])), attrs)


def r_matrix(grid, rows=None, cols=None, kind=REAL):
    grid = np.asarray(grid)
    attrs = {"dim": ints(grid.shape)}
    if rows is not None or cols is not None:
        attrs["dimnames"] = lst([strs(rows) if rows else None, strs(cols) if cols else None])
    return RV(kind, grid.T.ravel().tolist(), attrs)


def dgc(csc, rows=None, cols=None, cls="dgCMatrix"):
    slots = {"i": ints(csc.indices), "p": ints(csc.indptr), "Dim": ints(csc.shape)}
    slots["Dimnames"] = lst([strs(rows) if rows else None, strs(cols) if cols else None])
    slots["x"] = real(csc.data)
    slots["factors"] = lst([])
    return s4(cls, "Matrix", **slots)


def data_frame(columns: dict):
    n = len(next(iter(columns.values())).value)
    return lst(
        columns.values(),
        names=strs(columns.keys()),
        **{"class": klass("data.frame"), "row.names": ints([-(2**31), -n])},
    )


class Encoder:
    """Writes RV trees as an XDR (or little-endian native) stream."""

    def __init__(self, endian=">"):
        self.out = bytearray()
        self.endian = endian
        self.refs: dict = {}  # symbol names and environments -> reference index

    def int(self, *values):
        for v in values:
            self.out += struct.pack(self.endian + "i", v)

    def header(self, version=3, marker=b"X\n"):
        self.out += marker
        self.int(version, 0x040100, 0x030500)
        if version == 3:
            self.int(5)
            self.out += b"UTF-8"

    def flags(self, kind, attrs=False, tag=False, obj=False, levels=0):
        self.int(kind | obj << 8 | attrs << 9 | tag << 10 | levels << 12)

    def string(self, text):
        if text is None:
            self.int(CHAR, -1)
            return
        raw = text.encode()
        self.flags(CHAR, levels=64 if text.isascii() else 8)
        self.int(len(raw))
        self.out += raw

    def symbol(self, name):
        if name in self.refs:
            self.int(self.refs[name] << 8 | REF)
            return
        self.refs[name] = len(self.refs) + 1
        self.int(1)
        self.string(name)

    def attributes(self, attrs):
        for name, value in attrs.items():
            self.flags(LIST, tag=True)
            self.symbol(name)
            self.item(value)
        self.int(NIL)

    def item(self, x):
        if x is None:
            self.int(NIL)
            return
        if x.kind == "sym":
            self.symbol(x.value)
            return
        kind, attrs = x.kind, x.attrs
        has = bool(attrs)
        obj = "class" in attrs
        if kind == LIST:
            for name, value in x.value:
                self.flags(LIST, tag=name is not None)
                if name is not None:
                    self.symbol(name)
                self.item(value)
            self.int(NIL)
            return
        if kind == S4:
            self.flags(S4, attrs=True, obj=True)
        elif kind == ALTREP:
            self.altrep(x)
            return
        elif kind == ENV:
            self.env(x)
            return
        else:
            self.flags(kind, attrs=has, obj=obj)
            self.vector(kind, x.value)
        if has:
            self.attributes(attrs)

    def vector(self, kind, values):
        self.int(len(values))
        if kind in (INT, LGL):
            self.out += np.asarray(values, dtype=self.endian + "i4").tobytes()
        elif kind == REAL:
            self.out += np.asarray(values, dtype=self.endian + "f8").tobytes()
        elif kind == CPLX:
            self.out += np.asarray(values, dtype=self.endian + "c16").tobytes()
        elif kind == STR:
            for text in values:
                self.string(text)
        else:
            for value in values:
                self.item(value)

    def altrep(self, x):
        cls, state = x.value
        self.flags(ALTREP)
        self.item(RV(LIST, [(None, RV("sym", cls)), (None, RV("sym", "base")), (None, ints([13]))]))
        self.item(state)
        self.item(pairlist(x.attrs) if x.attrs else None)

    def env(self, x):
        if id(x) in self.refs:
            self.int(self.refs[id(x)] << 8 | REF)
            return
        self.refs[id(x)] = len(self.refs) + 1
        self.flags(ENV)
        self.int(0)  # not locked
        self.int(GLOBALENV)  # enclosure
        self.item(pairlist(x.value))  # frame
        self.int(NIL)  # hash table
        self.int(NIL)  # attributes


def rda(objects: dict, version=3, endian=">") -> bytes:
    enc = Encoder(endian)
    enc.out += b"RDX%d\n" % version if endian == ">" else b"RDB%d\n" % version
    enc.header(version, b"X\n" if endian == ">" else b"B\n")
    enc.item(pairlist(objects))
    return bytes(enc.out)


def rds(obj, version=3) -> bytes:
    enc = Encoder()
    enc.header(version)
    enc.item(obj)
    return bytes(enc.out)


def stream(build, version=3, container=b"") -> bytes:
    """A stream whose body is written by ``build(encoder)`` (for corrupt cases)."""
    enc = Encoder()
    enc.out += container
    enc.header(version)
    build(enc)
    return bytes(enc.out)


def write(tmp_path, data: bytes, name="x.rda", compress=gzip.compress):
    path = tmp_path / name
    path.write_bytes(compress(data) if compress else data)
    return str(path)


def load(tmp_path, data, name="x.rda", compress=gzip.compress, **options):
    return rd.read(write(tmp_path, data, name, compress), ReadOptions(**options))


def fails(tmp_path, data, text, name="x.rda", compress=gzip.compress, **options):
    with pytest.raises(InputDataError) as info:
        load(tmp_path, data, name, compress, **options)
    assert info.value.exit_code == EXIT_DATA == 65
    assert text in info.value.message, info.value.message
    return info.value


def sample_csc():
    """4 x 3 with an explicit zero at (2, 0), which must stay stored."""
    data = np.array([1.5, 0.0, 4.0, 7.125, -2.25, 3.0])
    indices = np.array([0, 2, 3, 2, 0, 1], dtype=np.int32)
    return sp.csc_matrix((data, indices, np.array([0, 3, 4, 6])), shape=(4, 3))


# --------------------------------------------------------------- matrices
def test_numeric_matrix_with_dimnames(tmp_path):
    grid = np.array([[1.0, 2.5, -3.0], [4.0, np.nan, 6.25]])
    data = rda({"m": r_matrix(grid, ["r1", "r2"], ["a", "b", "c"])})
    m = load(tmp_path, data)
    assert not m.is_sparse and m.shape == (2, 3)
    np.testing.assert_array_equal(m.data, grid)
    assert m.row_labels.tolist() == ["r1", "r2"] and m.col_labels.tolist() == ["a", "b", "c"]
    assert m.meta["r_class"] == "matrix" and m.meta["object"] == "m"
    assert m.meta["r_version"] == "4.1.0" and m.meta["r_serialization"] == 3
    assert m.meta["r_encoding"] == "UTF-8" and m.meta["candidates"] == []


def test_integer_and_logical_matrices_na_becomes_nan(tmp_path):
    grid = np.array([[1, -(2**31)], [3, 4]])
    m = load(tmp_path, rds(r_matrix(grid, kind=INT)), "i.rds", dtype="float32")
    assert m.dtype == np.float32 and m.row_labels is None
    np.testing.assert_array_equal(m.data, [[1, np.nan], [3, 4]])
    lg = load(tmp_path, rds(r_matrix([[1, 0], [0, 1]], kind=LGL)), "l.rds")
    np.testing.assert_array_equal(lg.data, np.eye(2))
    assert lg.meta["r_type"] == "logical" and lg.meta["object"] == "l"


def test_dgcmatrix_exact_values_labels_and_explicit_zero(tmp_path):
    csc = sample_csc()
    rows, cols = ["u1", "u2", "u3", "u4"], ["j1", "j2", "j3"]
    m = load(tmp_path, rda({"M": dgc(csc, rows, cols)}))
    expected = csc.tocsr()
    assert m.is_sparse and m.shape == (4, 3) and m.nnz == csc.nnz == 6
    np.testing.assert_array_equal(m.indptr, expected.indptr)
    np.testing.assert_array_equal(m.indices, expected.indices)
    np.testing.assert_array_equal(m.data, expected.data)
    assert m.to_dense()[2, 0] == 0.0 and m.row_labels.tolist() == rows
    assert m.meta["r_class"] == "dgCMatrix"


def test_dgt_dgr_pattern_and_dge(tmp_path):
    csc = sample_csc()
    coo, csr = csc.tocoo(), csc.tocsr()
    trip = s4(
        "dgTMatrix",
        "Matrix",
        i=ints(coo.row),
        j=ints(coo.col),
        Dim=ints(coo.shape),
        x=real(coo.data),
    )
    byrow = s4(
        "dgRMatrix",
        "Matrix",
        j=ints(csr.indices),
        p=ints(csr.indptr),
        Dim=ints(csr.shape),
        x=real(csr.data),
    )
    pattern = s4(
        "ngCMatrix", "Matrix", i=ints(csc.indices), p=ints(csc.indptr), Dim=ints(csc.shape)
    )
    dense = s4("dgeMatrix", "Matrix", x=real(csc.toarray().T.ravel()), Dim=ints(csc.shape))
    objects = {"t": trip, "r": byrow, "n": pattern, "d": dense}
    data = rda(objects)
    for name in ("t", "r", "d"):
        m = load(tmp_path, data, dataset=name)
        np.testing.assert_array_equal(m.to_dense(), csc.toarray())
        assert m.meta["object"] == name and len(m.meta["candidates"]) == 3
    n = load(tmp_path, data, dataset="n")
    ones = csc.copy()
    ones.data[:] = 1.0
    np.testing.assert_array_equal(n.to_dense(), ones.toarray())
    assert n.nnz == 6 and n.meta["r_class"] == "ngCMatrix"


def test_dgt_duplicates_are_summed_like_matrix_does(tmp_path):
    trip = s4(
        "dgTMatrix",
        "Matrix",
        i=ints([0, 0, 1]),
        j=ints([1, 1, 0]),
        Dim=ints([2, 2]),
        x=real([1.0, 2.0, 5.0]),
    )
    m = load(tmp_path, rds(trip), "t.rds")
    np.testing.assert_array_equal(m.to_dense(), [[0, 3], [5, 0]])
    fails(tmp_path, rds(trip), "duplicate entry (1, 2)", "t.rds", duplicates="error")


def test_realratingmatrix_unwraps_and_restores_recommenderlab_zeros(tmp_path):
    tiny = np.finfo(np.float64).tiny  # (2, 0) is a rating of 0
    csc = sp.csc_matrix(([2.5, tiny, -9.95], [0, 2, 1], [0, 2, 3]), shape=(3, 2))
    rrm = s4(
        "realRatingMatrix",
        "recommenderlab",
        data=dgc(csc, ["a", "b", "c"], ["x", "y"]),
        normalize=None,
    )
    for dtype in ("float64", "float32"):
        m = load(tmp_path, rda({"R": rrm, "jokes": strs(["q", None])}), dtype=dtype)
        assert m.dtype == np.dtype(dtype) and m.nnz == 3
        expected = np.array([[2.5, 0], [0, -9.95], [0, 0]], dtype=dtype)
        np.testing.assert_array_equal(m.to_dense(), expected)
        assert m.indices[m.indptr[2]] == 0  # the zero rating is still stored
        assert m.meta["zeros_restored"] == 1 and m.meta["r_class"] == "realRatingMatrix"
        assert m.meta["r_inner_class"] == "dgCMatrix"
        assert m.meta["candidates"] == ["jokes (character, length 2)"]


def test_other_s4_wrapper_keeps_tiny_values(tmp_path):
    csc = sp.csc_matrix(np.array([[np.finfo(np.float64).tiny]]))
    m = load(tmp_path, rds(s4("myWrapper", "pkg", data=dgc(csc))), "w.rds")
    assert m.data[0] == np.finfo(np.float64).tiny and m.meta["r_class"] == "myWrapper"


def test_pairlist_of_two_objects_picks_the_matrix(tmp_path):
    data = rda({"labels": strs(["a", "b"]), "m": r_matrix([[1.0, 2.0]])})
    m = load(tmp_path, data)
    assert m.meta["object"] == "m" and m.meta["candidates"] == ["labels (character, length 2)"]
    fails(
        tmp_path, data, "R object 'labels' (character, length 2) is not a matrix", dataset="labels"
    )


def test_compact_intseq_altrep_as_matrix_and_as_slot(tmp_path):
    seq = compact_intseq(6, 1, dim=ints([2, 3]))
    m = load(tmp_path, rds(seq), "s.rds")
    np.testing.assert_array_equal(m.data, [[1, 3, 5], [2, 4, 6]])
    diag = s4(
        "dgCMatrix",
        "Matrix",
        i=compact_intseq(3, 0),
        p=compact_intseq(4, 0),
        Dim=ints([3, 3]),
        x=real([1.0, 2.0, 3.0]),
    )
    d = load(tmp_path, rds(diag), "d.rds")
    np.testing.assert_array_equal(d.to_dense(), np.diag([1.0, 2.0, 3.0]))


def test_wrapped_and_deferred_string_altrep(tmp_path):
    wrapped = RV(
        ALTREP,
        ("wrap_real", pairlist({None: real([1.0, 2.0]), "meta": ints([0, 1])})),
        {"dim": ints([1, 2])},
    )
    deferred = RV(ALTREP, ("deferred_string", pairlist({None: ints([7, 8]), "x": ints([0])})))
    deferred_real = RV(ALTREP, ("deferred_string", pairlist({None: real([0.5, np.nan])})))
    wrapped.attrs["dimnames"] = lst([strs(["r"]), deferred])
    m = load(tmp_path, rds(wrapped), "w.rds")
    np.testing.assert_array_equal(m.data, [[1.0, 2.0]])
    assert m.col_labels.tolist() == [7, 8]  # integer-looking labels become int64
    data = rds(lst([deferred_real]))
    parsed = rd.parse(data)
    assert parsed.root.value[0].value == ["0.5", None]


def test_environment_closure_and_references_are_skipped(tmp_path):
    env = RV(ENV, {"a": real([1.0])})
    enc = Encoder()
    enc.out += b"RDX2\n"
    enc.header(version=2)
    for name, value in (("e", env), ("e2", env)):
        enc.flags(LIST, tag=True)
        enc.symbol(name)
        enc.item(value)
    enc.flags(LIST, tag=True)
    enc.symbol("f")
    enc.flags(CLO, tag=True)  # function(x) x
    enc.int(GLOBALENV)
    enc.flags(LIST, tag=True)
    enc.symbol("x")
    enc.int(MISSINGARG)
    enc.int(NIL)
    enc.symbol("x")
    enc.flags(LIST, tag=True)
    enc.symbol("m")
    enc.item(r_matrix([[5.0]]))
    enc.int(NIL)
    m = load(tmp_path, bytes(enc.out), "x.RData", compress=None)
    assert m.data.tolist() == [[5.0]] and m.meta["r_serialization"] == 2
    assert m.meta["r_encoding"] is None
    assert m.meta["candidates"] == ["e (environment)", "e2 (environment)", "f (function)"]


def test_native_little_endian_format(tmp_path):
    data = rda({"m": r_matrix([[1.0, 2.0], [3.0, 4.0]], ["a", "b"])}, endian="<")
    m = load(tmp_path, data, compress=None)
    np.testing.assert_array_equal(m.data, [[1, 2], [3, 4]])
    assert m.meta["r_format"] == "binary" and m.meta["r_container"] == "rda"


@pytest.mark.parametrize("compress", [None, gzip.compress, bz2.compress, lzma.compress])
def test_compressions(tmp_path, compress):
    m = load(tmp_path, rds(r_matrix([[1.0]])), "one.rds", compress=compress)
    assert m.data.tolist() == [[1.0]] and m.meta["r_container"] == "rds"


def test_named_list_elements_are_candidates(tmp_path):
    data = rds(
        lst(
            [r_matrix([[1.0]]), r_matrix([[2.0]]), strs(["x"])],
            names=strs(["train", "test", "note"]),
        )
    )
    err = fails(
        tmp_path,
        data,
        "2 matrices in this R file: splits$train (double matrix 1 x 1), "
        "splits$test (double matrix 1 x 1)",
        "splits.rds",
    )
    assert err.hint == "name one with --dataset"
    m = load(tmp_path, data, "splits.rds", dataset="splits$test")
    assert m.data.tolist() == [[2.0]] and m.meta["object"] == "splits$test"


def test_data_frame_with_columns(tmp_path):
    users = ints([2, 1, 2, 3], levels=strs(["ann", "bob", "cy"]), **{"class": klass("factor")})
    frame = data_frame(
        {
            "user": users,
            "item": real([10.0, 20.0, 10.0, 20.0]),
            "rating": ints([4, 5, 3, -(2**31)]),
            "when": real([1.5, 2.5, 3.5, 4.5]),
        }
    )
    data = rda({"df": frame})
    err = fails(tmp_path, data, "R object 'df' is a data.frame")
    assert err.hint == rd.COLUMNS_HINT
    m = load(tmp_path, data, columns="user,item,rating,when")
    assert m.shape == (3, 2) and m.row_labels.tolist() == ["ann", "bob", "cy"]
    assert m.col_labels.tolist() == [10, 20]
    dense = m.to_dense()
    assert dense[1, 0] == 3.0 and dense[0, 1] == 5.0 and np.isnan(dense[2, 1])
    np.testing.assert_array_equal(m.timestamps, [2.5, 3.5, 4.5])
    by_index = load(tmp_path, data, columns="0,1,2")
    assert by_index.meta["r_class"] == "data.frame" and by_index.timestamps is None
    strings = data_frame({"u": strs(["x", "y", "x"]), "i": ints([1, 1, 2]), "v": real([1, 2, 3])})
    s = load(tmp_path, rds(strings), "s.rds", columns="u,i,v")
    np.testing.assert_array_equal(s.to_dense(), [[1, 3], [2, 0]])


def test_data_frame_duplicates_keep_last_by_default(tmp_path):
    frame = data_frame({"u": ints([1, 1]), "i": ints([1, 1]), "v": real([1.0, 9.0])})
    m = load(tmp_path, rds(frame), "d.rds", columns="u,i,v")
    assert m.to_dense().tolist() == [[9.0]]
    fails(
        tmp_path,
        rds(frame),
        "duplicate entry (1, 1) at row 2",
        "d.rds",
        columns="u,i,v",
        duplicates="error",
    )


# ----------------------------------------------------------------- errors
DF = data_frame(
    {"u": ints([1, 2]), "na": ints([1, -(2**31)]), "i": lst([None, None]), "v": strs(["a", "b"])}
)


@pytest.mark.parametrize(
    "columns, text",
    [
        ("u,i", "--columns must name 3 or 4 columns (user,item,value[,time]), got 'u,i'"),
        ("u,zzz,v", "no column 'zzz' in data.frame 'df'"),
        ("u,u,u,v", "time column 'v' of 'df' is not numeric"),
        ("u,u,v", "R object 'df$v' holds character values, not numbers"),
        ("i,u,u", "id column 'i' of 'df' holds list values"),
        ("na,u,u", "NA in id column 'na' of 'df' at row 2"),
    ],
)
def test_data_frame_errors(tmp_path, columns, text):
    fails(tmp_path, rda({"df": DF}), text, columns=columns)


def test_data_frame_null_column(tmp_path):
    frame = data_frame({"u": ints([1]), "i": ints([1]), "v": real([1.0])})
    frame.value[1] = None
    fails(tmp_path, rds(frame), "column 'i' of data.frame 'df' is NULL", "df.rds", columns="u,i,v")


def test_truncated_stream(tmp_path):
    data = rda({"M": dgc(sample_csc())})
    for cut in (len(data) - 3, len(data) // 2, 30):
        err = fails(tmp_path, data[:cut], "truncated or corrupt R data")
        assert "bytes needed at byte" in err.message and err.hint == rd.CORRUPT_HINT


def test_absurd_lengths_are_refused_before_allocating(tmp_path):
    huge = stream(lambda e: (e.flags(REAL), e.int(2**31 - 1)))
    fails(tmp_path, huge, "17179869176 bytes needed", "h.rds")
    long_vec = stream(lambda e: (e.flags(INT), e.int(-1, 1, 0)))
    fails(tmp_path, long_vec, "truncated or corrupt R data (17179869184 bytes needed", "l.rds")
    seq = RV(ALTREP, ("compact_intseq", real([2.0**40, 1, 1])))
    big = rd.parse(rds(seq)).root  # a declared 2^40 sequence costs nothing until used
    assert len(big.value) == 2**40


@pytest.mark.parametrize(
    "build, text",
    [
        (lambda e: (e.flags(INT), e.int(-5)), "negative vector length -5"),
        (lambda e: (e.flags(STR), e.int(1, CHAR, -3)), "negative string length -3"),
        (lambda e: (e.flags(STR), e.int(1, INT, 0)), "expected a string, found object type 13"),
        (lambda e: (e.flags(99),), "unknown object type 99 at byte"),
        (lambda e: (e.int(7 << 8 | REF),), "reference 7 to 0 known objects"),
        (lambda e: (e.int(1), e.item(ints([1]))), "symbol without a name"),
        (
            lambda e: (e.flags(INT, attrs=True), e.int(0), e.item(ints([1]))),
            "attributes are not a pair-list",
        ),
        (
            lambda e: (e.flags(ALTREP), e.item(ints([1])), e.int(NIL, NIL)),
            "ALTREP object without class",
        ),
        (
            lambda e: e.item(RV(ALTREP, ("compact_intseq", real([3.0])))),
            "compact sequence without (length, start, step)",
        ),
        (
            lambda e: e.item(RV(ALTREP, ("compact_realseq", real([-1.0, 1, 1])))),
            "compact sequence of length -1.0",
        ),
        (
            lambda e: e.item(RV(ALTREP, ("wrap_real", real([1.0])))),
            "ALTREP wrapper without its data",
        ),
        (
            lambda e: e.item(RV(ALTREP, ("wrap_real", pairlist({None: None})))),
            "ALTREP wrapper without its data",
        ),
        (
            lambda e: e.item(RV(ALTREP, ("deferred_string", pairlist({None: strs(["a"])})))),
            "deferred string without its numbers",
        ),
        (
            lambda e: e.item(RV(ALTREP, ("deferred_string", real([1.0])))),
            "deferred string without its numbers",
        ),
    ],
)
def test_corrupt_streams(tmp_path, build, text):
    err = fails(tmp_path, stream(build), text, "c.rds")
    assert err.message.startswith("truncated or corrupt R data (")


def test_unsupported_stream_content(tmp_path):
    fails(
        tmp_path,
        stream(lambda e: e.item(RV(ALTREP, ("mmap_real", real([1.0]))))),
        "R ALTREP class 'mmap_real' is not supported",
        "a.rds",
    )
    err = fails(
        tmp_path,
        stream(lambda e: e.flags(BCODE)),
        "R byte code (a compiled function) in this file is not supported",
        "b.rds",
    )
    assert "remove functions" in err.hint
    nested = None
    for _ in range(rd.MAX_DEPTH + 5):
        nested = lst([nested])
    fails(tmp_path, rds(nested), f"R data nested more than {rd.MAX_DEPTH} levels deep", "n.rds")
    fails(
        tmp_path,
        stream(lambda e: e.item(ints([1])), container=b"RDX3\n"),
        "an .rda file must hold a pair-list of named objects",
    )


@pytest.mark.parametrize(
    "data, text",
    [
        (b"RDA3\nA\n3\n262402\n197888\n5\nUTF-8\n254\n", "R data in ASCII format is not supported"),
        (b"A\n3\n262402\n197888\n5\nUTF-8\n254\n", "R data in ASCII format is not supported"),
        (b"RDX3\nA\n3\n", "R data in ASCII format is not supported"),
        (b"RDX1\nX\n", "R save format RDX1 is not supported"),
        (b"RDX3\nQ\n", "truncated or corrupt R data (unknown serialization format b'Q\\n')"),
        (b"X\n" + struct.pack(">iii", 4, 0, 0), "R serialization version 4 is not supported"),
        (b"X\n" + struct.pack(">iiii", 3, 0, 0, 100), "encoding name of length 100"),
        (b"\x28\xb5\x2f\xfd0000", "zstd-compressed R data is not supported"),
        (b"%%MatrixMarket matrix", "not an R data file (no RDX2/RDX3 or serialization header)"),
        (rd.XZ_MAGIC + b"garbage", "compressed data is corrupt or truncated"),
    ],
)
def test_headers_refused(tmp_path, data, text):
    err = fails(tmp_path, data, text, compress=None)
    assert err.hint


def test_unsupported_versions_hint(tmp_path):
    err = fails(tmp_path, b"X\n" + struct.pack(">iii", 4, 0, 0), "version 4", "v.rds", None)
    assert err.hint == "save it again with a current R"


def test_choice_errors(tmp_path):
    data = rda({"a": r_matrix([[1.0]]), "b": r_matrix([[2.0, 3.0]]), "s": strs(["x"])})
    err = fails(
        tmp_path,
        data,
        "2 matrices in this R file: a (double matrix 1 x 1), b (double matrix 1 x 2)",
    )
    assert err.hint == "name one with --dataset"
    err = fails(tmp_path, data, "no object 'zz' in this R file", dataset="zz")
    assert err.hint.startswith("objects here: a (double matrix 1 x 1), b (")
    err = fails(
        tmp_path,
        rda({"s": strs(["x"]), "n": None}),
        "no matrix in this R file (found: s (character, length 1), n (NULL))",
    )
    assert err.hint == rd.SUPPORTED_HINT
    fails(tmp_path, rda({}), "no matrix in this R file (found: nothing)")
    assert load(tmp_path, data, dataset="b").shape == (1, 2)


def test_unreadable_matrices(tmp_path):
    sym = s4("dsCMatrix", "Matrix", i=ints([0]), p=ints([0, 1]), Dim=ints([1, 1]), x=real([1.0]))
    err = fails(tmp_path, rda({"s": sym}), "R object 's' is a dsCMatrix, which mfcli does not read")
    assert "generalMatrix" in err.hint
    z = RV(CPLX, [1 + 2j, 3j], {"dim": ints([1, 2])})
    fails(tmp_path, rda({"z": z}), "R object 'z' (complex matrix 1 x 2) is not a numeric matrix")
    assert rd.parse(rds(z)).root.value.tolist() == [1 + 2j, 3j]


@pytest.mark.parametrize(
    "slots, text",
    [
        ({"Dim": ints([2, 2, 2])}, "dgCMatrix object 'M' has an invalid Dim slot"),
        ({"x": None}, "dgCMatrix object 'M' has no slot 'x'"),
        ({"i": real([0.0, 1.0])}, "dgCMatrix object 'M': slot i is not an integer vector"),
        ({"p": ints([0, 2, 1])}, "dgCMatrix object 'M': slot p is not a valid pointer array"),
        ({"x": real([1.0])}, "dgCMatrix object 'M': slot lengths differ (2 indices, 1 values)"),
        ({"x": strs(["a", "b"])}, "R object 'M' holds character values, not numbers"),
        ({"i": ints([0, 5])}, "row index 6 out of range 1..2 at entry 2"),
        ({"Dimnames": lst([strs(["a"]), None])}, "dimnames of R object 'M' have 1 names for 2"),
    ],
)
def test_dgcmatrix_validation(tmp_path, slots, text):
    base = {"i": ints([0, 1]), "p": ints([0, 1, 2]), "Dim": ints([2, 2]), "x": real([1.0, 2.0])}
    base.update(slots)
    base = {k: v for k, v in base.items() if v is not None}
    fails(tmp_path, rda({"M": s4("dgCMatrix", "Matrix", **base)}), text)


def test_dense_value_count_mismatch(tmp_path):
    bad = RV(REAL, [1.0, 2.0, 3.0], {"dim": ints([2, 2])})
    fails(tmp_path, rda({"m": bad}), "R matrix 'm' has 3 values for 2 x 2")


def test_errors_get_the_path_through_read_matrix(tmp_path):
    path = write(tmp_path, rds(strs(["x"])), "words.rds")
    with pytest.raises(InputDataError) as info:
        read_matrix(path)
    assert info.value.path == path and "no matrix in this R file" in info.value.message
    m = read_matrix(write(tmp_path, rds(r_matrix([[1.0, 2.0]])), "m.rds"))
    assert m.meta["format"] == "rdata" and m.meta["object"] == "m"


# ----------------------------------------------------------------- corpus
def test_jester5k(corpus):
    path = corpus / "ratings" / "jester5k" / "Jester5k.rda"
    if not path.exists():
        pytest.skip("Jester5k.rda not in the corpus")
    m = rd.read(str(path), ReadOptions())
    assert m.is_sparse and m.shape == (5000, 100) and m.nnz == 363209
    assert m.value_range() == (-9.95, 9.9)
    assert len(np.unique(m.data)) == 404 and np.count_nonzero(m.data == 0) == 1025
    assert m.row_degrees().min() >= 36
    assert m.row_labels[0].startswith("u") and m.col_labels.tolist() == [
        f"j{k}" for k in range(1, 101)
    ]
    assert m.meta["object"] == "Jester5k" and m.meta["r_class"] == "realRatingMatrix"
    assert m.meta["r_version"] == "4.1.0" and m.meta["zeros_restored"] == 1025
    assert m.meta["candidates"] == ["JesterJokes (character, length 100)"]
    # The CSR arrays agree with scipy's conversion of the stored CSC slots.
    slots = rd.parse(gzip.decompress(path.read_bytes())).root.value[0][1].attributes["data"]
    csc = sp.csc_matrix(
        (slots.attributes["x"].value, slots.attributes["i"].value, slots.attributes["p"].value),
        shape=(5000, 100),
    ).tocsr()
    csc.sort_indices()
    np.testing.assert_array_equal(m.indptr, csc.indptr)
    np.testing.assert_array_equal(m.indices, csc.indices)
    tiny = csc.data == np.finfo(np.float64).tiny
    np.testing.assert_array_equal(m.data[~tiny], csc.data[~tiny])
    assert np.all(m.data[tiny] == 0.0)
