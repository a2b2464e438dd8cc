"""Two identical fit runs write the same file, apart from the documented run measurements.

The measurements (docs/result-file.md, "Writing"): the root ``created_utc``,
``/provenance`` ``elapsed_s`` and ``peak_rss_bytes``, and ``/history/seconds``.
Everything else -- every dataset's values, dtype and shape, every attribute,
the member order -- is the same, and with those fields masked (and
``SOURCE_DATE_EPOCH`` fixing ``created_utc``) so are the bytes.
"""

from __future__ import annotations

import shutil

import h5py
import numpy as np
import pytest

from tests.cli.helpers import invoke, run_cli
from tests.cli.replay_data import FITS, write_ratings

METHODS = sorted(FITS)
MEASURED_ATTRS = {
    ("/", "created_utc"),
    ("/provenance", "elapsed_s"),
    ("/provenance", "peak_rss_bytes"),
}
MEASURED_DATASETS = {"/history/seconds"}


def _walk(path) -> dict:
    """Every group, dataset (dtype, shape, values) and attribute (type, value), in order."""
    out = {}

    def attrs(name, obj):
        for key, value in obj.attrs.items():
            out[(name, "@" + key)] = (
                type(value).__name__,
                np.asarray(value).dtype.str,
                repr(value),
            )

    def visit(name, obj):
        name = "/" + name
        if isinstance(obj, h5py.Dataset):
            value = obj.asstr()[()] if h5py.check_string_dtype(obj.dtype) else obj[()]
            out[name] = (obj.dtype.str, obj.shape, repr(np.asarray(value).tolist()))
        else:
            out[name] = ("group", list(obj))
        attrs(name, obj)

    with h5py.File(path, "r") as f:
        out["/"] = ("group", list(f))
        attrs("/", f)
        f.visititems(visit)
    return out


def _object_times(path) -> set[int]:
    """The creation/modification times in every object header (0: not stored)."""
    times = set()

    def note(obj):
        info = h5py.h5o.get_info(obj.id)
        times.update((info.ctime, info.mtime, info.atime, info.btime))

    with h5py.File(path, "r") as f:
        note(f)
        f.visititems(lambda _, obj: note(obj))
    return times


def _twice(tmp_path, method, *extra) -> tuple:
    """Run the same command twice into the same output path; returns both files."""
    data = write_ratings(tmp_path / "r.csv")
    out = tmp_path / "model.h5"
    first = tmp_path / "first.h5"
    for _ in range(2):
        result = invoke(method, data, *FITS[method], "-o", str(out), "-q", "--force", *extra)
        assert result.exit_code == 0, result.output
        if not first.exists():
            shutil.move(out, first)
    return first, out


def _differences(a, b) -> set:
    walk_a, walk_b = _walk(a), _walk(b)
    assert list(walk_a) == list(walk_b)  # the same objects and attributes, in the same order
    return {key for key in walk_a if walk_a[key] != walk_b[key]}


def _allowed(key) -> bool:
    if isinstance(key, tuple):
        return (key[0], key[1].lstrip("@")) in MEASURED_ATTRS
    return key in MEASURED_DATASETS


def _masked_bytes(path, copy) -> bytes:
    """The file's bytes with the measured values overwritten in place (same layout)."""
    shutil.copy(path, copy)
    with h5py.File(copy, "r+") as f:
        f["provenance"].attrs.modify("elapsed_s", 0.0)
        f["provenance"].attrs.modify("peak_rss_bytes", 0)
        if "seconds" in f["history"]:
            f["history/seconds"][...] = 0.0
    return copy.read_bytes()


@pytest.mark.parametrize("method", METHODS)
def test_two_runs_differ_only_in_the_measurements(tmp_path, method):
    a, b = _twice(tmp_path, method, "--threads", "2")
    assert {key for key in _differences(a, b) if not _allowed(key)} == set()
    walk_a, walk_b = _walk(a), _walk(b)
    for key in walk_a:  # even the measurements keep their type, dtype and shape
        assert walk_a[key][:2] == walk_b[key][:2]
    assert _object_times(a) == {0} and _object_times(b) == {0}


@pytest.mark.parametrize("method", METHODS)
def test_masked_bytes_are_identical(tmp_path, method, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    a, b = _twice(tmp_path, method)
    raw_a, raw_b = a.read_bytes(), b.read_bytes()
    assert len(raw_a) == len(raw_b)  # the measurements never change the layout
    assert _masked_bytes(a, tmp_path / "ma.h5") == _masked_bytes(b, tmp_path / "mb.h5")


def test_two_processes_with_a_fixed_time_differ_in_the_measurements_only(tmp_path):
    data = write_ratings(tmp_path / "r.csv")
    env = {"SOURCE_DATE_EPOCH": "1700000000"}
    out, first = tmp_path / "model.h5", tmp_path / "first.h5"
    for _ in range(2):
        proc = run_cli("sgd", data, *FITS["sgd"], "-o", str(out), "-q", env=env)
        assert proc.returncode == 0, proc.stderr
        if not first.exists():
            shutil.move(out, first)
    assert {key for key in _differences(first, out) if not _allowed(key)} == set()
    assert _masked_bytes(first, tmp_path / "ma.h5") == _masked_bytes(out, tmp_path / "mb.h5")
