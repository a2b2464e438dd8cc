"""The error boundary, exit codes, start-up cost and signals of the CLI."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest

from mfcli import __version__
from tests.cli.helpers import invoke, run_cli


def test_version_in_process_and_subprocess():
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"mfcli {__version__}"
    proc = run_cli("--version")
    assert proc.returncode == 0
    assert proc.stdout.decode().strip() == f"mfcli {__version__}"


def test_console_script_is_installed():
    import shutil

    exe = shutil.which("mfcli")
    if exe is None:
        pytest.skip("console script not on PATH")
    proc = subprocess.run([exe, "--help"], capture_output=True, timeout=60)
    assert proc.returncode == 0
    assert b"info" in proc.stdout


def test_help_lists_commands_and_exit_codes():
    result = invoke("--help")
    assert result.exit_code == 0
    for word in ("info", "generate", "demo", "65", "73"):
        assert word in result.stdout


def test_bare_command_prints_help_and_exits_2():
    proc = run_cli()
    assert proc.returncode == 2
    assert b"Usage" in proc.stdout


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["info", "--help"]])
def test_startup_imports_nothing_heavy(args):
    code = (
        "import sys\n"
        "from mfcli.cli.main import app\n"
        "from typer.testing import CliRunner\n"
        f"CliRunner().invoke(app, {args!r})\n"
        "heavy = [m for m in ('numpy', 'scipy', 'numba', 'h5py', 'yaml') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.decode().strip() == ""


def test_unknown_command_is_usage_error_one_line():
    proc = run_cli("frobnicate")
    assert proc.returncode == 2
    err = proc.stderr.decode()
    assert err.count("\n") == 1
    assert err.startswith("error: No such command 'frobnicate'.")


def test_unknown_option_is_usage_error():
    proc = run_cli("info", "--bogus", "x")
    assert proc.returncode == 2
    assert proc.stderr.decode().startswith("error: No such option: --bogus")


def test_missing_input_exits_66_naming_file(tmp_path):
    missing = tmp_path / "nope.mtx"
    proc = run_cli("info", str(missing))
    assert proc.returncode == 66
    assert proc.stderr.decode() == f"error: {missing}: no such file (check the path)\n"


def test_directory_without_parts_exits_66(tmp_path):
    # a directory is a partitioned input (docs/hpc.md); without part files it is missing
    (tmp_path / "notes.md").write_text("not a part")
    proc = run_cli("info", str(tmp_path))
    assert proc.returncode == 66
    assert proc.stderr.decode().startswith(f"error: {tmp_path}: no part files")


def test_unreadable_input_exits_66(tmp_path):
    import os

    if os.geteuid() == 0:
        pytest.skip("root reads any file")
    path = tmp_path / "secret.mtx"
    path.write_text("x")
    path.chmod(0)
    proc = run_cli("info", str(path))
    assert proc.returncode == 66
    assert "permission denied" in proc.stderr.decode()


def test_unsupported_format_exits_65(tmp_path):
    path = tmp_path / "data.parquet"
    path.write_bytes(b"PAR1\x00")
    proc = run_cli("info", str(path))
    assert proc.returncode == 65
    assert proc.stderr.decode() == (
        f"error: {path}: unsupported format: Parquet (convert it to Matrix Market, CSV or HDF5)\n"
    )


def test_info_without_files_is_usage_error():
    result = invoke("info")
    assert result.exit_code == 2
    assert "give one or more files, or --env" in result.stderr


def test_internal_error_is_one_line_and_debug_shows_traceback(monkeypatch):
    import mfcli.describe

    def boom(*args, **kwargs):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(mfcli.describe, "describe_file", boom)
    result = invoke("info", __file__)
    assert result.exit_code == 1
    assert result.stderr == (
        "error: internal error: RuntimeError: kaboom "
        "(this is a bug in mfcli; rerun with --debug for the traceback)\n"
    )
    result = invoke("info", __file__, "--debug")
    assert isinstance(result.exception, RuntimeError)


def test_mfcli_error_with_debug_raises(tmp_path):
    result = invoke("--debug", "info", str(tmp_path / "missing.csv"))
    from mfcli.errors import InputMissingError

    assert isinstance(result.exception, InputMissingError)


def test_env_report_json():
    result = invoke("info", "--env", "--json", "--threads", "1")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["kind"] == "environment"
    assert report["threads"] == {"chosen": 1, "reason": "--threads"}
    assert report["versions"]["mfcli"] == __version__
    assert report["numba"]["threads"] == 1
    assert report["numba"]["threading_layer"] in ("omp", "tbb", "workqueue")


def test_env_report_human_readable():
    result = invoke("info", "--env")
    assert result.exit_code == 0
    assert "threads" in result.stdout and "numba" in result.stdout


@pytest.mark.parametrize(
    ("signum", "code", "name"), [(signal.SIGTERM, 143, "SIGTERM"), (signal.SIGINT, 130, "SIGINT")]
)
def test_signals_exit_cleanly(signum, code, name):
    # `info -` blocks reading stdin: a signal then must end it with the guide's code.
    proc = subprocess.Popen(
        [sys.executable, "-m", "mfcli", "info", "-", "--format", "csv"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        # A shell starting background jobs ignores SIGINT for them; undo that.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    time.sleep(1.5)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == code
    assert err.decode() == f"error: interrupted by {name}\n"


def test_info_shows_shapes_with_x_and_label_lists_with_commas(tmp_path):
    path = tmp_path / "top.csv"
    path.write_text("user,rank,item,score\n1,1,668,4.5\n1,2,802,4.25\n1,3,1104,4\n")
    result = invoke("info", str(path))
    assert result.exit_code == 0, result.stderr
    lines = {ln.split()[0]: ln for ln in result.stdout.splitlines() if ln.strip()}
    assert "1 x 3" in lines["shape"]
    assert "first 668, 802, 1104" in lines["col_labels"]


def test_entry_point_raises_the_gc_thresholds():
    code = (
        "import gc, sys\n"
        "sys.argv = ['mfcli', '--version']\n"
        "from mfcli.cli.main import GC_THRESHOLDS, run\n"
        "try:\n    run()\nexcept SystemExit:\n    pass\n"
        "assert gc.get_threshold() == GC_THRESHOLDS, gc.get_threshold()\n"
        "assert gc.isenabled()\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr.decode()
