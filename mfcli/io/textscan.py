"""Numba tokenizer for delimited numeric text held in memory.

One scanner serves Matrix Market data sections and delimited (CSV-like) files.
The input is the whole decompressed file as ``np.frombuffer(data, np.uint8)``;
nothing is copied. A scan is:

1. split the byte range into chunks that end at newlines and count each
   chunk's newlines (so every chunk knows its first line number);
2. parse the chunks in parallel (on threads: the kernels release the GIL),
   each writing its rows from the index of its first line on (an upper bound
   on its first row), in tiers: plain values first, and from the first line
   that needs it on, the general float parser, then the general code;
3. close the gaps that skipped comment and blank lines left.

The output, and the error reported, are identical to a serial scan: each
chunk stops at its first error and the error kept is the earliest chunk's.

Fields are separated by one byte, by ``::`` or by runs of blanks (space, tab,
CR). CRLF line ends are accepted in every mode. Blank lines and lines whose first
non-blank bytes match a comment prefix are skipped (configurable). A field may
be wrapped in double quotes (no separators or quotes inside). Each field has a
kind: skipped, 64-bit integer, float, token (byte offsets, for string ids) or
ISO date (``YYYY-MM-DD[Thh:mm[:ss[.f]]][Z]``, to Unix seconds).

Floats are parsed like ``strtod``: optional sign, decimal digits with an optional
point, optional exponent, ``inf``/``infinity``/``nan`` in any case. Plain
decimals with up to 15 digits take an exact fast path (one correctly rounded
division); the rest are computed in double-double arithmetic from two 18-digit
mantissa limbs and an exact table of powers of ten, rounded once (subnormals
included): within 1 ulp of ``float()`` by construction, and equal to it on all
of 200,000 random literals tried (the tests compare 20,000). A finite literal
too large for a double (``1E400``) is an error, not ``inf``.
"""

from __future__ import annotations

import math
import re
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction

import numba
import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from mfcli.errors import InputDataError
from mfcli.kernels.lines import BLANK as _BLANK
from mfcli.kernels.lines import line_class as _line_class

# Separator modes (``sep`` >= 0 is a single separator byte).
SEP_BLANKS = -1
SEP_DOUBLE_COLON = -2

# Field kinds.
SKIP = 0
INT = 1
FLOAT = 2
TOKEN = 3
DATE = 4
KIND_NAMES = {SKIP: "skip", INT: "integer", FLOAT: "number", TOKEN: "text", DATE: "date"}

# Error codes, as stored in the per-chunk error record.
ERR_NONE = 0
ERR_NUMBER = 1  # not a number of the expected kind
ERR_FIELDS = 2  # wrong number of fields on the line
ERR_OVERFLOW = 3  # finite literal outside the double / int64 range
ERR_EMPTY = 4  # empty field where a value is needed
ERR_BOUNDS = 5  # integer outside the caller's bounds
ERR_DATE = 6  # not a valid date
ERR_QUOTE = 7  # unterminated quote
# Error record layout: code, line, field, fields found, token start, token end, value.
_E_CODE, _E_LINE, _E_FIELD, _E_FOUND, _E_START, _E_END, _E_VALUE = range(7)
_E_SIZE = 8

# Parallel scans only pay off on large buffers.
PARALLEL_MIN_BYTES = 1 << 21
CHUNK_BYTES = 1 << 22

# ---------------------------------------------------------------- number tables
_P10 = np.array([10.0**k for k in range(23)], dtype=np.float64)
_Q_MIN = -380
_Q_MAX = 310
_LIMB_DIGITS = 18  # digits per mantissa limb: 10**18 < 2**63; two limbs are kept


def _pow10_table():
    """10**q = (hi + lo) * 2**e2 with hi + lo in [1, 2), exact to ~2**-106."""
    n = _Q_MAX - _Q_MIN + 1
    hi = np.empty(n)
    lo = np.empty(n)
    e2 = np.empty(n, dtype=np.int64)
    for k, q in enumerate(range(_Q_MIN, _Q_MAX + 1)):
        if q >= 0:
            num = 10**q
            exp2 = num.bit_length() - 1
            m = Fraction(num, 1 << exp2)
        else:
            den = 10 ** (-q)
            exp2 = -den.bit_length()
            m = Fraction(1 << -exp2, den)
        h = float(m)  # correctly rounded
        hi[k] = h
        lo[k] = float(m - Fraction(h))
        e2[k] = exp2
    return hi, lo, e2


_P10_HI, _P10_LO, _P10_E2 = _pow10_table()


# Compile time (numba compiles the kernels on first use; a cold cache pays it
# all). numba compiles every jitted function a kernel calls as a module of its
# own, once per literal argument value too, and re-optimises it inside each
# caller; ``inline="always"`` instead copies the callee's IR at each call site,
# at a cost that grows with the callee's size. So small helpers are inlined,
# larger ones are called with non-literal arguments, kernels avoid numpy
# calls that are slow to compile (slice assignment, ``.min()``), and chunks
# run on threads instead of in ``prange`` loops (parallel compilation takes
# seconds). Above all, code behind a None argument is left out (numba prunes
# ``if x is None`` branches before typing): the scan kernel compiles in tiers,
# and the general float parser and ``_field_slow`` only when a file needs them.


@njit(cache=True, inline="always")
def _two_prod(a, b):
    """a * b = p + e exactly (Dekker; no FMA so results are reproducible)."""
    p = a * b
    s = 134217729.0  # 2**27 + 1
    t = s * a
    a_hi = t - (t - a)
    a_lo = a - a_hi
    t = s * b
    b_hi = t - (t - b)
    b_lo = b - b_hi
    e = ((a_hi * b_hi - p) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo
    return p, e


@njit(cache=True, inline="always")
def _dd_times_pow10(w, k):
    """w * 10**q as a double-double (p, e) in units of 2**_P10_E2[k] (k = q - _Q_MIN)."""
    w_hi = float(w)
    w_lo = float(w - np.int64(w_hi))  # w < 2**63: exact
    p, e = _two_prod(w_hi, _P10_HI[k])
    e += w_hi * _P10_LO[k] + w_lo * _P10_HI[k]
    return p, e


@njit(cache=True, inline="always")
def _round_scaled(h, lo, e2):
    """(h + lo) * 2**e2 rounded once to a double, subnormal results included."""
    if math.frexp(h)[1] + e2 > -1021:
        return math.ldexp(h + lo, e2)  # a normal result: the scaling is exact
    # subnormal: round to a multiple of 2**-1074 from the unrounded pair
    shift = e2 + 1074
    z = math.ldexp(h, shift)
    ze = math.ldexp(lo, shift)
    zi = math.floor(z)
    frac = (z - zi) + ze
    while frac < 0.0:
        zi -= 1.0
        frac += 1.0
    while frac >= 1.0:
        zi += 1.0
        frac -= 1.0
    if frac > 0.5 or (frac == 0.5 and zi % 2.0 == 1.0):
        zi += 1.0
    return math.ldexp(zi, -1074)


@njit(cache=True, inline="always")
def _to_double(w1, w2, n2, e10, n_sig):
    """w1 * 10**(e10 + n2) + w2 * 10**e10, where w1 holds the first 18 significant
    digits, w2 the next n2 (<= 18), and n_sig counts the digits of both."""
    if w1 == 0:
        return 0.0
    if w2 == 0 and w1 < 9007199254740992:  # 2**53: w1 is exact as a double
        e = e10 + n2
        if 0 <= e <= 22:
            return float(w1) * _P10[e]
        if -22 <= e < 0:
            return float(w1) / _P10[-e]
    top = e10 + n_sig  # the value is below 10**top
    if top > 310:
        return math.inf
    if top < -326:
        return 0.0
    k1 = e10 + n2 - _Q_MIN
    h, lo = _dd_times_pow10(w1, k1)
    if w2 != 0:
        k2 = e10 - _Q_MIN
        p2, e2 = _dd_times_pow10(w2, k2)
        shift = _P10_E2[k2] - _P10_E2[k1]
        p2 = math.ldexp(p2, shift)
        e2 = math.ldexp(e2, shift)
        s = h + p2  # two-sum, then fold in the low parts
        v = s - h
        err = (h - (s - v)) + (p2 - v)
        h = s
        lo = err + lo + e2
    s = h + lo  # renormalise
    lo = lo - (s - h)
    return _round_scaled(s, lo, _P10_E2[k1])


@njit(cache=True, inline="always")
def _match_word(buf, q, end, word):
    """Case-insensitive match of the ASCII ``word`` (lower case) at q."""
    n = len(word)
    if q + n > end:
        return False
    for t in range(n):
        if np.int64(buf[q + t]) | 32 != word[t]:
            return False
    return True


_INF = np.frombuffer(b"inf", dtype=np.uint8).astype(np.int64)
_INFINITY = np.frombuffer(b"infinity", dtype=np.uint8).astype(np.int64)
_NAN = np.frombuffer(b"nan", dtype=np.uint8).astype(np.int64)


@njit(cache=True)
def _parse_float_full(buf, p, end):
    """The general float parser (any digit count, exponent, literals)."""
    q = p
    neg = False
    if q < end and (buf[q] == 43 or buf[q] == 45):
        neg = buf[q] == 45
        q += 1
    if q < end and (np.int64(buf[q]) | 32 == 105 or np.int64(buf[q]) | 32 == 110):
        if _match_word(buf, q, end, _INFINITY):
            return (-math.inf if neg else math.inf), q + 8, 0
        if _match_word(buf, q, end, _INF):
            return (-math.inf if neg else math.inf), q + 3, 0
        if _match_word(buf, q, end, _NAN):
            return math.nan, q + 3, 0
        return 0.0, p, ERR_NUMBER
    # first 18 significant digits in w1, the next 18 in w2, the rest only count
    w1 = np.int64(0)
    w2 = np.int64(0)
    n1 = 0
    n2 = 0
    e10 = 0  # decimal exponent of the last digit kept
    digits = False
    frac = False
    while q < end:
        c = buf[q]
        if c == 46 and not frac:
            frac = True
            q += 1
            continue
        if c < 48 or c > 57:
            break
        digits = True
        d = np.int64(c) - 48
        if n1 == 0 and d == 0:
            if frac:
                e10 -= 1  # a leading zero after the point
        elif n1 < _LIMB_DIGITS:
            w1 = w1 * 10 + d
            n1 += 1
            if frac:
                e10 -= 1
        elif n2 < _LIMB_DIGITS:
            w2 = w2 * 10 + d
            n2 += 1
            if frac:
                e10 -= 1
        elif not frac:
            e10 += 1  # a dropped integer digit still scales the value
        q += 1
    if not digits:
        return 0.0, p, ERR_NUMBER
    if q < end and (buf[q] == 101 or buf[q] == 69):
        r = q + 1
        eneg = False
        if r < end and (buf[r] == 43 or buf[r] == 45):
            eneg = buf[r] == 45
            r += 1
        if r < end and 48 <= buf[r] <= 57:
            x = 0
            while r < end and 48 <= buf[r] <= 57:
                if x < 100000:
                    x = x * 10 + (np.int64(buf[r]) - 48)
                r += 1
            e10 += -x if eneg else x
            q = r
    v = _to_double(w1, w2, n2, e10, n1 + n2)
    if math.isinf(v):
        return 0.0, q, ERR_OVERFLOW
    return (-v if neg else v), q, 0


@njit(cache=True, inline="always")
def _sign(buf, q, end):
    """(negative, position after an optional + or - at q)."""
    if q < end and (buf[q] == 43 or buf[q] == 45):
        return buf[q] == 45, q + 1
    return False, q


# Eight digits at a time (SWAR: one 64-bit word holds eight bytes). A digit
# loop is a chain of multiply-adds, one per digit; the word needs a fixed dozen
# independent operations however many of its bytes are digits.
_LITTLE_ENDIAN = sys.byteorder == "little"
_ASCII_ZEROS = np.uint64(0x3030303030303030)
_HIGH_NIBBLES = np.uint64(0xF0F0F0F0F0F0F0F0)
_SIXES = np.uint64(0x0606060606060606)
_THREES = np.uint64(0x3333333333333333)
_BYTES_0_4 = np.uint64(0x000000FF000000FF)
_MUL_100_1E6 = np.uint64(100 + (1000000 << 32))
_MUL_1_1E4 = np.uint64(1 + (10000 << 32))
_LOW_32 = np.uint64(0xFFFFFFFF)
_P10_INT = np.array([10**k for k in range(9)], dtype=np.int64)


@intrinsic
def _load_word(typingctx, buf, q):
    """buf[q:q + 8] as one native-endian uint64 (any alignment, no bounds check)."""

    def codegen(context, builder, sig, args):
        ary = context.make_array(sig.args[0])(context, builder, args[0])
        at = context.cast(builder, args[1], sig.args[1], types.intp)
        ptr = builder.bitcast(builder.gep(ary.data, [at]), ir.IntType(64).as_pointer())
        return builder.load(ptr, align=1)

    return types.uint64(buf, q), codegen


@intrinsic
def _trailing_zeros(typingctx, x):
    """Count of trailing zero bits of a non-zero uint64."""

    def codegen(context, builder, sig, args):
        return builder.cttz(args[0], ir.Constant(ir.IntType(1), 1))

    return types.uint64(types.uint64), codegen


@njit(cache=True, inline="always")
def _word_digits(x):
    """(value, count) of the leading decimal digits (0 to 8) of the word x,
    whose first byte is its lowest (little-endian)."""
    # A byte is a digit (0x30-0x39) iff its high nibble is 3 and adding 6 keeps
    # it so; a carry out of a byte >= 0xFA only reaches bytes after it.
    y = (x & _HIGH_NIBBLES) | (((x + _SIXES) & _HIGH_NIBBLES) >> np.uint64(4))
    z = y ^ _THREES  # zero exactly in the digit bytes
    n = np.int64(8) if z == 0 else np.int64(_trailing_zeros(z) >> np.uint64(3))
    if n == 0:
        return np.int64(0), n
    # Digits to 0-9 (borrows run only into bytes after the digits), shifted up
    # so the first digit is the top byte, then pairs, quads and the eight.
    v = (x - _ASCII_ZEROS) << np.uint64(8 * (8 - n))
    v = v * np.uint64(10) + (v >> np.uint64(8))
    v = (
        (v & _BYTES_0_4) * _MUL_100_1E6 + ((v >> np.uint64(16)) & _BYTES_0_4) * _MUL_1_1E4
    ) >> np.uint64(32)
    return np.int64(v & _LOW_32), n


@njit(cache=True, inline="always")
def _digit_run_words(buf, q, end, w):
    """:func:`_digit_run` eight bytes at a time while eight remain; for runs of
    many digits (ids, timestamps). Its code is inlined only where those are
    parsed, as it adds compile time to every kernel it is inlined in."""
    if _LITTLE_ENDIAN:
        while q + 8 <= end:
            v, n = _word_digits(_load_word(buf, q))
            if n == 0:
                return w, q
            w = w * _P10_INT[n] + v
            q += n
            if n < 8:
                return w, q
    return _digit_run(buf, q, end, w)


@njit(cache=True, inline="always")
def _digit_run(buf, q, end, w):
    """Append the decimal digits at q to w: (w, position after them); may wrap."""
    while q < end:
        d = np.int64(buf[q]) - 48
        if d < 0 or d > 9:
            break
        w = w * 10 + d
        q += 1
    return w, q


@njit(cache=True, inline="always")
def _plain_int(buf, q, end):
    """An optionally signed integer of 1 to 18 digits at q: (value, stop), or (0, -1)."""
    neg, t = _sign(buf, q, end)
    v, u = _digit_run_words(buf, t, end, np.int64(0))
    if u == t or u - t > 18:
        return np.int64(0), np.int64(-1)
    return (-v if neg else v), u


@njit(cache=True, inline="always")
def _plain_float(buf, q, end):
    """A decimal of at most 15 digits without exponent at q: (value, stop), or
    (0.0, -1). Exact operands and one division: the correctly rounded value."""
    neg, t = _sign(buf, q, end)
    w, u = _digit_run(buf, t, end, np.int64(0))
    n = u - t
    n_frac = 0
    if u < end and buf[u] == 46:
        w, t = _digit_run(buf, u + 1, end, w)
        n_frac = t - u - 1
        n += n_frac
        u = t
    if n == 0 or n > 15 or (u < end and (buf[u] == 101 or buf[u] == 69)):
        return 0.0, np.int64(-1)
    v = float(w) / _P10[n_frac] if n_frac else float(w)
    return (-v if neg else v), u


@njit(cache=True)
def parse_float(buf, p, end):
    """Parse a float starting at ``p`` (stops at the first byte that cannot continue it).

    Returns ``(value, stop, status)``; status 0 ok, ERR_NUMBER when no number
    starts at ``p``, ERR_OVERFLOW when a finite literal exceeds the double range.
    Plain decimals with few digits take an exact fast path; the rest goes to
    the general parser.
    """
    v, r = _plain_float(buf, p, end)
    if r >= 0:
        return v, r, 0
    return _parse_float_full(buf, p, end)


_INT64_MAX_DIGITS = np.frombuffer(b"9223372036854775807", dtype=np.uint8).astype(np.int64)


@njit(cache=True, inline="always")
def _parse_long_int(buf, p, end):
    """``parse_int`` past the fast path: no digits, or more than 18 (exact range check)."""
    neg, s = _sign(buf, p, end)
    q = s
    while q < end and 48 <= buf[q] <= 57:
        q += 1
    if q == s:
        return np.int64(0), p, ERR_NUMBER
    while s < q - 1 and buf[s] == 48:
        s += 1
    n = q - s
    if n > 19:
        return np.int64(0), q, ERR_OVERFLOW
    if n == 19:
        top = _INT64_MAX_DIGITS
        for t in range(19):
            c = np.int64(buf[s + t])
            if c != top[t]:
                if c > top[t]:
                    return np.int64(0), q, ERR_OVERFLOW
                break
    v = np.int64(0)
    for t in range(s, q):
        v = v * 10 + (np.int64(buf[t]) - 48)
    return (-v if neg else v), q, 0


@njit(cache=True)
def parse_int(buf, p, end):
    """Parse an optionally signed decimal int64 at ``p``: ``(value, stop, status)``."""
    v, r = _plain_int(buf, p, end)
    if r >= 0:
        return v, r, 0
    return _parse_long_int(buf, p, end)


@njit(cache=True, inline="always")
def _digits(buf, q, end, n_min, n_max):
    """Up to n_max digits (at least n_min) at q: (value, stop) or (-1, q)."""
    v = 0
    r = q
    while r < end and r - q < n_max and 48 <= buf[r] <= 57:
        v = v * 10 + (np.int64(buf[r]) - 48)
        r += 1
    if r - q < n_min:
        return -1, q
    return v, r


@njit(cache=True, inline="always")
def days_from_civil(y, m, d):
    """Days since 1970-01-01 of a proleptic Gregorian date."""
    y = y - 1 if m <= 2 else y
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    mp = m - 3 if m > 2 else m + 9
    doy = (153 * mp + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


@njit(cache=True)
def parse_date(buf, p, end, space_ok):
    """``YYYY-MM-DD[(T| )hh:mm[:ss[.fff]]][Z]`` -> Unix seconds (fraction dropped).

    A space before the time is accepted only when ``space_ok`` (blanks are not
    the field separator).
    """
    y, q = _digits(buf, p, end, 4, 4)
    if y < 0 or q >= end or buf[q] != 45:
        return np.int64(0), p, ERR_DATE
    mo, q = _digits(buf, q + 1, end, 1, 2)
    if mo < 1 or mo > 12 or q >= end or buf[q] != 45:
        return np.int64(0), p, ERR_DATE
    d, q = _digits(buf, q + 1, end, 1, 2)
    leap = (y % 4 == 0 and y % 100 != 0) or y % 400 == 0
    if mo == 2:
        mdays = 29 if leap else 28
    elif mo == 4 or mo == 6 or mo == 9 or mo == 11:
        mdays = 30
    else:
        mdays = 31
    if d < 1 or d > mdays:
        return np.int64(0), p, ERR_DATE
    secs = np.int64(days_from_civil(y, mo, d)) * 86400
    if q + 1 < end and (buf[q] == 84 or (space_ok and buf[q] == 32)) and 48 <= buf[q + 1] <= 57:
        h, r = _digits(buf, q + 1, end, 1, 2)
        if h > 23 or r >= end or buf[r] != 58:
            return np.int64(0), p, ERR_DATE
        mi, r = _digits(buf, r + 1, end, 2, 2)
        if mi < 0 or mi > 59:
            return np.int64(0), p, ERR_DATE
        s = 0
        if r < end and buf[r] == 58:
            s, r = _digits(buf, r + 1, end, 2, 2)
            if s < 0 or s > 60:
                return np.int64(0), p, ERR_DATE
            if r < end and buf[r] == 46:
                r += 1
                while r < end and 48 <= buf[r] <= 57:
                    r += 1
        secs += h * 3600 + mi * 60 + s
        q = r
    if q < end and buf[q] == 90:  # 'Z'
        q += 1
    return secs, q, 0


# ------------------------------------------------------------------ line logic
@njit(cache=True, inline="always")
def _next_line(buf, p, hi):
    """Position after the next newline at or after p (or hi)."""
    while p < hi and buf[p] != 10:
        p += 1
    return p + 1 if p < hi else hi


@njit(cache=True, nogil=True)
def _count_newlines(words):
    """Newlines in the bytes of ``words`` (uint64), eight at a time: about 10x a
    byte loop. The caller makes the view: ``.view`` in here costs ~10 ms to load
    from the cache, and a loop from an offset defeats vectorisation."""
    ones = np.uint64(0x0101010101010101)
    newline = np.uint64(0x0A0A0A0A0A0A0A0A)
    low7 = np.uint64(0x7F7F7F7F7F7F7F7F)
    k = np.uint64(0)
    for t in range(words.shape[0]):
        x = words[t] ^ newline  # a zero byte where a newline was
        # high bit set exactly in the zero bytes (no carry crosses a byte)
        y = ~(((x & low7) + low7) | x | low7)
        k += ((y >> np.uint64(7)) * ones) >> np.uint64(56)
    return np.int64(k)


def count_newlines(buf: np.ndarray, lo: int, hi: int) -> int:
    """Newlines in buf[lo:hi]: the aligned words by the kernel, the bytes around them here."""
    a = min(hi, lo + (-(buf.ctypes.data + lo) % 8))
    b = max(a, hi - (buf.ctypes.data + hi) % 8)
    n = bytes(buf[lo:a]).count(b"\n") + bytes(buf[b:hi]).count(b"\n")
    return n + int(_count_newlines(buf[a:b].view(np.uint64))) if b > a else n


@njit(cache=True, inline="always")
def _field_end(buf, q, hi, sep):
    """End of an unquoted field starting at q (exclusive, before trailing blanks)."""
    r = q
    if sep == SEP_BLANKS:
        while r < hi and buf[r] != 10 and not _BLANK[buf[r]]:
            r += 1
        return r
    while r < hi and buf[r] != 10:
        c = buf[r]
        if sep >= 0 and c == sep:
            break
        if sep == SEP_DOUBLE_COLON and c == 58 and r + 1 < hi and buf[r + 1] == 58:
            break
        r += 1
    while r > q and (buf[r - 1] == 32 or buf[r - 1] == 9 or buf[r - 1] == 13):
        r -= 1
    return r


@njit(cache=True, inline="always")
def _skip_pad(buf, q, hi, sep):
    """Skip blanks that are padding, not separators."""
    while q < hi and (buf[q] == 32 or buf[q] == 9 or buf[q] == 13):
        if sep == buf[q]:
            break
        q += 1
    return q


@njit(cache=True, inline="always")
def _ends_field(buf, q, hi, sep):
    """True when a field starting at q holds nothing (line end or separator next)."""
    q = _skip_pad(buf, q, hi, sep)
    if q >= hi or buf[q] == 10:
        return True
    if sep == SEP_BLANKS:
        return _BLANK[buf[q]]
    if sep >= 0:
        return buf[q] == sep
    return buf[q] == 58 and q + 1 < hi and buf[q + 1] == 58


@njit(cache=True, inline="always")
def _fail(err, code, line, field, found, start, end, value):
    err[_E_CODE] = code
    err[_E_LINE] = line
    err[_E_FIELD] = field
    err[_E_FOUND] = found
    err[_E_START] = start
    err[_E_END] = end
    err[_E_VALUE] = value


@njit(cache=True, inline="always")
def _put_float(out_f, by_row, slot, row, v):
    """out_f is (fields, rows), or (rows, fields) for a dense table."""
    if by_row:
        out_f[row, slot] = v
    else:
        out_f[slot, row] = v


@njit(cache=True)
def _field_slow(
    buf,
    s,
    r,
    hi,
    line,
    row,
    f,
    sep,
    kind,
    slots,
    lo_b,
    hi_b,
    out_i,
    out_f,
    by_row,
    out_t,
    err,
    dates,
):
    """Field f, which starts at s, in the cases the fast path leaves: padding,
    quotes, text, dates, other numbers and separators, bounds, errors.

    ``r >= 0`` when the fast path has stored the value, which ends at r; then
    only what follows it is checked. ``dates`` is None when no field is a
    date (numba then leaves the date parser out). Returns ``(q, state)``:
    state 0 when the next field starts at q, 1 when the line ends at q (its
    newline or hi), 2 the same after a blank field, -1 after recording an error.
    """
    code = 0  # an error: its code, token buf[a:b] and value
    a = s
    b = s
    value = np.int64(0)
    end_from = np.int64(-1)  # when >= 0 the token ends at the field end from here
    blank = False
    if r < 0:
        q = s if sep == SEP_BLANKS else _skip_pad(buf, s, hi, sep)
        quoted = q < hi and buf[q] == 34
        v = q  # the value is buf[v:e]
        e = hi
        if quoted:
            v = q + 1
            e = v
            while e < hi and buf[e] != 34 and buf[e] != 10:
                e += 1
            if e >= hi or buf[e] != 34:
                code, a, b = ERR_QUOTE, q, e
            elif kind != SKIP and e == v:
                code, a, b = ERR_EMPTY, v, v
        if code == 0 and (kind == SKIP or kind == TOKEN):
            r = e if quoted else _field_end(buf, v, hi, sep)
            blank = r == v and not quoted
            if kind == TOKEN and blank:
                code, a, b = ERR_EMPTY, v, v
            elif kind == TOKEN:
                out_t[2 * slots[f], row] = v
                out_t[2 * slots[f] + 1, row] = r
        elif code == 0:
            fv = 0.0
            iv = np.int64(0)
            st = np.int64(ERR_DATE)  # kind DATE comes with dates
            if kind == INT:
                iv, r, st = parse_int(buf, v, e)
            elif kind == FLOAT:
                fv, r, st = parse_float(buf, v, e)
            elif dates is not None:
                iv, r, st = parse_date(buf, v, e, quoted or sep != SEP_BLANKS)
            if quoted and st == 0 and r != e:
                st = ERR_DATE if kind == DATE else ERR_NUMBER
            if st == 0 and kind != FLOAT and (iv < lo_b[f] or iv > hi_b[f]):
                st = ERR_BOUNDS
            if st == ERR_BOUNDS:
                value = iv
            if st == 0 and kind == FLOAT:
                _put_float(out_f, by_row, slots[f], row, fv)
            elif st == 0:
                out_i[slots[f], row] = iv
            elif quoted:
                code, a, b = st, v, e
            elif st == ERR_NUMBER and _ends_field(buf, v, hi, sep):
                code, a, b = ERR_EMPTY, v, v
            else:
                code, a, end_from = st, v, v
        if quoted and code == 0:
            r = e + 1
    q = r
    state = 0
    if code == 0 and sep == SEP_BLANKS:
        if r < hi and buf[r] != 10 and not _BLANK[buf[r]]:
            code, end_from = ERR_DATE if kind == DATE else ERR_NUMBER, r
        else:
            while q < hi and _BLANK[buf[q]]:
                q += 1
            state = 1 if q >= hi or buf[q] == 10 else 0
    elif code == 0:
        q = _skip_pad(buf, r, hi, sep)
        if q >= hi or buf[q] == 10:
            state = 1
        elif sep >= 0 and buf[q] == sep:
            q += 1
        elif sep == SEP_DOUBLE_COLON and buf[q] == 58 and q + 1 < hi and buf[q + 1] == 58:
            q += 2
        else:  # e.g. "12abc", or text after a closing quote
            code, end_from = ERR_DATE if kind == DATE else ERR_NUMBER, q
    if code != 0:
        if end_from >= 0:
            b = _field_end(buf, end_from, hi, sep)
        _fail(err, code, line, f, 0, a, b, value)
        return q, -1
    if state == 1 and blank:
        state = 2
    return q, state


@njit(cache=True, nogil=True)
def _parse_chunk(
    buf,
    lo,
    hi,
    line0,
    row0,
    sep,
    cmt,
    cmt_len,
    skip_blank,
    nf_expect,
    kinds,
    slots,
    bounded,
    lo_b,
    hi_b,
    out_i,
    out_f,
    by_row,
    out_t,
    err,
    stats,
    numbers,
    full,
    dates,
):
    """Parse the lines of buf[lo:hi] into rows row0, row0 + 1, ...

    Plain values (integers, decimals of up to 15 digits, unquoted text)
    followed by the separator or the line end are handled here without calls:
    the common case, and most of the time. The flags, each None or True, add
    the general float parser (``numbers``), ``_field_slow`` for everything
    else (``full``) and dates. numba leaves out the code behind a None flag,
    so the scan runs in tiers (see ``scan``): with a flag None the scan stops
    at the first line that needs it. ``stats`` gets (rows, comment lines,
    line number and position where the scan stopped, tier needed there).
    """
    n_kinds = kinds.shape[0]
    p = lo
    line = line0
    row = row0
    comments = 0
    need = 2
    while p < hi:
        cls = _line_class(buf, p, hi, cmt, cmt_len)
        if cls == 1 and not skip_blank:
            if full is not None:
                _fail(err, ERR_FIELDS, line, 0, 0, p, p, 0)
            break
        if cls != 0:
            comments += cls == 2
            p = _next_line(buf, p, hi)
            line += 1
            continue
        f = np.int64(0)  # not a literal 0, which would compile _field_slow twice
        q = p
        if sep == SEP_BLANKS:
            while q < hi and _BLANK[buf[q]]:
                q += 1
        state = 0  # 0: field f starts at q; 1, 2: the line ends at q; -1: stop
        while state == 0:
            kind = kinds[f] if f < n_kinds else np.int64(SKIP)
            s = q
            r = np.int64(-1)  # where a value stored here ends
            if kind == INT:
                iv, r = _plain_int(buf, q, hi)
                if r >= 0 and bounded and (iv < lo_b[f] or iv > hi_b[f]):
                    r = -1
                elif r >= 0:
                    out_i[slots[f], row] = iv
            elif kind == FLOAT:
                fv, r = _plain_float(buf, q, hi)
                if r < 0:
                    if numbers is not None:
                        fv, r, st = _parse_float_full(buf, q, hi)
                        if st != 0:
                            r = -1
                if r >= 0:
                    _put_float(out_f, by_row, slots[f], row, fv)
            elif kind == SKIP or kind == TOKEN:
                u = q
                while u < hi:
                    c = buf[u]
                    if c == sep or c == 10 or c == 34 or _BLANK[c]:
                        break
                    if c == 58 and sep == SEP_DOUBLE_COLON:
                        break
                    u += 1
                if u > q and (u >= hi or buf[u] != 34):
                    r = u
                    if kind == TOKEN:
                        out_t[2 * slots[f], row] = q
                        out_t[2 * slots[f] + 1, row] = u
            slow = r < 0
            if r >= hi:
                q = hi
                state = 1
            elif r >= 0:
                c = buf[r]
                if c == sep:
                    q = r + 1
                elif c == 10:
                    q = r
                    state = 1
                elif c == 13 and r + 1 < hi and buf[r + 1] == 10:
                    q = r + 1
                    state = 1
                elif sep == SEP_BLANKS and _BLANK[c]:
                    q = r + 1
                    while q < hi and _BLANK[buf[q]]:
                        q += 1
                    if q >= hi or buf[q] == 10:
                        state = 1
                elif sep == SEP_DOUBLE_COLON and c == 58 and r + 1 < hi and buf[r + 1] == 58:
                    q = r + 2
                else:
                    slow = True
                    if kind == SKIP or kind == TOKEN:
                        r = -1  # the text goes on: the slow path takes it all
            if slow:
                if full is None:  # all numba compiles of this branch without full
                    state = -1
                    # a number the plain parser refused: the general float parser may do
                    c0 = buf[q] if q < hi else 10
                    if kind == FLOAT and r < 0 and not (c0 == 34 or c0 == sep or _BLANK[c0]):
                        need = 1 if numbers is None else 2
                    else:
                        need = 2
                else:
                    q, state = _field_slow(
                        buf,
                        s,
                        r,
                        hi,
                        line,
                        row,
                        f,
                        sep,
                        kind,
                        slots,
                        lo_b,
                        hi_b,
                        out_i,
                        out_f,
                        by_row,
                        out_t,
                        err,
                        dates,
                    )
            f += 1
        if state < 0:
            break
        if state == 2 and f > 1 and f - 1 == nf_expect:
            f -= 1  # "a,b,c," : a trailing separator
        if f != nf_expect:
            if full is not None:
                _fail(err, ERR_FIELDS, line, f, f, p, p, 0)
            break
        p = q + 1 if q < hi else hi
        row += 1
        line += 1
    stats[0] = row - row0
    stats[1] = comments
    stats[2] = line
    stats[3] = p
    stats[4] = need


@njit(cache=True, nogil=True)
def _parse_plain_lines(buf, lo, hi, row0, sep, nf_expect, kinds, slots, out_i, out_f, by_row):
    """The fast tier: lines of plain numbers split by the one-byte ``sep``.

    Each field is an INT (``_plain_int``), a FLOAT (``_plain_float``) or a
    SKIP field without quotes or blanks, and every line starts with a digit or
    a minus sign. The values are exactly those ``_parse_chunk`` gives. Stops
    at the first line that is anything else (a comment, a blank, padding, a
    general float, a field count off ...) and returns ``(rows, position)``,
    so that ``_parse_chunk`` takes over at that line.
    """
    n_kinds = kinds.shape[0]
    p = lo
    row = row0
    while p < hi:
        c = buf[p]
        if not (48 <= c <= 57 or c == 45):
            break
        q = p
        ok = True
        for f in range(nf_expect):
            kind = kinds[f] if f < n_kinds else np.int64(SKIP)
            if kind == INT:
                iv, r = _plain_int(buf, q, hi)
                if r < 0:
                    ok = False
                    break
                out_i[slots[f], row] = iv
            elif kind == FLOAT:
                fv, r = _plain_float(buf, q, hi)
                if r < 0:
                    ok = False
                    break
                _put_float(out_f, by_row, slots[f], row, fv)
            else:
                r = q
                while r < hi:
                    c = buf[r]
                    if c == sep or c == 10 or c == 34 or _BLANK[c]:
                        break
                    r += 1
                if r == q:
                    ok = False
                    break
            c = buf[r] if r < hi else 10
            if f + 1 < nf_expect:
                if c != sep:
                    ok = False
                    break
                q = r + 1
            else:
                if c == 13 and r + 1 < hi:
                    r += 1
                    c = buf[r]
                if c != 10 and r < hi:
                    ok = False
                    break
                q = r + 1
        if not ok:
            break
        p = q if q < hi else hi
        row += 1
    return row - row0, p


@njit(cache=True)
def _locate_row(buf, lo, hi, line0, row, cmt, cmt_len, skip_blank):
    """(line number, byte offset) of data row ``row``, or (-1, -1)."""
    p = lo
    line = line0
    r = 0
    while p < hi:
        cls = _line_class(buf, p, hi, cmt, cmt_len)
        if cls == 0 or (cls == 1 and not skip_blank):
            if r == row:
                return line, p
            r += 1
        p = _next_line(buf, p, hi)
        line += 1
    return -1, -1


# ------------------------------------------------------------- Python interface
@dataclass
class ScanError:
    """The first problem found, with its 1-based line and 0-based field."""

    code: int
    line: int
    field: int
    found: int
    token: str
    value: int
    kind: int
    expected_fields: int
    bounds: tuple[int, int] | None = None

    def message(self, names=None) -> str:
        """What is wrong, in words (``names`` maps a field index to its name)."""
        if self.code == ERR_FIELDS:
            return f"line has {self.found} fields, expected {self.expected_fields}"
        where = self.field_name(names)
        tok = self.token if len(self.token) <= 60 else self.token[:57] + "..."
        if self.code == ERR_EMPTY:
            return f"empty {where}"
        if self.code == ERR_QUOTE:
            return f"unterminated quote in {where}"
        if self.code == ERR_DATE:
            return f"bad date {tok!r} in {where} (expected YYYY-MM-DD[Thh:mm:ss])"
        if self.code == ERR_OVERFLOW:
            if self.kind == INT:
                return f"integer {tok!r} out of range (int64) in {where}"
            return f"value out of range {tok!r} in {where} (it would be inf)"
        if self.code == ERR_BOUNDS:
            if self.bounds is not None:
                return f"{where} {self.value} out of range {self.bounds[0]}..{self.bounds[1]}"
            return f"{where} {self.value} out of range"
        if self.kind == INT and _looks_like_float(self.token):
            return f"expected an integer, got {tok!r} in {where}"
        return f"bad number {tok!r} in {where}"

    def field_name(self, names=None) -> str:
        if names is not None and self.field < len(names) and names[self.field]:
            return str(names[self.field])
        return f"field {self.field + 1}"

    def to_error(self, names=None, hint: str | None = None) -> InputDataError:
        return InputDataError(self.message(names), line=self.line, hint=hint)


def _looks_like_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


@dataclass
class ScanResult:
    """Parsed columns. ``column(f)`` gives field ``f``'s values (1-D, contiguous
    unless ``float_layout='rows'``); ``tokens(f)`` its (starts, ends)."""

    n_rows: int
    n_lines: int
    n_comments: int
    ints: np.ndarray
    floats: np.ndarray
    toks: np.ndarray
    kinds: np.ndarray
    slots: np.ndarray
    error: ScanError | None
    float_layout: str

    def column(self, field: int) -> np.ndarray:
        kind = int(self.kinds[field])
        slot = int(self.slots[field])
        if kind in (INT, DATE):
            return self.ints[slot]
        if kind == FLOAT:
            return self.floats[slot] if self.float_layout == "columns" else self.floats[:, slot]
        raise ValueError(f"field {field} holds no numbers")

    def tokens(self, field: int) -> tuple[np.ndarray, np.ndarray]:
        slot = int(self.slots[field])
        return self.toks[2 * slot], self.toks[2 * slot + 1]


@dataclass(frozen=True)
class Dialect:
    """How lines and fields look.

    sep : one separator character, ``"::"``, or None for runs of blanks
    comments : line prefixes that mark comment lines (after leading blanks)
    skip_blank : skip lines holding only blanks
    """

    sep: str | None = None
    comments: tuple[str, ...] = ()
    skip_blank: bool = True

    def sep_code(self) -> int:
        if self.sep is None:
            return SEP_BLANKS
        if self.sep == "::":
            return SEP_DOUBLE_COLON
        raw = self.sep.encode()
        if len(raw) != 1:
            raise ValueError(f"separator must be one byte or '::', got {self.sep!r}")
        return raw[0]

    def comment_table(self) -> tuple[np.ndarray, np.ndarray]:
        prefixes = [c.encode() for c in self.comments]
        width = max((len(c) for c in prefixes), default=1)
        table = np.zeros((len(prefixes), width), dtype=np.uint8)
        lengths = np.zeros(len(prefixes), dtype=np.int64)
        for k, c in enumerate(prefixes):
            table[k, : len(c)] = np.frombuffer(c, dtype=np.uint8)
            lengths[k] = len(c)
        return table, lengths


def as_buffer(data) -> np.ndarray:
    """A read-only uint8 view of ``data`` (bytes, bytearray, memoryview or array).

    Always read-only, so that the kernels are compiled for one buffer type.
    """
    if isinstance(data, np.ndarray):
        view = data.view(np.uint8).reshape(-1).view()
    else:
        view = np.frombuffer(data, dtype=np.uint8)
    view.flags.writeable = False
    return view


def chunk_bounds(buf: np.ndarray, start: int, end: int, n_chunks: int | None = None) -> np.ndarray:
    """Offsets splitting buf[start:end] into chunks that end just after a newline."""
    size = end - start
    if n_chunks is None:
        if size < PARALLEL_MIN_BYTES or numba.get_num_threads() < 2:
            n_chunks = 1
        else:
            n_chunks = max(2, min(8 * numba.get_num_threads(), size // CHUNK_BYTES))
    cuts = [start]
    raw = memoryview(buf)
    for k in range(1, n_chunks):
        pos = start + size * k // n_chunks
        if pos <= cuts[-1]:
            continue
        nl = _find_newline(raw, pos, end)
        if nl < 0:
            break
        if nl + 1 < end and nl + 1 > cuts[-1]:
            cuts.append(nl + 1)
    cuts.append(end)
    return np.asarray(cuts, dtype=np.int64)


def _find_newline(raw: memoryview, pos: int, end: int) -> int:
    step = 1 << 16
    while pos < end:
        piece = bytes(raw[pos : min(end, pos + step)])
        k = piece.find(b"\n")
        if k >= 0:
            return pos + k
        pos += step
    return -1


def _on_threads(task, n: int) -> None:
    """Run ``task(k)`` for k in range(n) on up to ``numba.get_num_threads()`` threads.

    The kernels release the GIL, so plain threads run them in parallel.
    """
    workers = min(n, numba.get_num_threads())
    if workers < 2:
        for k in range(n):
            task(k)
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for _ in pool.map(task, range(n)):
            pass


_GENERAL_FLOAT = re.compile(rb"[eE]|[0-9.]{17}")  # an exponent, or 16+ digits


def _first_tier(buf, start: int, end: int, kinds: np.ndarray, n_fields: int, dialect) -> int:
    """The tier to start at, guessed from the first 16 KiB of data.

    A file whose first lines need a later tier should not compile the earlier
    ones first; the results do not depend on the guess.
    """
    if DATE in kinds:
        return 2
    prefixes = tuple(c.encode() for c in dialect.comments)
    lines = bytes(buf[start : min(end, start + 16384)]).split(b"\n")
    sample = b"\n".join(ln for ln in lines if not (prefixes and ln.lstrip().startswith(prefixes)))
    if b'"' in sample:
        return 2
    numeric = len(kinds) >= n_fields and all(k in (INT, FLOAT) for k in kinds.tolist())
    if numeric and FLOAT in kinds and _GENERAL_FLOAT.search(sample):
        return 1  # in numbers only, a letter e is an exponent
    return 0


def scan(
    data,
    kinds,
    *,
    dialect: Dialect,
    n_fields: int,
    start: int = 0,
    end: int | None = None,
    first_line: int = 1,
    bounds=None,
    float_layout: str = "columns",
    n_chunks: int | None = None,
    release=None,
) -> ScanResult:
    """Parse every data line of ``data[start:end]`` into numeric columns.

    Parameters
    ----------
    data : bytes or uint8 array, the whole file (not copied)
    kinds : per field index, one of SKIP, INT, FLOAT, TOKEN, DATE; fields past
        the end of ``kinds`` are skipped
    dialect : separator, comment prefixes, blank-line policy
    n_fields : exact number of fields every data line must have
    start, end : byte range to scan; ``first_line`` is the line number at ``start``
    bounds : optional per-field ``(lo, hi)`` for INT fields (inclusive)
    float_layout : ``"columns"`` gives floats shaped (n_float_fields, n_rows);
        ``"rows"`` gives (n_rows, n_float_fields), C-ordered (a dense table)
    n_chunks : force the number of chunks (tests); default by size and threads
    release : optional ``release(lo, hi)``, called when the bytes ``[lo, hi)``
        have been read by a pass (e.g. to hand a mapped file's pages back)

    Returns
    -------
    ScanResult; its ``error`` is the first problem in file order, or None.
    """
    buf = as_buffer(data)
    end = buf.shape[0] if end is None else end
    kinds = np.asarray(kinds, dtype=np.int64)
    slots = np.zeros(kinds.shape[0], dtype=np.int64)
    counts = {}
    for f, k in enumerate(kinds):
        group = INT if k == DATE else int(k)
        slots[f] = counts.get(group, 0)
        counts[group] = slots[f] + 1
    lo_b = np.full(kinds.shape[0], np.iinfo(np.int64).min, dtype=np.int64)
    hi_b = np.full(kinds.shape[0], np.iinfo(np.int64).max, dtype=np.int64)
    for f, lim in enumerate(bounds or ()):
        if lim is not None:
            lo_b[f], hi_b[f] = lim
    cmt, cmt_len = dialect.comment_table()
    sep = dialect.sep_code()
    cuts = chunk_bounds(buf, start, end, n_chunks)
    n_chunks = cuts.shape[0] - 1
    newlines = np.empty(n_chunks, dtype=np.int64)

    def count(c):
        newlines[c] = count_newlines(buf, cuts[c], cuts[c + 1])
        if release is not None:
            release(cuts[c], cuts[c + 1])

    _on_threads(count, n_chunks)
    lines = newlines.copy()
    if end > start and buf[end - 1] != 10:
        lines[-1] += 1  # last line without a newline
    line0s = first_line + np.concatenate(([0], np.cumsum(newlines[:-1]))).astype(np.int64)
    # Each chunk writes its rows from the index of its first line on (an upper
    # bound); gaps left by comment and blank lines are closed afterwards.
    row0s = np.concatenate(([0], np.cumsum(lines[:-1]))).astype(np.int64)
    cap = int(lines.sum())
    out_i = np.empty((counts.get(INT, 0), cap), dtype=np.int64)
    out_t = np.empty((2 * counts.get(TOKEN, 0), cap), dtype=np.int64)
    if float_layout == "rows":
        floats = np.empty((cap, counts.get(FLOAT, 0)), dtype=np.float64)
    else:
        floats = np.empty((counts.get(FLOAT, 0), cap), dtype=np.float64)
    errs = np.zeros((n_chunks, _E_SIZE), dtype=np.int64)
    stats = np.zeros((n_chunks, 5), dtype=np.int64)
    bounded = bool(bounds) and any(lim is not None for lim in bounds)
    skip_blank = bool(dialect.skip_blank)
    by_row = float_layout == "rows"
    dates = True if DATE in kinds else None
    # (numbers, full, dates) flags per tier: plain values, + general floats, all
    tiers = ((None, None, None), (True, None, None), (True, True, dates))
    first_tier = _first_tier(buf, start, end, kinds, n_fields, dialect)
    # the fast tier: one-byte separator, numbers and skipped fields only
    plain = sep >= 0 and not bounded and all(k in (SKIP, INT, FLOAT) for k in kinds.tolist())

    def parse(c):
        lo, hi, line0, row0 = cuts[c], cuts[c + 1], line0s[c], row0s[c]
        done = np.zeros(2, dtype=np.int64)
        if plain:
            n, lo = _parse_plain_lines(
                buf, lo, hi, row0, sep, n_fields, kinds, slots, out_i, floats, by_row
            )
            done[0] = n
            line0, row0 = line0 + n, row0 + n
            if lo >= hi:  # all plain: _parse_chunk is not even loaded (milliseconds)
                stats[c, :4] = n, 0, line0, hi
                if release is not None:
                    release(cuts[c], cuts[c + 1])
                return
        tier = first_tier
        while True:
            _parse_chunk(
                buf,
                lo,
                hi,
                line0,
                row0,
                sep,
                cmt,
                cmt_len,
                skip_blank,
                n_fields,
                kinds,
                slots,
                bounded,
                lo_b,
                hi_b,
                out_i,
                floats,
                by_row,
                out_t,
                errs[c],
                stats[c],
                *tiers[tier],
            )
            stats[c, :2] += done
            if stats[c, 3] >= hi or errs[c, _E_CODE]:
                break
            # stopped at a line that a later tier handles: go on from there
            done = stats[c, :2].copy()
            lo, line0, row0 = stats[c, 3], stats[c, 2], row0s[c] + stats[c, 0]
            tier = max(tier + 1, int(stats[c, 4]))
        if release is not None:
            release(cuts[c], cuts[c + 1])

    _on_threads(parse, n_chunks)
    n_rows = int(stats[:, 0].sum())
    if n_rows < cap:
        _close_gaps(row0s, stats[:, 0], out_i, out_t, floats, float_layout)
        out_i = out_i[:, :n_rows]
        out_t = out_t[:, :n_rows]
        floats = floats[:n_rows] if float_layout == "rows" else floats[:, :n_rows]
    error = None
    failed = np.flatnonzero(errs[:, _E_CODE])
    if failed.size:
        e = errs[failed[0]]
        f = int(e[_E_FIELD])
        token = bytes(buf[e[_E_START] : e[_E_END]]).decode("utf-8", errors="replace")
        error = ScanError(
            code=int(e[_E_CODE]),
            line=int(e[_E_LINE]),
            field=f,
            found=int(e[_E_FOUND]),
            token=token,
            value=int(e[_E_VALUE]),
            kind=int(kinds[f]) if f < kinds.shape[0] else SKIP,
            expected_fields=n_fields,
            bounds=(int(lo_b[f]), int(hi_b[f])) if f < kinds.shape[0] else None,
        )
    return ScanResult(
        n_rows=n_rows,
        n_lines=cap,
        n_comments=int(stats[:, 1].sum()),
        ints=out_i,
        floats=floats,
        toks=out_t,
        kinds=kinds,
        slots=slots,
        error=error,
        float_layout=float_layout,
    )


def _close_gaps(row0s, rows, out_i, out_t, floats, float_layout) -> None:
    """Move each chunk's rows down so that they follow the previous chunk's."""
    dst = 0
    for src, n in zip(row0s.tolist(), rows.tolist(), strict=True):
        if src != dst and n:
            out_i[:, dst : dst + n] = out_i[:, src : src + n]
            out_t[:, dst : dst + n] = out_t[:, src : src + n]
            if float_layout == "rows":
                floats[dst : dst + n] = floats[src : src + n]
            else:
                floats[:, dst : dst + n] = floats[:, src : src + n]
        dst += n


def locate_row(
    data, row: int, *, dialect: Dialect, start: int = 0, first_line: int = 1
) -> tuple[int, str]:
    """The 1-based line number and text of data row ``row`` (0-based), for messages."""
    buf = as_buffer(data)
    cmt, cmt_len = dialect.comment_table()
    line, pos = _locate_row(
        buf, start, buf.shape[0], first_line, row, cmt, cmt_len, dialect.skip_blank
    )
    if line < 0:
        return -1, ""
    end = pos
    while end < buf.shape[0] and buf[end] != 10 and end - pos < 200:
        end += 1
    return int(line), bytes(buf[pos:end]).decode("utf-8", errors="replace").strip()


# ------------------------------------------------------- ids to 0-based codes
@njit(cache=True)
def _mark(a, base, seen):
    """Number the distinct values of a in ascending order: seen[v - base] gets
    the code of v, or -1 (seen starts zeroed); returns the number of codes."""
    for t in range(a.shape[0]):
        seen[a[t] - base] = 1
    n = 0
    for v in range(seen.shape[0]):
        if seen[v]:
            seen[v] = n
            n += 1
        else:
            seen[v] = -1
    return n


@njit(cache=True, nogil=True)
def _relabel(a, base, table):
    for t in range(a.shape[0]):
        a[t] = table[a[t] - base]


@njit(cache=True)
def _mark_relabel(a, base, table):
    """``_mark`` then ``_relabel`` of ``a`` in place: one kernel to load, not two."""
    n = _mark(a, base, table)
    _relabel(a, base, table)
    return n


def _relabel_parts(n: int) -> int:
    """Parts of at least 1M for ``_relabel_all``."""
    return max(1, min(numba.get_num_threads(), n >> 20))


def _relabel_all(codes: np.ndarray, base: int, table: np.ndarray) -> None:
    """codes[:] = table[codes - base] in place, in parts of at least 1M on threads."""
    n = codes.shape[0]
    parts = _relabel_parts(n)
    cuts = [n * k // parts for k in range(parts + 1)]
    _on_threads(lambda k: _relabel(codes[cuts[k] : cuts[k + 1]], base, table), parts)


def _code_table(n: int) -> np.ndarray:
    """An empty code table for n codes (int32 while it fits: one kernel type, less memory)."""
    return np.empty(n, dtype=np.int32 if n < (1 << 31) else np.int64)


def factorize_ints(ids: np.ndarray, *, in_place: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Map integer ids to 0-based codes in ascending id order.

    Returns ``(codes, uniques)`` with ``uniques[codes] == ids``. A direct lookup
    table is used when the id range is not much larger than the data; otherwise
    a sort. ``in_place`` overwrites ``ids`` with the codes (saves memory).
    """
    ids = np.ascontiguousarray(ids, dtype=np.int64)
    if ids.size == 0:
        return ids.copy(), ids.copy()
    lo = int(ids.min())
    span = int(ids.max()) - lo + 1
    if span <= max(ids.size, 1 << 22) and span < (1 << 31):
        table = np.zeros(span, dtype=np.int32)  # allocated here: cheaper to compile
        codes = ids if in_place else ids.copy()
        if _relabel_parts(codes.shape[0]) == 1:
            _mark_relabel(codes, lo, table)
        else:
            _mark(codes, lo, table)
            _relabel_all(codes, lo, table)
        uniques = np.flatnonzero(table >= 0).astype(np.int64) + lo
        return codes, uniques
    uniques, inverse = np.unique(ids, return_inverse=True)
    codes = inverse.astype(np.int64).reshape(-1)
    if in_place:
        ids[:] = codes
        codes = ids
    return codes, uniques


@njit(cache=True, inline="always")
def _token_key(buf, s, e):
    """(hash, first 8 bytes, next 8 bytes) of buf[s:e], little-endian packed."""
    h = np.uint64(14695981039346656037) ^ np.uint64(e - s)
    k0 = np.uint64(0)
    k1 = np.uint64(0)
    for t in range(s, e):
        c = np.uint64(buf[t])
        h = (h ^ c) * np.uint64(1099511628211)
        j = t - s
        if j < 8:
            k0 |= c << np.uint64(8 * j)
        elif j < 16:
            k1 |= c << np.uint64(8 * (j - 8))
    return h, k0, k1


@njit(cache=True, inline="always")
def _same_bytes(buf, s1, e1, s2, e2):
    if e1 - s1 != e2 - s2:
        return False
    for t in range(e1 - s1):
        if buf[s1 + t] != buf[s2 + t]:
            return False
    return True


@njit(cache=True)
def _factorize_tokens(buf, starts, ends):
    """First-appearance codes for byte tokens (open addressing, linear probing).

    A slot holds (unique + 1 | length << 40, hash, first 16 bytes): tokens up to
    16 bytes are compared without touching the text again, and one cache line
    holds two slots.
    """
    n = starts.shape[0]
    cap = 1024
    table = np.zeros((cap, 4), dtype=np.uint64)  # row 0 == empty
    first = np.empty(64, dtype=np.int64)
    n_uniq = 0
    codes = np.empty(n, dtype=np.int64)
    for t in range(n):
        s = starts[t]
        e = ends[t]
        h, k0, k1 = _token_key(buf, s, e)
        tag = np.uint64(e - s) << np.uint64(40)
        slot = np.int64(h & np.uint64(cap - 1))
        while True:
            w = table[slot, 0]
            if w == 0:
                if n_uniq == first.shape[0]:
                    grown = np.empty(2 * first.shape[0], dtype=np.int64)
                    for u in range(n_uniq):  # a loop: slice assignment compiles for seconds
                        grown[u] = first[u]
                    first = grown
                first[n_uniq] = t
                table[slot, 0] = tag | np.uint64(n_uniq + 1)
                table[slot, 1] = h
                table[slot, 2] = k0
                table[slot, 3] = k1
                codes[t] = n_uniq
                n_uniq += 1
                break
            if (
                table[slot, 1] == h
                and (w >> np.uint64(40)) == np.uint64(e - s)
                and table[slot, 2] == k0
                and table[slot, 3] == k1
            ):
                u = np.int64(w & np.uint64((1 << 40) - 1)) - 1
                f = first[u]
                if e - s <= 16 or _same_bytes(buf, starts[f], ends[f], s, e):
                    codes[t] = u
                    break
            slot = (slot + 1) & (cap - 1)
        if 2 * n_uniq > cap:  # grow at half load: rehash from the stored hashes
            old = table
            cap *= 4
            table = np.zeros((cap, 4), dtype=np.uint64)
            for o in range(old.shape[0]):
                if old[o, 0] != 0:
                    slot = np.int64(old[o, 1] & np.uint64(cap - 1))
                    while table[slot, 0] != 0:
                        slot = (slot + 1) & (cap - 1)
                    for c in range(4):
                        table[slot, c] = old[o, c]
    return codes, first[:n_uniq].copy()


@njit(cache=True)
def _gather_bytes(buf, starts, ends, out):
    for t in range(starts.shape[0]):
        s = starts[t]
        for k in range(ends[t] - s):
            out[t, k] = buf[s + k]


def _token_bytes(buf, starts, ends) -> np.ndarray:
    """The tokens as fixed-width byte strings (NUL-padded)."""
    width = max(1, int((ends - starts).max()))
    out = np.zeros((starts.shape[0], width), dtype=np.uint8)
    _gather_bytes(buf, starts, ends, out)
    return out.view(f"S{width}").reshape(-1)


def _offsets(a) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.int64)


def token_strings(data, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The tokens as a unicode array (UTF-8, invalid bytes replaced)."""
    buf = as_buffer(data)
    starts, ends = _offsets(starts), _offsets(ends)
    if starts.size == 0:
        return np.array([], dtype="U1")
    raw = _token_bytes(buf, starts, ends)
    return np.char.decode(raw, "utf-8", errors="replace")


def factorize_tokens(data, starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Map string ids to 0-based codes in ascending (byte-wise) order.

    Returns ``(codes, labels)`` with ``labels[codes]`` the original strings.
    """
    buf = as_buffer(data)
    starts, ends = _offsets(starts), _offsets(ends)
    codes, first = _factorize_tokens(buf, starts, ends)
    if first.size == 0:
        return codes, np.array([], dtype="U1")
    raw = _token_bytes(buf, starts[first], ends[first])
    order = np.argsort(raw, kind="stable")
    rank = _code_table(order.size)
    rank[order] = np.arange(order.size)
    _relabel_all(codes, 0, rank)
    return codes, np.char.decode(raw[order], "utf-8", errors="replace")
