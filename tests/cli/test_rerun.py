"""`mfcli rerun RESULT.h5`: the stored run again, through the method's own command."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from mfcli.io.results import Result, read_result, write_result
from tests.cli.helpers import invoke, run_cli
from tests.cli.replay_data import FITS, write_ratings

METHODS = sorted(FITS)


def _fit(method, data, out, *extra):
    result = invoke(method, data, *FITS[method], "-o", str(out), "-q", *extra)
    assert result.exit_code == 0, result.output
    return out


def _lift_thread_caps(monkeypatch) -> None:
    from mfcli.solvers import als, nmf, sgd

    monkeypatch.setattr(als, "MIN_WORK_PER_THREAD", 1)
    monkeypatch.setattr(nmf, "MIN_WORK_PER_THREAD", 1)
    monkeypatch.setattr(sgd, "MIN_RATINGS_PER_THREAD", 1)


def _same_model(a_path, b_path) -> None:
    a, b = read_result(a_path), read_result(b_path)
    assert sorted(a.factors) == sorted(b.factors) and sorted(a.biases) == sorted(b.biases)
    for name in a.factors:
        assert a.factors[name].dtype == b.factors[name].dtype
        np.testing.assert_array_equal(a.factors[name], b.factors[name])
    for name in a.biases:
        np.testing.assert_array_equal(a.biases[name], b.biases[name])
    config_a, config_b = yaml.safe_load(a.config_yaml), yaml.safe_load(b.config_yaml)
    for config in (config_a, config_b):  # what a rerun may change: -o and --threads
        del config["output"]["path"], config["runtime"]["threads"]
    assert config_a == config_b


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(("fit_threads", "rerun_threads"), [("1", None), ("1", "2")])
def test_rerun_reproduces_the_factors(tmp_path, monkeypatch, method, fit_threads, rerun_threads):
    _lift_thread_caps(monkeypatch)  # tiny data: else both runs use one thread
    data = write_ratings(tmp_path / "r.csv")
    first = _fit(method, data, tmp_path / "first.h5", "--threads", fit_threads)
    again = tmp_path / "again.h5"
    args = ["rerun", str(first), "-o", str(again), "--json"]
    if rerun_threads:
        args += ["--threads", rerun_threads]
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["path"] == str(again)
    assert summary["threads"] == int(rerun_threads or fit_threads)
    _same_model(first, again)
    assert (
        read_result(again).provenance["input_sha256"]
        == read_result(first).provenance["input_sha256"]
    )


@pytest.mark.parametrize("method", METHODS)
def test_rerun_refuses_a_changed_input_and_allow_changed_input_runs(tmp_path, method):
    data = write_ratings(tmp_path / "r.csv")
    first = _fit(method, data, tmp_path / "first.h5")
    with open(data, "a") as fh:
        fh.write("99,24,5\n")
    out = tmp_path / "again.h5"
    refused = invoke("rerun", str(first), "-o", str(out))
    assert refused.exit_code == 65, refused.output
    assert refused.stderr.startswith(f"error: {data}: input changed since {first} was written")
    assert refused.stderr.count("\n") == 1 and not out.exists()
    allowed = invoke("rerun", str(first), "-o", str(out), "-q", "--allow-changed-input")
    assert allowed.exit_code == 0, allowed.output
    assert read_result(out).provenance["input_nnz"] == 301


def test_rerun_is_the_same_as_config_replay(tmp_path):
    data = write_ratings(tmp_path / "r.csv")
    first = _fit("als", data, tmp_path / "first.h5")
    by_rerun = invoke("rerun", str(first), "--print-config").stdout
    by_config = invoke("als", "--config", str(first), "--print-config").stdout
    assert by_rerun == by_config and "command: als" in by_rerun


def test_rerun_without_output_keeps_the_stored_path(tmp_path):
    data = write_ratings(tmp_path / "r.csv")
    first = _fit("svd", data, tmp_path / "first.h5")
    before = read_result(first).factors["row"]
    exists = invoke("rerun", str(first))
    assert exists.exit_code == 73 and "output exists (use --force)" in exists.stderr
    replaced = invoke("rerun", str(first), "--force", "-q")
    assert replaced.exit_code == 0, replaced.output
    np.testing.assert_array_equal(read_result(first).factors["row"], before)


def test_rerun_errors(tmp_path):
    missing = invoke("rerun")
    assert missing.exit_code == 2 and "Missing argument" in missing.stderr
    nofile = invoke("rerun", str(tmp_path / "nope.h5"))
    assert nofile.exit_code == 66 and "nope.h5: no such file" in nofile.stderr
    data = write_ratings(tmp_path / "r.csv")
    notresult = invoke("rerun", data)
    assert notresult.exit_code == 65 and "not an HDF5 file" in notresult.stderr
    other = tmp_path / "other.h5"
    write_result(Result(method="bpr", config_yaml="command: svd\n"), str(other))
    unknown = invoke("rerun", str(other))
    assert unknown.exit_code == 65
    assert f"error: {other}: cannot rerun a result of method 'bpr'" in unknown.stderr


def test_rerun_in_a_real_process(tmp_path):
    data = write_ratings(tmp_path / "r.csv")
    first = _fit("sgd", data, tmp_path / "first.h5", "--threads", "2")
    again = tmp_path / "again.h5"
    proc = run_cli("rerun", str(first), "-o", str(again), "-q", "--threads", "1")
    assert proc.returncode == 0, proc.stderr
    _same_model(first, again)


def test_rerun_is_listed_in_the_help():
    assert "rerun" in invoke("--help").stdout
