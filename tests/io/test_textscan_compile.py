"""What the tokenizer compiles on a cold numba cache (first use costs seconds per kernel).

The scan kernel compiles in tiers: plain files must not compile the general
code, and no kernel may be compiled twice for one input type (numba
specialises on literal arguments, array layouts and read-only flags). The
compile checks run in a subprocess with an empty cache.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from mfcli.io import textscan as ts

SCRIPT = textwrap.dedent(
    """
    import json
    from numba.core.registry import CPUDispatcher
    from mfcli.io import textscan as ts

    def compiled():
        return {
            name: [str(sig) for sig in obj.signatures]
            for name, obj in vars(ts).items()
            if isinstance(obj, CPUDispatcher) and obj.signatures
        }

    comma = ts.Dialect(sep=",", comments=("#",))
    out = {}
    data = b"1,2,3.5\\n# a note\\n4,5,6\\n"
    result = ts.scan(data, [ts.INT, ts.INT, ts.FLOAT], dialect=comma, n_fields=3)
    assert result.error is None
    ts.factorize_ints(result.column(0))
    data = b"ab,x\\ncd,y\\nab,z\\n"
    result = ts.scan(data, [ts.TOKEN, ts.TOKEN], dialect=comma, n_fields=2)
    ts.factorize_tokens(data, *result.tokens(0))
    ts.token_strings(data, *result.tokens(1))
    out["plain"] = compiled()
    # a quoted field, an exponent and an error: the general code
    data = b'1,2,3\\n"4",5,6e1\\n7,8,x\\n'
    result = ts.scan(data, [ts.INT, ts.INT, ts.FLOAT], dialect=comma, n_fields=3)
    assert result.error.line == 3
    out["general"] = compiled()
    print(json.dumps(out))
    """
)


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path_factory.mktemp("numba_cache")))
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(proc.stdout.splitlines()[-1])


@pytest.mark.slow
def test_plain_files_compile_only_the_plain_kernels(compiled):
    plain = compiled["plain"]
    assert set(plain) == {
        "_count_newlines",
        "_parse_plain_lines",
        "_parse_chunk",
        "_mark",
        "_mark_relabel",
        "_relabel",
        "_factorize_tokens",
        "_gather_bytes",
    }
    assert all(len(sigs) == 1 for sigs in plain.values()), plain


@pytest.mark.slow
def test_general_code_compiles_once_when_needed(compiled):
    general = compiled["general"]
    assert len(general["_parse_chunk"]) == 2  # plain, then all (a quote needs it)
    for name in ("_field_slow", "_parse_float_full", "parse_int", "parse_float"):
        assert len(general[name]) == 1, (name, general[name])
    assert "parse_date" not in general  # no date fields


@pytest.mark.slow
def test_no_literal_or_layout_specialisations(compiled):
    for name, sigs in compiled["general"].items():
        for sig in sigs:
            assert "Literal" not in sig, (name, sig)
            assert "'A'" not in sig, (name, sig)


@pytest.mark.parametrize("chunks", [1, 3, 8])
def test_later_tiers_take_over_mid_chunk(chunks):
    """Plain lines first (the guess is the plain tier), then lines that need the
    general float parser and the general code, in every chunk."""
    rng = np.random.default_rng(11)
    n = 20000
    rows = rng.integers(-(10**6), 10**6, n)
    cols = rng.integers(0, 50, n)
    milli = rng.integers(-(10**7), 10**7, n)
    lines = []
    for k in range(n):
        value = f"{milli[k] / 1000:.3f}"
        if k > 5000 and k % 997 == 0:
            value = f"{milli[k]}e-3"  # general float parser
        if k > 6000 and k % 1499 == 0:
            lines.append(f'"{rows[k]}", {cols[k]} ,{value}')  # quotes, padding: the general code
        else:
            lines.append(f"{rows[k]},{cols[k]},{value}")
        if k % 2003 == 0:
            lines.append("# note")
    data = ("\n".join(lines) + "\n").encode()
    dialect = ts.Dialect(sep=",", comments=("#",))
    result = ts.scan(data, [ts.INT, ts.INT, ts.FLOAT], dialect=dialect, n_fields=3, n_chunks=chunks)
    assert result.error is None
    assert result.n_rows == n and result.n_comments == len(lines) - n
    assert result.column(0).tolist() == rows.tolist()
    assert result.column(1).tolist() == cols.tolist()
    assert result.column(2).tolist() == (milli / 1000).tolist()


def _lines_for_fast_tier(rng, n: int) -> bytes:
    """Plain lines with the things that stop the fast tier mixed in."""
    out = []
    for k in range(n):
        u, i = rng.integers(-50, 10**6), rng.integers(0, 10**12)
        v = f"{rng.integers(-(10**6), 10**6) / 100:.{rng.integers(0, 3)}f}"
        line = f"{u},{i},{v},x{k}"
        roll = rng.random()
        if roll < 0.01:
            line = f" {u},{i},{v},x{k}"  # padding
        elif roll < 0.02:
            line = f"{u},{i},{v}e0,x{k}"  # a general float
        elif roll < 0.03:
            out.append("# note")
        elif roll < 0.04:
            line += "\r"  # CRLF
        out.append(line)
    return "\n".join(out).encode()  # the last line has no newline


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("chunks", [1, 4])
def test_fast_tier_equals_the_general_scan(seed, chunks):
    """Bounds turn the fast tier off: both scans must give the same rows."""
    data = _lines_for_fast_tier(np.random.default_rng(seed), 3000)
    dialect = ts.Dialect(sep=",", comments=("#",))
    kinds = [ts.INT, ts.INT, ts.FLOAT, ts.SKIP]
    fast = ts.scan(data, kinds, dialect=dialect, n_fields=4, n_chunks=chunks)
    wide = (-(2**62), 2**62)
    general = ts.scan(
        data, kinds, dialect=dialect, n_fields=4, n_chunks=chunks, bounds=[wide, wide, None, None]
    )
    assert fast.error is None and general.error is None
    assert fast.n_rows == general.n_rows == data.count(b",x")
    assert fast.n_comments == general.n_comments
    np.testing.assert_array_equal(fast.ints, general.ints)
    np.testing.assert_array_equal(fast.floats, general.floats)


def test_fast_tier_stops_at_a_bad_line_with_its_number():
    data = b"1,2,3\n4,5,6\n7,8\n9,10,11\n"
    result = ts.scan(data, [ts.INT] * 3, dialect=ts.Dialect(sep=","), n_fields=3)
    assert result.error is not None and result.error.line == 3
    assert result.error.code == ts.ERR_FIELDS
