"""Opening inputs: large plain files are mapped, everything else is read."""

from __future__ import annotations

import bz2
import gzip
import mmap

import numpy as np
import pytest

from mfcli.errors import InputDataError, InputMissingError
from mfcli.io import read_matrix, source

CSV = b"user,item,rating,timestamp\n" + b"".join(
    f"{u},{i},{(u * i) % 5 + 1},{1000 + u + i}\n".encode() for u in range(1, 60) for i in (3, 7, 11)
)
MTX = b"%%MatrixMarket matrix coordinate real general\n3 4 3\n1 1 1.5\n2 4 -2\n3 2 0.25\n"


@pytest.fixture
def map_everything(monkeypatch):
    monkeypatch.setattr(source, "MAP_MIN_BYTES", 0)


def test_large_plain_file_is_mapped(tmp_path, map_everything):
    path = tmp_path / "r.csv"
    path.write_bytes(CSV)
    data = source.map_bytes(str(path))
    assert isinstance(data, mmap.mmap)
    assert data[:] == CSV and len(data) == len(CSV)


def test_small_file_is_read(tmp_path):
    path = tmp_path / "r.csv"
    path.write_bytes(CSV)
    assert source.map_bytes(str(path)) == CSV


@pytest.mark.parametrize("compress", [gzip.compress, bz2.compress])
def test_compressed_file_is_read_and_decompressed(tmp_path, map_everything, compress):
    path = tmp_path / "r.csv.gz"
    path.write_bytes(compress(CSV))
    data = source.map_bytes(str(path))
    assert isinstance(data, bytes) and data == CSV


def test_empty_file_is_read(tmp_path, map_everything):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    assert source.map_bytes(str(path)) == b""


def test_missing_file_is_exit_66(tmp_path):
    with pytest.raises(InputMissingError) as info:
        source.map_bytes(str(tmp_path / "nope.csv"))
    assert info.value.exit_code == 66


def test_released_pages_read_back_the_same(tmp_path, map_everything):
    path = tmp_path / "big.bin"
    blob = np.random.default_rng(0).integers(0, 256, 5 * mmap.PAGESIZE + 123, dtype=np.uint8)
    path.write_bytes(blob.tobytes())
    data = source.map_bytes(str(path))
    view = np.frombuffer(data, dtype=np.uint8)
    assert view.sum() == blob.sum()  # every page resident
    source.release(data, 17, len(data))  # whole pages inside the range only
    source.release(data, 0, 10)  # no whole page: nothing to do
    np.testing.assert_array_equal(view, blob)


def test_release_leaves_bytes_alone():
    data = b"abc" * 10
    source.release(data, 0, len(data))
    assert data == b"abc" * 10


@pytest.mark.parametrize(("name", "content"), [("r.csv", CSV), ("m.mtx", MTX)])
def test_mapped_read_equals_plain_read(tmp_path, monkeypatch, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    plain = read_matrix(str(path))
    monkeypatch.setattr(source, "MAP_MIN_BYTES", 0)
    mapped = read_matrix(str(path))
    assert mapped.shape == plain.shape
    np.testing.assert_array_equal(mapped.indptr, plain.indptr)
    np.testing.assert_array_equal(mapped.indices, plain.indices)
    np.testing.assert_array_equal(mapped.data, plain.data)
    if plain.timestamps is not None:
        np.testing.assert_array_equal(mapped.timestamps, plain.timestamps)


def test_mapped_csv_error_names_the_line(tmp_path, map_everything):
    path = tmp_path / "bad.csv"
    path.write_bytes(CSV + b"5,6,x,7\n")
    with pytest.raises(InputDataError) as info:
        read_matrix(str(path))
    assert info.value.exit_code == 65
    bad_line = CSV.count(b"\n") + 1
    assert f":{bad_line}:" in info.value.one_line()
