"""Matrix Market reader: every layout, every error with its line, the real-file corpus."""

from __future__ import annotations

import bz2
import gzip
import io
import sys
import time

import numpy as np
import pytest

from mfcli.data import Matrix
from mfcli.errors import InputDataError, InputMissingError, MfcliError
from mfcli.io import ReadOptions, mtx, read_matrix, source

OPTS = ReadOptions()


def write(tmp_path, text, name="m.mtx", compress=None):
    path = tmp_path / name
    data = text.encode() if isinstance(text, str) else text
    if compress == "gz":
        data = gzip.compress(data)
    elif compress == "bz2":
        data = bz2.compress(data)
    path.write_bytes(data)
    return str(path)


def read(tmp_path, text, **opts) -> Matrix:
    return mtx.read(write(tmp_path, text), ReadOptions(**opts))


def fails(tmp_path, text, **opts) -> InputDataError:
    with pytest.raises(InputDataError) as info:
        read(tmp_path, text, **opts)
    assert info.value.exit_code == 65
    return info.value


GENERAL = """%%MatrixMarket matrix coordinate real general
% a comment
3 4 4
1 1 1.5
3 2 -2
2 4 1e3
1 3 7
"""


# ------------------------------------------------------------ coordinate
def test_coordinate_real_general(tmp_path):
    m = read(tmp_path, GENERAL)
    assert m.is_sparse and m.shape == (3, 4) and m.nnz == 4
    dense = m.to_dense()
    assert dense[0, 0] == 1.5 and dense[2, 1] == -2 and dense[1, 3] == 1000 and dense[0, 2] == 7
    assert m.meta["field"] == "real" and m.meta["symmetry"] == "general"
    assert m.meta["object"] == "matrix" and m.meta["mtx_format"] == "coordinate"
    assert m.meta["declared_nnz"] == 4 and m.meta["stored_entries"] == 4
    assert m.meta["comments"] == 1


def test_integer_and_pattern(tmp_path):
    m = read(tmp_path, "%%MatrixMarket matrix coordinate integer general\n2 2 2\n1 1 5\n2 2 -3\n")
    assert m.to_dense().tolist() == [[5, 0], [0, -3]]
    assert "notes" not in m.meta
    m = read(tmp_path, "%%MatrixMarket matrix coordinate pattern general\n2 3 2\n1 3\n2 1\n")
    assert m.to_dense().tolist() == [[0, 0, 1], [1, 0, 0]]


def test_symmetric_expansion_keeps_one_diagonal(tmp_path):
    text = "%%MatrixMarket matrix coordinate real symmetric\n3 3 3\n1 1 4\n2 1 5\n3 2 6\n"
    m = read(tmp_path, text)
    assert m.to_dense().tolist() == [[4, 5, 0], [5, 0, 6], [0, 6, 0]]
    assert m.nnz == 5


def test_skew_symmetric(tmp_path):
    text = "%%MatrixMarket matrix coordinate real skew-symmetric\n3 3 2\n2 1 5\n3 2 6\n"
    assert read(tmp_path, text).to_dense().tolist() == [[0, -5, 0], [5, 0, -6], [0, 6, 0]]
    # A nonzero diagonal is strictly invalid; like scipy we keep it, once, with a note.
    m = read(tmp_path, text.replace("3 3 2\n", "3 3 3\n2 2 1\n"))
    assert m.to_dense().tolist() == [[0, -5, 0], [5, 1, -6], [0, 6, 0]]
    assert m.meta["notes"] == [
        "skew-symmetric file with 1 nonzero diagonal entries (first on line 3): kept as stored"
    ]


def test_complex_needs_allow_complex(tmp_path):
    text = "%%MatrixMarket matrix coordinate complex hermitian\n2 2 2\n1 1 2 0\n2 1 1 -1\n"
    err = fails(tmp_path, text)
    assert (err.line, err.message) == (1, "complex values are not supported")
    path = tmp_path / "c.mtx"
    path.write_text(text)
    m = mtx.read(str(path), ReadOptions(allow_complex=True))
    assert m.dtype == np.complex128
    assert m.to_dense().tolist() == [[2, 1 + 1j], [1 - 1j, 0]]
    dense = "%%MatrixMarket matrix array complex general\n1 2\n1 2\n3 -4\n"
    path.write_text(dense)
    m = mtx.read(str(path), ReadOptions(allow_complex=True))
    assert m.to_dense().tolist() == [[1 + 2j, 3 - 4j]]


def test_hermitian_real_is_symmetric(tmp_path):
    m = read(tmp_path, "%%MatrixMarket matrix coordinate real hermitian\n2 2 1\n2 1 3\n")
    assert m.to_dense().tolist() == [[0, 3], [3, 0]]
    assert m.meta["notes"] == ["hermitian storage of a real matrix read as symmetric"]


def test_pattern_symmetric(tmp_path):
    m = read(tmp_path, "%%MatrixMarket matrix coordinate pattern symmetric\n2 2 2\n1 1\n2 1\n")
    assert m.to_dense().tolist() == [[1, 1], [1, 0]]


def test_vectors_are_refused(tmp_path):
    for text in (
        "%%MatrixMarket vector coordinate real general\n4 2\n1 10\n4 40\n",
        "%%MatrixMarket vector array real general\n3\n1\n2\n3\n",
    ):
        err = fails(tmp_path, text)
        assert (err.line, err.message) == (1, "vector objects are not supported, only matrices")
        assert err.hint == "a vector is one column: write it as an n x 1 'matrix' if you need it"


def test_permissive_banner_and_whitespace(tmp_path):
    text = (
        "\n  %%matrixmarket   MATRIX\tCoordinate   REAL   General  \r\n"
        "%%GraphBLAS type double\r\n"
        "%\r\n"
        "  2   2    2     \r\n"
        "1  1   1.0\r\n"
        "\r\n"
        "% comment inside the data\r\n"
        "   2 2 2\r\n"
    )
    m = read(tmp_path, text)
    assert m.to_dense().tolist() == [[1, 0], [0, 2]]
    assert m.meta["comments"] == 3
    m = read(tmp_path, "%MatrixMarket matrix coordinate real general\n1 1 1\n1 1 9\n")
    assert m.to_dense().tolist() == [[9]]


def test_double_is_real_and_inf_literal_reads(tmp_path):
    m = read(tmp_path, "%%MatrixMarket matrix coordinate double general\n1 2 2\n1 1 inf\n1 2 -1\n")
    assert m.to_dense().tolist() == [[np.inf, -1]]


def test_integer_banner_with_reals_reads_as_real(tmp_path):
    m = read(tmp_path, "%%MatrixMarket matrix coordinate integer general\n1 2 2\n1 1 2.5\n1 2 3\n")
    assert m.to_dense().tolist() == [[2.5, 3]]
    assert m.meta["field_read_as"] == "real"
    assert "not integers" in m.meta["notes"][0]


def test_dtype_option(tmp_path):
    assert read(tmp_path, GENERAL, dtype="float32").dtype == np.float32


# ------------------------------------------------------------------ array
def test_array_general_is_column_major(tmp_path):
    m = read(tmp_path, "%%MatrixMarket matrix array real general\n2 3\n1\n2\n3\n4\n5\n6\n")
    assert not m.is_sparse
    assert m.to_dense().tolist() == [[1, 3, 5], [2, 4, 6]]
    assert m.meta["declared_nnz"] == 6


def test_array_symmetric_and_skew(tmp_path):
    text = "%%MatrixMarket matrix array real symmetric\n3 3\n1\n2\n3\n4\n5\n6\n"
    assert read(tmp_path, text).to_dense().tolist() == [[1, 2, 3], [2, 4, 5], [3, 5, 6]]
    text = "%%MatrixMarket matrix array integer skew-symmetric\n3 3\n1\n2\n3\n"
    assert read(tmp_path, text).to_dense().tolist() == [[0, -1, -2], [1, 0, -3], [2, 3, 0]]


def test_array_with_two_values_on_a_line_is_refused(tmp_path):
    err = fails(tmp_path, "%%MatrixMarket matrix array real general\n2 1\n1 2\n")
    assert (err.line, err.message) == (3, "line has 2 fields, expected 1")


def test_empty_dimensions(tmp_path):
    assert read(tmp_path, "%%MatrixMarket matrix array real general\n3 0\n").shape == (3, 0)
    m = read(tmp_path, "%%MatrixMarket matrix coordinate pattern general\n0 1 0\n")
    assert m.shape == (0, 1) and m.nnz == 0


# ------------------------------------------------------------- duplicates
DUPS = "%%MatrixMarket matrix coordinate real general\n2 2 3\n1 1 1\n2 2 5\n1 1 2\n"


def test_duplicates_sum_by_default(tmp_path):
    m = read(tmp_path, DUPS)
    assert m.to_dense().tolist() == [[3, 0], [0, 5]]
    assert m.meta["duplicate_policy"] == "sum" and m.meta["duplicates_merged"] == 1


def test_duplicates_last(tmp_path):
    assert read(tmp_path, DUPS, duplicates="last").to_dense().tolist() == [[2, 0], [0, 5]]


def test_duplicates_error_names_the_line(tmp_path):
    err = fails(tmp_path, DUPS, duplicates="error")
    assert err.line == 5
    assert err.message == "duplicate entry (1, 1) at line 5"
    text = "%%MatrixMarket matrix coordinate real symmetric\n2 2 2\n2 1 1\n1 2 1\n"
    err = fails(tmp_path, text, duplicates="error")
    assert err.line in (3, 4) and "duplicate entry" in err.message


# ---------------------------------------------------- compressed and stdin
@pytest.mark.parametrize("compress", ["gz", "bz2"])
def test_compressed(tmp_path, compress):
    path = write(tmp_path, GENERAL, name=f"m.mtx.{compress}", compress=compress)
    assert mtx.read(path, OPTS).nnz == 4


def test_stdin(monkeypatch):
    monkeypatch.setattr(source, "_stdin_cache", {})
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(GENERAL.encode())))
    assert mtx.read("-", OPTS).shape == (3, 4)


# ------------------------------------------------------------------ errors
@pytest.mark.parametrize(
    "text, line, message",
    [
        ("", None, "empty file: no Matrix Market banner"),
        ("1 2 3\n", 1, "not a Matrix Market file: the first line must be a %%MatrixMarket banner"),
        ("%%MatrixMarket matrix coordinate real\n", 1, "incomplete banner"),
        ("%%MatrixMarket tensor coordinate real general\n", 1, "unknown object 'tensor'"),
        ("%%MatrixMarket matrix sparse real general\n", 1, "unknown format 'sparse'"),
        ("%%MatrixMarket matrix coordinate float general\n", 1, "unknown field 'float'"),
        ("%%MatrixMarket matrix coordinate real upper\n", 1, "unknown symmetry 'upper'"),
        (
            "%%MatrixMarket matrix coordinate complex general\n1 1 1\n1 1 1 0\n",
            1,
            "complex values are not supported",
        ),
        (
            "%%MatrixMarket matrix array pattern general\n1 1\n",
            1,
            "pattern values need coordinate format",
        ),
        (
            "%%MatrixMarket matrix coordinate pattern skew-symmetric\n1 1 0\n",
            1,
            "a pattern matrix cannot be skew-symmetric",
        ),
        (
            "%%MatrixMarket vector coordinate real symmetric\n2 1\n1 1\n",
            1,
            "vector objects are not supported",
        ),
        (
            "%%MatrixMarket matrix coordinate real general\n% only comments\n",
            3,
            "missing size line after the banner",
        ),
        (
            "%%MatrixMarket matrix coordinate real general\n3 3\n",
            2,
            "size line must hold 3 integers (rows, columns, entries), found 2",
        ),
        (
            "%%MatrixMarket matrix coordinate real general\n3 x 1\n",
            2,
            "size line: columns 'x' is not an integer",
        ),
        (
            "%%MatrixMarket matrix coordinate real general\n3 -3 1\n",
            2,
            "size line: columns cannot be negative (-3)",
        ),
        (
            "%%MatrixMarket matrix coordinate real general\n99999999999999999999 1 1\n",
            2,
            "size line: rows 99999999999999999999 exceeds int64",
        ),
        (
            "%%MatrixMarket matrix coordinate real general\n9000000000000 2 1\n1 1 1\n",
            2,
            "size line declares 9000000000000 rows, implausibly many",
        ),
        (
            "%%MatrixMarket matrix coordinate real symmetric\n2 3 1\n1 1 1\n",
            2,
            "a symmetric matrix must be square, the size line says 2 x 3",
        ),
        (
            "%%MatrixMarket matrix coordinate real general\n2 2 2\n1 1 1\n3 1 1\n",
            4,
            "row index 3 out of range 1..2",
        ),
        (
            "%%MatrixMarket matrix coordinate real general\n2 2 2\n1 1 1\n1 0 1\n",
            4,
            "column index 0 out of range 1..2",
        ),
        (
            "%%MatrixMarket matrix coordinate real general\n2 2 2\n1 1 1\n1 2 x\n",
            4,
            "bad number 'x' in value",
        ),
        (
            "%%MatrixMarket matrix coordinate real general\n2 2 2\n1 1.5 1\n1 2 1\n",
            3,
            "expected an integer, got '1.5' in column index",
        ),
        (
            "%%MatrixMarket matrix coordinate real general\n2 2 2\n1 1 1\n1 2\n",
            4,
            "line has 2 fields, expected 3",
        ),
        (
            "%%MatrixMarket matrix coordinate pattern general\n2 2 1\n1 1 1\n",
            3,
            "line has 3 fields, expected 2",
        ),
        (
            "%%MatrixMarket matrix coordinate real general\n2 2 3\n1 1 1\n2 2 2\n",
            None,
            "truncated: size line declares 3 entries, found 2",
        ),
        (
            "%%MatrixMarket matrix coordinate real general\n2 2 1\n1 1 1\n2 2 2\n",
            4,
            "too many entries: size line declares 1, found 2",
        ),
        (
            "%%MatrixMarket matrix array real general\n2 2\n1\n2\n3\n",
            None,
            "truncated: size line declares 4 entries, found 3",
        ),
        (
            "%%MatrixMarket matrix coordinate real general\n1 1 1\n1 1 1E9999\n",
            3,
            "value out of range '1E9999' in value (it would be inf)",
        ),
        (
            "%%MatrixMarket matrix coordinate integer general\n1 1 1\n1 1 9300000000000000000\n",
            3,
            "integer value 9300000000000000000 out of range (int64)",
        ),
    ],
)
def test_errors(tmp_path, text, line, message):
    err = fails(tmp_path, text)
    assert err.line == line
    assert err.message.startswith(message), err.message
    assert err.path == str(tmp_path / "m.mtx")


def test_huge_declared_count_fails_fast(tmp_path):
    text = "%%MatrixMarket matrix coordinate real general\n200000 110000 22000000000\n1 1 1\n"
    start = time.perf_counter()
    err = fails(tmp_path, text)
    assert time.perf_counter() - start < 2
    assert err.message.startswith("truncated: size line declares 22000000000 entries, found 1")
    text = "%%MatrixMarket matrix array real general\n200000 110000\n1\n"
    assert fails(tmp_path, text).message.startswith("truncated: size line declares 22000000000")


def test_missing_file():
    with pytest.raises(InputMissingError) as info:
        mtx.read("/nonexistent/m.mtx", OPTS)
    assert info.value.exit_code == 66


def test_error_line_through_read_matrix(tmp_path):
    path = write(tmp_path, "%%MatrixMarket matrix coordinate real general\n2 2 1\n1 9 1\n")
    with pytest.raises(InputDataError) as info:
        read_matrix(path, ReadOptions(format="mtx"))
    assert str(info.value) == f"error: {path}:3: column index 9 out of range 1..2"


# ------------------------------------------------------------------ corpus
COMPLEX = {"matrix_coordinate_complex_hermitian.mtx", "young1c.mtx", "cha.mtx"}


def _corpus_files(corpus):
    files = [*corpus.glob("mtx/**/*.mtx*"), *corpus.glob("mtx/**/*.mm")]
    files += [*corpus.glob("text/docterm/**/*.mtx"), *corpus.glob("text/docterm/**/*.mm")]
    return sorted(files)


def test_corpus_matches_scipy(corpus):
    import scipy.io
    import scipy.sparse as sp

    files = _corpus_files(corpus)
    assert len(files) >= 30
    for path in files:
        if path.name in COMPLEX:
            with pytest.raises(InputDataError):
                mtx.read(str(path), OPTS)
        opts = ReadOptions(allow_complex=True) if path.name in COMPLEX else OPTS
        ours = mtx.read(str(path), opts)
        ref = scipy.io.mmread(str(path))
        assert ours.shape == ref.shape, path
        if sp.issparse(ref):
            ref = sp.csr_matrix(ref)
            ref.sum_duplicates()  # also sorts the column indices
            assert ours.is_sparse and ours.nnz == ref.nnz, path
            assert np.array_equal(ours.indptr, ref.indptr), path
            assert np.array_equal(ours.indices, ref.indices), path
            assert np.array_equal(ours.data, ref.data, equal_nan=True), path
        else:
            assert not ours.is_sparse, path
            np.testing.assert_array_equal(ours.to_dense(), ref, err_msg=str(path))


def test_corpus_refusals_are_explained(corpus):
    skew = mtx.read(str(corpus / "mtx/fmm/matrix_coordinate_real_skew-symmetric.mtx"), OPTS)
    assert "first on line 6" in skew.meta["notes"][0]
    err = pytest.raises(InputDataError, mtx.read, str(corpus / "mtx/suitesparse/young1c.mtx"), OPTS)
    assert err.value.message == "complex values are not supported"


MALFORMED_READS = {
    "fmm_edge/matrix_coordinate_real_general.mtx.bz2": ((3, 3), 3),
    "fmm_overflow/overflow_index_gt_int8.mtx": ((1000, 1000), 1),
    "fmm_permissive/permissive_banner_leading_spaces_eye3.mtx": ((3, 3), 3),
    "fmm_permissive/permissive_banner_one_percent_eye3.mtx": ((3, 3), 3),
    "gensim/test_corpus_small.mm": ((3, 5), 9),
    "lagraph_mangled/mangled14.mtx": ((3, 4), 2),  # duplicates summed
    "lagraph_mangled/mangled_bool.mtx": ((7, 7), 12),  # explicit zeros kept
    "lagraph_mangled/mangled_skew.mtx": ((6, 6), 20),
    "lagraph_typed/matrix_fp64.mtx": ((7, 7), 12),  # integer banner, real values
    "lenient/west0067_jumbled.mtx": ((67, 67), 294),
    "zero_dim/3by0.mtx": ((3, 0), 0),
    "zero_dim/a00.mtx": ((0, 0), 0),
    "zero_dim/a01.mtx": ((0, 1), 0),
}

MALFORMED_FAILS = {
    "cholmod_mangle/mangle1.mtx": (1, "unknown object 'junk'"),
    "cholmod_mangle/mangle2.mtx": (1, "unknown format 'junk'"),
    "cholmod_mangle/mangle4.mtx": (1, "unknown symmetry 'junk'"),
    "fmm_edge/longcomplex_array.mtx": (1, "complex values are not supported"),
    "fmm_edge/vector_array_real_general.mtx": (1, "vector objects are not supported"),
    "fmm_edge/vector_coordinate_real_general.mtx": (1, "vector objects are not supported"),
    "fmm_edge/longdouble_coordinate.mtx": (4, "value out of range '1E310' in value"),
    "fmm_invalid/invalid_bad_banner.mtx": (1, "not a Matrix Market file"),
    "fmm_invalid/invalid_bad_field.mtx": (1, "unknown field '____'"),
    "fmm_invalid/invalid_bad_format.mtx": (1, "unknown format '____'"),
    "fmm_invalid/invalid_bad_object.mtx": (1, "unknown object '___'"),
    "fmm_invalid/invalid_bad_value.mtx": (3, "bad number 'not_a_double' in value"),
    "fmm_invalid/invalid_bad_value_2.mtx": (1, "vector objects are not supported"),
    "fmm_invalid/invalid_bad_value_4.mtx": (1, "vector objects are not supported"),
    "fmm_invalid/invalid_dimensions_out_of_range_1.mtx": (3, "size line: rows cannot be negative"),
    "fmm_invalid/invalid_dimensions_out_of_range_3.mtx": (3, "size line: entries cannot be"),
    "fmm_invalid/invalid_indices_out_of_range_1.mtx": (5, "row index 5000 out of range 1..7"),
    "fmm_invalid/invalid_indices_out_of_range_2.mtx": (6, "column index 2000 out of range 1..7"),
    "fmm_invalid/invalid_indices_out_of_range_4.mtx": (6, "column index 0 out of range 1..7"),
    "fmm_invalid/invalid_indices_out_of_range_5.mtx": (5, "row index -1 out of range 1..7"),
    "fmm_invalid/invalid_symmetry_vector.mtx": (1, "vector objects are not supported"),
    "fmm_invalid/invalid_truncated_header_1.mtx": (3, "missing size line after the banner"),
    "fmm_invalid/invalid_truncated_line_1.mtx": (5, "line has 2 fields, expected 3"),
    "fmm_invalid/invalid_truncated_lines.mtx": (None, "truncated: size line declares 12 entries"),
    "fmm_invalid/invalid_vector_array_too_long.mtx": (1, "vector objects are not supported"),
    "fmm_invalid/invalid_vector_coord_too_long.mtx": (1, "vector objects are not supported"),
    "fmm_invalid/invalid_vector_index_out_of_range_1.mtx": (1, "vector objects are not supported"),
    "fmm_invalid/invalid_vector_index_out_of_range_2.mtx": (1, "vector objects are not supported"),
    "fmm_overflow/overflow_dim_gt_int64.mtx": (2, "size line: rows 19223372036854775808 exceeds"),
    "fmm_overflow/overflow_value_gt_complex128.mtx": (1, "complex values are not supported"),
    "fmm_overflow/overflow_value_gt_float128.mtx": (4, "value out of range '1E9999' in value"),
    "fmm_overflow/overflow_value_gt_int64.mtx": (6, "integer value 19223372036854775808 out of"),
    "gensim/test_mmcorpus_corrupt.mm": (6, "line has 2 fields, expected 3"),
    "gensim/test_mmcorpus_no_index.mm.gz": (
        None,
        "truncated: size line declares 28 entries, found",
    ),
    "lagraph_mangled/mangled1.mtx": (1, "unknown object 'mangled'"),
    "lagraph_mangled/mangled3.mtx": (1, "unknown field 'mangled'"),
    "lagraph_mangled/mangled4.mtx": (1, "unknown symmetry 'mangled'"),
    "lagraph_mangled/mangled5.mtx": (5, "line has 4 fields, expected 2"),
    "lagraph_mangled/mangled7.mtx": (5, "line has 2 fields, expected 3"),
    "lagraph_mangled/mangled8.mtx": (4, "size line must hold 3 integers"),
    "lagraph_mangled/mangled10.mtx": (None, "truncated: size line declares 3 entries, found 2"),
    "lagraph_mangled/mangled11.mtx": (5, "bad number 'zero' in column index"),
    "lagraph_mangled/mangled13.mtx": (7, "column index 9999 out of range 1..4"),
    "lagraph_mangled/mangled16.mtx": (5, "line has 2 fields, expected 1"),
    "mongoose_bad/bad_header.mtx": (1, "unknown symmetry 'bogus'"),
    "mongoose_bad/bad_matrix_type.mtx": (1, "complex values are not supported"),
    "noheader/fullcrud1.mtx": (1, "not a Matrix Market file"),
    "noheader/west0067_noheader.mtx": (1, "not a Matrix Market file"),
}


def test_malformed_reads(corpus):
    for name, (shape, nnz) in MALFORMED_READS.items():
        m = mtx.read(str(corpus / "malformed" / name), OPTS)
        assert (m.shape, m.nnz) == (shape, nnz), name
    m = mtx.read(str(corpus / "malformed/lagraph_mangled/mangled14.mtx"), OPTS)
    assert m.to_dense()[1, 1] == pytest.approx(3.4 + 7.1)
    m = mtx.read(str(corpus / "malformed/lagraph_typed/matrix_fp64.mtx"), OPTS)
    assert m.meta["field_read_as"] == "real" and np.isinf(m.data).sum() == 2
    jumbled = mtx.read(str(corpus / "malformed/lenient/west0067_jumbled.mtx"), OPTS)
    clean = mtx.read(str(corpus / "mtx/suitesparse/west0067.mtx"), OPTS)
    assert (jumbled.to_scipy() != clean.to_scipy()).nnz == 0


def test_malformed_fails_with_line(corpus):
    for name, (line, message) in MALFORMED_FAILS.items():
        with pytest.raises(InputDataError) as info:
            mtx.read(str(corpus / "malformed" / name), OPTS)
        assert info.value.exit_code == 65
        assert (info.value.line, info.value.message[: len(message)]) == (line, message), name


def test_every_malformed_file_reads_or_fails_cleanly(corpus):
    """Through the public entry point: a Matrix, or exit 65/66, fast; nothing else."""
    listed = set(MALFORMED_READS) | set(MALFORMED_FAILS)
    for path in sorted((corpus / "malformed").rglob("*")):
        if not path.is_file():
            continue
        start = time.perf_counter()
        try:
            result = read_matrix(str(path))
            assert isinstance(result, Matrix)
        except MfcliError as exc:
            assert isinstance(exc, InputDataError | InputMissingError), (path, exc)
        assert time.perf_counter() - start < 5, path
        rel = str(path.relative_to(corpus / "malformed"))
        if path.suffix in (".mtx", ".mm", ".gz", ".bz2"):
            assert rel in listed, f"{rel} has no expected outcome"


def test_mutated_files_fail_cleanly(tmp_path):
    """Random byte edits of valid files: a Matrix or an MfcliError, nothing else."""
    import random

    seeds = [
        GENERAL,
        "%%MatrixMarket matrix array real symmetric\n3 3\n1\n2\n3\n4\n5\n6\n",
        "%%MatrixMarket matrix coordinate pattern symmetric\n3 3 2\n2 1\n3 3\n",
        "%%MatrixMarket vector coordinate integer general\n4 2\n1 5\n4 6\n",
    ]
    alphabet = "0123456789 \t\n\r.-+eE%abc"
    rng = random.Random(5)
    for _ in range(400):
        text = list(rng.choice(seeds))
        for _ in range(rng.randint(1, 3)):
            pos = rng.randrange(len(text))
            text[pos : pos + rng.randint(0, 1)] = rng.choice(alphabet)
        policy = rng.choice([None, "sum", "last", "error"])
        try:
            read(tmp_path, "".join(text), duplicates=policy)
        except (InputDataError, InputMissingError):
            pass
