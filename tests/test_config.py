"""Configs: precedence, validation messages, safe YAML, round trip, replay from a result."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from mfcli import config as cfg
from mfcli.config import (
    BaseConfig,
    InfoConfig,
    ModelSection,
    check,
    load_yaml,
    option,
    resolve,
    section,
    to_yaml,
)
from mfcli.errors import ConfigError

REPO = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str, name: str = "run.yaml") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def error_of(*args, **kwargs) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        resolve(*args, **kwargs)
    assert info.value.exit_code == 2
    return info.value


# ----------------------------------------------------------------- precedence
def test_defaults():
    assert resolve(InfoConfig) == InfoConfig()
    c = resolve(BaseConfig)
    assert c.model.rank == 10 and c.model.dtype == "float32"
    assert c.runtime.seed == 0 and c.runtime.threads is None and c.output.force is False


def test_each_layer_overrides_the_one_below(tmp_path):
    first = write(tmp_path, "model: {rank: 5}\nruntime: {threads: 2, seed: 1}\n", "a.yaml")
    second = write(tmp_path, "model:\n  rank: 6\n", "b.yaml")
    assert resolve(InfoConfig, [first]).model.rank == 5
    assert resolve(InfoConfig, [first, second]).model.rank == 6
    assert resolve(InfoConfig, [second, first]).model.rank == 5
    with_set = resolve(InfoConfig, [first, second], ["model.rank=7", "runtime.seed=9"])
    assert with_set.model.rank == 7 and with_set.runtime.seed == 9
    final = resolve(InfoConfig, [first, second], ["model.rank=7"], {"model.rank": 8})
    assert final.model.rank == 8
    # Keys no later layer touches keep the lower layer's value.
    assert final.runtime.threads == 2 and final.runtime.seed == 1


def test_later_set_items_win():
    assert resolve(InfoConfig, [], ["model.rank=3", "model.rank=4"]).model.rank == 4


def test_explicit_flags_by_cli_name_and_none_means_not_given(tmp_path):
    path = write(tmp_path, "runtime: {threads: 3}\n")
    c = resolve(InfoConfig, [path], [], {"k": 12, "threads": None, "env": True, "output": "o.h5"})
    assert c.model.rank == 12 and c.runtime.threads == 3 and c.info.env is True
    assert c.output.path == "o.h5"


def test_explicit_path_objects_become_strings(tmp_path):
    assert resolve(InfoConfig, explicit={"input": tmp_path}).input.path == str(tmp_path)


def test_dotted_keys_in_files(tmp_path):
    assert resolve(InfoConfig, [write(tmp_path, "model.rank: 4\n")]).model.rank == 4
    err = error_of(InfoConfig, [write(tmp_path, "model.rank: 4\nmodel: {rank: 5}\n")])
    assert "given twice" in err.message


def test_empty_file_and_empty_section(tmp_path):
    assert resolve(InfoConfig, [write(tmp_path, "")]) == InfoConfig()
    assert resolve(InfoConfig, [write(tmp_path, "# nothing\nmodel:\n")]) == InfoConfig()


# -------------------------------------------------------------- unknown keys
def test_unknown_key_in_a_section_with_line_and_did_you_mean(tmp_path):
    path = write(tmp_path, "input:\n  path: x.csv\nmodel:\n  rnak: 5\n")
    err = error_of(InfoConfig, [path])
    assert (
        err.one_line() == f"error: {path}:4: unknown key 'model.rnak' (did you mean 'model.rank'?)"
    )


def test_unknown_top_level_key_suggests_the_section(tmp_path):
    err = error_of(InfoConfig, [write(tmp_path, "rnak: 5\n")])
    assert err.message == "unknown key 'rnak'" and err.hint == "did you mean 'model.rank'?"
    err = error_of(InfoConfig, [write(tmp_path, "threads: 5\n")])
    assert err.hint == "did you mean 'runtime.threads'?"
    err = error_of(InfoConfig, [write(tmp_path, "path: x\n")])
    assert err.hint == "did you mean 'input.path' or 'output.path'?"


def test_unknown_key_without_a_close_match(tmp_path):
    err = error_of(InfoConfig, [write(tmp_path, "zzzzzz: 1\n")])
    assert err.hint == "mfcli info --print-config lists every key"


def test_unknown_key_from_set_and_from_flags():
    err = error_of(InfoConfig, [], ["runtime.thread=2"])
    assert err.one_line() == (
        "error: --set runtime.thread=2: unknown key 'runtime.thread' "
        "(did you mean 'runtime.threads'?)"
    )
    assert "unknown key 'bogus'" in error_of(InfoConfig, explicit={"bogus": 1}).message


def test_keys_of_another_command_are_unknown(tmp_path):
    err = error_of(BaseConfig, [write(tmp_path, "info: {env: true}\n")])
    assert "unknown key 'info'" in err.message


# --------------------------------------------------------------------- types
@pytest.mark.parametrize(
    "text, message",
    [
        ("model: {rank: ten}\n", "model.rank: expected an integer >= 1, got 'ten'"),
        ("model: {rank: 2.5}\n", "model.rank: expected an integer >= 1, got 2.5"),
        ("model: {rank: true}\n", "model.rank: expected an integer >= 1, got true"),
        ("model: {rank: null}\n", "model.rank: expected an integer >= 1, got null"),
        ("output: {force: 1}\n", "output.force: expected true or false, got 1"),
        ("input: {path: 2024}\n", "input.path: expected a string or null, got 2024"),
        ("input: {header: maybe}\n", "input.header: expected true or false or null (auto)"),
        ("runtime: {threads: [1, 2]}\n", "runtime.threads: expected an integer >= 1 or null"),
        ("model: 5\n", "'model' is a section: expected a mapping, got 5"),
        ("model: {dtype: float16}\n", "model.dtype: expected one of float32, float64"),
        ("input: {format: mtxx}\n", "input.format: expected one of auto, mtx, csv, h5, mat"),
        ("input: {duplicates: add}\n", "input.duplicates: expected one of sum, last, error"),
    ],
)
def test_type_and_choice_errors_name_key_expected_and_got(tmp_path, text, message):
    path = write(tmp_path, text)
    err = error_of(InfoConfig, [path])
    assert message in err.message
    assert err.path == path and err.line == 1


@pytest.mark.parametrize(
    "item, message",
    [
        ("model.rank=0", "model.rank: must be >= 1, got 0"),
        ("runtime.threads=0", "runtime.threads: must be >= 1, got 0"),
        ("runtime.seed=-1", "runtime.seed: must be >= 0, got -1"),
    ],
)
def test_ranges(item, message):
    err = error_of(InfoConfig, [], [item])
    assert err.message == f"--set {item}: {message}"


@pytest.mark.parametrize(
    "item, message",
    [
        ("sgd.lr=0", "sgd.lr: must be > 0, got 0.0"),
        ("sgd.lr=-0.1", "sgd.lr: must be > 0, got -0.1"),
        ("sgd.decay=0", "sgd.decay: must be > 0, got 0.0"),
    ],
)
def test_positive_options_refuse_zero(item, message):
    err = error_of(cfg.SgdConfig, [], [item])
    assert err.message == f"--set {item}: {message}"
    flag = item.split("=")[0].split(".")[1]
    value = float(item.split("=")[1])
    assert message in error_of(cfg.SgdConfig, explicit={flag: value}).message
    assert resolve(cfg.SgdConfig, [], [item.split("=")[0] + "=0.5"])


def test_sgd_decay_above_one_only_with_the_decay_schedule():
    err = error_of(cfg.SgdConfig, explicit={"decay": 1.5})
    assert "sgd.decay (--decay) must be at most 1 with the decay schedule" in err.message
    assert resolve(cfg.SgdConfig, explicit={"decay": 1.5, "schedule": "constant"})


def test_als_eps_is_checked_only_with_the_log_confidence():
    err = error_of(cfg.AlsConfig, explicit={"implicit": True, "confidence": "log", "eps": 0.0})
    assert "als.eps (--eps) must be > 0 with the log confidence, got 0.0" in err.message
    assert resolve(cfg.AlsConfig, explicit={"implicit": True, "eps": 0.0}).als.eps == 0.0
    assert resolve(cfg.AlsConfig, explicit={"confidence": "log", "eps": 0.0})  # explicit ratings


def test_choice_errors_suggest_the_closest():
    assert error_of(InfoConfig, [], ["input.format=mtxx"]).hint == "did you mean 'mtx'?"


def test_range_error_from_a_flag():
    err = error_of(InfoConfig, explicit={"rank": 0})
    assert err.one_line() == "error: command line: model.rank: must be >= 1, got 0"


def test_a_string_where_a_string_is_expected_gets_a_quote_hint(tmp_path):
    assert error_of(InfoConfig, [write(tmp_path, "input: {path: 7}\n")]).hint == "quote the value"


def test_auto_means_null(tmp_path):
    c = resolve(InfoConfig, [write(tmp_path, "runtime: {threads: auto}\ninput: {header: auto}\n")])
    assert c.runtime.threads is None and c.input.header is None
    assert resolve(InfoConfig, [], ["input.sep=auto"]).input.sep is None


def test_check_catches_configs_built_in_python():
    with pytest.raises(ConfigError, match="model.rank: must be >= 1"):
        check(BaseConfig(model=ModelSection(rank=0)))
    check(InfoConfig())


# ---------------------------------------------------------------------- YAML
def test_yaml_syntax_error_names_the_line(tmp_path):
    path = write(tmp_path, "model:\n  rank: 5\n  dtype: [float32\nruntime:\n  seed: 1\n")
    err = error_of(InfoConfig, [path])
    assert err.path == path and err.line == 4
    assert err.message.startswith("invalid YAML: ")
    assert err.one_line().startswith(f"error: {path}:4: invalid YAML")


def test_bad_indentation_names_the_line(tmp_path):
    err = error_of(InfoConfig, [write(tmp_path, "input:\n  path: x\n   sep: ','\n")])
    assert err.line == 3


@pytest.mark.parametrize("text, got", [("- 1\n- 2\n", "a list"), ("hello\n", "'hello'")])
def test_top_level_must_be_a_mapping(tmp_path, text, got):
    err = error_of(InfoConfig, [write(tmp_path, text)])
    assert err.message == f"expected a mapping of keys at the top, got {got}"


def test_duplicate_keys_are_refused(tmp_path):
    err = error_of(InfoConfig, [write(tmp_path, "model:\n  rank: 5\n  rank: 6\n")])
    assert err.message == "duplicate key 'model.rank'" and err.line == 3


@pytest.mark.parametrize(
    "text",
    [
        "model: !!python/object/apply:os.system ['touch {marker}']\n",
        "model: !!python/object:builtins.dict {{}}\n",
        "model: !!python/name:os.system\n",
        "model: !custom {{}}\n",
    ],
)
def test_python_tags_are_rejected(tmp_path, text):
    marker = tmp_path / "pwned"
    path = write(tmp_path, text.format(marker=marker))
    with pytest.raises(ConfigError) as info:
        load_yaml(path)
    err = info.value
    assert err.exit_code == 2 and err.line == 1
    assert "is not allowed" in err.message
    assert not marker.exists()


def test_missing_config_file(tmp_path):
    err = error_of(InfoConfig, [str(tmp_path / "nope.yaml")])
    assert err.message == "config file not found"


def test_config_path_is_a_directory(tmp_path):
    assert "directory" in error_of(InfoConfig, [str(tmp_path)]).message


def test_non_utf8_config(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"input:\n  path: caf\xe9.csv\n")
    err = error_of(InfoConfig, [str(path)])
    assert err.message == "config is not UTF-8 text" and err.line == 2


def test_non_string_keys(tmp_path):
    assert "keys must be strings" in error_of(InfoConfig, [write(tmp_path, "1: 2\n")]).message


def test_yaml_floats_without_a_dot_are_numbers(tmp_path):
    # PyYAML (YAML 1.1) reads 1e-4 as a string; float options accept it.
    @dataclass(frozen=True)
    class TolModel(ModelSection):
        tol: float = option(1e-3, min=0.0, help="tolerance")

    @dataclass(frozen=True)
    class TolConfig(BaseConfig):
        model: TolModel = section(TolModel)

    c = resolve(TolConfig, [write(tmp_path, "model: {tol: 1e-4, rank: 3}\n")])
    assert c.model.tol == 1e-4 and c.model.rank == 3
    assert resolve(TolConfig, [], ["model.tol=2"]).model.tol == 2.0
    assert "model.tol: expected a number >= 0.0, got 'small'" in (
        error_of(TolConfig, [], ["model.tol=small"]).message
    )
    assert "got nan" in error_of(TolConfig, [], ["model.tol=.nan"]).message
    assert resolve(TolConfig, [write(tmp_path, to_yaml(c), "rt.yaml")]) == c


# ---------------------------------------------------------------------- --set
@pytest.mark.parametrize(
    "item, key, value",
    [
        ("input.sep=|", "input.sep", "|"),
        ("input.sep=,", "input.sep", ","),
        ("input.sep=::", "input.sep", "::"),
        ("input.sep=;", "input.sep", ";"),
        ('input.sep="\\t"', "input.sep", "\t"),
        ("input.sep=null", "input.sep", None),
        ("input.sep=", "input.sep", None),
        ("input.dataset=yes", "input.dataset", "yes"),
        ("input.columns=0,1,2", "input.columns", "0,1,2"),
        ("input.path=data/a=b.csv", "input.path", "data/a=b.csv"),
        ("input.header=no", "input.header", False),
        ("runtime.threads=4", "runtime.threads", 4),
        ("runtime.threads=null", "runtime.threads", None),
        ("output.force=true", "output.force", True),
    ],
)
def test_set_values(item, key, value):
    assert resolve(InfoConfig, [], [item]).get(key) == value


def test_set_a_whole_section():
    c = resolve(InfoConfig, [], ["model={rank: 3, dtype: float64}"])
    assert c.model == ModelSection(rank=3, dtype="float64")


@pytest.mark.parametrize("item", ["model.rank", "=5", ""])
def test_set_needs_key_equals_value(item):
    assert "expected key=value" in error_of(InfoConfig, [], [item]).message


def test_set_value_that_is_not_yaml():
    assert "cannot parse the value" in error_of(InfoConfig, [], ["model.rank=[1"]).message


# --------------------------------------------------------------- round trip
def test_to_yaml_round_trip(tmp_path):
    original = resolve(
        InfoConfig,
        [],
        [],
        {
            "input.path": "données/ratings file.csv",
            "input.sep": "\t",
            "input.header": False,
            "input.columns": "user,item,rating",
            "input.duplicates": "last",
            "input.format": "csv",
            "output.path": "yes",
            "output.force": True,
            "model.rank": 64,
            "model.dtype": "float64",
            "runtime.seed": 42,
            "runtime.threads": 3,
            "info.env": True,
        },
    )
    text = to_yaml(original)
    assert text.startswith("# mfcli ") and text.splitlines()[1] == "command: info"
    assert yaml.safe_load(text)["model"] == {"rank": 64, "dtype": "float64"}
    assert resolve(InfoConfig, [write(tmp_path, text)]) == original
    assert to_yaml(InfoConfig()) == to_yaml(
        resolve(InfoConfig, [write(tmp_path, to_yaml(InfoConfig()))])
    )


def test_to_yaml_is_stable_and_lists_every_key():
    text = to_yaml(InfoConfig())
    assert text == to_yaml(InfoConfig())
    sections = [line for line in text.splitlines() if line and not line.startswith((" ", "#"))]
    assert sections == ["command: info", "input:", "output:", "model:", "runtime:", "info:"]
    for key in cfg.keys(InfoConfig):
        assert f"  {key.split('.')[-1]}:" in text


def test_config_of_another_command_is_refused(tmp_path):
    path = write(tmp_path, "command: svd\nmodel: {rank: 3}\n")
    err = error_of(InfoConfig, [path])
    assert err.message == "this config is for 'mfcli svd', not 'mfcli info'"
    assert err.line == 1
    assert resolve(BaseConfig, [path]).model.rank == 3  # the shared base takes any
    assert "not 'mfcli info'" in error_of(InfoConfig, [], ["command=nmf"]).message


def test_command_of(tmp_path):
    a = write(tmp_path, "command: svd\n", "a.yaml")
    b = write(tmp_path, "model: {rank: 2}\n", "b.yaml")
    assert cfg.command_of([a, b]) == "svd"
    assert cfg.command_of([b]) is None


# ------------------------------------------------------------------- replay
def _result_with_config(tmp_path, config) -> str:
    from mfcli.io.results import Result, write_result

    path = tmp_path / "model.h5"
    write_result(Result(method="svd", config_yaml=to_yaml(config)), path)
    return str(path)


def test_replay_from_a_result_file(tmp_path):
    original = resolve(
        InfoConfig,
        explicit={"input": "r.csv", "rank": 7, "seed": 3, "output": "m.h5", "force": True},
    )
    path = _result_with_config(tmp_path, original)
    replayed = resolve(InfoConfig, [path])
    # A replay never carries --force: re-running must not overwrite silently.
    assert replayed == dataclasses.replace(
        original, output=dataclasses.replace(original.output, force=False)
    )
    assert load_yaml(path)["model"]["rank"] == 7
    assert resolve(InfoConfig, [path], ["model.rank=8"]).model.rank == 8


def test_errors_in_a_replayed_config_point_into_it(tmp_path):
    from mfcli.io.results import Result, write_result

    path = tmp_path / "model.h5"
    write_result(Result(method="svd", config_yaml="model:\n  rnak: 3\n"), path)
    err = error_of(InfoConfig, [str(path)])
    assert err.one_line().startswith(f"error: {path}:/config:2: unknown key 'model.rnak'")


def test_non_result_hdf5_as_config(tmp_path):
    import h5py

    path = tmp_path / "matrix.h5"
    with h5py.File(path, "w") as f:
        f["X"] = [1, 2]
    err = error_of(InfoConfig, [str(path)])
    assert "not an mfcli result file" in err.message and err.exit_code == 2


# -------------------------------------------------------------- registry etc.
def test_registry():
    assert cfg.config_class("info") is InfoConfig
    assert InfoConfig.command == "info" and BaseConfig.command == ""
    err = pytest.raises(ConfigError, cfg.config_class, "inof").value
    assert err.hint == "did you mean 'info'?"

    with pytest.raises(ValueError, match="registered twice"):

        @cfg.register("info")
        @dataclass(frozen=True)
        class Other(BaseConfig):
            pass


def test_read_options():
    c = resolve(InfoConfig, [], ["input.sep=;", "input.header=true", "model.dtype=float64"])
    opts = c.read_options()
    assert opts.sep == ";" and opts.header is True and opts.dtype == "float64"
    assert opts.format == "auto" and opts.duplicates is None


def test_choices_match_the_readers():
    from mfcli.data import DUPLICATE_POLICIES
    from mfcli.io.options import FORMATS

    assert cfg.DUPLICATES == DUPLICATE_POLICIES
    assert set(FORMATS) <= set(cfg.FORMATS)


@pytest.mark.parametrize("command", sorted(cfg.REGISTRY))
def test_every_key_has_help_and_is_documented(command):
    doc = (REPO / "docs" / "config.md").read_text(encoding="utf-8")
    for key, _default, help_text in cfg.describe(cfg.config_class(command)):
        assert help_text, key
        assert f"`{key}`" in doc, key


def test_import_is_light():
    code = (
        "import sys, mfcli.config; "
        "heavy = {'numpy', 'h5py', 'scipy', 'numba'} & set(sys.modules); "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_documented_defaults_are_what_print_config_prints():
    doc = (REPO / "docs" / "config.md").read_text(encoding="utf-8")
    block = doc.split("```yaml\n", 1)[1].split("```", 1)[0]
    # The header line carries the version; the rest must match exactly.
    assert block.split("\n", 1)[1] == to_yaml(InfoConfig()).split("\n", 1)[1]
