"""MATLAB reader: v4/v5 through scipy, v7.3 through h5py, rating tables, errors."""

from __future__ import annotations

import gzip

import h5py
import numpy as np
import pytest
import scipy.io
import scipy.sparse as sp

from mfcli.errors import InputDataError, InputMissingError, UsageError
from mfcli.io import ReadOptions, read_matrix
from mfcli.io.matlab import parse_columns

HINT = "name one as FILE.mat:/name or with --dataset"


def read(path, **kwargs):
    return read_matrix(str(path), ReadOptions(**kwargs))


def fails(path, cls=InputDataError, **kwargs) -> str:
    with pytest.raises(cls) as info:
        read(path, **kwargs)
    err = info.value
    assert err.exit_code == cls.exit_code
    text = err.one_line()
    assert "\n" not in text and text.startswith("error: ")
    return text


def savemat(path, **variables):
    scipy.io.savemat(str(path), variables, do_compression=True)
    return path


def write_v73(path, **variables):
    """A MATLAB 7.3 file as MATLAB writes it: HDF5 after a 512-byte header, arrays transposed."""
    with h5py.File(path, "w", userblock_size=512) as f:
        for name, value in variables.items():
            if sp.issparse(value):
                csc = sp.csc_matrix(value)
                g = f.create_group(name)
                g.attrs["MATLAB_class"] = np.bytes_(b"double")
                g.attrs["MATLAB_sparse"] = np.uint64(csc.shape[0])
                g["data"] = csc.data
                g["ir"] = csc.indices.astype(np.uint64)
                g["jc"] = csc.indptr.astype(np.uint64)
            elif isinstance(value, str):
                ds = f.create_dataset(name, data=np.array([[ord(c)] for c in value], np.uint16))
                ds.attrs["MATLAB_class"] = np.bytes_(b"char")
            else:
                value = np.asarray(value)
                cls = {"float64": b"double", "float32": b"single"}.get(str(value.dtype), b"int32")
                f.create_dataset(name, data=value.T).attrs["MATLAB_class"] = np.bytes_(cls)
    header = (
        b"MATLAB 7.3 MAT-file, Platform: GLNXA64, "
        b"Created on: Mon Jan  1 00:00:00 2024 HDF5 schema 1.00 ."
    )
    with open(path, "r+b") as fh:
        fh.write(header.ljust(116) + b"\x00" * 8 + b"\x00\x02IM")
    return path


def assert_same(matrix, expected):
    expected = sp.csr_matrix(expected)
    expected.sum_duplicates()
    assert matrix.is_sparse and matrix.shape == expected.shape
    assert matrix.indices.dtype == np.int32
    np.testing.assert_array_equal(matrix.indptr, expected.indptr)
    np.testing.assert_array_equal(matrix.indices, expected.indices)
    np.testing.assert_allclose(matrix.data, expected.data)


# --------------------------------------------------------------------- v5
def test_v5_dense_variable(tmp_path):
    values = np.arange(6.0).reshape(2, 3)
    path = savemat(tmp_path / "a.mat", A=values, title="not numeric")
    m = read(path)
    assert not m.is_sparse
    np.testing.assert_array_equal(m.data, values)
    assert m.meta["layout"] == "mat-v5" and m.meta["object"] == "A"
    assert m.meta["matlab_class"] == "double" and m.meta["format"] == "mat"
    assert "hint" not in m.meta


def test_v5_sparse_variable(tmp_path):
    expected = sp.random(30, 20, density=0.2, random_state=np.random.default_rng(0), format="csc")
    path = savemat(tmp_path / "s.mat", S=expected)
    m = read(path)
    assert_same(m, expected)
    assert m.meta["matlab_class"] == "sparse"


def test_v5_integer_and_logical_variables(tmp_path):
    path = savemat(
        tmp_path / "i.mat", I=np.array([[1, 2], [3, 4]], np.int16), L=np.eye(2, dtype=bool)
    )
    m = read(path, dataset="I", dtype="float32")
    assert m.dtype == np.float32 and m.meta["matlab_class"] == "int16"
    np.testing.assert_array_equal(m.data, [[1, 2], [3, 4]])
    assert read(path, dataset="L").meta["matlab_class"] == "logical"


def test_v4_file(tmp_path):
    path = tmp_path / "v4.mat"
    scipy.io.savemat(str(path), {"A": np.ones((3, 2))}, format="4")
    assert read(path).shape == (3, 2)


def test_v5_gzip_file(tmp_path):
    plain = savemat(tmp_path / "a.mat", A=np.ones((2, 2)))
    packed = tmp_path / "a.mat.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    assert read(packed).shape == (2, 2)


def test_matrix_preferred_over_vectors(tmp_path):
    path = savemat(tmp_path / "fea.mat", fea=np.ones((10, 4)), gnd=np.arange(10.0)[:, None])
    m = read(path)
    assert m.meta["object"] == "fea"
    assert m.meta["candidates"] == ["gnd (10 x 1 double)"]


def test_several_variables_are_listed(tmp_path):
    path = savemat(tmp_path / "two.mat", A=np.ones((2, 3)), B=sp.eye(4, format="csc"))
    text = fails(path)
    assert (
        text
        == f"error: {path}: 2 matrices in this file: A (2 x 3 double), B (4 x 4 sparse) ({HINT})"
    )
    assert read(f"{path}:/B").shape == (4, 4)
    assert read(path, dataset="A").shape == (2, 3)


def test_missing_variable(tmp_path):
    path = savemat(tmp_path / "a.mat", A=np.ones((2, 3)))
    text = fails(path, dataset="Z")
    assert "no variable Z in this file (numeric variables: A (2 x 3 double))" in text


@pytest.mark.parametrize(
    "variables, name, message",
    [
        ({"s": "text"}, "s", "variable s is a MATLAB char, not a numeric matrix"),
        (
            {"c": np.array([[1.0], "x"], dtype=object)},
            "c",
            "variable c is a MATLAB cell, not a numeric matrix",
        ),
        ({"st": {"a": 1.0}}, "st", "variable st is a MATLAB struct, not a numeric matrix"),
        ({"t": np.ones((2, 3, 4))}, "t", "variable t is 3-D (2, 3, 4), not a 2-D matrix"),
        (
            {"z": np.ones((2, 2)) * 1j},
            "z",
            "variable z holds complex values (mfcli reads real matrices)",
        ),
    ],
)
def test_v5_variables_that_are_not_matrices(tmp_path, variables, name, message):
    path = savemat(tmp_path / "bad.mat", **variables)
    assert message in fails(path, dataset=name)


def test_no_numeric_variable(tmp_path):
    path = savemat(tmp_path / "text.mat", s="hello")
    text = fails(path)
    assert "no numeric 2-D variable in this file (found: s (1 char))" in text
    assert "(mfcli reads numeric and sparse MATLAB matrices)" in text


def test_not_a_mat_file(tmp_path):
    path = tmp_path / "junk.mat"
    path.write_bytes(b"this is not a MATLAB file at all\n" * 10)
    text = fails(path)
    assert text.startswith(f"error: {path}: not a readable MATLAB file (")
    assert text.endswith("(check the file, or give its real format with --format)")


@pytest.mark.parametrize("keep", [0.5, 200])
def test_truncated_v5_file(tmp_path, keep):
    full = savemat(tmp_path / "full.mat", A=np.random.default_rng(0).random((200, 200)))
    size = int(full.stat().st_size * keep) if keep < 1 else keep
    cut = tmp_path / "cut.mat"
    cut.write_bytes(full.read_bytes()[:size])
    text = fails(cut)
    assert text.startswith(f"error: {cut}: MATLAB file is corrupt or truncated (")
    assert text.endswith("(the file may be incomplete; copy or download it again)")


def test_missing_file(tmp_path):
    assert "no such file" in fails(tmp_path / "none.mat", cls=InputMissingError)


# ------------------------------------------------------------------- v7.3
def test_v73_dense_is_transposed_back(tmp_path):
    values = np.arange(12.0).reshape(3, 4)
    path = write_v73(tmp_path / "v73.mat", M=values, name="abc")
    m = read(path)
    np.testing.assert_array_equal(m.data, values)
    assert m.meta["layout"] == "mat-v7.3" and m.meta["object"] == "M"


def test_v73_sparse(tmp_path):
    expected = sp.random(9, 5, density=0.3, random_state=np.random.default_rng(2), format="csc")
    path = write_v73(tmp_path / "s.mat", S=expected)
    m = read(path)
    assert_same(m, expected)
    assert m.meta["matlab_class"] == "sparse"


def test_v73_several_variables_and_names(tmp_path):
    path = write_v73(tmp_path / "monti.mat", M=np.ones((4, 3)), Otest=np.zeros((4, 3)))
    text = fails(path)
    assert f"2 matrices in this file: M (4 x 3 double), Otest (4 x 3 double) ({HINT})" in text
    m = read(f"{path}:/M")
    assert m.shape == (4, 3) and m.meta["candidates"] == ["Otest (4 x 3 double)"]
    assert "no variable W in this file" in fails(path, dataset="W")


def test_v73_non_numeric_and_complex(tmp_path):
    path = write_v73(tmp_path / "c.mat", s="abc", M=np.ones((2, 2)))
    assert "variable s is a MATLAB char, not a numeric matrix" in fails(path, dataset="s")
    with h5py.File(path, "a") as f:
        f.create_dataset("z", data=np.zeros((2, 2), dtype=[("real", "f8"), ("imag", "f8")]))
        f["z"].attrs["MATLAB_class"] = np.bytes_(b"double")
    assert "variable z holds complex values" in fails(path, dataset="z")


def test_v73_empty_variable_and_struct_field(tmp_path):
    path = write_v73(tmp_path / "e.mat", M=np.ones((2, 2)))
    with h5py.File(path, "a") as f:
        empty = f.create_dataset("E", data=np.array([0, 3], dtype=np.uint64))
        empty.attrs["MATLAB_class"] = np.bytes_(b"double")
        empty.attrs["MATLAB_empty"] = np.uint8(1)
        f.create_group("s").attrs["MATLAB_class"] = np.bytes_(b"struct")
        f.create_dataset("s/field", data=np.arange(6.0).reshape(3, 2))
        f["s/field"].attrs["MATLAB_class"] = np.bytes_(b"double")
    assert read(path, dataset="E").shape == (0, 3)
    field = read(path, dataset="s/field")
    np.testing.assert_array_equal(field.data, np.arange(6.0).reshape(3, 2).T)
    assert "variable s is a MATLAB struct, not a numeric matrix" in fails(path, dataset="s")


def test_v73_complex_sparse_and_string_payload(tmp_path):
    path = write_v73(tmp_path / "c.mat", S=sp.eye(3, format="csc"), M=np.ones((2, 2)))
    with h5py.File(path, "a") as f:
        del f["S/data"]
        f["S/data"] = np.zeros(3, dtype=[("real", "f8"), ("imag", "f8")])
        f.create_dataset("T", data=np.array([[b"ab", b"cd"]]))
        f["T"].attrs["MATLAB_class"] = np.bytes_(b"double")
    assert "variable S holds complex values (mfcli reads real matrices)" in fails(path, dataset="S")
    assert "variable T holds |S2 values, not numbers" in fails(path, dataset="T")


def test_plain_hdf5_named_mat_goes_to_the_hdf5_reader(tmp_path):
    path = tmp_path / "plain.mat"
    with h5py.File(path, "w") as f:
        f["A"] = np.arange(6.0).reshape(2, 3)
    m = read(path)
    assert m.meta["layout"] == "dense-dataset" and m.shape == (2, 3)


def test_v73_damaged_data(tmp_path):
    path = tmp_path / "damaged.mat"
    with h5py.File(path, "w", userblock_size=512) as f:
        values = np.random.default_rng(3).random((300, 400))
        ds = f.create_dataset("M", data=values, chunks=(50, 50), compression="gzip")
        ds.attrs["MATLAB_class"] = np.bytes_(b"double")
    raw = bytearray(path.read_bytes())
    raw[:19] = b"MATLAB 7.3 MAT-file"
    middle = len(raw) // 2
    raw[middle : middle + 4000] = bytes(4000)
    path.write_bytes(bytes(raw))
    text = fails(path)
    assert text.startswith(f"error: {path}: MATLAB 7.3 file is corrupt or truncated (")


def test_v73_truncated(tmp_path):
    full = write_v73(tmp_path / "full.mat", M=np.random.default_rng(0).random((100, 100)))
    cut = tmp_path / "cut.mat"
    cut.write_bytes(full.read_bytes()[:2000])
    assert "HDF5 file is corrupt or truncated" in fails(cut)


# ---------------------------------------------------------- rating tables
def ratings_table():
    # user, item, category, rating, time; user 7 rates item 100 twice (last: 5)
    return np.array(
        [
            [7, 100, 1, 4, 1000],
            [3, 100, 1, 2, 1001],
            [7, 205, 2, 3, 1002],
            [3, 300, 2, 1, 1003],
            [7, 100, 1, 5, 1004],
        ],
        dtype=np.int32,
    )


def test_table_is_dense_without_columns(tmp_path):
    table = np.tile(ratings_table(), (20, 1))
    path = savemat(tmp_path / "rating.mat", rating=table)
    m = read(path)
    assert not m.is_sparse and m.shape == (100, 5)
    assert "--columns user,item,value[,time]" in m.meta["hint"]


def test_table_with_columns_becomes_ratings(tmp_path):
    path = savemat(tmp_path / "rating.mat", rating=ratings_table())
    m = read(path, columns="0,1,3,4")
    assert m.is_sparse and m.shape == (2, 3)
    assert list(m.row_labels) == [3, 7] and list(m.col_labels) == [100, 205, 300]
    np.testing.assert_array_equal(m.to_dense(), [[2, 0, 1], [5, 3, 0]])
    np.testing.assert_array_equal(m.timestamps, [1001, 1003, 1004, 1002])
    assert m.timestamps.dtype == np.int64
    assert m.meta["duplicate_policy"] == "last" and m.meta["duplicates_merged"] == 1
    assert m.meta["table_columns"] == {"user": 0, "item": 1, "value": 3, "time": 4}


def test_table_duplicate_policies_and_implicit(tmp_path):
    path = savemat(tmp_path / "rating.mat", rating=ratings_table())
    summed = read(path, columns="0,1,3", duplicates="sum")
    assert summed.to_dense()[1, 0] == 9 and summed.timestamps is None
    implicit = read(path, columns="0,1")
    np.testing.assert_array_equal(implicit.to_dense(), [[1, 0, 1], [1, 1, 0]])
    text = fails(path, columns="0,1,3", duplicates="error")
    assert "duplicate entry (2, 1) at table row 5" in text


def test_table_from_v73_file(tmp_path):
    path = write_v73(tmp_path / "r73.mat", rating=ratings_table().astype(np.float64))
    m = read(path, columns="0,1,3")
    np.testing.assert_array_equal(m.to_dense(), [[2, 0, 1], [5, 3, 0]])


def test_table_ids_must_be_integers(tmp_path):
    table = ratings_table().astype(np.float64)
    table[2, 1] = 2.5
    path = savemat(tmp_path / "rating.mat", rating=table)
    text = fails(path, columns="0,1,3")
    assert (
        "variable rating: column 1 holds 2.5 at row 3, not an integer id (check --columns)" in text
    )


def test_float_time_column_is_kept_as_float(tmp_path):
    table = ratings_table().astype(np.float64)
    table[:, 4] += 0.5
    path = savemat(tmp_path / "rating.mat", rating=table)
    assert read(path, columns="0,1,3,4").timestamps.dtype == np.float64


@pytest.mark.parametrize(
    "columns, message",
    [
        ("0,1,9", "--columns: column 9 does not exist; the table has 5 columns (0..4)"),
        ("user,item,rating", "--columns 'user,item,rating' does not fit a MATLAB table"),
        ("0", "--columns '0' does not fit a MATLAB table"),
        ("0,1,2,3,4", "--columns '0,1,2,3,4' does not fit a MATLAB table"),
        ("0,0,3", "--columns '0,0,3' names a column twice"),
    ],
)
def test_bad_columns(tmp_path, columns, message):
    path = savemat(tmp_path / "rating.mat", rating=ratings_table())
    assert message in fails(path, cls=UsageError, columns=columns)


def test_columns_on_a_sparse_variable(tmp_path):
    path = savemat(tmp_path / "s.mat", S=sp.eye(3, format="csc"))
    text = fails(path, cls=UsageError, columns="0,1,2")
    assert "--columns needs a table, but S is a sparse 3 x 3 matrix" in text
    assert "(leave out --columns to read the matrix as it is)" in text


def test_parse_columns():
    assert parse_columns("0, 1, 3", 4) == [0, 1, 3, None]
    assert parse_columns("1,0", 2) == [1, 0, None, None]


# ---------------------------------------------------------- real corpus files
def test_corpus_epinions(corpus):
    path = corpus / "ratings" / "epinions_tang" / "rating.mat"
    table = scipy.io.loadmat(str(path))["rating"]
    raw = read(path)
    assert raw.shape == (922267, 4) == table.shape and not raw.is_sparse
    assert "hint" in raw.meta
    m = read(path, columns="0,1,3")
    pairs = {(u, i) for u, i in table[:, :2].tolist()}
    assert m.shape == (22164, 296277)
    assert m.nnz == len(pairs) == 922267 - 9826
    assert m.row_labels[0] == 1 and m.col_labels[-1] == 296277
    assert m.value_range() == (1.0, 5.0)


def test_corpus_ciao_with_time(corpus):
    path = corpus / "ratings" / "ciao_tang" / "rating_with_timestamp.mat"
    m = read(path, columns="0,1,3,5")
    assert m.shape == (7375, 105114)
    assert m.nnz == 284086 - 1436
    assert m.timestamps.dtype == np.int64 and m.timestamps.min() > 9e8


@pytest.mark.parametrize(
    "rel, nnz, empty_rows, empty_cols",
    [
        ("douban_monti/training_test_dataset.mat", 136891, 1, 0),
        ("flixster_monti/training_test_dataset_10_NNs.mat", 26173, 3000 - 2341, 3000 - 2956),
    ],
)
def test_corpus_monti(corpus, rel, nnz, empty_rows, empty_cols):
    path = corpus / "ratings" / rel
    text = fails(path)
    assert "M (3000 x 3000 double), Otest (3000 x 3000 double)" in text and HINT in text
    m = read(f"{path}:/M")
    assert m.shape == (3000, 3000) and m.nnz == nnz
    # Users are rows once MATLAB's column-major order is undone.
    assert int(np.sum(m.row_degrees() == 0)) == empty_rows
    assert int(np.sum(m.col_degrees() == 0)) == empty_cols
    with h5py.File(path, "r") as f:
        np.testing.assert_array_equal(m.data, f["M"][()].T)
