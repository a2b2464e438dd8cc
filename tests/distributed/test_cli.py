"""`--scheduler` through the command line: the same result files as a local fit."""

from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from tests.cli.helpers import invoke

pytest.importorskip("distributed")

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data"


def _factors(path):
    with h5py.File(path) as f:
        return {name: f[name][()] for name in ("factors/row", "factors/col")}


def _assert_same_factors(tmp_path, atol):
    """a.h5 (one process) and b.h5 (the cluster) hold the same factors."""
    a, b = _factors(tmp_path / "a.h5"), _factors(tmp_path / "b.h5")
    for name in a:
        np.testing.assert_allclose(b[name], a[name], rtol=1e-5, atol=atol)


def _parts(tmp_path: Path, n_parts: int = 3) -> Path:
    lines = (SAMPLE / "ratings.csv").read_text().splitlines(keepends=True)
    head, body = lines[0], lines[1:]
    folder = tmp_path / "parts"
    folder.mkdir()
    step = len(body) // n_parts + 1
    for i in range(n_parts):
        (folder / f"part-{i:03d}.csv").write_text(head + "".join(body[i * step : (i + 1) * step]))
    (folder / "_SUCCESS").write_text("")
    return folder


def test_als_on_local_workers_writes_the_local_factors(tmp_path):
    data = str(SAMPLE / "ratings.csv")
    local = invoke("als", data, "-k", "6", "--iters", "4", "-o", str(tmp_path / "a.h5"))
    assert local.exit_code == 0, local.stderr
    remote = invoke("als", data, "-k", "6", "--iters", "4", "-o", str(tmp_path / "b.h5"),
                    "--scheduler", "local:2")  # fmt: skip
    assert remote.exit_code == 0, remote.stderr
    assert "ran on a Dask cluster of 2 workers" in remote.stdout
    _assert_same_factors(tmp_path, atol=1e-6)
    with h5py.File(tmp_path / "b.h5") as f:
        assert (
            "runtime:\n  seed: 0\n  threads: null\n  scheduler: local:2" in f["config"][()].decode()
        )


def test_partitioned_input_on_the_cluster_equals_the_one_file_fit(tmp_path):
    parts = _parts(tmp_path)
    data = str(SAMPLE / "ratings.csv")
    assert invoke("als", data, "--implicit", "-k", "5", "--iters", "3",
                  "-o", str(tmp_path / "a.h5")).exit_code == 0  # fmt: skip
    result = invoke("als", str(parts), "--implicit", "-k", "5", "--iters", "3",
                    "-o", str(tmp_path / "b.h5"), "--scheduler", "local:2")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    _assert_same_factors(tmp_path, atol=1e-6)
    with h5py.File(tmp_path / "a.h5") as fa, h5py.File(tmp_path / "b.h5") as fb:
        np.testing.assert_array_equal(fa["labels/row"][()], fb["labels/row"][()])
        np.testing.assert_array_equal(fa["labels/col"][()], fb["labels/col"][()])
        assert "train" in fa and "train" not in fb  # the client never held the matrix
        assert fb["provenance"].attrs["input_nnz"] == 35000
    assert "/train not stored" in result.stdout


def test_the_environment_variable_names_the_scheduler(tmp_path, monkeypatch):
    monkeypatch.setenv("MFCLI_SCHEDULER", "local:2")
    result = invoke("als", str(SAMPLE / "ratings.csv"), "-k", "4", "--iters", "2",
                    "-o", str(tmp_path / "a.h5"))  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert "ran on a Dask cluster" in result.stdout


@pytest.mark.parametrize("address", ["local:x", "local:0"])
def test_a_bad_local_scheduler_exits_2(tmp_path, address):
    result = invoke("als", str(SAMPLE / "ratings.csv"), "-k", "4", "-o", str(tmp_path / "a.h5"),
                    "--scheduler", address)  # fmt: skip
    assert result.exit_code == 2
    assert "bad scheduler" in result.stderr and "local:N" in result.stderr
    assert not (tmp_path / "a.h5").exists()


def test_an_unreachable_scheduler_exits_2(tmp_path):
    result = invoke("als", str(SAMPLE / "ratings.csv"), "-k", "4", "-o", str(tmp_path / "a.h5"),
                    "--scheduler", str(tmp_path / "missing-scheduler.json"))  # fmt: skip
    assert result.exit_code == 2, result.stderr
    assert "cannot reach the Dask scheduler" in result.stderr
    assert not (tmp_path / "a.h5").exists()


def test_validation_is_refused_for_a_partitioned_input_on_a_cluster(tmp_path):
    parts = _parts(tmp_path)
    shutil.copy(SAMPLE / "ratings.csv", tmp_path / "v.csv")
    result = invoke("als", str(parts), "-k", "4", "-o", str(tmp_path / "a.h5"),
                    "--scheduler", "local:2", "--validation", str(tmp_path / "v.csv"))  # fmt: skip
    assert result.exit_code == 2
    assert "--validation needs the training matrix" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["svd", "lowrank_csr.h5"],
        ["svd", "lowrank_csr.h5", "--center"],
        ["nmf", "docterm.mtx"],
        ["nmf", "docterm.mtx", "--init", "random", "--l2-w", "0.5"],
    ],
)
def test_svd_and_nmf_on_local_workers_write_the_local_factors(tmp_path, args):
    command, data, *extra = args
    args = [command, str(SAMPLE / data), "-k", "5", "--dtype", "float64", *extra]
    assert invoke(*args, "-o", str(tmp_path / "a.h5")).exit_code == 0
    remote = invoke(*args, "-o", str(tmp_path / "b.h5"), "--scheduler", "local:2")
    assert remote.exit_code == 0, remote.stderr
    assert "ran on a Dask cluster" in remote.stdout
    _assert_same_factors(tmp_path, atol=1e-8)


def test_svd_of_parts_on_the_cluster_equals_the_one_file_fit(tmp_path):
    parts = _parts(tmp_path)
    args = ["-k", "4", "--dtype", "float64"]
    assert (
        invoke("svd", str(SAMPLE / "ratings.csv"), *args, "-o", str(tmp_path / "a.h5")).exit_code
        == 0
    )
    result = invoke(
        "svd", str(parts), *args, "-o", str(tmp_path / "b.h5"), "--scheduler", "local:2"
    )
    assert result.exit_code == 0, result.stderr
    _assert_same_factors(tmp_path, atol=1e-8)


def test_svd_missing_runs_here_and_says_so(tmp_path):
    result = invoke("svd", str(SAMPLE / "ratings.csv"), "-k", "3", "--missing", "--max-iter", "3",
                    "-o", str(tmp_path / "a.h5"), "--scheduler", "local:2")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert "ran in this process" in " ".join(result.stdout.split())


def test_nmf_of_parts_on_the_cluster_fits_and_says_where(tmp_path):
    parts = _parts(tmp_path)
    result = invoke("nmf", str(parts), "-k", "4", "--max-iter", "20", "-o", str(tmp_path / "b.h5"),
                    "--scheduler", "local:2")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert "row blocks read by the workers" in " ".join(result.stdout.split())
    with h5py.File(tmp_path / "b.h5") as f:
        assert f["factors/row"].shape == (943, 4) and "train" not in f


def test_nmf_kl_runs_here_and_says_so(tmp_path):
    result = invoke("nmf", str(SAMPLE / "docterm.mtx"), "-k", "3", "--loss", "kl", "--max-iter",
                    "5", "-o", str(tmp_path / "a.h5"), "--scheduler", "local:2")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert "ran in this process" in " ".join(result.stdout.split())


def test_sgd_says_it_runs_here(tmp_path, monkeypatch):
    monkeypatch.setenv("MFCLI_SCHEDULER", "local:2")
    result = invoke("sgd", str(SAMPLE / "ratings.csv"), "-k", "4", "--epochs", "2",
                    "-o", str(tmp_path / "a.h5"))  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert "sgd has no cluster back end" in result.stdout
    assert "--scheduler" not in invoke("sgd", "--help").stdout.split("One machine")[0]
