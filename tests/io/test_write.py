"""mfcli.io.write: formats, exact text, atomic writes, overwrite refusal, round trips."""

from __future__ import annotations

import bz2
import gzip
import importlib.util
import os

import h5py
import numpy as np
import pytest
import scipy.io
import scipy.sparse as sp

from mfcli.data import Matrix
from mfcli.errors import OutputError, UsageError
from mfcli.io import atomic, write


def _needs(module: str):
    present = importlib.util.find_spec(f"mfcli.io.{module}") is not None
    return pytest.mark.skipif(not present, reason=f"reader mfcli.io.{module} is not written yet")


needs_mtx_reader = _needs("mtx")
needs_csv_reader = _needs("csv")


def _coo(rows, cols, values, shape, **kwargs) -> Matrix:
    return Matrix.from_coo(np.array(rows), np.array(cols), np.array(values, float), shape, **kwargs)


@pytest.fixture
def small() -> Matrix:
    return _coo(
        [0, 0, 2, 3],
        [1, 3, 0, 2],
        [4.0, -2.5, 3.0, 1e-3],
        (4, 5),
        timestamps=np.array([10, 20, 30, 40]),
        row_labels=np.array([101, 102, 103, 104]),
        col_labels=np.array([7, 8, 9, 10, 11]),
    )


def _read(path) -> str:
    with open(path, encoding="utf-8") as fh:
        return fh.read()


# ------------------------------------------------------------ formats/paths


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("a.csv", "csv"),
        ("a.CSV", "csv"),
        ("a.tsv", "tsv"),
        ("a.tab", "tsv"),
        ("a.mtx", "mtx"),
        ("a.mm", "mtx"),
        ("a.mtx.gz", "mtx"),
        ("a.csv.bz2", "csv"),
        ("a.h5", "h5"),
        ("a.hdf5", "h5"),
    ],
)
def test_output_format_by_suffix(name, fmt):
    assert write.output_format(name) == fmt


def test_output_format_errors():
    with pytest.raises(UsageError, match="cannot tell the output format from the name 'a.txt'"):
        write.output_format("a.txt")
    with pytest.raises(UsageError, match="HDF5 output cannot be .gz compressed"):
        write.output_format("a.h5.gz")
    with pytest.raises(UsageError, match="invalid output format 'xls'"):
        write.output_format("a.csv", "xls")
    assert write.output_format("whatever.out", "mtx") == "mtx"


def test_check_output_errors(tmp_path):
    existing = tmp_path / "a.csv"
    existing.write_text("x")
    with pytest.raises(OutputError) as info:
        write.check_output(str(existing))
    assert info.value.exit_code == 73 and info.value.hint == "use --force"
    assert "output exists" in str(info.value)
    write.check_output(str(existing), force=True)
    with pytest.raises(OutputError, match="is a directory"):
        write.check_output(str(tmp_path))
    with pytest.raises(OutputError, match="directory does not exist"):
        write.check_output(str(tmp_path / "missing" / "a.csv"))
    with pytest.raises(OutputError, match="empty output path"):
        write.check_output("")


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_directory(tmp_path, small):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(OutputError, match="directory is not writable"):
            write.write_mtx(str(locked / "a.mtx"), small)
    finally:
        locked.chmod(0o700)


def test_unwritable_directory_even_as_root(tmp_path, monkeypatch):
    monkeypatch.setattr(write.os, "access", lambda *a: False)
    with pytest.raises(OutputError, match="directory is not writable") as info:
        write.check_output(str(tmp_path / "a.csv"))
    assert info.value.exit_code == 73


def test_temp_file_cannot_be_created(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError(13, "Permission denied")

    monkeypatch.setattr(atomic.tempfile, "mkstemp", refuse)
    with pytest.raises(OutputError, match="cannot create: Permission denied"):
        write.write_labels(str(tmp_path / "a.terms"), ["x"])


def test_file_appearing_meanwhile_is_not_replaced(tmp_path, monkeypatch, small):
    path = tmp_path / "a.csv"

    def late_arrival(p, *, force=False):
        path.write_text("someone else's")

    monkeypatch.setattr(atomic, "check_output", late_arrival)
    with pytest.raises(OutputError, match="output exists"):
        write.write_triplets_csv(str(path), small)
    assert path.read_text() == "someone else's"
    assert os.listdir(tmp_path) == ["a.csv"]


def test_refuses_to_overwrite_and_keeps_the_original(tmp_path, small):
    path = tmp_path / "a.mtx"
    path.write_text("original")
    with pytest.raises(OutputError, match="output exists"):
        write.write_mtx(str(path), small)
    assert path.read_text() == "original"
    write.write_mtx(str(path), small, force=True)
    assert path.read_text().startswith("%%MatrixMarket")
    assert sorted(os.listdir(tmp_path)) == ["a.mtx"]


def test_atomic_write_leaves_nothing_on_error(tmp_path):
    path = tmp_path / "a.csv"
    with pytest.raises(RuntimeError):
        with write.atomic_path(str(path)) as tmp:
            with open(tmp, "w") as fh:
                fh.write("partial")
            raise RuntimeError("boom")
    assert os.listdir(tmp_path) == []


def test_atomic_write_keeps_old_file_on_error_with_force(tmp_path, small, monkeypatch):
    path = tmp_path / "a.csv"
    path.write_text("old")

    def broken(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(write, "_write_table", broken)
    with pytest.raises(KeyboardInterrupt):
        write.write_triplets_csv(str(path), small, force=True)
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["a.csv"]


def test_os_errors_become_output_errors(tmp_path, monkeypatch):
    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    with pytest.raises(OutputError, match="cannot write: No space left on device"):
        with write.atomic_path(str(tmp_path / "a.csv")):
            full()
    assert os.listdir(tmp_path) == []


def test_files_get_umask_permissions(tmp_path, small):
    path = tmp_path / "a.mtx"
    write.write_mtx(str(path), small)
    mask = os.umask(0)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask


# -------------------------------------------------------------- number text


@pytest.mark.parametrize(
    ("values", "text"),
    [
        ([1.0, 2.0, -3.0], ["1", "2", "-3"]),
        ([3.5, -0.5, 4.0], ["3.5", "-0.5", "4"]),
        ([0.25, 1e-3, -12.125], ["0.25", "0.001", "-12.125"]),
        ([-0.0, 0.0], ["0", "0"]),
        ([1234567890123.0], ["1234567890123"]),
        ([0.1, 0.7], ["0.1", "0.7"]),
    ],
)
def test_short_decimals_are_written_exactly(tmp_path, values, text):
    path = tmp_path / "a.mtx"
    m = Matrix.from_dense(np.array([values]))
    write.write_mtx(str(path), m)
    body = _read(path).splitlines()[3:]
    assert body == text
    assert [float(x) for x in body] == values


def test_full_precision_floats_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.standard_normal(500), [1e300, -1e-300, 2.0**-30, np.pi]])
    path = tmp_path / "a.mtx"
    write.write_mtx(str(path), Matrix.from_dense(values[None, :]))
    body = _read(path).splitlines()[3:]
    assert np.array_equal(np.array([float(x) for x in body]), values)
    assert body[-1] == repr(np.pi)


def test_float32_uses_its_own_shortest_form(tmp_path):
    values = np.array([[0.1, 1 / 3, 2.5]], dtype=np.float32)
    path = tmp_path / "a.csv"
    write.write_dense_csv(str(path), Matrix(shape=(1, 3), data=values))
    assert _read(path) == "0.1,0.33333334,2.5\n"


def test_integer_arrays_and_large_timestamps(tmp_path):
    m = _coo([0, 1], [0, 1], [1.0, 2.0], (2, 2), timestamps=np.array([1_700_000_000_123, -5]))
    path = tmp_path / "a.csv"
    write.write_triplets_csv(str(path), m, header=False)
    assert _read(path) == "1,1,1,1700000000123\n2,2,2,-5\n"


def test_non_finite_values_use_repr(tmp_path):
    path = tmp_path / "a.mtx"
    write.write_mtx(str(path), Matrix.from_dense(np.array([[1.0, np.inf, np.nan]])))
    assert _read(path).splitlines()[3:] == ["1.0", "inf", "nan"]


# ---------------------------------------------------------- Matrix Market


def test_mtx_coordinate_layout(tmp_path, small):
    path = tmp_path / "a.mtx"
    write.write_mtx(str(path), small, comments=["made by a test", "two  words"])
    assert _read(path) == (
        "%%MatrixMarket matrix coordinate real general\n"
        "% written by mfcli\n"
        "% made by a test\n"
        "% two words\n"
        "4 5 4\n"
        "1 2 4\n"
        "1 4 -2.5\n"
        "3 1 3\n"
        "4 3 0.001\n"
    )
    assert (scipy.io.mmread(str(path)).toarray() == small.to_dense()).all()


def test_mtx_integer_and_pattern_fields(tmp_path):
    m = _coo([0, 1, 1], [2, 0, 1], [3, 1, 2], (2, 3))
    write.write_mtx(str(tmp_path / "i.mtx"), m)
    assert _read(tmp_path / "i.mtx").splitlines()[0].endswith("coordinate integer general")
    write.write_mtx(str(tmp_path / "p.mtx"), m, field="pattern")
    text = _read(tmp_path / "p.mtx").splitlines()
    assert text[0] == "%%MatrixMarket matrix coordinate pattern general"
    assert text[3:] == ["1 3", "2 1", "2 2"]
    write.write_mtx(str(tmp_path / "r.mtx"), m, field="real")
    assert scipy.io.mmread(str(tmp_path / "r.mtx")).dtype == np.float64


def test_mtx_array_is_column_major(tmp_path):
    dense = np.array([[1.0, 2.0, 3.0], [4.0, 5.5, 6.0]])
    path = tmp_path / "d.mtx"
    write.write_mtx(str(path), dense)
    lines = _read(path).splitlines()
    assert lines[0] == "%%MatrixMarket matrix array real general"
    assert lines[2:] == ["2 3", "1", "4", "2", "5.5", "3", "6"]
    np.testing.assert_array_equal(scipy.io.mmread(str(path)), dense)


def test_mtx_from_scipy_and_empty(tmp_path):
    csr = sp.random(30, 20, density=0.2, random_state=1, format="csr")
    write.write_mtx(str(tmp_path / "s.mtx"), csr)
    assert abs(scipy.io.mmread(str(tmp_path / "s.mtx")) - csr).max() == 0
    empty = Matrix.from_csr(np.zeros(4, int), np.zeros(0, int), np.zeros(0), (3, 2))
    write.write_mtx(str(tmp_path / "e.mtx"), empty)
    assert _read(tmp_path / "e.mtx").splitlines()[-1] == "3 2 0"


def test_mtx_errors(tmp_path, small):
    with pytest.raises(UsageError, match="invalid Matrix Market field 'complex'"):
        write.write_mtx(str(tmp_path / "a.mtx"), small, field="complex")
    with pytest.raises(UsageError, match="values are not all integers"):
        write.write_mtx(str(tmp_path / "a.mtx"), small, field="integer")
    with pytest.raises(UsageError, match="dense matrix cannot be written with the pattern field"):
        write.write_mtx(str(tmp_path / "a.mtx"), np.ones((2, 2)), field="pattern")
    with pytest.raises(ValueError, match="expected a 2-D array"):
        write.write_mtx(str(tmp_path / "a.mtx"), np.ones(3))
    with pytest.raises(TypeError, match="cannot write a list"):
        write.write_mtx(str(tmp_path / "a.mtx"), [[1]])
    assert os.listdir(tmp_path) == []


# --------------------------------------------------------------------- CSV


def test_triplets_with_labels_and_timestamps(tmp_path, small):
    path = tmp_path / "r.csv"
    write.write_triplets_csv(str(path), small, names=("user", "item", "rating", "timestamp"))
    assert _read(path) == (
        "user,item,rating,timestamp\n101,8,4,10\n101,10,-2.5,20\n103,7,3,30\n104,9,0.001,40\n"
    )


def test_triplets_separators_header_and_no_time(tmp_path, small):
    path = tmp_path / "r.dat"
    write.write_triplets_csv(str(path), small, sep="::", header=False, timestamps=False)
    assert _read(path).splitlines()[0] == "101::8::4"
    write.write_triplets_csv(str(tmp_path / "r.tsv"), small, sep="\t")
    assert _read(tmp_path / "r.tsv").splitlines()[:2] == [
        "row\tcol\tvalue\ttimestamp",
        "101\t8\t4\t10",
    ]


def test_triplets_without_labels_are_one_based(tmp_path):
    m = _coo([0, 2], [1, 0], [1.0, 2.0], (3, 2))
    path = tmp_path / "r.csv"
    write.write_triplets_csv(str(path), m)
    assert _read(path) == "row,col,value\n1,2,1\n3,1,2\n"


def test_string_labels_are_quoted_when_needed(tmp_path):
    m = _coo(
        [0, 1, 2],
        [0, 1, 0],
        [1.0, 2.0, 3.0],
        (3, 2),
        row_labels=np.array(["alice", "bob, jr", 'say "hi"']),
        col_labels=np.array(["café", "x"]),
    )
    path = tmp_path / "r.csv"
    write.write_triplets_csv(str(path), m, header=False)
    assert _read(path) == 'alice,café,1\n"bob, jr",x,2\n"say ""hi""",café,3\n'


def test_dense_input_writes_its_nonzeros(tmp_path):
    path = tmp_path / "r.csv"
    write.write_triplets_csv(str(path), np.array([[0.0, 2.0], [3.0, 0.0]]), header=False)
    assert _read(path) == "1,2,2\n2,1,3\n"


def test_triplet_csv_errors(tmp_path, small):
    with pytest.raises(UsageError, match="4 column names needed, got 3"):
        write.write_triplets_csv(str(tmp_path / "a.csv"), small, names=("a", "b", "c"))
    for bad in ("", "\n", '"'):
        with pytest.raises(UsageError, match="invalid separator"):
            write.write_triplets_csv(str(tmp_path / "a.csv"), small, sep=bad)
    assert os.listdir(tmp_path) == []


def test_dense_csv_headers(tmp_path):
    dense = np.array([[1.0, 2.5], [-3.0, 4.0]])
    write.write_dense_csv(str(tmp_path / "a.csv"), dense)
    assert _read(tmp_path / "a.csv") == "1,2.5\n-3,4\n"
    write.write_dense_csv(str(tmp_path / "b.csv"), dense, header=True)
    assert _read(tmp_path / "b.csv").splitlines()[0] == "c1,c2"
    write.write_dense_csv(str(tmp_path / "c.tsv"), dense, header=["x", "y"], sep="\t")
    assert _read(tmp_path / "c.tsv") == "x\ty\n1\t2.5\n-3\t4\n"
    labelled = Matrix(shape=(2, 2), data=dense, col_labels=np.array(["u", "v"]))
    write.write_dense_csv(str(tmp_path / "d.csv"), labelled, header=True)
    assert _read(tmp_path / "d.csv").splitlines()[0] == "u,v"
    with pytest.raises(UsageError, match="3 header names for 2 columns"):
        write.write_dense_csv(str(tmp_path / "e.csv"), dense, header=["a", "b", "c"])


def test_dense_csv_wide_matrix_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr(write, "CHUNK_ROWS", 64)
    dense = np.arange(40 * 50, dtype=float).reshape(40, 50) / 4
    write.write_dense_csv(str(tmp_path / "a.csv"), dense)
    back = np.loadtxt(tmp_path / "a.csv", delimiter=",")
    np.testing.assert_array_equal(back, dense)


def test_chunked_triplets_match_one_chunk(tmp_path, monkeypatch):
    m = _coo(
        np.arange(1000) % 37,
        np.arange(1000) // 37,
        np.arange(1000) / 8,
        (37, 28),
        duplicates="error",
    )
    write.write_triplets_csv(str(tmp_path / "one.csv"), m)
    monkeypatch.setattr(write, "CHUNK_ROWS", 7)
    write.write_triplets_csv(str(tmp_path / "many.csv"), m)
    assert (tmp_path / "one.csv").read_bytes() == (tmp_path / "many.csv").read_bytes()


def test_labels_file(tmp_path):
    write.write_labels(str(tmp_path / "a.terms"), ["goal", "oven"])
    assert _read(tmp_path / "a.terms") == "goal\noven\n"
    with pytest.raises(OutputError, match="output exists"):
        write.write_labels(str(tmp_path / "a.terms"), ["x"])


# ------------------------------------------------------------- compression


def test_gzip_and_bz2_are_reproducible(tmp_path, small):
    write.write_triplets_csv(str(tmp_path / "a.csv"), small)
    plain = (tmp_path / "a.csv").read_bytes()
    write.write_triplets_csv(str(tmp_path / "a.csv.gz"), small)
    write.write_triplets_csv(str(tmp_path / "b.csv.gz"), small)
    assert gzip.decompress((tmp_path / "a.csv.gz").read_bytes()) == plain
    assert (tmp_path / "a.csv.gz").read_bytes() == (tmp_path / "b.csv.gz").read_bytes()
    write.write_triplets_csv(str(tmp_path / "a.csv.bz2"), small)
    assert bz2.decompress((tmp_path / "a.csv.bz2").read_bytes()) == plain


# -------------------------------------------------------------------- HDF5


def test_h5_csr_layout(tmp_path, small):
    path = tmp_path / "a.h5"
    write.write_h5_csr(str(path), small)
    with h5py.File(path, "r") as h5:
        g = h5["X"]
        assert g.attrs["encoding-type"] == "csr_matrix"
        assert list(g.attrs["shape"]) == [4, 5]
        np.testing.assert_array_equal(g["data"][()], small.data)
        np.testing.assert_array_equal(g["indices"][()], small.indices)
        np.testing.assert_array_equal(g["indptr"][()], small.indptr)
        np.testing.assert_array_equal(g["timestamps"][()], small.timestamps)
        np.testing.assert_array_equal(h5["labels/row"][()], small.row_labels)
        np.testing.assert_array_equal(h5["labels/col"][()], small.col_labels)


def test_h5_dense_layout_labels_and_compression(tmp_path):
    dense = np.arange(12.0).reshape(3, 4)
    m = Matrix(shape=(3, 4), data=dense, col_labels=np.array(["a", "b", "c", "d"]))
    write.write_h5_dense(str(tmp_path / "a.h5"), m, name="/data", compression="gzip")
    with h5py.File(tmp_path / "a.h5", "r") as h5:
        np.testing.assert_array_equal(h5["data"][()], dense)
        assert h5["data"].compression == "gzip"
        assert list(h5["labels/col"].asstr()[()]) == ["a", "b", "c", "d"]
        assert "row" not in h5["labels"]


def test_h5_is_byte_identical_across_runs(tmp_path, small):
    write.write_h5_csr(str(tmp_path / "a.h5"), small)
    write.write_h5_csr(str(tmp_path / "b.h5"), small)
    assert (tmp_path / "a.h5").read_bytes() == (tmp_path / "b.h5").read_bytes()


def test_h5_errors(tmp_path, small):
    with pytest.raises(UsageError, match="invalid HDF5 object name 'labels'"):
        write.write_h5_csr(str(tmp_path / "a.h5"), small, name="labels")
    with pytest.raises(UsageError, match="invalid HDF5 object name ''"):
        write.write_h5_dense(str(tmp_path / "a.h5"), np.ones((2, 2)), name="/")
    (tmp_path / "b.h5").write_bytes(b"keep")
    with pytest.raises(OutputError, match="output exists"):
        write.write_h5_dense(str(tmp_path / "b.h5"), np.ones((2, 2)))
    assert sorted(os.listdir(tmp_path)) == ["b.h5"]


def test_write_matrix_dispatch(tmp_path, small):
    assert write.write_matrix(str(tmp_path / "a.csv"), small) == "csv"
    assert _read(tmp_path / "a.csv").startswith("row,col,value,timestamp\n101,8,4,10")
    assert write.write_matrix(str(tmp_path / "a.tsv"), small, names=("u", "i", "r", "t")) == "tsv"
    assert _read(tmp_path / "a.tsv").startswith("u\ti\tr\tt\n")
    assert write.write_matrix(str(tmp_path / "d.csv"), np.eye(2)) == "csv"
    assert _read(tmp_path / "d.csv") == "c1,c2\n1,0\n0,1\n"
    assert write.write_matrix(str(tmp_path / "a.out"), small, format="mtx") == "mtx"
    assert write.write_matrix(str(tmp_path / "a.h5"), small) == "h5"
    assert write.write_matrix(str(tmp_path / "d.h5"), np.eye(2)) == "h5"
    with h5py.File(tmp_path / "d.h5", "r") as h5:
        assert h5["X"].shape == (2, 2)


# -------------------------------------------------------------- round trip


def test_h5_round_trip_through_read_matrix(tmp_path, small):
    from mfcli.io import read_matrix

    write.write_h5_csr(str(tmp_path / "a.h5"), small)
    back = read_matrix(str(tmp_path / "a.h5"))
    assert back.shape == small.shape
    np.testing.assert_array_equal(back.to_dense(), small.to_dense())
    dense = np.random.default_rng(0).standard_normal((6, 5))
    write.write_h5_dense(str(tmp_path / "d.h5"), dense)
    np.testing.assert_array_equal(read_matrix(str(tmp_path / "d.h5")).data, dense)


@needs_mtx_reader
@pytest.mark.parametrize("suffix", [".mtx", ".mtx.gz"])
def test_mtx_round_trip_through_read_matrix(tmp_path, suffix):
    from mfcli.io import read_matrix

    rng = np.random.default_rng(1)
    csr = sp.random(40, 30, density=0.1, random_state=2, format="csr")
    csr.data = np.round(rng.standard_normal(csr.nnz), 6)
    write.write_mtx(str(tmp_path / f"a{suffix}"), csr)
    back = read_matrix(str(tmp_path / f"a{suffix}"))
    assert back.shape == (40, 30)
    np.testing.assert_array_equal(back.to_dense(), csr.toarray())
    dense = rng.standard_normal((7, 4))
    write.write_mtx(str(tmp_path / "d.mtx"), dense)
    np.testing.assert_allclose(read_matrix(str(tmp_path / "d.mtx")).to_dense(), dense, rtol=1e-15)


@needs_mtx_reader
def test_pattern_mtx_round_trip(tmp_path):
    from mfcli.io import read_matrix

    m = _coo([0, 1, 2], [2, 0, 1], [5.0, 6.0, 7.0], (3, 3))
    write.write_mtx(str(tmp_path / "p.mtx"), m, field="pattern")
    np.testing.assert_array_equal(read_matrix(str(tmp_path / "p.mtx")).to_dense(), m.to_dense() > 0)


@needs_csv_reader
@pytest.mark.parametrize(("name", "sep"), [("r.csv", ","), ("r.tsv", "\t"), ("r.csv.gz", ",")])
def test_triplet_csv_round_trip_keeps_ids_values_and_time(tmp_path, small, name, sep):
    from mfcli.io import read_matrix

    path = tmp_path / name
    write.write_triplets_csv(str(path), small, sep=sep, names=("user", "item", "rating", "time"))
    back = read_matrix(str(path))
    assert _triples(back) == _triples(small)


@needs_csv_reader
def test_string_label_csv_round_trip(tmp_path):
    from mfcli.io import read_matrix

    m = _coo(
        [0, 1, 1],
        [1, 0, 1],
        [1.5, 2.0, 3.0],
        (2, 2),
        row_labels=np.array(["ann", "bo b"]),
        col_labels=np.array(["x1", "y2"]),
    )
    write.write_triplets_csv(str(tmp_path / "s.csv"), m, names=("user", "item", "rating"))
    assert _triples(read_matrix(str(tmp_path / "s.csv"))) == _triples(m)


@needs_csv_reader
def test_dense_csv_round_trip(tmp_path):
    from mfcli.io import read_matrix

    dense = np.round(np.random.default_rng(3).standard_normal((12, 7)), 4)
    write.write_dense_csv(str(tmp_path / "d.csv"), dense, header=True)
    back = read_matrix(str(tmp_path / "d.csv"))
    assert not back.is_sparse
    np.testing.assert_array_equal(back.data, dense)


def _triples(m: Matrix) -> set:
    """{(row label, col label, value[, time])} of a sparse matrix."""
    rows = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))
    rl = m.row_labels if m.row_labels is not None else np.arange(1, m.shape[0] + 1)
    cl = m.col_labels if m.col_labels is not None else np.arange(1, m.shape[1] + 1)
    ts = m.timestamps if m.timestamps is not None else [None] * m.nnz
    return {
        (str(rl[r]), str(cl[c]), float(v), None if t is None else int(t))
        for r, c, v, t in zip(rows, m.indices, m.data, ts, strict=True)
    }
