"""HDF5 reader: every layout, object selection, validation and error messages."""

from __future__ import annotations

import gzip
import os

import h5py
import numpy as np
import pytest
import scipy.sparse as sp

from mfcli.errors import InputDataError, InputMissingError
from mfcli.io import ReadOptions, read_matrix
from mfcli.io import hdf5 as reader

HINT = "name one as FILE.h5:/path or with --dataset"


def read(path, **kwargs):
    return read_matrix(str(path), ReadOptions(**kwargs))


def fails(path, cls=InputDataError, **kwargs) -> str:
    """Read ``path`` expecting ``cls``; returns the one-line message."""
    with pytest.raises(cls) as info:
        read(path, **kwargs)
    err = info.value
    assert err.exit_code == cls.exit_code
    text = err.one_line()
    assert "\n" not in text and text.startswith("error: ")
    return text


def write_sparse(group, matrix, kind="csr", shape_as="attr", attrs=None):
    """Write a scipy matrix as data/indices/indptr (+ shape) into ``group``."""
    m = matrix.tocsr() if kind == "csr" else matrix.tocsc()
    group.create_dataset("data", data=m.data)
    group.create_dataset("indices", data=m.indices)
    group.create_dataset("indptr", data=m.indptr)
    if shape_as == "attr":
        group.attrs["shape"] = np.array(m.shape)
    elif shape_as == "dataset":
        group.create_dataset("shape", data=np.array(m.shape, dtype=np.int32))
    elif shape_as == "h5sparse":
        group.attrs["h5sparse_shape"] = np.array(m.shape)
    for key, value in (attrs or {}).items():
        group.attrs[key] = value


def random_sparse(n_rows, n_cols, density=0.3, seed=0):
    rng = np.random.default_rng(seed)
    return sp.random(n_rows, n_cols, density=density, random_state=rng, format="csr") * 10


def assert_same(matrix, expected):
    """CSR with sorted int32 indices and the same values as the scipy matrix."""
    expected = sp.csr_matrix(expected)
    expected.sum_duplicates()
    assert matrix.is_sparse
    assert matrix.shape == expected.shape
    assert matrix.indices.dtype == np.int32
    np.testing.assert_array_equal(matrix.indptr, expected.indptr)
    np.testing.assert_array_equal(matrix.indices, expected.indices)
    np.testing.assert_allclose(matrix.data, expected.data)


# ---------------------------------------------------------------- dense data
def test_single_dense_dataset(tmp_path):
    values = np.arange(12, dtype=np.float32).reshape(3, 4)
    path = tmp_path / "a.h5"
    with h5py.File(path, "w") as f:
        f["grp/values"] = values
        f["grp/labels"] = np.arange(3)  # 1-D: not a candidate
    m = read(path)
    assert not m.is_sparse and m.shape == (3, 4) and m.dtype == np.float64
    np.testing.assert_array_equal(m.data, values)
    assert m.meta["layout"] == "dense-dataset"
    assert m.meta["object"] == "/grp/values"
    assert m.meta["encoding"] == "dense"
    assert m.meta["format"] == "h5"


def test_integer_dense_is_converted_to_dtype(tmp_path):
    path = tmp_path / "ints.h5"
    with h5py.File(path, "w") as f:
        f["x"] = np.array([[1, 2], [3, 4]], dtype=np.int64)
    m = read(path, dtype="float32")
    assert m.dtype == np.float32
    assert m.meta["stored_dtype"] == "int64"
    np.testing.assert_array_equal(m.data, [[1, 2], [3, 4]])


def test_nonfinite_values_are_kept_and_counted(tmp_path):
    path = tmp_path / "nan.h5"
    with h5py.File(path, "w") as f:
        f["x"] = np.array([[np.nan, 1.0], [np.inf, 2.0]])
        write_sparse(f.create_group("s"), sp.csr_matrix(np.array([[np.nan, 0], [0, 1.0]])))
    m = read(path, dataset="/x")
    assert m.meta["nonfinite"] == 2 and np.isnan(m.data[0, 0])
    assert read(path, dataset="s").meta["nonfinite"] == 1


def test_wide_matrix_preferred_over_column_vector(tmp_path):
    path = tmp_path / "fea.h5"
    with h5py.File(path, "w") as f:
        f["fea"] = np.ones((5, 3))
        f["gnd"] = np.ones((5, 1))
    m = read(path)
    assert m.meta["object"] == "/fea"
    assert m.meta["candidates"] == ["/gnd (5 x 1, dense float64)"]


def test_only_a_column_vector_is_read(tmp_path):
    path = tmp_path / "col.h5"
    with h5py.File(path, "w") as f:
        f["v"] = np.ones((5, 1))
    assert read(path).shape == (5, 1)


# ------------------------------------------------------------ sparse groups
@pytest.mark.parametrize(
    "kind, shape_as, attrs",
    [
        ("csr", "attr", {}),
        ("csr", "dataset", {}),
        ("csr", "h5sparse", {"h5sparse_format": "csr"}),
        ("csr", "attr", {"encoding-type": "csr_matrix"}),
        ("csc", "attr", {"encoding-type": "csc_matrix"}),
        ("csc", "h5sparse", {"h5sparse_format": "csc"}),
        ("csc", "dataset", {"format": "csc"}),
    ],
)
def test_sparse_group_encodings(tmp_path, kind, shape_as, attrs):
    expected = random_sparse(7, 5)
    path = tmp_path / "s.h5"
    with h5py.File(path, "w") as f:
        write_sparse(f.create_group("m"), expected, kind, shape_as, attrs)
    m = read(path)
    assert_same(m, expected)
    assert m.meta["layout"] == ("csr-group" if kind == "csr" else "csc-group")
    assert m.meta["object"] == "/m"


def test_unmarked_csc_is_recognised_by_pointer_length(tmp_path):
    expected = random_sparse(9, 4, seed=3)
    path = tmp_path / "csc.h5"
    with h5py.File(path, "w") as f:
        write_sparse(f.create_group("m"), expected, "csc")  # indptr has 5 entries, not 10
    m = read(path)
    assert_same(m, expected)
    assert m.meta["encoding"] == "csc"


def test_csc_to_csr_matches_scipy_on_a_larger_matrix(tmp_path):
    expected = random_sparse(300, 200, density=0.05, seed=7)
    path = tmp_path / "big.h5"
    with h5py.File(path, "w") as f:
        write_sparse(f.create_group("m"), expected, "csc", attrs={"encoding-type": "csc_matrix"})
    assert_same(read(path), expected)


def test_shape_inferred_when_missing(tmp_path):
    path = tmp_path / "noshape.h5"
    with h5py.File(path, "w") as f:
        g = f.create_group("m")
        g["data"] = np.array([1.0, 2.0])
        g["indices"] = np.array([0, 4])
        g["indptr"] = np.array([0, 1, 2])
    m = read(path)
    assert m.shape == (2, 5)
    np.testing.assert_array_equal(m.to_dense(), [[1, 0, 0, 0, 0], [0, 0, 0, 0, 2]])


def test_unsorted_and_duplicate_csr_entries(tmp_path):
    path = tmp_path / "dup.h5"
    with h5py.File(path, "w") as f:
        g = f.create_group("m")
        g["data"] = np.array([1.0, 2.0, 3.0, 4.0])
        g["indices"] = np.array([2, 0, 2, 1])  # row 0: cols 2, 0, 2 (duplicate)
        g["indptr"] = np.array([0, 3, 4])
        g.attrs["shape"] = (2, 3)
    summed = read(path)
    np.testing.assert_array_equal(summed.to_dense(), [[2, 0, 4], [0, 4, 0]])
    np.testing.assert_array_equal(summed.indices, [0, 2, 1])
    assert summed.meta["duplicates_merged"] == 1
    last = read(path, duplicates="last")
    np.testing.assert_array_equal(last.to_dense(), [[2, 0, 3], [0, 4, 0]])
    text = fails(path, duplicates="error")
    assert "duplicate entry (1, 3)" in text


def test_integer_sparse_data_and_pattern_conversion(tmp_path):
    path = tmp_path / "int.h5"
    with h5py.File(path, "w") as f:
        write_sparse(f.create_group("m"), sp.csr_matrix(np.array([[0, 3], [5, 0]], dtype=np.int32)))
    m = read(path, dtype="float32")
    assert m.dtype == np.float32 and m.meta["stored_dtype"] == "int32"
    np.testing.assert_array_equal(m.to_dense(), [[0, 3], [5, 0]])


# ---------------------------------------------------------- sparse errors
def bad_group(tmp_path, data, indices, indptr, shape=(2, 3), **attrs):
    path = tmp_path / "bad.h5"
    with h5py.File(path, "w") as f:
        g = f.create_group("m")
        g["data"], g["indices"], g["indptr"] = data, indices, indptr
        if shape is not None:
            g.attrs["shape"] = shape
        for key, value in attrs.items():
            g.attrs[key.replace("_", "-")] = value
    return path


@pytest.mark.parametrize(
    "arrays, message",
    [
        (([1.0, 2.0], [0, 3], [0, 1, 2], {}), "/m: column index 3 out of range 0..2 at entry 1"),
        (([1.0, 2.0], [0, -1], [0, 1, 2], {}), "/m: column index -1 out of range 0..2 at entry 1"),
        (
            ([1.0, 2.0], [0, 1], [0, 2, 1, 2], {"shape": (3, 3)}),
            "/m: indptr decreases at position 2",
        ),
        (
            ([1.0, 2.0], [0, 1], [0, 1], {}),
            "/m: indptr has 2 entries, expected 3 (one per row plus one)",
        ),
        (([1.0, 2.0], [0, 1], [0, 1, 3], {}), "/m: indptr must run from 0 to nnz=2, got 0..3"),
        (([1.0, 2.0], [0, 1], [1, 1, 2], {}), "/m: indptr must run from 0 to nnz=2, got 1..2"),
        (([1.0], [0, 1], [0, 1, 2], {}), "/m: data has 1 entries but indices has 2"),
        (
            ([1.0, 2.0], [0, 2], [0, 1, 2], {"encoding_type": "csc_matrix", "shape": (2, 2)}),
            "/m: row index 2 out of range 0..1 at entry 1",
        ),
        (
            ([1.0, 2.0], [0, 1], [0, 1, 2], {"encoding_type": "coo_matrix"}),
            "/m: unsupported sparse encoding 'coo_matrix' (use csr or csc)",
        ),
        (
            ([1.0, 2.0], [0, 1], [0, 1, 2], {"shape": (2, 3, 4)}),
            "/m: shape must be two non-negative",
        ),
        (([1.0, 2.0], [0.0, 1.0], [0, 1, 2], {}), "/m/indices must hold integers, not float64"),
        ((["a", "b"], [0, 1], [0, 1, 2], {}), "/m/data holds object values, not real numbers"),
    ],
)
def test_invalid_sparse_groups(tmp_path, arrays, message):
    data, indices, indptr, attrs = arrays
    shape = attrs.pop("shape", (2, 3))
    path = bad_group(tmp_path, data, indices, indptr, shape=shape, **attrs)
    text = fails(path)
    assert message in text
    assert str(path) in text


def test_sparse_member_must_be_one_dimensional(tmp_path):
    path = bad_group(tmp_path, [[1.0, 2.0]], [0, 1], [0, 1, 2])
    assert "/m/data must be a 1-D dataset" in fails(path)


def test_sparse_group_without_indptr_is_reported(tmp_path):
    path = tmp_path / "partial.h5"
    with h5py.File(path, "w") as f:
        g = f.create_group("m")
        g["data"], g["indices"] = [1.0], [0]
    with (
        h5py.File(path) as f,
        pytest.raises(InputDataError, match="sparse group /m has no 'indptr'"),
    ):
        reader.sparse_matrix(f["m"], ReadOptions(), kind="csr")
    # Through read_matrix the group is not a matrix at all.
    assert "/m is a group without a matrix in it" in fails(path, dataset="/m")


# ------------------------------------------------------------------ AnnData
def write_anndata(path, legacy=False):
    x = random_sparse(6, 4, seed=1)
    raw = random_sparse(6, 5, seed=2)
    obs = np.array([f"cell{i}" for i in range(6)], dtype=object)
    var = np.array([f"gene{i}" for i in range(4)], dtype=object)
    raw_var = np.array([f"rgene{i}" for i in range(5)], dtype=object)
    strings = h5py.string_dtype()
    with h5py.File(path, "w") as f:
        if legacy:  # anndata 0.5: dense X, compound obs/var, raw.X group
            f["X"] = x.toarray().astype(np.float32)
            f["obs"] = np.array(
                [(s.encode(), i) for i, s in enumerate(obs)], dtype=[("index", "S8"), ("n", "i4")]
            )
            f["var"] = np.array([(s.encode(),) for s in var], dtype=[("index", "S8")])
            f["raw.var"] = np.array([(s.encode(),) for s in raw_var], dtype=[("index", "S8")])
            write_sparse(
                f.create_group("raw.X"), raw, "csr", "h5sparse", {"h5sparse_format": "csr"}
            )
        else:
            f.attrs["encoding-type"] = "anndata"
            write_sparse(f.create_group("X"), x, "csr", "attr", {"encoding-type": "csr_matrix"})
            f.create_group("obs").attrs["_index"] = "cell_id"
            f["obs/cell_id"] = obs.astype(strings)
            f["obs/n_genes"] = np.arange(6)
            f.create_group("var").attrs["_index"] = "_index"
            f["var/_index"] = var.astype(strings)
            f["layers/counts"] = x.toarray() * 2
            write_sparse(
                f.create_group("layers/csc"), x, "csc", "attr", {"encoding-type": "csc_matrix"}
            )
            write_sparse(
                f.create_group("raw/X"), raw, "csr", "attr", {"encoding-type": "csr_matrix"}
            )
            f.create_group("raw/var").attrs["_index"] = "_index"
            f["raw/var/_index"] = raw_var.astype(strings)
            f["obsm/X_pca"] = np.ones((6, 2))  # not a candidate: an embedding
    return x, raw


def test_anndata_defaults_to_x_with_obs_var_labels(tmp_path):
    path = tmp_path / "a.h5ad"
    x, _ = write_anndata(path)
    m = read(path)
    assert_same(m, x)
    assert m.meta["layout"] == "anndata" and m.meta["object"] == "/X"
    assert m.meta["encoding"] == "csr_matrix"
    assert list(m.row_labels) == [f"cell{i}" for i in range(6)]
    assert list(m.col_labels) == [f"gene{i}" for i in range(4)]
    assert m.meta["candidates"] == [
        "/raw/X (6 x 5, sparse csr)",
        "/layers/counts (6 x 4, dense float64)",
        "/layers/csc (6 x 4, sparse csc)",
    ]


def test_anndata_layers_and_raw(tmp_path):
    path = tmp_path / "a.h5ad"
    x, raw = write_anndata(path)
    counts = read(path, dataset="layers/counts")
    np.testing.assert_array_equal(counts.data, x.toarray() * 2)
    assert counts.row_labels[0] == "cell0" and counts.col_labels[-1] == "gene3"
    assert_same(read(path, dataset="/layers/csc"), x)
    r = read(f"{path}:/raw/X")
    assert_same(r, raw)
    assert list(r.col_labels) == [f"rgene{i}" for i in range(5)]
    assert r.row_labels[5] == "cell5"
    assert read(path, dataset="raw").meta["object"] == "/raw/X"
    pca = read(path, dataset="/obsm/X_pca")  # readable when named, without labels
    assert pca.shape == (6, 2) and pca.row_labels is None


def test_anndata_legacy_layout(tmp_path):
    path = tmp_path / "old.h5ad"
    x, raw = write_anndata(path, legacy=True)
    m = read(path)
    assert not m.is_sparse and m.meta["object"] == "/X"
    np.testing.assert_allclose(m.data, x.toarray(), rtol=1e-6)
    assert list(m.row_labels) == [f"cell{i}" for i in range(6)]
    assert list(m.col_labels) == [f"gene{i}" for i in range(4)]
    assert m.meta["candidates"] == ["/raw.X (6 x 5, sparse csr)"]
    for name in ("/raw.X", "raw/X"):  # the new spelling finds the legacy group
        r = read(path, dataset=name)
        assert_same(r, raw)
        assert r.meta["object"] == "/raw.X" and r.meta["encoding"] == "csr"
        assert list(r.col_labels) == [f"rgene{i}" for i in range(5)]


def test_label_list_of_wrong_length_is_dropped_with_a_warning(tmp_path):
    path = tmp_path / "a.h5ad"
    write_anndata(path)
    with h5py.File(path, "a") as f:
        del f["var/_index"]
        f["var/_index"] = np.array(["g0", "g1"], dtype=h5py.string_dtype())
    m = read(path)
    assert m.col_labels is None and m.row_labels is not None
    assert m.meta["warnings"] == ["col labels ignored: 2 for 4"]


def test_integer_labels_become_int64(tmp_path):
    path = tmp_path / "a.h5ad"
    write_anndata(path)
    with h5py.File(path, "a") as f:
        del f["obs/cell_id"]
        f["obs/cell_id"] = np.array([str(10 + i) for i in range(6)], dtype=h5py.string_dtype())
    m = read(path)
    assert m.row_labels.dtype == np.int64 and m.row_labels[0] == 10


# --------------------------------------------------------------------- 10x
def write_10x_v3(path, data_dtype=np.int32, with_ids=True):
    counts = random_sparse(8, 5, seed=4)  # features x barcodes
    counts.data = np.ceil(counts.data)
    csc = counts.tocsc()
    with h5py.File(path, "w") as f:
        f.attrs["filetype"] = "matrix"
        f.attrs["software_version"] = np.array([b"cellranger-3.0.0"])
        g = f.create_group("matrix")
        g["data"] = csc.data.astype(data_dtype)
        g["indices"] = csc.indices.astype(np.int64)
        g["indptr"] = csc.indptr.astype(np.int64)
        g["shape"] = np.array(counts.shape, dtype=np.int32)
        g["barcodes"] = np.array([f"BC{i}-1".encode() for i in range(5)])
        if with_ids:
            g["features/id"] = np.array([f"ENSG{i:04d}".encode() for i in range(8)])
        g["features/name"] = np.array([f"G{i}".encode() for i in range(8)])
        g["features/feature_type"] = np.array([b"Gene Expression"] * 8)
    return counts


def test_10x_v3_rows_are_features(tmp_path):
    path = tmp_path / "filtered_feature_bc_matrix.h5"
    counts = write_10x_v3(path)
    m = read(path)
    assert_same(m, counts)
    assert m.shape == (8, 5)
    assert m.meta["layout"] == "10x-v3" and m.meta["object"] == "/matrix"
    assert m.meta["encoding"] == "csc" and m.meta["producer"] == "cellranger-3.0.0"
    assert m.row_labels[0] == "ENSG0000" and m.col_labels[4] == "BC4-1"


def test_10x_v3_names_when_ids_are_missing_and_float_data(tmp_path):
    path = tmp_path / "visium.h5"
    counts = write_10x_v3(path, data_dtype=np.float64, with_ids=False)
    m = read(path)
    assert_same(m, counts)
    assert m.meta["stored_dtype"] == "float64"
    assert m.row_labels[7] == "G7"


def write_10x_v2(path, genomes=("hg19",)):
    expected = {}
    with h5py.File(path, "w") as f:
        for n, genome in enumerate(genomes):
            counts = random_sparse(6, 3, seed=10 + n)
            csc = counts.tocsc()
            g = f.create_group(genome)
            g["data"], g["indices"], g["indptr"] = csc.data, csc.indices, csc.indptr
            g["shape"] = np.array(counts.shape)
            g["genes"] = np.array([f"ENSG{i}".encode() for i in range(6)])
            g["gene_names"] = np.array([f"G{i}".encode() for i in range(6)])
            g["barcodes"] = np.array([f"BC{i}".encode() for i in range(3)])
            expected[genome] = counts
    return expected


def test_10x_v2_single_genome(tmp_path):
    path = tmp_path / "v2.h5"
    expected = write_10x_v2(path)
    m = read(path)
    assert_same(m, expected["hg19"])
    assert m.meta["layout"] == "10x-v2" and m.meta["object"] == "/hg19"
    assert m.row_labels[0] == "ENSG0" and m.col_labels[2] == "BC2"


def test_10x_v2_several_genomes_need_a_name(tmp_path):
    path = tmp_path / "v2.h5"
    expected = write_10x_v2(path, genomes=("hg19", "mm10"))
    text = fails(path)
    assert "2 matrices in this file: /hg19 (6 x 3, sparse csc), /mm10 (6 x 3, sparse csc)" in text
    assert HINT in text
    m = read(f"{path}:/mm10")
    assert_same(m, expected["mm10"])
    assert m.row_labels[5] == "ENSG5"


# ------------------------------------------------------------ mfcli results
def write_result(path):
    train = random_sparse(4, 6, seed=5)
    with h5py.File(path, "w") as f:
        f.attrs["format"] = "mfcli-result"
        f.attrs["format_version"] = 1
        f["factors/row"] = np.ones((4, 2), dtype=np.float32)
        f["factors/col"] = np.full((6, 2), 2.0, dtype=np.float32)
        f["factors/singular_values"] = np.array([2.0, 1.0])
        f["labels/row"] = np.array([10, 20, 30, 40])
        f["labels/col"] = np.array([f"i{i}" for i in range(6)], dtype=h5py.string_dtype())
        f["history/loss"] = np.array([3.0, 2.0])
        write_sparse(f.create_group("train"), train)
    return train


def test_result_file_defaults_to_train(tmp_path):
    path = tmp_path / "model.h5"
    train = write_result(path)
    m = read(path)
    assert_same(m, train)
    assert m.meta["layout"] == "mfcli-result" and m.meta["object"] == "/train"
    assert list(m.row_labels) == [10, 20, 30, 40] and m.col_labels[0] == "i0"
    assert m.meta["candidates"] == [
        "/factors/col (6 x 2, dense float32)",
        "/factors/row (4 x 2, dense float32)",
    ]


def test_result_file_factors(tmp_path):
    path = tmp_path / "model.h5"
    write_result(path)
    rows = read(f"{path}:/factors/row")
    assert rows.shape == (4, 2) and rows.row_labels[0] == 10 and rows.col_labels is None
    cols = read(path, dataset="factors/col", dtype="float32")
    assert cols.dtype == np.float32 and cols.row_labels[5] == "i5"
    text = fails(path, dataset="/factors/singular_values")
    assert "/factors/singular_values is 1-D (2,), not a 2-D matrix" in text


def test_unknown_encoding_in_a_candidate_listing(tmp_path):
    path = tmp_path / "coo.h5"
    with h5py.File(path, "w") as f:
        write_sparse(f.create_group("a"), random_sparse(3, 3), attrs={"encoding-type": "coo"})
        f["b"] = np.ones((2, 2))
    assert "/a (3 x 3, sparse, unknown encoding)" in fails(path)


def test_named_group_with_several_matrices(tmp_path):
    path = tmp_path / "model.h5"
    write_result(path)
    text = fails(path, dataset="/factors")
    assert "2 matrices in this file: /factors/col (6 x 2, dense float32), /factors/row" in text
    assert HINT in text


# --------------------------------------------------------- object selection
def write_usps_like(path):
    with h5py.File(path, "w") as f:
        f["train/data"] = np.ones((7, 3), dtype=np.float32)
        f["train/target"] = np.arange(7)
        f["test/data"] = np.zeros((2, 3), dtype=np.float32)
        f["test/target"] = np.arange(2)


def test_several_candidates_are_listed(tmp_path):
    path = tmp_path / "usps.h5"
    write_usps_like(path)
    text = fails(path)
    assert (
        f"error: {path}: 2 matrices in this file: "
        "/test/data (2 x 3, dense float32), /train/data (7 x 3, dense float32) "
        f"({HINT})"
    ) == text


def test_object_by_suffix_option_or_group(tmp_path):
    path = tmp_path / "usps.h5"
    write_usps_like(path)
    train = read(f"{path}:/train/data")
    assert train.shape == (7, 3)
    assert train.meta["candidates"] == ["/test/data (2 x 3, dense float32)"]
    assert read(path, dataset="test/data").shape == (2, 3)
    m = read(path, dataset="/train")  # a group holding one matrix
    assert m.meta["object"] == "/train/data"


def test_missing_object_lists_the_matrices(tmp_path):
    path = tmp_path / "usps.h5"
    write_usps_like(path)
    text = fails(path, dataset="/valid/data")
    assert "no object /valid/data in this file" in text
    assert (
        "matrices here: /test/data (2 x 3, dense float32), /train/data (7 x 3, dense float32)"
        in text
    )


def test_missing_object_in_a_file_without_matrices(tmp_path):
    path = tmp_path / "e.h5"
    with h5py.File(path, "w") as f:
        f["v"] = np.arange(3)
    assert "no object /x in this file (the file holds no 2-D matrix)" in fails(path, dataset="x")


def test_no_matrix_at_all(tmp_path):
    path = tmp_path / "vectors.h5"
    with h5py.File(path, "w") as f:
        f["a"] = np.arange(3)
        f["names"] = np.array([b"x", b"y"])
    text = fails(path)
    assert (
        "no 2-D matrix in this file (found: /a (shape (3,), int64), /names (shape (2,), |S1))"
        in text
    )
    assert "mfcli reads 2-D numeric datasets and CSR/CSC groups" in text


def test_empty_file(tmp_path):
    path = tmp_path / "empty.h5"
    h5py.File(path, "w").close()
    assert "no 2-D matrix in this file (found: nothing)" in fails(path)


def test_dangling_link_is_ignored(tmp_path):
    path = tmp_path / "link.h5"
    with h5py.File(path, "w") as f:
        f["x"] = np.ones((2, 2))
        f["gone"] = h5py.SoftLink("/nowhere")
    assert read(path).meta["object"] == "/x"


@pytest.mark.parametrize(
    "value, message",
    [
        (np.arange(4), "/x is 1-D (4,), not a 2-D matrix (name a 2-D dataset or a sparse group"),
        (np.ones((2, 3, 4)), "/x is 3-D (2, 3, 4), not a 2-D matrix"),
        (np.float64(3.0), "/x is a scalar, not a 2-D matrix"),
        (np.array([[b"a", b"b"]]), "/x holds strings, not numbers (name a numeric dataset)"),
        (np.array([["a"]], dtype=object), "/x holds strings, not numbers"),
        (
            np.ones((2, 2), dtype=np.complex128),
            "/x holds complex values (mfcli reads real matrices)",
        ),
        (
            np.zeros(2, dtype=[("a", "i4"), ("b", "f8")]),
            "/x is a table (compound type), not a matrix",
        ),
    ],
)
def test_named_dataset_that_is_not_a_matrix(tmp_path, value, message):
    path = tmp_path / "x.h5"
    with h5py.File(path, "w") as f:
        if value.dtype == object:
            f.create_dataset("x", data=value, dtype=h5py.string_dtype())
        else:
            f["x"] = value
    assert message in fails(path, dataset="/x")


@pytest.mark.parametrize("kind", ["opaque", "reference"])
def test_named_dataset_of_unsupported_type(tmp_path, kind):
    path = tmp_path / "odd.h5"
    with h5py.File(path, "w") as f:
        f["target"] = np.ones((2, 2))
        if kind == "opaque":
            f["x"] = np.zeros((2, 2), dtype="V4")
        else:
            f.create_dataset("x", shape=(2, 2), dtype=h5py.ref_dtype)
    text = fails(path, dataset="x")
    assert "/x has unsupported type" in text


def test_enum_dataset_reads_as_integers(tmp_path):
    path = tmp_path / "enum.h5"
    with h5py.File(path, "w") as f:
        enum = h5py.enum_dtype({"a": 0, "b": 1}, basetype="i1")
        f.create_dataset("x", data=np.array([[0, 1], [1, 0]], dtype=np.int8), dtype=enum)
    m = read(path, dataset="x")
    np.testing.assert_array_equal(m.data, [[0, 1], [1, 0]])


# ----------------------------------------------------- files and corruption
def test_gzip_compressed_file(tmp_path):
    plain = tmp_path / "usps.h5"
    write_usps_like(plain)
    packed = tmp_path / "usps.h5.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    assert read(f"{packed}:/train/data").shape == (7, 3)


@pytest.mark.parametrize("locking", [None, False])
def test_file_already_open_in_this_process(tmp_path, locking):
    path = tmp_path / "open.h5"
    write_usps_like(path)
    kwargs = {} if locking is None else {"locking": locking}
    with h5py.File(path, "r", **kwargs):
        assert read(f"{path}:/train/data").shape == (7, 3)


def test_open_failure_after_the_checks(tmp_path, monkeypatch):
    path = tmp_path / "a.h5"
    write_usps_like(path)

    def broken_open(*args, **kwargs):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(reader, "open", broken_open, raising=False)
    assert fails(path, cls=InputMissingError) == f"error: {path}: cannot read: Input/output error"


def test_truncated_file(tmp_path):
    full = tmp_path / "full.h5"
    with h5py.File(full, "w") as f:
        f["x"] = np.random.default_rng(0).random((200, 100))
    cut = tmp_path / "cut.h5"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    text = fails(cut)
    assert text.startswith(f"error: {cut}: HDF5 file is corrupt or truncated (truncated file")
    assert "(the file may be incomplete; copy or download it again)" in text


def test_damaged_chunk_is_reported_as_corrupt(tmp_path):
    path = tmp_path / "damaged.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset(
            "x",
            data=np.random.default_rng(1).random((400, 300)),
            chunks=(50, 50),
            compression="gzip",
        )
    raw = bytearray(path.read_bytes())
    middle = len(raw) // 2
    raw[middle : middle + 4000] = os.urandom(4000)
    path.write_bytes(bytes(raw))
    assert "HDF5 file is corrupt or truncated" in fails(path)


def test_missing_compression_filter(tmp_path, monkeypatch):
    path = tmp_path / "blosc.h5"
    with h5py.File(path, "w") as f:
        f["x"] = np.ones((2, 2))

    def no_filter(*args, **kwargs):
        raise OSError("Can't synchronously read data (required filter 'blosc' is not registered)")

    monkeypatch.setattr(reader, "dense_matrix", no_filter)
    text = fails(path)
    assert "HDF5 object needs a compression filter that is not available" in text
    assert "install hdf5plugin" in text


@pytest.mark.parametrize("content", [b"user,item\n1,2\n", os.urandom(600), b""])
def test_not_an_hdf5_file(tmp_path, content):
    path = tmp_path / "fake.h5"
    path.write_bytes(content)
    text = fails(path)
    assert text == (
        f"error: {path}: not an HDF5 file (no HDF5 signature) "
        "(check the file, or give its real format with --format)"
    )


def test_missing_file(tmp_path):
    text = fails(tmp_path / "nope.h5", cls=InputMissingError)
    assert "no such file" in text


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file(tmp_path):
    path = tmp_path / "secret.h5"
    write_usps_like(path)
    path.chmod(0)
    try:
        assert "permission denied" in fails(path, cls=InputMissingError)
    finally:
        path.chmod(0o644)


def test_permission_error_from_hdf5(tmp_path, monkeypatch):
    path = tmp_path / "locked.h5"
    write_usps_like(path)

    def denied(*args, **kwargs):
        raise OSError(
            "Unable to synchronously open file (file read failed: errno = 13, "
            "error message = 'Permission denied')"
        )

    monkeypatch.setattr(h5py, "File", denied)
    text = fails(path, cls=InputMissingError)
    assert text == f"error: {path}: permission denied"


# ---------------------------------------------------------- real corpus files
CORPUS = {
    # file: (object read by default or named, expected shape, expected nnz)
    "10x_v2_filtered_gene_bc_matrices_h5.h5": (None, "/hg19_chr21", (343, 12), 12),
    "10x_v3_filtered_feature_bc_matrix.h5": (None, "/matrix", (507, 1107), 23866),
    "anndata_archive_v0.5.0.h5ad": (None, "/X", (700, 765), 535433),
    "anndata_archive_v0.7.0.h5ad": (None, "/X", (30, 20), 228),
    "pbmc68k_reduced.h5ad": (None, "/X", (700, 765), 535433),
    "usps.h5": ("/train/data", "/train/data", (7291, 256), 760224),
    "visium_v1_filtered_feature_bc_matrix.h5": (None, "/matrix", (100, 100), 656),
}


def reference(path, obj):
    """Shape and nnz straight from h5py/scipy, independent of the reader."""
    with h5py.File(path, "r") as f:
        node = f[obj]
        if isinstance(node, h5py.Dataset):
            values = node[()]
            return values.shape, int(np.count_nonzero(values))
        shape = tuple(
            int(n)
            for n in (
                node["shape"][()]
                if "shape" in node
                else node.attrs.get("shape", node.attrs.get("h5sparse_shape"))
            )
        )
        arrays = (node["data"][()], node["indices"][()], node["indptr"][()])
        compressed = (
            sp.csc_matrix if len(arrays[2]) == shape[1] + 1 and obj != "/X" else sp.csr_matrix
        )
        m = compressed(arrays, shape=shape).tocsr()
        m.sum_duplicates()
        return m.shape, m.nnz


def test_corpus_table_covers_every_hdf5_file(corpus):
    assert sorted(p.name for p in (corpus / "hdf5").iterdir()) == sorted(CORPUS)


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_corpus_hdf5_files(corpus, name):
    named, obj, shape, nnz = CORPUS[name]
    path = corpus / "hdf5" / name
    m = read_matrix(f"{path}:{named}" if named else str(path))
    assert m.meta["object"] == obj
    assert m.shape == shape and m.nnz == nnz
    assert (m.shape, m.nnz) == reference(path, obj)
    if m.is_sparse:
        assert m.indices.dtype == np.int32


def test_corpus_labels(corpus):
    v3 = read_matrix(str(corpus / "hdf5" / "10x_v3_filtered_feature_bc_matrix.h5"))
    assert v3.row_labels[0] == "ENSG00000279493" and v3.col_labels[0] == "AAACCCAAGGAGAGTA-1"
    v2 = read_matrix(str(corpus / "hdf5" / "10x_v2_filtered_gene_bc_matrices_h5.h5"))
    assert len(v2.row_labels) == 343 and len(v2.col_labels) == 12
    for name in ("anndata_archive_v0.5.0.h5ad", "pbmc68k_reduced.h5ad"):
        m = read_matrix(str(corpus / "hdf5" / name))
        assert m.row_labels[0] == "AAAGCCTGGCTAAC-1" and m.col_labels[0] == "HES4"
    new = read_matrix(str(corpus / "hdf5" / "anndata_archive_v0.7.0.h5ad"))
    assert new.row_labels[0] == "cell0" and new.col_labels[0] == "gene0"
    assert set(new.meta["candidates"]) == {
        "/raw/X (30 x 40, sparse csr)",
        "/layers/array (30 x 20, dense float64)",
        "/layers/sparse (30 x 20, sparse csr)",
    }


@pytest.mark.parametrize(
    "name, obj, shape, nnz",
    [
        ("anndata_archive_v0.5.0.h5ad", "/raw.X", (700, 765), 174400),
        ("anndata_archive_v0.7.0.h5ad", "/raw/X", (30, 40), 480),
        ("pbmc68k_reduced.h5ad", "/raw/X", (700, 765), 174400),
        ("usps.h5", "/test/data", (2007, 256), 216205),
    ],
)
def test_corpus_other_objects(corpus, name, obj, shape, nnz):
    path = corpus / "hdf5" / name
    m = read_matrix(f"{path}:{obj}")
    assert m.shape == shape and m.nnz == nnz
    assert (m.shape, m.nnz) == reference(path, obj)


def test_corpus_usps_needs_a_name(corpus):
    path = corpus / "hdf5" / "usps.h5"
    with pytest.raises(InputDataError) as info:
        read_matrix(str(path))
    assert "/test/data (2007 x 256, dense float32), /train/data (7291 x 256, dense float32)" in str(
        info.value
    )
    assert HINT in str(info.value)


def test_plain_file_labels_written_by_mfcli_are_read(tmp_path):
    from mfcli.data import Matrix
    from mfcli.io import read_matrix
    from mfcli.io.write import write_h5_dense

    dense = Matrix.from_dense(
        np.arange(6.0).reshape(2, 3),
        row_labels=np.array(["a", "b"]),
        col_labels=np.array([10, 20, 30]),
    )
    path = tmp_path / "labelled.h5"
    write_h5_dense(str(path), dense)
    back = read_matrix(str(path))
    assert back.row_labels.tolist() == ["a", "b"]
    assert back.col_labels.tolist() == [10, 20, 30]
    np.testing.assert_array_equal(back.data, dense.data)
