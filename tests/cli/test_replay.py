"""`mfcli <method> --config RESULT.h5`: a replay refuses an input whose sha256 changed."""

from __future__ import annotations

import numpy as np
import pytest

from mfcli.io.results import read_result
from tests.cli.helpers import invoke, run_cli
from tests.cli.replay_data import FITS, write_ratings

METHODS = sorted(FITS)


def _fit(method, data, out, *extra):
    result = invoke(method, data, *FITS[method], "-o", str(out), "-q", *extra)
    assert result.exit_code == 0, result.output
    return out


def _change(data: str) -> None:
    with open(data, "a") as fh:
        fh.write("99,24,5\n")  # a new user: one more entry


@pytest.mark.parametrize("method", METHODS)
def test_unchanged_input_replays_the_same_factors(tmp_path, method):
    data = write_ratings(tmp_path / "r.csv")
    first = _fit(method, data, tmp_path / "first.h5")
    again = tmp_path / "again.h5"
    replay = invoke(method, "--config", str(first), "-o", str(again), "-q")
    assert replay.exit_code == 0, replay.output
    a, b = read_result(first), read_result(again)
    for name in a.factors:
        np.testing.assert_array_equal(a.factors[name], b.factors[name])


@pytest.mark.parametrize("method", METHODS)
def test_changed_input_is_refused_with_exit_65(tmp_path, method):
    data = write_ratings(tmp_path / "r.csv")
    first = _fit(method, data, tmp_path / "first.h5")
    _change(data)
    out = tmp_path / "replay.h5"
    result = invoke(method, "--config", str(first), "-o", str(out))
    assert result.exit_code == 65, result.output
    assert result.stderr.startswith(f"error: {data}: input changed since {first} was written")
    assert "--allow-changed-input" in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert not out.exists()


@pytest.mark.parametrize("method", METHODS)
def test_allow_changed_input_fits_the_new_data(tmp_path, method):
    data = write_ratings(tmp_path / "r.csv")
    first = _fit(method, data, tmp_path / "first.h5")
    _change(data)
    out = tmp_path / "replay.h5"
    result = invoke(method, "--config", str(first), "-o", str(out), "-q", "--allow-changed-input")
    assert result.exit_code == 0, result.output
    prov = read_result(out).provenance
    assert prov["input_nnz"] == 301
    assert prov["input_sha256"] != read_result(first).provenance["input_sha256"]


def test_same_bytes_with_a_new_mtime_still_replay(tmp_path):
    data = write_ratings(tmp_path / "r.csv")
    first = _fit("nmf", data, tmp_path / "first.h5")
    write_ratings(tmp_path / "r.csv")  # rewritten, same content
    result = invoke("nmf", "--config", str(first), "-o", str(tmp_path / "again.h5"), "-q")
    assert result.exit_code == 0, result.output


def test_yaml_replay_has_no_hash_to_check(tmp_path):
    data = write_ratings(tmp_path / "r.csv")
    printed = invoke("nmf", data, *FITS["nmf"], "-o", str(tmp_path / "m.h5"), "--print-config")
    conf = tmp_path / "nmf.yaml"
    conf.write_text(printed.stdout)
    _change(data)
    result = invoke("nmf", "--config", str(conf), "-q")
    assert result.exit_code == 0, result.output


def test_an_input_named_anew_is_not_checked(tmp_path):
    data = write_ratings(tmp_path / "r.csv")
    first = _fit("svd", data, tmp_path / "first.h5")
    other = write_ratings(tmp_path / "other.csv", seed=2)
    out = tmp_path / "other.h5"
    result = invoke("svd", other, "--config", str(first), "-o", str(out), "-q")
    assert result.exit_code == 0, result.output
    assert read_result(out).provenance["input_path"] == other


def test_print_config_of_a_changed_input_still_prints(tmp_path):
    data = write_ratings(tmp_path / "r.csv")
    first = _fit("svd", data, tmp_path / "first.h5")
    _change(data)
    result = invoke("svd", "--config", str(first), "--print-config")
    assert result.exit_code == 0 and "command: svd" in result.stdout


def test_missing_input_is_still_exit_66(tmp_path):
    data = write_ratings(tmp_path / "r.csv")
    first = _fit("svd", data, tmp_path / "first.h5")
    (tmp_path / "r.csv").unlink()
    result = invoke("svd", "--config", str(first), "-o", str(tmp_path / "x.h5"))
    assert result.exit_code == 66, result.output


def test_refusal_in_a_real_process(tmp_path):
    data = write_ratings(tmp_path / "r.csv")
    first = _fit("svd", data, tmp_path / "first.h5")
    _change(data)
    proc = run_cli("svd", "--config", str(first), "-o", str(tmp_path / "x.h5"))
    assert proc.returncode == 65
    assert proc.stderr.decode().count("\n") == 1 and b"input changed" in proc.stderr
