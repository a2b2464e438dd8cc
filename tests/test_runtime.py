"""Thread resolution and the numba cache fallback."""

from __future__ import annotations

import os
import subprocess
import sys

from mfcli import runtime


def test_threads_flag_wins():
    env = {"SLURM_CPUS_PER_TASK": "8", "OMP_NUM_THREADS": "3"}
    assert runtime.resolve_threads(2, env) == runtime.ThreadChoice(2, "--threads")


def test_slurm_before_numba_and_omp():
    env = {"SLURM_CPUS_PER_TASK": "8", "NUMBA_NUM_THREADS": "4", "OMP_NUM_THREADS": "3"}
    assert runtime.resolve_threads(None, env) == runtime.ThreadChoice(8, "$SLURM_CPUS_PER_TASK")


def test_numba_then_omp():
    assert runtime.resolve_threads(None, {"NUMBA_NUM_THREADS": "4", "OMP_NUM_THREADS": "3"}).n == 4
    choice = runtime.resolve_threads(None, {"OMP_NUM_THREADS": "3"})
    assert choice == runtime.ThreadChoice(3, "$OMP_NUM_THREADS")


def test_invalid_env_values_are_ignored():
    choice = runtime.resolve_threads(None, {"SLURM_CPUS_PER_TASK": "x", "OMP_NUM_THREADS": "0"})
    assert choice.reason == "all available cores"
    assert choice.n == runtime.available_cores()


def test_cap_blas_env_respects_user_setting(monkeypatch):
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    runtime.cap_blas_env(4)
    assert os.environ["OPENBLAS_NUM_THREADS"] == "1"
    assert os.environ["MKL_NUM_THREADS"] == "4"


def test_spinning_threads_are_calmed_unless_the_user_chose(monkeypatch):
    monkeypatch.delenv("OPENBLAS_THREAD_TIMEOUT", raising=False)
    monkeypatch.setenv("OMP_WAIT_POLICY", "active")
    runtime.calm_spinning_threads()
    assert os.environ["OPENBLAS_THREAD_TIMEOUT"] == "4"
    assert os.environ["OMP_WAIT_POLICY"] == "active"
    monkeypatch.setenv("OPENBLAS_THREAD_TIMEOUT", "28")
    runtime.cap_blas_env(2)
    assert os.environ["OPENBLAS_THREAD_TIMEOUT"] == "28"


def test_cli_calms_spinning_threads_before_numpy_loads():
    code = (
        "import os\nfrom mfcli.cli.main import app\n"
        "try:\n    app(['info', '--help'])\nexcept SystemExit:\n    pass\n"
        "print(os.environ.get('OPENBLAS_THREAD_TIMEOUT'), os.environ.get('OMP_WAIT_POLICY'))"
    )
    calmed = ("OPENBLAS_THREAD_TIMEOUT", "OMP_WAIT_POLICY")
    env = {k: v for k, v in os.environ.items() if k not in calmed}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip().splitlines()[-1] == "4 passive", out.stderr


def test_numba_cache_falls_back_when_package_is_read_only(monkeypatch, tmp_path):
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setenv("MFCLI_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(runtime.os, "access", lambda path, mode: False)
    chosen = runtime.configure_numba_cache()
    assert chosen == str(tmp_path / "cache")
    assert os.environ["NUMBA_CACHE_DIR"] == chosen
    assert (tmp_path / "cache").is_dir()


def test_numba_cache_left_alone_when_writable(monkeypatch):
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setattr(runtime.os, "access", lambda path, mode: True)
    assert runtime.configure_numba_cache() is None
    assert "NUMBA_CACHE_DIR" not in os.environ


def test_user_cache_dir_is_respected(monkeypatch, tmp_path):
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    assert runtime.configure_numba_cache() == str(tmp_path)


def test_peak_rss_is_positive():
    assert runtime.peak_rss_bytes() > 10_000_000


def test_threads_for_work():
    assert runtime.threads_for_work(10, 50, 4) == 1  # at least one
    assert runtime.threads_for_work(120, 50, 4) == 2
    assert runtime.threads_for_work(1e9, 50, 4) == 4  # never more than available
    assert runtime.threads_for_work(0, 50, 2) == 1


def test_numba_threads_for_restores_the_count():
    import numba

    before = numba.get_num_threads()
    try:
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        outer = numba.get_num_threads()
        with runtime.numba_threads_for(10, 50):
            assert numba.get_num_threads() == 1
        assert numba.get_num_threads() == outer
    finally:
        numba.set_num_threads(before)
