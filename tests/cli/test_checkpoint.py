"""Checkpoints: a signal writes one and exits 143/130; --resume ends as an uninterrupted fit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from tests.cli.helpers import invoke

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data"
FIT_ARRAYS = ("factors/row", "factors/col", "history/loss")


@pytest.fixture(scope="module")
def big(tmp_path_factory) -> Path:
    """Ratings large enough that a fit takes a few seconds (the signal lands mid-fit)."""
    path = tmp_path_factory.mktemp("ck") / "big.csv"
    result = invoke("generate", "ratings", "--users", "8000", "--items", "3000", "--ratings",
                    "400000", "--seed", "3", "-o", str(path), "-q")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    return path


def _same(a: Path, b: Path, names=FIT_ARRAYS) -> None:
    with h5py.File(a) as fa, h5py.File(b) as fb:
        for name in names:
            np.testing.assert_array_equal(fa[name][()], fb[name][()], err_msg=name)


def _interrupt(
    args: list[str], checkpoint: Path, signum: int, cwd: Path
) -> subprocess.CompletedProcess:
    """Start ``mfcli ARGS``, wait for its first checkpoint, send ``signum``, wait for the exit."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "mfcli", *args], cwd=cwd, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not checkpoint.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            out, err = proc.communicate()
            pytest.fail(f"no checkpoint before the fit ended: {err.decode()}")
        time.sleep(0.02)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(args, proc.returncode, out, err)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("signum", "code", "extra"),
    [
        (signal.SIGTERM, 143, []),
        (signal.SIGINT, 130, ["--implicit"]),
        (signal.SIGTERM, 143, ["--solver", "cholesky", "--no-biases"]),
    ],
)
def test_als_interrupted_and_resumed_equals_uninterrupted(tmp_path, big, signum, code, extra):
    args = [str(big), "-k", "16", "--iters", "25", *extra]
    assert invoke("als", *args, "-o", str(tmp_path / "full.h5"), "-q").exit_code == 0
    ck = tmp_path / "run.ckpt.h5"
    done = _interrupt(
        ["als", *args, "-o", "model.h5", "--checkpoint", str(ck)], ck, signum, tmp_path
    )
    assert done.returncode == code, done.stderr
    assert done.stderr.decode().strip().endswith(f"interrupted by {signal.Signals(signum).name}")
    assert "Traceback" not in done.stderr.decode()
    assert not (tmp_path / "model.h5").exists()  # no partial result
    with h5py.File(ck) as f:
        reached = int(f["checkpoint/iteration"][()])
        assert 1 <= reached < 25 and f["history/loss"].shape == (reached,)
        assert f.attrs["method"] == "als"
    # the checkpoint is a model: eval takes it as it is
    assert invoke("info", str(ck)).exit_code == 0
    resumed = invoke("als", "--resume", str(ck), "-o", str(tmp_path / "model.h5"))
    assert resumed.exit_code == 0, resumed.stderr
    _same(tmp_path / "full.h5", tmp_path / "model.h5")
    assert not ck.exists()  # a completed fit removes its checkpoint


def _train_validation(tmp_path):
    """The sample ratings split into train and validation files (10% validation)."""
    split = invoke("split", str(SAMPLE / "ratings.csv"), "-o", str(tmp_path / "s"),
                   "--validation-frac", "0.1")  # fmt: skip
    assert split.exit_code == 0, split.stderr
    return tmp_path / "s/train.csv", tmp_path / "s/validation.csv"


def test_resume_with_validation_keeps_the_same_best_iteration(tmp_path):
    train, val = _train_validation(tmp_path)
    args = [str(train), "-k", "8", "--iters", "8", "--validation", str(val), "--reg", "0.02"]
    assert invoke("als", *args, "-o", str(tmp_path / "full.h5"), "-q").exit_code == 0
    # stop after iteration 3 through the API's callback, as a signal would
    from mfcli.api import fit_als
    from mfcli.config import AlsConfig, resolve
    from mfcli.errors import Interrupted

    cfg = resolve(AlsConfig, explicit={
        "input": str(train), "output": str(tmp_path / "model.h5"), "rank": 8, "iters": 8,
        "validation": str(val), "reg": 0.02, "checkpoint": str(tmp_path / "ck.h5"),
    })  # fmt: skip

    def stop_at_3(it, stats):
        if it == 3:
            os.kill(os.getpid(), signal.SIGTERM)

    with pytest.raises(Interrupted):
        fit_als(cfg, callback=stop_at_3)
    resumed = invoke("als", "--resume", str(tmp_path / "ck.h5"))
    assert resumed.exit_code == 0, resumed.stderr
    _same(tmp_path / "full.h5", tmp_path / "model.h5")
    with h5py.File(tmp_path / "full.h5") as a, h5py.File(tmp_path / "model.h5") as b:
        assert a["als/best_iteration"][()] == b["als/best_iteration"][()]


def test_checkpoint_every_n_iterations(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from mfcli.api import checkpoint as ckpt
    from mfcli.config import AlsConfig, resolve

    written = []
    monkeypatch.setattr("mfcli.io.results.write_result", lambda r, p, force: written.append(r))
    cfg = resolve(AlsConfig, explicit={"checkpoint": str(tmp_path / "c.h5"), "checkpoint_every": 3})

    def build(state):
        return SimpleNamespace(extra={}, provenance={}), {"iteration": state["iteration"]}

    run = SimpleNamespace(n=1), SimpleNamespace(elapsed=0.5)
    save = ckpt.saver(cfg, build, None, *run)
    for it in range(1, 11):
        save(it, lambda it=it: {"iteration": it})
    assert [r.extra[ckpt.GROUP]["iteration"] for r in written] == [3, 6, 9]
    assert all(r.provenance["elapsed_s"] == 0.5 for r in written)


def test_deferred_interrupts_hold_the_first_signal_and_raise_on_the_second():
    from mfcli.errors import Interrupted
    from mfcli.runtime import deferred_interrupts, pending_interrupt

    with deferred_interrupts():
        os.kill(os.getpid(), signal.SIGTERM)
        assert pending_interrupt() == signal.SIGTERM
        with pytest.raises(Interrupted) as err:
            os.kill(os.getpid(), signal.SIGINT)
        assert err.value.exit_code == 130
    assert pending_interrupt() is None


def test_checkpoint_and_output_must_differ(tmp_path):
    out = str(tmp_path / "m.h5")
    result = invoke("als", str(SAMPLE / "ratings.csv"), "-o", out, "--checkpoint", out)
    assert result.exit_code == 2 and "--checkpoint must differ" in result.stderr


def test_an_existing_file_that_is_no_checkpoint_is_not_overwritten(tmp_path):
    other = tmp_path / "notes.h5"
    other.write_text("precious")
    result = invoke("als", str(SAMPLE / "ratings.csv"), "-k", "4", "--iters", "2",
                    "-o", str(tmp_path / "m.h5"), "--checkpoint", str(other))  # fmt: skip
    assert result.exit_code == 73 and "not an mfcli checkpoint" in result.stderr
    assert other.read_text() == "precious" and not (tmp_path / "m.h5").exists()


def test_resume_refuses_a_plain_result_and_another_methods_checkpoint(tmp_path):
    model = tmp_path / "m.h5"
    assert invoke("als", str(SAMPLE / "ratings.csv"), "-k", "4", "--iters", "2",
                  "-o", str(model)).exit_code == 0  # fmt: skip
    result = invoke("als", "--resume", str(model), "-o", str(tmp_path / "n.h5"))
    assert result.exit_code == 65 and "not a checkpoint" in result.stderr
    svd = tmp_path / "s.h5"
    assert (
        invoke("svd", str(SAMPLE / "lowrank_dense.csv"), "-k", "2", "-o", str(svd)).exit_code == 0
    )
    with h5py.File(svd, "r+") as f:
        f.create_group("checkpoint")
    result = invoke("als", "--resume", str(svd), "-o", str(tmp_path / "n.h5"))
    assert result.exit_code == 2 or result.exit_code == 65
    assert "svd" in result.stderr


def test_resume_refuses_a_changed_input(tmp_path, monkeypatch):
    import shutil

    data = tmp_path / "r.csv"
    shutil.copy(SAMPLE / "ratings.csv", data)
    from mfcli.api import fit_als
    from mfcli.config import AlsConfig, resolve
    from mfcli.errors import Interrupted

    cfg = resolve(AlsConfig, explicit={
        "input": str(data), "output": str(tmp_path / "m.h5"), "rank": 4, "iters": 5,
        "checkpoint": str(tmp_path / "ck.h5"),
    })  # fmt: skip
    with pytest.raises(Interrupted):
        fit_als(
            cfg, callback=lambda it, s: os.kill(os.getpid(), signal.SIGINT) if it == 2 else None
        )
    with data.open("a") as fh:
        fh.write("999,999,5,1300000000\n")
    result = invoke("als", "--resume", str(tmp_path / "ck.h5"))
    assert result.exit_code == 65 and "input changed" in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("extra", [[], ["--schedule", "adagrad", "--lr", "0.05"]])
def test_sgd_interrupted_and_resumed_equals_uninterrupted(tmp_path, big, extra):
    args = [str(big), "-k", "16", "--epochs", "30", *extra]
    assert invoke("sgd", *args, "-o", str(tmp_path / "full.h5"), "-q").exit_code == 0
    ck = tmp_path / "run.ckpt.h5"
    done = _interrupt(["sgd", *args, "-o", "model.h5", "--checkpoint", str(ck)], ck,
                      signal.SIGTERM, tmp_path)  # fmt: skip
    assert done.returncode == 143, done.stderr
    assert not (tmp_path / "model.h5").exists()
    # --resume takes a checkpoint as the interrupted fit, a model as an online update
    resumed = invoke("sgd", "--resume", str(ck), "-o", str(tmp_path / "model.h5"))
    assert resumed.exit_code == 0, resumed.stderr
    _same(tmp_path / "full.h5", tmp_path / "model.h5",
          (*FIT_ARRAYS, "bias/row", "bias/col", "history/train_rmse"))  # fmt: skip
    assert not ck.exists()


def test_sgd_resume_keeps_the_best_epoch_of_a_validation_run(tmp_path):
    train, val = _train_validation(tmp_path)
    args = [str(train), "-k", "8", "--epochs", "12", "--validation", str(val), "--lr", "0.03"]
    assert invoke("sgd", *args, "-o", str(tmp_path / "full.h5"), "-q").exit_code == 0
    from mfcli.api import fit_sgd
    from mfcli.config import SgdConfig, resolve
    from mfcli.errors import Interrupted

    cfg = resolve(SgdConfig, explicit={
        "input": str(train), "output": str(tmp_path / "model.h5"), "rank": 8, "epochs": 12,
        "validation": str(val), "lr": 0.03, "checkpoint": str(tmp_path / "ck.h5"),
    })  # fmt: skip
    with pytest.raises(Interrupted):
        fit_sgd(cfg, callback=lambda e, s: os.kill(os.getpid(), signal.SIGTERM) if e == 7 else None)
    assert invoke("sgd", "--resume", str(tmp_path / "ck.h5")).exit_code == 0
    _same(tmp_path / "full.h5", tmp_path / "model.h5", (*FIT_ARRAYS, "bias/row"))
    with h5py.File(tmp_path / "full.h5") as a, h5py.File(tmp_path / "model.h5") as b:
        assert a["sgd/best_epoch"][()] == b["sgd/best_epoch"][()]


@pytest.mark.slow
@pytest.mark.parametrize(
    "extra",
    [[], ["--solver", "mu", "--loss", "kl"], ["--mask", "observed"]],
    ids=["hals-extrapolated", "mu-kl", "hals-observed"],
)
def test_nmf_interrupted_and_resumed_equals_uninterrupted(tmp_path, big, extra):
    args = [str(big), "-k", "12", "--max-iter", "300", "--tol", "1e-9", *extra]
    assert invoke("nmf", *args, "-o", str(tmp_path / "full.h5"), "-q").exit_code == 0
    ck = tmp_path / "run.ckpt.h5"
    done = _interrupt(["nmf", *args, "-o", "model.h5", "--checkpoint", str(ck)], ck,
                      signal.SIGTERM, tmp_path)  # fmt: skip
    assert done.returncode == 143, done.stderr
    with h5py.File(ck) as f:
        assert 1 <= f["checkpoint/iteration"][()] < 300
    resumed = invoke("nmf", "--resume", str(ck), "-o", str(tmp_path / "model.h5"))
    assert resumed.exit_code == 0, resumed.stderr
    _same(tmp_path / "full.h5", tmp_path / "model.h5",
          ("factors/row", "factors/col", "history/objective"))  # fmt: skip


@pytest.mark.slow
def test_als_on_a_cluster_interrupted_and_resumed_equals_a_local_fit(tmp_path, big):
    pytest.importorskip("distributed")
    args = [str(big), "-k", "8", "--iters", "30", "--implicit"]
    assert invoke("als", *args, "-o", str(tmp_path / "full.h5"), "-q").exit_code == 0
    ck = tmp_path / "run.ckpt.h5"
    cmd = ["als", *args, "-o", "model.h5", "--checkpoint", str(ck), "--scheduler", "local:2"]
    done = _interrupt(cmd, ck, signal.SIGTERM, tmp_path)
    assert done.returncode == 143, done.stderr
    resumed = invoke("als", "--resume", str(ck), "-o", str(tmp_path / "model.h5"))
    assert resumed.exit_code == 0, resumed.stderr
    assert "ran on a Dask cluster" in resumed.stdout  # the stored config names the scheduler
    _same(tmp_path / "full.h5", tmp_path / "model.h5", ("factors/row", "factors/col"))
