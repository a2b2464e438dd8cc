"""The shared numba tokenizer: numbers, dialects, errors with lines, parallel == serial."""

from __future__ import annotations

import datetime
import math

import numpy as np
import pytest

from mfcli.errors import InputDataError
from mfcli.io import textscan as ts

COMMA = ts.Dialect(sep=",", comments=("#", "//", "%"))
BLANKS = ts.Dialect(sep=None, comments=("%",))


def scan(text, kinds, dialect=COMMA, n_fields=None, **kw):
    data = text.encode() if isinstance(text, str) else text
    return ts.scan(data, kinds, dialect=dialect, n_fields=n_fields or len(kinds), **kw)


def floats_of(tokens, chunks=None):
    result = scan("\n".join(tokens) + "\n", [ts.FLOAT], n_chunks=chunks)
    assert result.error is None, result.error
    return result.column(0)


def ulps(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance in units in the last place (same sign, finite)."""
    ia = a.view(np.int64)
    ib = b.view(np.int64)
    return np.abs(ia - ib)


# ------------------------------------------------------------------ numbers
def _random_float_strings(rng, n):
    out = []
    for _ in range(n):
        form = rng.integers(0, 6)
        sign = rng.choice(["", "-", "+"])
        digits = "".join(rng.choice(list("0123456789"), size=rng.integers(1, 25)))
        if form == 0:  # plain decimal
            k = rng.integers(0, len(digits) + 1)
            out.append(f"{sign}{digits[:k]}.{digits[k:]}" if k else f"{sign}0.{digits}")
        elif form == 1:  # with exponent
            out.append(f"{sign}{digits[0]}.{digits[1:]}e{rng.integers(-330, 308)}")
        elif form == 2:  # integer literal
            out.append(f"{sign}{digits}")
        elif form == 3:  # repr of a random double
            x = rng.standard_normal() * 10.0 ** rng.integers(-300, 300)
            out.append(repr(float(x)))
        elif form == 4:  # near the subnormal range
            out.append(f"{sign}{digits[:17]}E-{rng.integers(300, 325)}")
        else:
            out.append(f"{sign}.{digits}E{rng.integers(-20, 20)}")
    return out


def test_floats_match_python_within_one_ulp():
    rng = np.random.default_rng(7)
    tokens = _random_float_strings(rng, 20000)
    got = floats_of(tokens)
    want = np.array([float(t) for t in tokens])
    assert np.array_equal(np.signbit(got), np.signbit(want))
    finite = np.isfinite(want)
    assert np.isfinite(got[finite]).all()
    assert ulps(np.abs(got), np.abs(want)).max() <= 1
    # nearly all are correctly rounded, not just within 1 ulp
    assert np.mean(got == want) > 0.9999


def test_float_fast_path_is_exact():
    tokens = ["3.5", "0.1", "-2.25", "4.0", "1234567.890123", "0.000001", "5", "-0", "007.50"]
    got = floats_of(tokens)
    assert got.tolist() == [float(t) for t in tokens]
    assert math.copysign(1.0, got[7]) == -1.0


@pytest.mark.parametrize(
    "text, expected",
    [
        ("inf", math.inf),
        ("+Inf", math.inf),
        ("-infinity", -math.inf),
        ("INFINITY", math.inf),
        (".5", 0.5),
        ("5.", 5.0),
        ("1e5", 1e5),
        ("1E+05", 1e5),
        ("2.5e-3", 2.5e-3),
        ("1.7976931348623157e308", 1.7976931348623157e308),
        ("4.9e-324", 5e-324),
        ("1e-400", 0.0),
        ("123456789012345678901234567890", 1.2345678901234568e29),
        ("0.000000000000000000000000000001", 1e-30),
    ],
)
def test_float_literals(text, expected):
    assert floats_of([text])[0] == expected


def test_nan_literal():
    got = floats_of(["nan", "NaN", "-nan"])
    assert np.isnan(got).all()


@pytest.mark.parametrize("text", ["1e400", "-1E9999", "1E310"])
def test_float_overflow_is_an_error(text):
    err = scan(f"1\n{text}\n", [ts.FLOAT]).error
    assert err.code == ts.ERR_OVERFLOW and err.line == 2
    assert err.message() == f"value out of range {text!r} in field 1 (it would be inf)"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("0", 0),
        ("+5", 5),
        ("-7", -7),
        ("9223372036854775807", 2**63 - 1),
        ("-9223372036854775807", -(2**63) + 1),
        ("0000000000000000000000042", 42),
        ("123456789012345678", 123456789012345678),
    ],
)
def test_integers(text, expected):
    result = scan(f"{text},1\n", [ts.INT, ts.INT])
    assert result.error is None
    assert result.column(0)[0] == expected


@pytest.mark.parametrize("text", ["9223372036854775808", "99999999999999999999"])
def test_integer_overflow(text):
    err = scan(f"1,1\n{text},1\n", [ts.INT, ts.INT]).error
    assert (err.code, err.line, err.field) == (ts.ERR_OVERFLOW, 2, 0)
    assert err.message() == f"integer {text!r} out of range (int64) in field 1"


def test_integer_field_refuses_a_float():
    err = scan("1,2\n3,4.5\n", [ts.INT, ts.INT]).error
    assert (err.code, err.line, err.field) == (ts.ERR_NUMBER, 2, 1)
    assert err.message() == "expected an integer, got '4.5' in field 2"


# ----------------------------------------------------------------- dialects
@pytest.mark.parametrize(
    "sep, text",
    [
        (",", "1,2,3.5\n4,5,6\n"),
        ("\t", "1\t2\t3.5\n4\t5\t6\n"),
        (";", "1;2;3.5\n4;5;6\n"),
        ("|", "1|2|3.5\n4|5|6\n"),
        ("::", "1::2::3.5\n4::5::6\n"),
        (None, "1 2 3.5\n  4\t 5   6  \n"),
        (",", "1, 2 ,3.5\r\n4 ,5, 6\r\n"),
        (",", '"1","2","3.5"\n4,"5",6'),
        (",", "1,2,3.5,\n4,5,6,\n"),
        (None, "1 2 3.5\r\n4 5 6\r\n"),
    ],
)
def test_separators(sep, text):
    result = scan(text, [ts.INT, ts.INT, ts.FLOAT], dialect=ts.Dialect(sep=sep))
    assert result.error is None, result.error
    assert result.n_rows == 2
    assert result.column(0).tolist() == [1, 4]
    assert result.column(1).tolist() == [2, 5]
    assert result.column(2).tolist() == [3.5, 6.0]


def test_comments_blank_lines_and_line_numbers():
    text = "# head\n\n1,2\n// more\n   \n% pct\n3,4\n\n5,x\n"
    result = scan(text, [ts.INT, ts.INT])
    assert result.error.line == 9
    result = scan(text.replace("x", "6"), [ts.INT, ts.INT])
    assert result.error is None
    assert result.column(1).tolist() == [2, 4, 6]
    assert result.n_comments == 3
    assert result.n_lines == 9


def test_blank_lines_can_be_refused():
    result = scan("1,2\n\n3,4\n", [ts.INT, ts.INT], dialect=ts.Dialect(sep=",", skip_blank=False))
    assert (result.error.code, result.error.line) == (ts.ERR_FIELDS, 2)
    assert result.error.message() == "line has 0 fields, expected 2"


def test_last_line_without_newline_and_start_offset():
    data = b"junk header\n1 2\n3 4"
    result = ts.scan(data, [ts.INT, ts.INT], dialect=BLANKS, n_fields=2, start=12, first_line=2)
    assert result.column(1).tolist() == [2, 4]
    assert result.n_lines == 2


def test_skip_and_token_fields():
    data = b"alice,x,1.5,zz\nbob,y,2,zz\n"
    result = ts.scan(data, [ts.TOKEN, ts.SKIP, ts.FLOAT], dialect=COMMA, n_fields=4)
    starts, ends = result.tokens(0)
    assert [data[s:e] for s, e in zip(starts, ends, strict=True)] == [b"alice", b"bob"]
    assert result.column(2).tolist() == [1.5, 2.0]


def test_rows_layout_for_dense_tables():
    result = scan("1,2,3\n4,5,6\n", [ts.FLOAT] * 3, float_layout="rows")
    assert result.floats.flags.c_contiguous
    assert result.floats.tolist() == [[1, 2, 3], [4, 5, 6]]
    assert result.column(1).tolist() == [2, 5]


# ------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    "text, line, message",
    [
        ("1,2,3\n4,5\n", 2, "line has 2 fields, expected 3"),
        ("1,2,3\n4,5,6,7\n", 2, "line has 4 fields, expected 3"),
        ("1,2,3\n4,,6\n", 2, "empty field 2"),
        ("1,2,3\n4,5,\n", 2, "empty field 3"),
        ("1,2,3\n4,5,6x\n", 2, "bad number '6x' in field 3"),
        ("1,2,3\n4,abc,6\n", 2, "bad number 'abc' in field 2"),
        ('1,2,3\n4,"5,6\n', 2, "unterminated quote in field 2"),
        ("1,2,3\n1,2,1e999\n", 2, "value out of range '1e999' in field 3 (it would be inf)"),
    ],
)
def test_error_messages(text, line, message):
    err = scan(text, [ts.INT, ts.INT, ts.FLOAT]).error
    assert err.line == line
    assert err.message() == message
    exc = err.to_error()
    assert isinstance(exc, InputDataError) and exc.exit_code == 65 and exc.line == line


def test_error_uses_field_names():
    err = scan("1,2,3\n4,5,x\n", [ts.INT, ts.INT, ts.FLOAT]).error
    assert err.message(["user", "item", "rating"]) == "bad number 'x' in rating"


def test_bounds():
    result = scan("1 1\n3 9\n", [ts.INT, ts.INT], dialect=BLANKS, bounds=[(1, 3), (1, 4)])
    err = result.error
    assert (err.code, err.line, err.value) == (ts.ERR_BOUNDS, 2, 9)
    assert err.message(["row", "column"]) == "column 9 out of range 1..4"


def test_locate_row():
    data = b"% c\n1 2\n\n% c\n3 4\n5 6\n"
    assert ts.locate_row(data, 1, dialect=BLANKS) == (5, "3 4")
    assert ts.locate_row(data, 2, dialect=BLANKS) == (6, "5 6")
    assert ts.locate_row(data, 7, dialect=BLANKS) == (-1, "")


# -------------------------------------------------------------------- dates
def test_dates_to_unix_seconds():
    text = "2000-07-12\n1970-01-01T00:00:01Z\n2013-11-28 10:20:30\n1969-12-31T23:59:59.5\n"
    result = scan(text, [ts.DATE], dialect=ts.Dialect(sep=","))
    want = [
        datetime.datetime(2000, 7, 12, tzinfo=datetime.timezone.utc).timestamp(),
        1,
        datetime.datetime(2013, 11, 28, 10, 20, 30, tzinfo=datetime.timezone.utc).timestamp(),
        -1,
    ]
    assert result.column(0).tolist() == [int(w) for w in want]


@pytest.mark.parametrize("text", ["2001-02-29", "2000-13-01", "2000-01-01T25:00", "20-01-01"])
def test_bad_dates(text):
    err = scan(f"2000-01-01\n{text}\n", [ts.DATE]).error
    assert (err.code, err.line) == (ts.ERR_DATE, 2)
    assert err.message().startswith("bad date")


def test_days_from_civil_matches_datetime():
    epoch = datetime.date(1970, 1, 1)
    for day in (datetime.date(1, 1, 1), datetime.date(1600, 2, 29), datetime.date(2400, 12, 31)):
        assert ts.days_from_civil(day.year, day.month, day.day) == (day - epoch).days


# --------------------------------------------------------------- factorize
def test_factorize_ints_table_and_sort_paths():
    ids = np.array([30, 10, 20, 10, -5])
    codes, uniques = ts.factorize_ints(ids)
    assert uniques.tolist() == [-5, 10, 20, 30]
    assert codes.tolist() == [3, 1, 2, 1, 0]
    wide = np.array([2**60, 7, 2**60, -(2**61)])
    codes, uniques = ts.factorize_ints(wide, in_place=True)
    assert uniques.tolist() == [-(2**61), 7, 2**60]
    assert codes is wide and wide.tolist() == [2, 1, 2, 0]


def test_factorize_tokens_sorted_labels():
    words = ["pear", "apple", "fig", "apple", "é", "pear", "Fig"] * 50
    words += [f"w{i}" for i in range(3000)]  # forces the hash table to grow
    data = "\n".join(words).encode()
    result = ts.scan(data, [ts.TOKEN], dialect=ts.Dialect(sep=","), n_fields=1)
    codes, labels = ts.factorize_tokens(data, *result.tokens(0))
    assert labels.tolist() == sorted(set(words), key=lambda w: w.encode())
    assert labels[codes].tolist() == words
    strings = ts.token_strings(data, *result.tokens(0))
    assert strings.tolist() == words


def test_factorize_long_tokens_sharing_a_prefix():
    words = ["abcdefghijklmnopX", "abcdefghijklmnopY", "abcdefghijklmnopX", "abcdefghijklmnop"]
    data = "\n".join(words).encode()
    result = ts.scan(data, [ts.TOKEN], dialect=ts.Dialect(sep=","), n_fields=1)
    codes, labels = ts.factorize_tokens(data, *result.tokens(0))
    assert labels.tolist() == ["abcdefghijklmnop", "abcdefghijklmnopX", "abcdefghijklmnopY"]
    assert codes.tolist() == [1, 2, 1, 0]


# ------------------------------------------------------- parallel == serial
def _big_text(n_lines: int, seed: int = 3) -> str:
    rng = np.random.default_rng(seed)
    lines = []
    for i in range(n_lines):
        if i % 997 == 5:
            lines.append("# a comment")
        if i % 1499 == 7:
            lines.append("")
        lines.append(f"{rng.integers(0, 10**6)},{rng.integers(-50, 50)},{rng.random() * 10:.6g}")
    return "\n".join(lines) + "\n"


def test_count_newlines_at_any_offset_and_alignment():
    rng = np.random.default_rng(5)
    for _ in range(500):
        n = int(rng.integers(0, 80))
        raw = rng.choice(np.frombuffer(b"\n,1", np.uint8), n).tobytes()
        pad = int(rng.integers(0, 8))  # the buffer itself starts off a word boundary
        buf = ts.as_buffer(np.frombuffer(b"x" * pad + raw, np.uint8)[pad:])
        lo = int(rng.integers(0, n + 1))
        hi = int(rng.integers(lo, n + 1))
        assert ts.count_newlines(buf, lo, hi) == raw[lo:hi].count(b"\n")


def test_parallel_scan_equals_serial():
    text = _big_text(60000)
    serial = scan(text, [ts.INT, ts.INT, ts.FLOAT], n_chunks=1)
    for chunks in (2, 7, 33):
        par = scan(text, [ts.INT, ts.INT, ts.FLOAT], n_chunks=chunks)
        assert par.error is None
        assert par.n_rows == serial.n_rows == 60000
        assert np.array_equal(par.ints, serial.ints)
        assert np.array_equal(par.floats, serial.floats)
        assert par.n_comments == serial.n_comments


def test_parallel_scan_reports_the_first_error():
    lines = _big_text(40000).split("\n")
    for k in (39000, 20000, 30123):
        lines[k] = "1,2,oops"
    text = "\n".join(lines)
    first = min(39000, 20000, 30123) + 1
    for chunks in (1, 4, 16):
        err = scan(text, [ts.INT, ts.INT, ts.FLOAT], n_chunks=chunks).error
        assert err.line == first and err.token == "oops"


def test_chunk_bounds_end_at_newlines():
    data = _big_text(5000).encode()
    buf = ts.as_buffer(data)
    cuts = ts.chunk_bounds(buf, 0, len(data), 9)
    assert cuts[0] == 0 and cuts[-1] == len(data)
    assert all(data[c - 1 : c] == b"\n" for c in cuts[1:-1])


# ------------------------------------------------------------ digit runs
def naive_digit_run(data: bytes, q: int, end: int, w: int) -> tuple[int, int]:
    while q < end and 48 <= data[q] <= 57:
        w = w * 10 + data[q] - 48
        q += 1
    return (w + 2**63) % 2**64 - 2**63, q  # int64 wrap-around, as the kernel's


@pytest.mark.parametrize("seed", range(4))
def test_digit_run_matches_a_digit_loop(seed):
    """Eight bytes at a time must read what a byte loop reads: every run length,
    any alignment, the end of the range inside a word, and the bytes around the
    digits ('/', ':', 0x00, 0xFA-0xFF carry when six is added)."""
    rng = np.random.default_rng(seed)
    stops = b"/:\x00\xfa\xff,.\ne\r \x2f\x3a\xf0"
    for _ in range(3000):
        digits = bytes(rng.integers(48, 58, rng.integers(0, 25)).tolist())
        pad = bytes(rng.integers(0, 256, rng.integers(0, 9)).tolist())
        tail = bytes([stops[rng.integers(0, len(stops))]]) + bytes(
            rng.integers(0, 256, rng.integers(0, 12)).tolist()
        )
        data = pad + digits + tail
        q = len(pad)
        end = int(rng.integers(q, len(data) + 1))
        w0 = int(rng.integers(0, 1000))
        buf = np.frombuffer(data, dtype=np.uint8)
        got = ts._digit_run_words(buf, q, end, np.int64(w0))
        assert (int(got[0]), int(got[1])) == naive_digit_run(data, q, end, w0), (data, q, end)
