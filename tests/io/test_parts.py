"""Partitioned inputs (mfcli.io.parts): a directory or glob of parts reads as one file."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import os

import numpy as np
import pytest

from mfcli.errors import InputDataError, InputMissingError
from mfcli.io import ReadOptions, read_matrix
from mfcli.io.parts import input_digest, is_partitioned, list_parts, read_partitioned

ARRAYS = ("indptr", "indices", "data", "timestamps", "row_labels", "col_labels")


def assert_same(a, b):
    assert a.shape == b.shape
    for name in ARRAYS:
        x, y = getattr(a, name), getattr(b, name)
        if x is None or y is None:
            assert x is None and y is None, name
            continue
        assert x.dtype == y.dtype, name
        np.testing.assert_array_equal(x, y, err_msg=name)
    for key in ("duplicates_merged", "duplicate_policy", "entries_read", "layout", "sep"):
        assert a.meta.get(key) == b.meta.get(key), key


def split_file(
    text: str, folder, n_parts: int, *, header: bool, seed=0, suffix=".csv", opener=open
):
    """Cut the data lines at random line boundaries into ``n_parts`` files."""
    lines = text.splitlines(keepends=True)
    head, body = (lines[:1], lines[1:]) if header else ([], lines)
    rng = np.random.default_rng(seed)
    cuts = sorted(rng.choice(np.arange(1, len(body)), n_parts - 1, replace=False).tolist())
    os.makedirs(folder, exist_ok=True)
    for k, (a, b) in enumerate(zip([0, *cuts], [*cuts, len(body)], strict=True)):
        with opener(os.path.join(folder, f"part-{k:05d}{suffix}"), "wt") as fh:
            fh.write("".join(head + body[a:b]))
    return str(folder)


def ratings(n=400, seed=1, *, sep=",", users="int", items="int", time=False, header=True):
    rng = np.random.default_rng(seed)
    names = ["user", "item", "rating"] + (["time"] if time else [])
    out = [sep.join(names)] if header else []
    words = ["a", "b", "cc", "é", "z9", "Zed", "10", "9", "éa"]
    for _ in range(n):
        u = int(rng.integers(0, 70))
        u = f"u{u}" if users == "str" else str(u * 7 - 20)  # negative ids too
        i = words[int(rng.integers(len(words)))] if items == "str" else str(rng.integers(0, 50))
        row = [u, i, f"{rng.random() * 5:.3f}"]
        if time:
            row.append(str(int(rng.integers(10**9, 2 * 10**9))))
        out.append(sep.join(row))
    return "\n".join(out) + "\n"


# ------------------------------------------------------------------- CSV equality
@pytest.mark.parametrize("n_parts", [1, 3, 7])
@pytest.mark.parametrize("header", [True, False])
@pytest.mark.parametrize("ids", [("int", "int"), ("str", "str"), ("int", "str")])
def test_csv_parts_equal_the_whole_file(tmp_path, n_parts, header, ids):
    text = ratings(users=ids[0], items=ids[1], header=header, time=True)
    whole = tmp_path / "whole.csv"
    whole.write_text(text)
    folder = split_file(text, tmp_path / "parts", n_parts, header=header, seed=n_parts)
    a, b = read_matrix(str(whole)), read_matrix(folder)
    assert_same(a, b)
    assert b.meta["parts"] == n_parts and b.meta["duplicates_merged"] > 0
    assert b.timestamps is not None


@pytest.mark.parametrize("sep", ["\t", ";", "|", "::", " "])
def test_separators(tmp_path, sep):
    text = ratings(sep=sep, header=False, items="str")
    (tmp_path / "whole.txt").write_text(text)
    folder = split_file(text, tmp_path / "p", 4, header=False, suffix=".txt")
    assert_same(read_matrix(str(tmp_path / "whole.txt")), read_matrix(folder))


def test_split_position_does_not_change_the_ids(tmp_path):
    """Ids sort as in one file (ints numerically, strings by code point), however split."""
    text = ratings(items="str", n=300)
    (tmp_path / "w.csv").write_text(text)
    ref = read_matrix(str(tmp_path / "w.csv"))
    assert list(ref.col_labels) == sorted(ref.col_labels)
    assert list(ref.row_labels) == sorted(ref.row_labels) and ref.row_labels.dtype == np.int64
    for seed in range(5):
        folder = split_file(text, tmp_path / f"s{seed}", 5, header=True, seed=seed)
        assert_same(ref, read_matrix(folder))


def test_a_part_with_only_integer_ids_among_string_parts(tmp_path):
    """One file reads the column as strings when any id is not an integer: so do the parts."""
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "a.csv").write_text("user,item,rating\n10,5,1\n9,007,2\n")
    (tmp_path / "p" / "b.csv").write_text("user,item,rating\nx,5,3\n10,+5,4\n")
    (tmp_path / "w.csv").write_text("user,item,rating\n10,5,1\n9,007,2\nx,5,3\n10,+5,4\n")
    a, b = read_matrix(str(tmp_path / "w.csv")), read_matrix(str(tmp_path / "p"))
    assert_same(a, b)
    assert list(b.row_labels) == ["10", "9", "x"] and list(b.col_labels) == [5, 7]


def test_integer_and_float_times_across_parts(tmp_path):
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "a.csv").write_text("u,i,r,time\n1,2,3,100\n2,2,3,200\n")
    (tmp_path / "p" / "b.csv").write_text("u,i,r,time\n1,3,3,150.5\n")
    (tmp_path / "w.csv").write_text("u,i,r,time\n1,2,3,100\n2,2,3,200\n1,3,3,150.5\n")
    assert_same(read_matrix(str(tmp_path / "w.csv")), read_matrix(str(tmp_path / "p")))


def test_iso_dates_as_times(tmp_path):
    rows = [f"{u},{i},2021-0{1 + (u + i) % 9}-1{u % 10}" for u in range(6) for i in range(5)]
    text = "user,item,date\n" + "\n".join(rows) + "\n"
    (tmp_path / "w.csv").write_text(text)
    folder = split_file(text, tmp_path / "p", 3, header=True)
    a, b = read_matrix(str(tmp_path / "w.csv")), read_matrix(folder)
    assert_same(a, b)
    assert b.timestamps is not None


@pytest.mark.parametrize("opener,suffix", [(gzip.open, ".csv.gz"), (bz2.open, ".csv.bz2")])
def test_compressed_parts(tmp_path, opener, suffix):
    text = ratings(time=True)
    (tmp_path / "w.csv").write_text(text)
    folder = split_file(text, tmp_path / "p", 3, header=True, suffix=suffix, opener=opener)
    assert_same(read_matrix(str(tmp_path / "w.csv")), read_matrix(folder))


@pytest.mark.parametrize("policy", [None, "sum", "last"])
def test_duplicates_across_parts(tmp_path, policy):
    text = "u,i,r,t\n1,1,1.5,10\n2,1,1,11\n1,1,2.25,12\n1,2,1,13\n1,1,4,9\n"
    (tmp_path / "w.csv").write_text(text)
    folder = split_file(text, tmp_path / "p", 3, header=True, seed=2)
    opts = ReadOptions(duplicates=policy)
    a, b = read_matrix(str(tmp_path / "w.csv"), opts), read_matrix(folder, opts)
    assert_same(a, b)
    expected = {None: 4.0, "last": 4.0, "sum": 7.75}[policy]
    assert b.to_dense()[0, 0] == expected


def test_duplicates_across_parts_without_values_are_counted(tmp_path):
    text = "user,item\n1,1\n2,1\n1,1\n1,1\n"
    (tmp_path / "w.csv").write_text(text)
    folder = split_file(text, tmp_path / "p", 3, header=True, seed=1)
    a, b = read_matrix(str(tmp_path / "w.csv")), read_matrix(folder)
    assert_same(a, b)
    assert b.to_dense()[0, 0] == 3 and b.meta["duplicate_policy"] == "sum"


def test_duplicate_error_names_the_part_and_line(tmp_path):
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "a.csv").write_text("u,i,r\n1,1,1\n2,2,2\n")
    (tmp_path / "p" / "b.csv").write_text("u,i,r\n3,3,3\n\n2,2,5\n")
    with pytest.raises(InputDataError) as err:
        read_matrix(str(tmp_path / "p"), ReadOptions(duplicates="error"))
    assert err.value.exit_code == 65
    assert err.value.path == str(tmp_path / "p" / "b.csv") and err.value.line == 4
    assert "duplicate entry (2, 2) at line 4" in err.value.message


def test_empty_parts_add_nothing(tmp_path):
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "part-0.csv").write_text("")
    (tmp_path / "p" / "part-1.csv").write_text("u,i,r\n1,2,3\n")
    (tmp_path / "p" / "part-2.csv").write_text("u,i,r\n")  # a lone header
    (tmp_path / "p" / "part-3.csv").write_text("u,i,r\n2,1,4\n")
    (tmp_path / "w.csv").write_text("u,i,r\n1,2,3\n2,1,4\n")
    assert_same(read_matrix(str(tmp_path / "w.csv")), read_matrix(str(tmp_path / "p")))


def test_dense_csv_parts_stack_rows(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.random((9, 6)).round(3)
    lines = [",".join(map(str, r)) for r in x]
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "a.csv").write_text("\n".join(lines[:4]) + "\n")
    (tmp_path / "p" / "b.csv").write_text("\n".join(lines[4:]) + "\n")
    m = read_matrix(str(tmp_path / "p"))
    assert not m.is_sparse and m.meta["parts"] == 2
    np.testing.assert_array_equal(m.data, x)


# ------------------------------------------------------------------- Matrix Market
def _mtx(path, size, entries, field="real", symmetry="general"):
    body = "".join(f"{r} {c}\n" if field == "pattern" else f"{r} {c} {v}\n" for r, c, v in entries)
    path.write_text(
        f"%%MatrixMarket matrix coordinate {field} {symmetry}\n% a comment\n"
        f"{size[0]} {size[1]} {len(entries)}\n{body}"
    )


def test_mtx_parts_shape_is_the_largest_size_line(tmp_path):
    d = tmp_path / "m"
    d.mkdir()
    _mtx(d / "p0.mtx", (3, 4), [(1, 1, 1.0), (3, 4, 2.0), (2, 2, 0.5)])
    _mtx(d / "p1.mtx", (5, 2), [(5, 1, 3.0), (1, 1, 4.0)])
    _mtx(d / "p2.mtx", (2, 2), [(1, 2, 7)], field="integer")
    m = read_matrix(str(d))
    assert m.shape == (5, 4) and m.meta["format"] == "mtx" and m.meta["parts"] == 3
    dense = np.zeros((5, 4))
    dense[0, 0], dense[2, 3], dense[1, 1], dense[4, 0], dense[0, 1] = 5.0, 2.0, 0.5, 3.0, 7
    np.testing.assert_array_equal(m.to_dense(), dense)
    last = read_matrix(str(d), ReadOptions(duplicates="last"))
    assert last.to_dense()[0, 0] == 4.0
    with pytest.raises(InputDataError) as err:
        read_matrix(str(d), ReadOptions(duplicates="error"))
    assert err.value.path == str(d / "p1.mtx") and err.value.line == 5


def test_mtx_parts_symmetric_and_pattern(tmp_path):
    d = tmp_path / "m"
    d.mkdir()
    _mtx(d / "a.mtx", (3, 3), [(2, 1, 1.5), (3, 3, 2.0)], symmetry="symmetric")
    _mtx(d / "b.mtx", (3, 3), [(1, 3, None)], field="pattern")
    m = read_matrix(str(d))
    expected = np.array([[0, 1.5, 1], [1.5, 0, 0], [0, 0, 2.0]])
    np.testing.assert_array_equal(m.to_dense(), expected)


def test_mtx_part_entry_outside_its_size_line(tmp_path):
    d = tmp_path / "m"
    d.mkdir()
    _mtx(d / "a.mtx", (5, 5), [(5, 5, 1.0)])
    _mtx(d / "b.mtx", (2, 2), [(3, 1, 1.0)])
    with pytest.raises(InputDataError) as err:
        read_matrix(str(d))
    assert err.value.path == str(d / "b.mtx") and err.value.exit_code == 65


def test_mtx_array_parts_are_refused(tmp_path):
    d = tmp_path / "m"
    d.mkdir()
    (d / "a.mtx").write_text("%%MatrixMarket matrix array real general\n2 1\n1\n2\n")
    with pytest.raises(InputDataError, match="array .dense. Matrix Market parts") as err:
        read_matrix(str(d))
    assert err.value.path == str(d / "a.mtx")


# ------------------------------------------------------------------- listing
def test_directory_skips_junk(tmp_path):
    d = tmp_path / "spark"
    d.mkdir()
    (d / "part-00000.csv").write_text("u,i,r\n1,2,3\n")
    (d / "part-00001.csv.gz").write_bytes(gzip.compress(b"u,i,r\n2,2,4\n"))
    for junk in (
        "_SUCCESS",
        ".part-00000.csv.crc",
        "._part.csv",
        "README.txt",
        "manifest.json",
        "MANIFEST.csv",
        "_committed_123",
        "barcodes.tsv",
        "notes.md",
        "model.h5",
    ):
        (d / junk).write_text("junk\n")
    (d / "sub.csv").mkdir()
    assert [os.path.basename(p) for p in list_parts(str(d))] == [
        "part-00000.csv",
        "part-00001.csv.gz",
    ]
    assert read_matrix(str(d)).nnz == 2


def test_glob(tmp_path):
    text = ratings()
    (tmp_path / "w.csv").write_text(text)
    split_file(text, tmp_path / "p", 4, header=True)
    (tmp_path / "p" / "other.tsv").write_text("not,a,part\n")
    spec = str(tmp_path / "p" / "part-*.csv")
    assert is_partitioned(spec) and len(list_parts(spec)) == 4
    assert_same(read_matrix(str(tmp_path / "w.csv")), read_matrix(spec))
    assert read_partitioned(spec).meta["path"] == spec


def test_is_partitioned(tmp_path):
    f = tmp_path / "a[1].csv"
    f.write_text("1,2\n")
    assert is_partitioned(str(tmp_path))
    assert not is_partitioned(str(f))  # an existing file with glob characters
    assert is_partitioned(str(tmp_path / "*.csv"))
    assert not is_partitioned(str(tmp_path / "nope.csv")) and not is_partitioned("-")


# ------------------------------------------------------------------- errors
def test_empty_directory_is_missing_input(tmp_path):
    (tmp_path / "e").mkdir()
    (tmp_path / "e" / "_SUCCESS").write_text("")
    with pytest.raises(InputMissingError) as err:
        read_matrix(str(tmp_path / "e"))
    assert err.value.exit_code == 66 and err.value.path == str(tmp_path / "e")
    assert "no part files" in err.value.message


def test_glob_matching_nothing(tmp_path):
    spec = str(tmp_path / "x-*.csv")
    with pytest.raises(InputMissingError, match="no file matches") as err:
        read_matrix(spec)
    assert err.value.exit_code == 66 and err.value.path == spec


def test_mixed_formats(tmp_path):
    d = tmp_path / "mix"
    d.mkdir()
    (d / "a.csv").write_text("1,2,3\n")
    _mtx(d / "b.mtx", (2, 2), [(1, 1, 1.0)])
    with pytest.raises(InputDataError, match="parts of different formats") as err:
        list_parts(str(d))
    assert err.value.exit_code == 65
    with pytest.raises(InputDataError) as err:
        read_matrix(str(d))
    assert err.value.path == str(d)


def test_hdf5_parts_are_refused(tmp_path):
    (tmp_path / "a.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    with pytest.raises(InputDataError, match="must be CSV or Matrix Market") as err:
        read_matrix(str(tmp_path / "*.h5"))
    assert err.value.exit_code == 65


def test_parts_with_different_columns(tmp_path):
    d = tmp_path / "p"
    d.mkdir()
    (d / "a.csv").write_text("u,i,r\n1,2,3\n")
    (d / "b.csv").write_text("u,i,r,t\n1,2,3,4\n")
    with pytest.raises(InputDataError, match="this part has 4 columns") as err:
        read_matrix(str(d))
    assert err.value.path == str(d / "b.csv") and err.value.exit_code == 65


def test_bad_value_names_the_part_and_line(tmp_path):
    d = tmp_path / "p"
    d.mkdir()
    (d / "a.csv").write_text("u,i,r\n1,2,3\n")
    (d / "b.csv").write_text("u,i,r\n1,2,3\n4,5,oops\n")
    with pytest.raises(InputDataError) as err:
        read_matrix(str(d))
    assert err.value.path == str(d / "b.csv") and err.value.line == 3


def test_all_parts_empty(tmp_path):
    d = tmp_path / "p"
    d.mkdir()
    (d / "a.csv").write_text("")
    (d / "b.csv").write_text("# only a comment\n")
    with pytest.raises(InputDataError, match="no data lines in any part") as err:
        read_matrix(str(d))
    assert err.value.path == str(d)


def test_cli_errors_exit_codes(tmp_path):
    from tests.cli.helpers import invoke

    (tmp_path / "e").mkdir()
    result = invoke("info", str(tmp_path / "e"))
    assert result.exit_code == 66
    assert result.stderr.startswith(f"error: {tmp_path / 'e'}: no part files")
    d = tmp_path / "d"
    d.mkdir()
    (d / "a.csv").write_text("u,i,r\n1,2,3\n")
    (d / "b.csv").write_text("u,i,r\n2,1,3\n")
    result = invoke("info", str(d), "--json")
    assert result.exit_code == 0, result.output
    assert '"parts": 2' in result.stdout


# ------------------------------------------------------------------- digest
def test_input_digest_rule(tmp_path):
    d = tmp_path / "p"
    split_file(ratings(), d, 3, header=True)
    parts = list_parts(str(d))
    h = hashlib.sha256(b"mfcli-parts-v1\n")
    for p in parts:
        sha = hashlib.sha256(open(p, "rb").read()).hexdigest()
        h.update(f"{os.path.basename(p)}\0{sha}\n".encode())
    digest = input_digest(str(d))
    assert digest == h.hexdigest()
    assert input_digest(str(d / "part-*.csv")) == digest  # the same parts by a glob
    (d / "_SUCCESS").write_text("")
    assert input_digest(str(d)) == digest  # skipped files do not count
    moved = tmp_path / "moved"
    os.rename(d, moved)
    assert input_digest(str(moved)) == digest  # names are relative
    with open(parts[1].replace(str(d), str(moved)), "a") as fh:
        fh.write("1,1,1\n")
    assert input_digest(str(moved)) != digest


def test_provenance_and_sha256_file_use_the_digest(tmp_path):
    from mfcli.io.results import provenance, sha256_file

    d = split_file(ratings(), tmp_path / "p", 3, header=True)
    m = read_matrix(d)
    prov = provenance(d, m, seed=0, threads=1, elapsed_s=0.0, peak_rss_bytes=None)
    assert prov["input_sha256"] == input_digest(d) == sha256_file(d)


def test_replay_refuses_a_changed_part(tmp_path):
    from tests.cli.helpers import invoke

    d = split_file(ratings(n=300), tmp_path / "p", 3, header=True)
    first = tmp_path / "first.h5"
    result = invoke("svd", d, "-k", "2", "-o", str(first), "-q")
    assert result.exit_code == 0, result.output
    again = invoke("svd", "--config", str(first), "-o", str(tmp_path / "again.h5"), "-q")
    assert again.exit_code == 0, again.output
    with open(os.path.join(d, "part-00001.csv"), "a") as fh:
        fh.write("1,1,1\n")
    refused = invoke("svd", "--config", str(first), "-o", str(tmp_path / "r.h5"))
    assert refused.exit_code == 65
    assert refused.stderr.startswith(f"error: {d}: input changed since {first} was written")
