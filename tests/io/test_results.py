"""The HDF5 result file: round trip, atomic writes, refusals, validation, determinism."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from mfcli.data import Matrix
from mfcli.errors import InputDataError, InputMissingError, OutputError
from mfcli.io import atomic, results
from mfcli.io.results import (
    Result,
    is_result_file,
    provenance,
    read_result,
    summarize_result,
    write_result,
)

REPO = Path(__file__).resolve().parents[2]
VOLATILE = {("/", "created_utc"), ("/provenance", "elapsed_s")}


def full_result(elapsed_s: float = 1.25, created_utc: str | None = None) -> Result:
    rng = np.random.default_rng(7)
    train = Matrix.from_coo(
        np.array([0, 1, 2, 2, 0]),
        np.array([1, 0, 2, 3, 3]),
        np.array([1.0, 2.0, 3.0, 4.0, 5.0], dtype=np.float32),
        (3, 4),
        dtype=np.float32,
    )
    return Result(
        method="svd",
        config_yaml="# mfcli\ncommand: svd\nmodel:\n  rank: 2\ninput:\n  path: données.csv\n",
        provenance={
            "input_path": "ratings.csv",
            "input_sha256": "ab" * 32,
            "input_shape": [3, 4],
            "input_nnz": 5,
            "seed": 0,
            "threads": 2,
            "elapsed_s": elapsed_s,
            "peak_rss_bytes": 123456789,
            "numpy_version": "2.0",
        },
        factors={
            "row": rng.random((3, 2), dtype=np.float32),
            "col": rng.random((4, 2), dtype=np.float32),
            "singular_values": np.array([3.0, 1.5], dtype=np.float32),
        },
        biases={"global": 3.25, "row": rng.random(3), "col": rng.random(4)},
        labels={"row": np.array(["alice", "bob", "zoë"]), "col": np.array([10, 20, 30, 2**40])},
        history={
            "loss": np.array([3.0, 2.0, 1.5]),
            "seconds": np.array([0.1, 0.2, 0.3]),
            "iteration": np.arange(3),
        },
        metrics={"rmse": 0.875, "ndcg@10": 0.25, "n_test_users": 3},
        metrics_split={"kind": "random", "test_fraction": 0.2, "seed": 0},
        train=train,
        extra={"state": {"step": np.array(3), "rng": np.arange(4, dtype=np.uint64), "note": "é"}},
        created_utc=created_utc,
    )


def assert_same_array(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype.kind == b.dtype.kind
    if a.dtype.kind != "U":
        assert a.dtype == b.dtype
    assert a.shape == b.shape
    assert np.array_equal(a, b)


def assert_same_result(a: Result, b: Result) -> None:
    assert a.method == b.method
    assert a.config_yaml == b.config_yaml
    assert a.provenance == b.provenance
    assert a.metrics == b.metrics
    assert a.metrics_split == b.metrics_split
    for section in ("factors", "biases", "labels", "history"):
        left, right = getattr(a, section), getattr(b, section)
        assert list(left) == list(right), section
        for name in left:
            assert_same_array(left[name], right[name])
    assert (a.train is None) == (b.train is None)
    if a.train is not None:
        assert a.train.shape == b.train.shape
        for attr in ("indptr", "indices", "data"):
            assert_same_array(getattr(a.train, attr), getattr(b.train, attr))


# ---------------------------------------------------------------- round trip
def test_full_round_trip(tmp_path):
    original = full_result(created_utc="2024-01-02T03:04:05Z")
    path = tmp_path / "model.h5"
    write_result(original, path)
    back = read_result(path)
    assert_same_result(original, back)
    assert back.created_utc == "2024-01-02T03:04:05Z"
    assert back.format_version == 1
    assert back.mfcli_version
    assert back.k == 2
    assert back.labels["row"].dtype.kind == "U" and back.labels["col"].dtype == np.int64
    assert isinstance(back.biases["global"], float)
    assert back.extra["state"]["note"] == "é"
    assert_same_array(back.extra["state"]["rng"], np.arange(4, dtype=np.uint64))
    # Dict order survives (creation order is tracked), so a re-write is identical.
    assert list(back.history) == ["loss", "seconds", "iteration"]


def test_rewrite_of_a_read_result_is_byte_identical(tmp_path):
    first, second = tmp_path / "a.h5", tmp_path / "b.h5"
    write_result(full_result(), first)
    write_result(read_result(first), second)
    assert first.read_bytes() == second.read_bytes()


def test_minimal_result_and_optional_groups(tmp_path):
    path = tmp_path / "m.h5"
    write_result(Result(method="nmf", factors={"row": np.ones((2, 1))}), path)
    with h5py.File(path, "r") as f:
        assert {"config", "provenance", "factors", "history", "metrics"} <= set(f)
        assert not {"bias", "labels", "train"} & set(f)
    back = read_result(path)
    assert back.train is None and back.biases == {} and back.labels == {}
    assert back.config_yaml == "" and back.k == 1


def test_dense_train_is_stored_as_csr(tmp_path):
    dense = np.array([[0.0, 1.0], [2.0, 0.0], [0.0, 0.0]])
    path = tmp_path / "d.h5"
    write_result(Result(method="als", train=Matrix.from_dense(dense)), path)
    back = read_result(path)
    assert back.train.is_sparse
    assert np.array_equal(back.train.to_dense(), dense)


def test_empty_string_labels(tmp_path):
    path = tmp_path / "e.h5"
    write_result(Result(method="als", labels={"row": np.array([], dtype=str)}), path)
    assert read_result(path).labels["row"].shape == (0,)


def test_plain_h5py_sees_the_contract_layout(tmp_path):
    path = tmp_path / "model.h5"
    write_result(full_result(), path)
    with h5py.File(path, "r") as f:
        assert f.attrs["format"] == "mfcli-result"
        assert f.attrs["format_version"] == 1
        assert list(f.attrs)[:5] == [
            "format",
            "format_version",
            "mfcli_version",
            "method",
            "created_utc",
        ]
        assert list(f)[:3] == ["config", "provenance", "factors"]
        assert "command: svd" in f["config"].asstr()[()]
        assert f["factors/row"].shape == (3, 2) and f["factors/col"].shape == (4, 2)
        assert f["bias/global"].shape == ()
        assert list(f["train"].attrs["shape"]) == [3, 4]
        assert f["metrics"].attrs["rmse"] == 0.875
        assert f["metrics"].attrs["split.kind"] == "random"
        assert h5py.check_string_dtype(f["labels/row"].dtype).encoding == "utf-8"
        assert f["labels/col"].dtype == np.int64


def test_lazy_load_of_sections(tmp_path):
    path = tmp_path / "model.h5"
    write_result(full_result(), path)
    part = read_result(path, load=("factors",))
    assert set(part.factors) == {"row", "col", "singular_values"}
    assert part.train is None and part.config_yaml == "" and part.history == {}
    assert part.method == "svd"
    with pytest.raises(ValueError, match="unknown sections"):
        read_result(path, load=("nope",))
    assert "command: svd" in results.read_config_text(path)


# ------------------------------------------------------------------ atomicity
def _listing(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


@pytest.mark.parametrize("exc", [RuntimeError("boom"), KeyboardInterrupt()])
def test_failure_mid_write_leaves_nothing(tmp_path, monkeypatch, exc):
    def explode(*args, **kwargs):
        raise exc

    monkeypatch.setattr(results, "_write_train", explode)
    with pytest.raises(type(exc)):
        write_result(full_result(), tmp_path / "model.h5")
    assert _listing(tmp_path) == []


def test_failure_during_forced_overwrite_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "model.h5"
    write_result(full_result(), path)
    before = path.read_bytes()

    def disk_full(path):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic, "_fsync", disk_full)
    with pytest.raises(OutputError) as info:
        write_result(Result(method="als"), path, force=True)
    assert info.value.exit_code == 73 and "cannot write" in info.value.message
    assert path.read_bytes() == before
    assert _listing(tmp_path) == ["model.h5"]


def test_file_appearing_during_the_write_is_not_clobbered(tmp_path, monkeypatch):
    path = tmp_path / "model.h5"
    original = results._write_file

    def racing(result, tmp):
        original(result, tmp)
        path.write_text("someone else's")

    monkeypatch.setattr(results, "_write_file", racing)
    with pytest.raises(OutputError, match="output exists"):
        write_result(full_result(), path)
    assert path.read_text() == "someone else's"
    assert _listing(tmp_path) == ["model.h5"]


def test_output_mode_follows_umask(tmp_path):
    old = os.umask(0o027)
    try:
        write_result(Result(method="svd"), tmp_path / "m.h5")
    finally:
        os.umask(old)
    assert (tmp_path / "m.h5").stat().st_mode & 0o777 == 0o640


# ------------------------------------------------------------------ refusals
def test_refuses_to_overwrite_without_force(tmp_path):
    path = tmp_path / "model.h5"
    write_result(Result(method="svd"), path)
    with pytest.raises(OutputError) as info:
        write_result(Result(method="nmf"), path)
    err = info.value
    assert err.exit_code == 73
    assert err.one_line() == f"error: {path}: output exists (use --force)"
    assert read_result(path).method == "svd"
    write_result(Result(method="nmf"), path, force=True)
    assert read_result(path).method == "nmf"
    assert _listing(tmp_path) == ["model.h5"]


def test_missing_directory_is_73(tmp_path):
    with pytest.raises(OutputError, match="directory does not exist") as info:
        write_result(Result(method="svd"), tmp_path / "no" / "model.h5")
    assert info.value.exit_code == 73


def test_parent_is_a_file_is_73(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError) as info:
        write_result(Result(method="svd"), tmp_path / "file" / "model.h5")
    assert info.value.exit_code == 73


def test_output_is_a_directory_is_73(tmp_path):
    with pytest.raises(OutputError, match="is a directory") as info:
        write_result(Result(method="svd"), tmp_path, force=True)
    assert info.value.exit_code == 73


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_directory_is_73(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(OutputError, match="not writable") as info:
            write_result(Result(method="svd"), locked / "model.h5")
        assert info.value.exit_code == 73
    finally:
        locked.chmod(0o700)


def test_mkstemp_failure_is_73(tmp_path, monkeypatch):
    # Stands in for an unwritable directory when the tests run as root.
    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(atomic.tempfile, "mkstemp", denied)
    with pytest.raises(OutputError, match="cannot create: Permission denied") as info:
        write_result(Result(method="svd"), tmp_path / "model.h5")
    assert info.value.exit_code == 73


@pytest.mark.parametrize(
    "bad, match",
    [
        (Result(method=""), "method"),
        (Result(method="svd", history={"loss": np.ones((2, 2))}), "1-D"),
        (Result(method="svd", metrics={"split.kind": 1.0}), "reserved prefix"),
        (Result(method="svd", extra={"factors": np.ones(2)}), "reserved names"),
        (Result(method="svd", factors={"a/b": np.ones(2)}), "valid HDF5 name"),
    ],
)
def test_schema_violations_are_caller_bugs(tmp_path, bad, match):
    with pytest.raises(ValueError, match=match):
        write_result(bad, tmp_path / "x.h5")
    assert _listing(tmp_path) == []


# -------------------------------------------------------------------- reading
def test_missing_file_is_66(tmp_path):
    with pytest.raises(InputMissingError) as info:
        read_result(tmp_path / "none.h5")
    assert info.value.exit_code == 66


def test_text_file_is_65(tmp_path):
    path = tmp_path / "model.h5"
    path.write_text("not hdf5\n")
    with pytest.raises(InputDataError, match="not an HDF5 file") as info:
        read_result(path)
    assert info.value.exit_code == 65
    assert str(path) in info.value.one_line()


def test_other_hdf5_is_65(tmp_path):
    path = tmp_path / "matrix.h5"
    with h5py.File(path, "w") as f:
        f["X"] = np.eye(3)
    with pytest.raises(InputDataError, match="not an mfcli result file") as info:
        read_result(path)
    assert info.value.exit_code == 65


def test_future_format_version_is_65(tmp_path):
    path = tmp_path / "model.h5"
    write_result(Result(method="svd"), path)
    with h5py.File(path, "r+") as f:
        f.attrs["format_version"] = 2
    with pytest.raises(InputDataError) as info:
        read_result(path)
    err = info.value
    assert err.exit_code == 65
    assert "format_version 2 is newer than this mfcli reads (1)" in err.message
    assert err.hint == "upgrade mfcli"
    with pytest.raises(InputDataError):
        summarize_result(path)


def test_damaged_result_is_65(tmp_path):
    path = tmp_path / "model.h5"
    write_result(full_result(), path)
    with h5py.File(path, "r+") as f:
        del f["train/indices"]
    with pytest.raises(InputDataError, match="damaged mfcli result file") as info:
        read_result(path)
    assert info.value.exit_code == 65
    assert read_result(path, load=("factors",)).k == 2  # the rest is still readable


def test_is_result_file(tmp_path):
    good, text, other = tmp_path / "a.h5", tmp_path / "b.txt", tmp_path / "c.h5"
    write_result(Result(method="svd"), good)
    text.write_text("x")
    with h5py.File(other, "w") as f:
        f.attrs["format"] = "something-else"
    assert is_result_file(good)
    assert not is_result_file(text)
    assert not is_result_file(other)
    assert not is_result_file(tmp_path / "missing.h5")
    assert not is_result_file(tmp_path)


# ---------------------------------------------------------------- determinism
def _walk(path: Path) -> dict:
    """Every object's kind, dtype, shape, values and attrs, by HDF5 path."""
    out = {}

    def attrs(name, obj):
        for key, value in obj.attrs.items():
            if (name, key) not in VOLATILE:
                out[(name, "@" + key)] = repr(value)

    def visit(name, obj):
        name = "/" + name
        if isinstance(obj, h5py.Dataset):
            value = obj.asstr()[()] if h5py.check_string_dtype(obj.dtype) else obj[()]
            out[name] = (str(obj.dtype), obj.shape, repr(np.asarray(value).tolist()))
        else:
            out[name] = "group"
        attrs(name, obj)

    with h5py.File(path, "r") as f:
        attrs("/", f)
        f.visititems(visit)
    return out


def test_two_writes_differ_only_in_volatile_attrs(tmp_path):
    a, b = tmp_path / "a.h5", tmp_path / "b.h5"
    write_result(full_result(elapsed_s=1.0, created_utc="2024-01-01T00:00:00Z"), a)
    write_result(full_result(elapsed_s=9.5, created_utc="2025-06-30T12:34:56Z"), b)
    assert _walk(a) == _walk(b)
    # Fixed-width timestamp, float64 elapsed_s: same layout, a few bytes differ.
    raw_a, raw_b = a.read_bytes(), b.read_bytes()
    assert len(raw_a) == len(raw_b)
    assert 0 < sum(x != y for x, y in zip(raw_a, raw_b, strict=True)) <= 32


def test_identical_bytes_when_volatile_attrs_are_fixed(tmp_path):
    a, b = tmp_path / "a.h5", tmp_path / "b.h5"
    write_result(full_result(created_utc="2024-01-01T00:00:00Z"), a)
    write_result(full_result(created_utc="2024-01-01T00:00:00Z"), b)
    assert a.read_bytes() == b.read_bytes()


def test_identical_bytes_across_processes(tmp_path):
    script = (
        "import sys; sys.path.insert(0, sys.argv[2]);"
        "from tests.io.test_results import full_result;"
        "from mfcli.io.results import write_result;"
        "write_result(full_result(), sys.argv[1])"
    )
    env = {**os.environ, "SOURCE_DATE_EPOCH": "1700000000"}
    digests = []
    for name in ("a.h5", "b.h5"):
        out = tmp_path / name
        subprocess.run([sys.executable, "-c", script, str(out), str(REPO)], check=True, env=env)
        digests.append(hashlib.sha256(out.read_bytes()).hexdigest())
    assert digests[0] == digests[1]
    assert read_result(tmp_path / "a.h5").created_utc == "2023-11-14T22:13:20Z"


# ------------------------------------------------------------ summary, provenance
def test_summarize_result(tmp_path):
    path = tmp_path / "model.h5"
    write_result(full_result(created_utc="2024-01-01T00:00:00Z"), path)
    s = summarize_result(path)
    json.dumps(s)  # machine-readable for --json
    assert s["method"] == "svd" and s["format_version"] == 1 and s["k"] == 2
    assert s["created_utc"] == "2024-01-01T00:00:00Z"
    assert s["factors"]["row"] == {"shape": [3, 2], "dtype": "float32"}
    assert s["history"] == {"loss": 3, "seconds": 3, "iteration": 3}
    assert s["metrics"] == {"n_test_users": 3, "ndcg@10": 0.25, "rmse": 0.875}
    assert s["metrics_split"]["kind"] == "random"
    assert s["labels"] == {"row": {"count": 3, "kind": "str"}, "col": {"count": 4, "kind": "int"}}
    assert s["train"] == {"shape": [3, 4], "nnz": 5}
    assert s["provenance"]["input_shape"] == [3, 4]
    assert s["extra"] == ["state"]
    assert s["config"].startswith("# mfcli")


def test_provenance(tmp_path):
    data = tmp_path / "m.mtx"
    data.write_bytes(b"%%MatrixMarket matrix coordinate real general\n2 2 1\n1 1 5\n")
    matrix = Matrix.from_dense(np.array([[5.0, 0.0], [0.0, 0.0]]), meta={"format": "mtx"})
    p = provenance(str(data), matrix, seed=3, threads=None, elapsed_s=0.5, peak_rss_bytes=10)
    assert p["input_sha256"] == hashlib.sha256(data.read_bytes()).hexdigest()
    assert p["input_path"] == str(data) and p["input_format"] == "mtx"
    assert p["input_shape"] == [2, 2] and p["input_nnz"] == 1
    assert p["seed"] == 3 and "threads" not in p
    for pkg in ("python", "numpy", "scipy", "numba", "h5py", "hdf5"):
        assert p[f"{pkg}_version"]
    stdin = provenance("-", matrix, seed=0, threads=1, elapsed_s=0, peak_rss_bytes=0)
    assert "input_sha256" not in stdin and stdin["input_path"] == "-"


def test_provenance_of_an_hdf5_object(tmp_path):
    path = tmp_path / "in.h5"
    with h5py.File(path, "w") as f:
        f["X"] = np.eye(2)
    p = provenance(f"{path}:/X", None, seed=0, threads=1, elapsed_s=1.0, peak_rss_bytes=1)
    assert p["input_dataset"] == "/X"
    assert p["input_sha256"] == results.sha256_file(path)


def test_sha256_streams_in_chunks(tmp_path):
    path = tmp_path / "big.bin"
    payload = os.urandom(3 * (1 << 20) + 17)
    path.write_bytes(payload)
    assert results.sha256_file(path) == hashlib.sha256(payload).hexdigest()


def test_docs_name_every_object_and_attr(tmp_path):
    doc = (REPO / "docs" / "result-file.md").read_text(encoding="utf-8")
    path = tmp_path / "model.h5"
    write_result(full_result(), path)
    names = {"created_utc", "elapsed_s", "split."}
    names |= set(provenance(str(path), None, seed=0, threads=1, elapsed_s=1, peak_rss_bytes=1))
    for key in _walk(path):
        if isinstance(key, tuple):  # an attribute; metric names are data, not schema
            if key[0] != "/metrics":
                names.add(key[1].lstrip("@"))
        elif not key.startswith(("/history/", "/state")):  # data names again
            names.add(key)
    # Paths appear in the layout block, attribute names in backticks.
    assert sorted(n for n in names if (n if n[0] == "/" else f"`{n}`") not in doc) == []
