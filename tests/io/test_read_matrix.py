"""The one entry point: format choice, object paths, label files, stdin, CLI option checks."""

from __future__ import annotations

import io
import sys

import h5py
import numpy as np
import pytest

from mfcli.errors import InputDataError, UnsupportedFormatError, UsageError
from mfcli.io import ReadOptions, detect, read_matrix, source
from tests.cli.helpers import invoke

MTX = "%%MatrixMarket matrix coordinate real general\n2 3 2\n1 1 1.5\n2 3 -2\n"


@pytest.fixture
def mtx_file(tmp_path):
    path = tmp_path / "m.mtx"
    path.write_text(MTX)
    return path


def _stdin(monkeypatch, data: bytes):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    source._stdin_cache.clear()


def test_label_files_are_attached(mtx_file, tmp_path):
    rows, cols = tmp_path / "rows.txt", tmp_path / "cols.txt"
    rows.write_text("r1\nr2\n")
    cols.write_text("10\n20\n30\n")
    m = read_matrix(str(mtx_file), ReadOptions(row_labels=str(rows), col_labels=str(cols)))
    assert m.row_labels.tolist() == ["r1", "r2"]
    assert m.col_labels.tolist() == [10, 20, 30]


def test_label_file_of_wrong_length_names_it(mtx_file, tmp_path):
    rows = tmp_path / "rows.txt"
    rows.write_text("only-one\n")
    with pytest.raises(InputDataError) as caught:
        read_matrix(str(mtx_file), ReadOptions(row_labels=str(rows)))
    assert str(caught.value) == (
        f"error: {rows}: 1 labels for 2 rows (the label file needs one line per row)"
    )


def test_forced_format_overrides_the_suffix(tmp_path):
    path = tmp_path / "data.txt"
    path.write_text(MTX)
    assert read_matrix(str(path)).meta["format"] == "mtx"  # content wins
    csv_path = tmp_path / "data.bin"
    csv_path.write_text("1,2,5\n2,1,3\n")
    assert read_matrix(str(csv_path), ReadOptions(format="csv")).nnz == 2


def test_misleading_suffix_loses_to_hdf5_content(tmp_path):
    path = tmp_path / "looks.csv"
    with h5py.File(path, "w") as fh:
        fh["X"] = np.eye(3)
    assert read_matrix(str(path)).shape == (3, 3)


def test_unknown_format_is_usage_error(mtx_file):
    with pytest.raises(UsageError, match="unknown format 'xls'"):
        read_matrix(str(mtx_file), ReadOptions(format="xls"))


def test_object_path_and_dataset_must_agree(tmp_path):
    path = tmp_path / "two.h5"
    with h5py.File(path, "w") as fh:
        fh["a"] = np.ones((2, 2))
        fh["b"] = np.zeros((3, 3))
    assert read_matrix(f"{path}:/b").shape == (3, 3)
    assert read_matrix(str(path), ReadOptions(dataset="/a")).shape == (2, 2)
    with pytest.raises(UsageError, match="two object paths given"):
        read_matrix(f"{path}:/b", ReadOptions(dataset="/a"))


def test_binary_garbage_is_unsupported(tmp_path):
    path = tmp_path / "blob"
    path.write_bytes(b"\x00\x01\x02garbage")
    with pytest.raises(UnsupportedFormatError) as caught:
        read_matrix(str(path))
    assert caught.value.exit_code == 65
    assert "unrecognised binary format" in str(caught.value)


@pytest.mark.parametrize("suffix", [".npz", ".npy", ".parquet", ".xlsx", ".zip"])
def test_unsupported_suffixes(tmp_path, suffix):
    path = tmp_path / f"x{suffix}"
    path.write_bytes(b"PK\x03\x04")
    with pytest.raises(UnsupportedFormatError, match="unsupported format"):
        read_matrix(str(path))


def test_stdin_sniffs_matrix_market(monkeypatch):
    _stdin(monkeypatch, MTX.encode())
    m = read_matrix("-")
    assert m.meta["format"] == "mtx" and m.meta["path"] == "<stdin>"
    assert m.to_dense().tolist() == [[1.5, 0, 0], [0, 0, -2]]


def test_stdin_csv_and_gzip(monkeypatch):
    import gzip

    _stdin(monkeypatch, gzip.compress(b"u,i,r\n1,1,4\n2,1,5\n"))
    m = read_matrix("-")
    assert m.meta["format"] == "csv" and m.nnz == 2


def test_stdin_refuses_hdf5(monkeypatch, tmp_path):
    path = tmp_path / "x.h5"
    with h5py.File(path, "w") as fh:
        fh["X"] = np.eye(2)
    _stdin(monkeypatch, path.read_bytes())
    with pytest.raises(UnsupportedFormatError, match="cannot be read from stdin"):
        read_matrix("-")


def test_sniff_rules():
    assert detect.sniff(b"\x89HDF\r\n\x1a\nrest") == "h5"
    assert detect.sniff(b"MATLAB 7.3 MAT-file") == "mat"
    assert detect.sniff(b"RDX3\nX\n") == "rdata"
    assert detect.sniff(b"X\n\x00\x00\x00\x03") == "rdata"
    assert detect.sniff(b"%%matrixmarket matrix") == "mtx"
    assert detect.sniff(b"  %MatrixMarket matrix") == "mtx"
    assert detect.sniff(b"A\nB\n") == "csv"
    assert detect.sniff(b"\x00\x00") == "unknown"


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--format", "xls", "error: invalid --format 'xls' (use one of auto|mtx|csv|h5)"),
        (
            "--duplicates",
            "max",
            "error: invalid --duplicates 'max' (use one of sum|last|error)",
        ),
    ],
)
def test_cli_rejects_bad_reader_options(mtx_file, flag, value, message):
    result = invoke("info", str(mtx_file), flag, value)
    assert result.exit_code == 2
    assert result.stderr == message + "\n"


@pytest.mark.parametrize("fmt", ["auto", "mtx"])
def test_cli_format_values(mtx_file, fmt):
    assert invoke("info", str(mtx_file), "--format", fmt).exit_code == 0


def test_cli_wrong_forced_format_is_data_error(mtx_file):
    result = invoke("info", str(mtx_file), "--format", "h5")
    assert result.exit_code == 65
    assert result.stderr.startswith(f"error: {mtx_file}: ")


@pytest.mark.parametrize("policy", ["sum", "last", "error"])
def test_cli_duplicate_policies(tmp_path, policy):
    path = tmp_path / "d.csv"
    path.write_text("u,i,r\n1,1,4\n1,1,5\n")
    result = invoke("info", str(path), "--duplicates", policy, "--json")
    if policy == "error":
        assert result.exit_code == 65
        assert "duplicate entry (1, 1) at line 3" in result.stderr
    else:
        assert result.exit_code == 0
        import json

        expected = 9.0 if policy == "sum" else 5.0
        assert json.loads(result.stdout)["value_max"] == expected
