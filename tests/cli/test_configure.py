"""--config / --set / --print-config through a real command (generate)."""

from __future__ import annotations

import yaml

from tests.cli.helpers import invoke

BASE = ("generate", "ratings", "--users", "30", "--items", "20", "--ratings", "120")


def _printed(*args: str) -> dict:
    result = invoke(*args, "--print-config")
    assert result.exit_code == 0, result.stderr
    return yaml.safe_load(result.stdout)


def test_print_config_is_explicit_and_does_not_run(tmp_path):
    out = tmp_path / "never.csv"
    config = _printed(*BASE, "-o", str(out))
    assert not out.exists()
    assert config["command"] == "generate"
    assert config["generate"]["kind"] == "ratings"
    assert config["generate"]["rows"] == 30
    assert config["generate"]["noise"] == 0.5  # the kind's default, written out
    assert config["output"]["path"] == str(out)


def test_printed_config_reproduces_the_file(tmp_path):
    conf = tmp_path / "gen.yaml"
    result = invoke(*BASE, "--seed", "7", "--print-config")
    conf.write_text(result.stdout)
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    assert invoke(*BASE, "--seed", "7", "-o", str(first), "-q").exit_code == 0
    assert invoke("generate", "--config", str(conf), "-o", str(second), "-q").exit_code == 0
    assert first.read_bytes() == second.read_bytes()


def test_precedence_defaults_files_set_flags(tmp_path):
    one, two = tmp_path / "one.yaml", tmp_path / "two.yaml"
    one.write_text("generate:\n  kind: ratings\n  rows: 11\n  cols: 12\nruntime:\n  seed: 1\n")
    two.write_text("generate:\n  rows: 21\n")
    config = _printed("generate", "--config", str(one), "--config", str(two))
    assert (config["generate"]["rows"], config["generate"]["cols"]) == (21, 12)
    config = _printed(
        "generate", "--config", str(one), "--config", str(two), "--set", "generate.rows=31"
    )
    assert config["generate"]["rows"] == 31
    config = _printed("generate", "--config", str(one), "--set", "generate.rows=31", "--rows", "41")
    assert config["generate"]["rows"] == 41
    assert config["runtime"]["seed"] == 1  # untouched by flags left at their defaults


def test_unknown_key_is_exit_2_with_did_you_mean(tmp_path):
    conf = tmp_path / "bad.yaml"
    conf.write_text("generate:\n  kind: ratings\n  rwos: 3\n")
    result = invoke("generate", "--config", str(conf), "--print-config")
    assert result.exit_code == 2
    assert result.stderr == (
        f"error: {conf}:3: unknown key 'generate.rwos' (did you mean 'generate.rows'?)\n"
    )


def test_bad_set_item_is_exit_2():
    result = invoke(*BASE, "--set", "generate.rows=many", "--print-config")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: --set generate.rows=many: ")


def test_yaml_syntax_error_names_line(tmp_path):
    conf = tmp_path / "broken.yaml"
    conf.write_text("generate:\n  kind: [ratings\n")
    result = invoke("generate", "--config", str(conf))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {conf}:")


def test_missing_kind_and_output_are_usage_errors(tmp_path):
    result = invoke("generate", "-o", str(tmp_path / "x.csv"))
    assert result.exit_code == 2
    assert result.stderr == "error: no kind given (name one of " + (
        "ratings|implicit|lowrank|lowrank-sparse|docterm)\n"
    )
    result = invoke(*BASE)
    assert result.exit_code == 2
    assert result.stderr == (
        "error: no output file given (use -o FILE or output.path in the config)\n"
    )


def test_result_file_config_replays(tmp_path):
    from mfcli.io.results import Result, write_result

    printed = invoke(*BASE, "--seed", "3", "--print-config").stdout
    result_path = tmp_path / "model.h5"
    write_result(Result(method="svd", config_yaml=printed), str(result_path))
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    assert invoke(*BASE, "--seed", "3", "-o", str(first), "-q").exit_code == 0
    replay = invoke("generate", "--config", str(result_path), "-o", str(second), "-q")
    assert replay.exit_code == 0, replay.stderr
    assert first.read_bytes() == second.read_bytes()
