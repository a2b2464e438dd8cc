"""mfcli.experiment.spec.load_experiment: defaults, paths, params, and every error with its line.

Nothing is fitted or read here: load_experiment only checks the file and
resolves configs, so these tests take milliseconds.
"""

from __future__ import annotations

import os
import shutil
import textwrap
from pathlib import Path

import pytest

from mfcli.config import AlsConfig, SgdConfig, SplitConfig, SvdConfig
from mfcli.errors import EXIT_USAGE, ConfigError
from mfcli.experiment.spec import Experiment, load_experiment
from tests.cli.helpers import invoke

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "sample_data"
MARK = "# <--"


def write(folder: Path, text: str, name: str = "exp.yaml", csv: bool = True) -> Path:
    """Write an experiment file (and a tiny ratings.csv beside it) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    if csv:
        (folder / "r.csv").write_text("user,item,rating\n1,1,5\n1,2,3\n2,1,4\n")
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def marked_line(path: Path) -> int:
    """The 1-based line that carries the ``# <--`` marker."""
    lines = path.read_text().splitlines()
    hits = [i + 1 for i, line in enumerate(lines) if MARK in line]
    assert len(hits) == 1, "exactly one marked line expected"
    return hits[0]


def load(folder: Path, text: str, **kwargs) -> Experiment:
    return load_experiment(str(write(folder, text)), **kwargs)


def fails(folder: Path, text: str, match: str, *, hint: str | None = None, **kwargs):
    """Load must raise ConfigError (exit 2) at the marked line, message matching ``match``."""
    path = write(folder, text)
    with pytest.raises(ConfigError) as info:
        load_experiment(str(path), **kwargs)
    exc = info.value
    assert exc.exit_code == EXIT_USAGE == 2
    assert exc.path == str(path)
    expected = marked_line(path) if MARK in path.read_text() else None
    assert exc.line == expected, exc.one_line()
    assert match in exc.message, exc.one_line()
    if hint is not None:
        assert exc.hint is not None and hint in exc.hint, exc.one_line()
    one = exc.one_line()
    assert "\n" not in one
    assert one.startswith(f"error: {path}:{expected}: " if expected else f"error: {path}: ")
    return exc


def config(exp: Experiment, method: str, index: int = 0):
    return next(m for m in exp.methods if m.name == method).candidates[index].config


# ------------------------------------------------------------- the sample
def test_sample_experiment_loads(tmp_path):
    shutil.copy(SAMPLE / "experiment.yaml", tmp_path / "experiment.yaml")
    shutil.copy(SAMPLE / "ratings.csv", tmp_path / "ratings.csv")
    exp = load_experiment(str(tmp_path / "experiment.yaml"))
    assert exp.name == "demo"
    assert exp.data == str(tmp_path / "ratings.csv")
    assert exp.output == str(tmp_path / "runs" / "demo")
    assert exp.metrics == "rmse,mae,precision@10,ndcg@10"
    assert exp.relevance_threshold == 4.0
    assert exp.select == "rmse" and exp.lower_is_better
    assert [(m.name, m.command, m.search, len(m.candidates)) for m in exp.methods] == [
        ("svd", "svd", "grid", 3),
        ("nmf", "nmf", "grid", 4),
        ("als", "als", "grid", 3),
        ("sgd", "sgd", "random", 4),
    ]
    assert not exp.kfold and exp.folds == 1 and exp.has_validation
    assert exp.split.runtime.seed == 1  # split: {seed: 1}
    assert [c.config.svd.shrink for c in exp.methods[0].candidates] == [1.0, 5.0, 10.0]
    for c in exp.methods[0].candidates:
        assert c.config.svd.missing and c.config.model.rank == 10


# --------------------------------------------------------------- defaults
def test_defaults(tmp_path):
    exp = load(
        tmp_path,
        """
        data: r.csv
        methods:
          sgd: {}
    """,
    )
    assert exp.path == str(tmp_path / "exp.yaml")
    assert exp.name == "exp"  # the file's stem
    assert exp.output == str(tmp_path / "runs" / "exp")  # beside the file
    assert exp.metrics == "rmse,mae,precision@10,ndcg@10"
    assert exp.select == "rmse"  # the first metric
    assert exp.lower_is_better
    assert exp.relevance_threshold is None
    assert exp.cold_start == "drop"
    assert exp.read == {}
    assert isinstance(exp.split, SplitConfig)
    assert exp.split.split.strategy == "random"
    assert exp.split.input.path == exp.data == str(tmp_path / "r.csv")
    assert exp.split.runtime.seed == 0 and exp.split.runtime.threads is None
    (method,) = exp.methods
    assert (method.name, method.command, method.search, method.params) == ("sgd", "sgd", "none", {})
    (cand,) = method.candidates
    assert cand.index == 0 and cand.searched == {}
    assert isinstance(cand.config, SgdConfig)
    assert cand.config == SgdConfig()  # nothing set: every default, seed 0
    assert cand.config.runtime.seed == 0
    assert cand.config.input.path is None and cand.config.output.path is None


def test_select_default_is_first_metric(tmp_path):
    exp = load(
        tmp_path,
        """
        data: r.csv
        eval: {metrics: [ndcg@5, rmse]}
        methods: {als: {}}
    """,
    )
    assert exp.metrics == "ndcg@5,rmse"
    assert exp.select == "ndcg@5"
    assert not exp.lower_is_better


def test_metrics_as_comma_string_and_eval_options(tmp_path):
    exp = load(
        tmp_path,
        """
        data: r.csv
        eval: {metrics: "mae, recall@20", relevance_threshold: 4, cold_start: mean}
        select: recall@20
        methods: {als: {}}
    """,
    )
    assert exp.metrics == "mae,recall@20"
    assert exp.relevance_threshold == 4.0
    assert exp.cold_start == "mean"
    assert exp.select == "recall@20" and not exp.lower_is_better


@pytest.mark.parametrize(
    "select,lower",
    [("rmse", True), ("mae", True), ("ndcg@10", False), ("precision@10", False), ("auc", False)],
)
def test_lower_is_better(tmp_path, select, lower):
    exp = load(
        tmp_path,
        f"""
        data: r.csv
        eval: {{metrics: [rmse, mae, ndcg@10, precision@10, auc]}}
        select: {select}
        methods: {{als: {{}}}}
    """,
    )
    assert exp.lower_is_better is lower


def test_name_and_seed_and_threads_from_the_file(tmp_path):
    exp = load(
        tmp_path,
        """
        name: study
        data: r.csv
        seed: 7
        threads: 2
        methods: {als: {}, sgd: {}}
    """,
    )
    assert exp.name == "study"
    assert exp.output == str(tmp_path / "runs" / "study")
    assert exp.split.runtime.seed == 7 and exp.split.runtime.threads == 2
    for name in ("als", "sgd"):
        assert config(exp, name).runtime.seed == 7
        assert config(exp, name).runtime.threads == 2


def test_split_seed_overrides_the_experiment_seed_for_the_split_only(tmp_path):
    exp = load(
        tmp_path,
        """
        data: r.csv
        seed: 7
        split: {strategy: random, test_frac: 0.3, seed: 3}
        methods: {als: {}}
    """,
    )
    assert exp.split.runtime.seed == 3
    assert exp.split.split.test_frac == 0.3
    assert config(exp, "als").runtime.seed == 7


# ------------------------------------------------------------------ paths
def test_relative_paths_resolved_against_the_file_folder(tmp_path, monkeypatch):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "r.csv").write_text("user,item,rating\n1,1,5\n")
    (tmp_path / "data" / "users.txt").write_text("a\n")
    path = write(
        tmp_path / "exp",
        """
        data: ../data/r.csv
        input: {sep: ",", row_labels: ../data/users.txt, header: true}
        output: out/here
        methods: {sgd: {}}
    """,
        csv=False,
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    exp = load_experiment(os.path.relpath(path, elsewhere))
    assert exp.data == str(tmp_path / "data" / "r.csv")
    assert exp.split.input.path == exp.data
    assert exp.output == str(tmp_path / "exp" / "out" / "here")
    assert exp.read == {
        "sep": ",",
        "row_labels": str(tmp_path / "data" / "users.txt"),
        "header": True,
    }
    cfg = config(exp, "sgd")
    assert cfg.input.sep == "," and cfg.input.header is True
    assert cfg.input.row_labels == str(tmp_path / "data" / "users.txt")
    assert exp.split.input.row_labels == str(tmp_path / "data" / "users.txt")
    assert not (elsewhere / "runs").exists() and not (tmp_path / "exp" / "out").exists()


def test_default_output_beside_the_file_from_another_cwd(tmp_path, monkeypatch):
    path = write(
        tmp_path / "a" / "b",
        """
        data: r.csv
        methods: {sgd: {}}
    """,
    )
    monkeypatch.chdir(tmp_path)
    exp = load_experiment("a/b/exp.yaml")
    assert exp.output == str(tmp_path / "a" / "b" / "runs" / "exp")
    assert exp.data == str(tmp_path / "a" / "b" / "r.csv")
    assert path.exists()


def test_absolute_paths_kept(tmp_path):
    data = tmp_path / "abs.csv"
    data.write_text("user,item,rating\n1,1,5\n")
    exp = load(
        tmp_path / "e",
        f"""
        data: {data}
        output: {tmp_path / "out"}
        methods: {{sgd: {{}}}}
    """,
    )
    assert exp.data == str(data)
    assert exp.output == str(tmp_path / "out")


def test_output_and_threads_arguments_win(tmp_path):
    exp = load(
        tmp_path,
        """
        data: r.csv
        output: from/file
        threads: 2
        methods: {sgd: {}, als: {}}
    """,
        output="from/cli",
        threads=5,
    )
    assert exp.output == "from/cli"  # as given on the command line (relative to the cwd)
    assert exp.split.runtime.threads == 5
    assert config(exp, "sgd").runtime.threads == 5
    assert config(exp, "als").runtime.threads == 5


def test_output_argument_skips_a_bad_output_in_the_file(tmp_path):
    exp = load(
        tmp_path,
        """
        data: r.csv
        output: 5
        methods: {sgd: {}}
    """,
        output="cli",
    )
    assert exp.output == "cli"


# ----------------------------------------------------------------- params
@pytest.mark.parametrize(
    "params",
    [
        "{rank: 12, reg: 0.05, epochs: 3}",
        "{model.rank: 12, sgd.reg: 0.05, sgd.epochs: 3}",
        "{model: {rank: 12}, sgd: {reg: 0.05, epochs: 3}}",
        "{k: 12, sgd: {reg: 0.05}, epochs: 3}",
    ],
)
def test_params_by_cli_name_config_key_or_nested_are_the_same(tmp_path, params):
    exp = load(
        tmp_path,
        f"""
        data: r.csv
        methods:
          sgd:
            params: {params}
    """,
    )
    cfg = config(exp, "sgd")
    assert cfg == SgdConfig(
        model=SgdConfig().model.__class__(rank=12),
        sgd=SgdConfig().sgd.__class__(reg=0.05, epochs=3),
    )


def test_params_kept_as_written(tmp_path):
    exp = load(
        tmp_path,
        """
        data: r.csv
        methods:
          sgd: {params: {rank: 12, sgd.lr: 0.01}}
    """,
    )
    assert exp.methods[0].params == {"rank": 12, "sgd.lr": 0.01}


def test_command_defaults_to_the_method_name(tmp_path):
    exp = load(
        tmp_path,
        """
        data: r.csv
        methods: {svd: {}, als: null, sgd: {params: {rank: 3}}}
    """,
    )
    assert [(m.name, m.command) for m in exp.methods] == [
        ("svd", "svd"),
        ("als", "als"),
        ("sgd", "sgd"),
    ]
    assert isinstance(config(exp, "svd"), SvdConfig)
    assert isinstance(config(exp, "als"), AlsConfig)


def test_command_lets_a_method_have_another_name(tmp_path):
    exp = load(
        tmp_path,
        """
        data: r.csv
        methods:
          short:
            command: sgd
            params: {epochs: 2}
          long:
            command: sgd
            params: {epochs: 50}
          implicit_als: {command: als, params: {implicit: true}}
    """,
    )
    assert [(m.name, m.command) for m in exp.methods] == [
        ("short", "sgd"),
        ("long", "sgd"),
        ("implicit_als", "als"),
    ]
    assert config(exp, "short").sgd.epochs == 2
    assert config(exp, "long").sgd.epochs == 50
    assert isinstance(config(exp, "implicit_als"), AlsConfig)
    assert config(exp, "implicit_als").als.implicit is True


def test_grid_candidates(tmp_path):
    exp = load(
        tmp_path,
        """
        data: r.csv
        split: {validation_frac: 0.1}
        methods:
          sgd:
            params: {rank: 4, epochs: 3}
            grid: {reg: [0.01, 0.1], sgd.lr: [0.05, 0.1, 0.2]}
    """,
    )
    (m,) = exp.methods
    assert m.search == "grid"
    assert len(m.candidates) == 6
    assert [c.index for c in m.candidates] == list(range(6))
    assert [c.searched for c in m.candidates][:2] == [
        {"reg": 0.01, "sgd.lr": 0.05},
        {"reg": 0.01, "sgd.lr": 0.1},
    ]
    for c in m.candidates:
        assert c.config.sgd.reg == c.searched["reg"]
        assert c.config.sgd.lr == c.searched["sgd.lr"]
        assert c.config.model.rank == 4 and c.config.sgd.epochs == 3


def test_grid_value_overrides_the_fixed_param(tmp_path):
    exp = load(
        tmp_path,
        """
        data: r.csv
        split: {validation_frac: 0.1}
        methods:
          als:
            params: {rank: 4, reg: 0.5}
            grid: {rank: [2, 8]}
    """,
    )
    assert [c.config.model.rank for c in exp.methods[0].candidates] == [2, 8]
    assert all(c.config.als.reg == 0.5 for c in exp.methods[0].candidates)


def test_random_candidates(tmp_path):
    exp = load(
        tmp_path,
        """
        data: r.csv
        split: {validation_frac: 0.1}
        methods:
          sgd:
            params: {epochs: 3}
            random:
              trials: 5
              seed: 2
              space:
                reg: {loguniform: [0.01, 1.0]}
                rank: {int: [2, 9]}
    """,
    )
    (m,) = exp.methods
    assert m.search == "random"
    assert len(m.candidates) == 5
    for c in m.candidates:
        assert set(c.searched) == {"reg", "rank"}
        assert 0.01 <= c.config.sgd.reg <= 1.0 and c.config.sgd.reg == c.searched["reg"]
        assert 2 <= c.config.model.rank <= 9 and c.config.model.rank == c.searched["rank"]
        assert c.config.sgd.epochs == 3
    again = load(tmp_path, (tmp_path / "exp.yaml").read_text())
    assert [c.searched for c in again.methods[0].candidates] == [c.searched for c in m.candidates]


def test_single_candidate_search_needs_no_validation(tmp_path):
    exp = load(
        tmp_path,
        """
        data: r.csv
        methods:
          sgd: {grid: {reg: [0.1]}}
          als: {random: {trials: 1, space: {reg: {uniform: [0.1, 0.2]}}}}
    """,
    )
    assert [len(m.candidates) for m in exp.methods] == [1, 1]


def test_kfold_search_needs_no_validation(tmp_path):
    exp = load(
        tmp_path,
        """
        data: r.csv
        split: {strategy: kfold, folds: 3}
        methods:
          sgd: {grid: {reg: [0.1, 0.2]}}
    """,
    )
    assert exp.kfold and exp.folds == 3 and not exp.has_validation
    assert len(exp.methods[0].candidates) == 2


def test_kfold_default_folds(tmp_path):
    exp = load(
        tmp_path,
        """
        data: r.csv
        split: {strategy: kfold}
        methods: {sgd: {}}
    """,
    )
    assert exp.kfold and exp.folds == 5


def test_properties_without_kfold(tmp_path):
    exp = load(
        tmp_path,
        """
        data: r.csv
        split: {strategy: temporal, test_frac: 0.2, validation_frac: 0.1}
        methods: {sgd: {}}
    """,
    )
    assert not exp.kfold and exp.folds == 1 and exp.has_validation
    exp = load(
        tmp_path,
        """
        data: r.csv
        split: {strategy: random, validation_frac: 0}
        methods: {sgd: {}}
    """,
    )
    assert not exp.has_validation


def test_raw_mapping_kept(tmp_path):
    exp = load(
        tmp_path,
        """
        data: r.csv
        methods: {sgd: {params: {rank: 3}}}
    """,
    )
    assert exp.raw == {"data": "r.csv", "methods": {"sgd": {"params": {"rank": 3}}}}


# ----------------------------------------------------------------- errors
def test_unknown_top_level_key_with_did_you_mean(tmp_path):
    fails(
        tmp_path,
        """
        data: r.csv
        metods:  # <--
          sgd: {}
    """,
        "unknown key 'metods'",
        hint="did you mean 'methods'?",
    )


def test_unknown_top_level_key_without_close_match(tmp_path):
    fails(
        tmp_path,
        """
        data: r.csv
        methods: {sgd: {}}
        zzzz: 1  # <--
    """,
        "unknown key 'zzzz'",
        hint="docs/experiments.md",
    )


def test_missing_data(tmp_path):
    exc = fails(
        tmp_path,
        """
        methods: {sgd: {}}
    """,
        "data: the input file is required",
        hint="e.g. data: ratings.csv",
    )
    assert exc.line is None


@pytest.mark.parametrize("value", ['""', "5", "[a.csv]", "null"])
def test_data_not_a_path(tmp_path, value):
    fails(
        tmp_path,
        f"""
        name: x
        data: {value}  # <--
        methods: {{sgd: {{}}}}
    """,
        "data: the input file is required",
    )


def test_name_not_a_string(tmp_path):
    fails(
        tmp_path,
        """
        name: [a]  # <--
        data: r.csv
        methods: {sgd: {}}
    """,
        "name: expected a string",
    )


def test_unknown_input_key(tmp_path):
    fails(
        tmp_path,
        """
        data: r.csv
        input:
          format: csv
          seperator: ","  # <--
        methods: {sgd: {}}
    """,
        "unknown key 'input.seperator'",
    )


def test_input_bad_value(tmp_path):
    fails(
        tmp_path,
        """
        data: r.csv
        input:
          format: xls  # <--
        methods: {sgd: {}}
    """,
        "input.format: expected one of auto, mtx, csv, h5, mat, got 'xls'",
    )


def test_input_not_a_mapping(tmp_path):
    fails(
        tmp_path,
        """
        data: r.csv
        input: csv  # <--
        methods: {sgd: {}}
    """,
        "input: expected a mapping",
    )


def test_unknown_eval_key(tmp_path):
    fails(
        tmp_path,
        """
        data: r.csv
        eval:
          metrics: [rmse]
          fail_if: rmse>1  # <--
        methods: {sgd: {}}
    """,
        "unknown key 'eval.fail_if'",
    )


def test_eval_bad_cold_start(tmp_path):
    fails(
        tmp_path,
        """
        data: r.csv
        eval:
          cold_start: ignore  # <--
        methods: {sgd: {}}
    """,
        "eval.cold_start: expected one of drop, mean, error, got 'ignore'",
    )


def test_bad_metric_name(tmp_path):
    fails(
        tmp_path,
        """
        data: r.csv
        eval:
          metrics: [rmse, bogus]  # <--
        methods: {sgd: {}}
    """,
        "unknown metric 'bogus'",
    )


def test_select_not_among_metrics(tmp_path):
    fails(
        tmp_path,
        """
        data: r.csv
        eval: {metrics: [rmse, mae]}
        select: ndcg@10  # <--
        methods: {sgd: {}}
    """,
        "select: 'ndcg@10' is not among the metrics (rmse,mae)",
        hint="select one of eval.metrics",
    )


def test_select_not_a_string(tmp_path):
    fails(
        tmp_path,
        """
        data: r.csv
        select: [rmse]  # <--
        methods: {sgd: {}}
    """,
        "select: ['rmse'] is not among the metrics",
    )


@pytest.mark.parametrize("select,canonical", [("RMSE", "rmse"), ("prec@10", "precision@10")])
def test_select_spelled_like_the_metrics(tmp_path, select, canonical):
    exp = load(
        tmp_path,
        f"""
        data: r.csv
        eval: {{metrics: [RMSE, prec@10]}}
        select: {select}
        methods: {{sgd: {{}}}}
    """,
    )
    assert exp.select == canonical


def test_methods_missing(tmp_path):
    exc = fails(
        tmp_path,
        """
        data: r.csv
    """,
        "methods: expected a mapping of name: {command, params, grid | random}",
        hint="e.g. methods: {sgd: {params: {rank: 20}}}",
    )
    assert exc.line is None


@pytest.mark.parametrize("value", ["{}", "[sgd, als]", "sgd", "null"])
def test_methods_empty_or_not_a_mapping(tmp_path, value):
    fails(
        tmp_path,
        f"""
        data: r.csv
        methods: {value}  # <--
    """,
        "methods: expected a mapping of name: {command, params, grid | random}",
    )


@pytest.mark.parametrize("value", ["5", "[rank, 3]", "sgd"])
def test_method_not_a_mapping(tmp_path, value):
    fails(
        tmp_path,
        f"""
        data: r.csv
        methods:
          als: {{}}
          sgd: {value}  # <--
    """,
        "methods.sgd: expected a mapping",
    )


def test_unknown_method_key(tmp_path):
    fails(
        tmp_path,
        """
        data: r.csv
        methods:
          sgd:
            params: {rank: 3}
            gird: {reg: [0.1, 0.2]}  # <--
    """,
        "unknown key 'methods.sgd.gird'",
        hint="did you mean 'grid'?",
    )


def test_unknown_command_by_method_name(tmp_path):
    fails(
        tmp_path,
        """
        data: r.csv
        methods:
          als: {}
          svdpp:  # <--
            params: {rank: 3}
    """,
        "methods.svdpp: unknown command 'svdpp'",
        hint="set command: to one of svd, nmf, als, sgd",
    )


@pytest.mark.parametrize("command", ["split", "eval", "bogus", "5"])
def test_unknown_command_by_command_key(tmp_path, command):
    fails(
        tmp_path,
        f"""
        data: r.csv
        methods:
          mine:
            params: {{rank: 3}}
            command: {command}  # <--
    """,
        "methods.mine: unknown command",
    )


def test_grid_and_random_together(tmp_path):
    fails(
        tmp_path,
        """
        data: r.csv
        split: {validation_frac: 0.1}
        methods:
          sgd:  # <--
            grid: {reg: [0.1, 0.2]}
            random: {trials: 2, space: {lr: {uniform: [0.01, 0.1]}}}
    """,
        "methods.sgd: grid and random exclude each other",
    )


@pytest.mark.parametrize("value", ["[rank, 3]", "rank=3", "5"])
def test_params_not_a_mapping(tmp_path, value):
    fails(
        tmp_path,
        f"""
        data: r.csv
        methods:
          sgd:
            params: {value}  # <--
    """,
        "methods.sgd.params: expected a mapping",
    )


def test_param_unknown_for_the_command(tmp_path):
    # 'shrink' is an svd option, not an sgd one
    fails(
        tmp_path,
        """
        data: r.csv
        methods:
          svd: {params: {shrink: 1.0, missing: true}}
          sgd:
            params:
              rank: 4
              shrink: 1.0  # <--
    """,
        "unknown key 'shrink'",
    )


def test_param_typo_did_you_mean(tmp_path):
    fails(
        tmp_path,
        """
        data: r.csv
        methods:
          sgd:
            params:
              epochs: 3
              rnk: 4  # <--
    """,
        "unknown key 'rnk'",
        hint="did you mean 'model.rank'?",
    )


def test_param_unknown_nested_key(tmp_path):
    fails(
        tmp_path,
        """
        data: r.csv
        methods:
          als:
            params:
              als:
                iters: 3
                regg: 0.1  # <--
    """,
        "unknown key 'als.regg'",
        hint="did you mean 'als.reg'?",
    )


def test_param_wrong_type_by_cli_name(tmp_path):
    fails(
        tmp_path,
        """
        data: r.csv
        methods:
          sgd:
            params:
              epochs: 3
              rank: "ten"  # <--
    """,
        "model.rank: expected an integer >= 1, got 'ten'",
    )


def test_param_wrong_type_by_config_key(tmp_path):
    fails(
        tmp_path,
        """
        data: r.csv
        methods:
          sgd:
            params:
              sgd.reg: lots  # <--
    """,
        "sgd.reg: expected a number >= 0 or null, got 'lots'",
    )


def test_param_wrong_type_nested(tmp_path):
    fails(
        tmp_path,
        """
        data: r.csv
        methods:
          sgd:
            params:
              sgd:
                epochs: 3
                reg: -1  # <--
    """,
        "sgd.reg: must be >= 0, got -1",
    )


def test_param_given_twice(tmp_path):
    fails(
        tmp_path,
        """
        data: r.csv
        methods:
          sgd:
            params:
              model.rank: 3
              model:
                rank: 4  # <--
    """,
        "key 'model.rank' given twice",
    )


def test_grid_value_wrong_type_at_the_grid_key(tmp_path):
    fails(
        tmp_path,
        """
        data: r.csv
        split: {validation_frac: 0.1}
        methods:
          sgd:
            params: {rank: 3}
            grid:
              reg: [0.1, 0.2]
              rank: [2, "x"]  # <--
    """,
        "model.rank: expected an integer >= 1, got 'x'",
    )


def test_grid_unknown_param(tmp_path):
    fails(
        tmp_path,
        """
        data: r.csv
        split: {validation_frac: 0.1}
        methods:
          sgd:
            grid:
              regg: [0.1, 0.2]  # <--
    """,
        "unknown key 'regg'",
        hint="did you mean 'sgd.reg'?",
    )


def test_grid_malformed(tmp_path):
    fails(
        tmp_path,
        """
        data: r.csv
        split: {validation_frac: 0.1}
        methods:
          sgd:
            grid:
              reg: [0.1, 0.2]
              rank: []  # <--
    """,
        "methods.sgd.grid.rank: expected a non-empty list of values",
    )


def test_grid_not_a_mapping(tmp_path):
    fails(
        tmp_path,
        """
        data: r.csv
        methods:
          sgd:
            grid: [0.1, 0.2]  # <--
    """,
        "methods.sgd.grid: expected a mapping of key: [values]",
    )


def test_random_unknown_param(tmp_path):
    fails(
        tmp_path,
        """
        data: r.csv
        split: {validation_frac: 0.1}
        methods:
          sgd:
            random:
              trials: 2
              space:
                regg: {uniform: [0.1, 1]}  # <--
    """,
        "unknown key 'regg'",
        hint="did you mean 'sgd.reg'?",
    )


def test_random_draw_invalid_for_the_param(tmp_path):
    # lr must be > 0: a uniform from 0 may draw it... bounds [0, 0] always do
    fails(
        tmp_path,
        """
        data: r.csv
        split: {validation_frac: 0.1}
        methods:
          sgd:
            random:
              trials: 2
              space:
                lr: {uniform: [0, 0]}  # <--
    """,
        "sgd.lr: must be > 0, got 0.0",
    )


@pytest.mark.parametrize(
    "entry,message",
    [
        ("trials: 0", "methods.sgd.random.trials: expected an integer >= 1"),
        ("trials: true", "methods.sgd.random.trials: expected an integer >= 1"),
        ("seed: -1", "methods.sgd.random.seed: expected an integer >= 0"),
        ("trails: 3", "methods.sgd.random.trails: unknown key (use trials, seed, space)"),
    ],
)
def test_random_bad_entries_at_their_line(tmp_path, entry, message):
    first = "trials: 2" if not entry.startswith("trials") else entry + "  # <--"
    rest = "" if entry.startswith("trials") else entry + "  # <--"
    fails(
        tmp_path,
        f"""
        data: r.csv
        split: {{validation_frac: 0.1}}
        methods:
          sgd:
            random:
              {first}
              space: {{reg: {{uniform: [0.1, 1]}}}}
              {rest}
    """,
        message,
    )


@pytest.mark.parametrize(
    "dist,message",
    [
        ("{normal: [0, 1]}", "unknown distribution 'normal'"),
        ("{uniform: [1, 0]}", "random.space.reg.uniform: expected [low, high] with low <= high"),
        ("{int: [1, 2.5]}", "random.space.reg.int: bounds must be integers"),
        ("{loguniform: [0, 1]}", "random.space.reg.loguniform: bounds must be > 0"),
        ("{choice: []}", "random.space.reg.choice: expected a list"),
        ("0.1", "random.space.reg: expected one of {uniform, loguniform, int, choice: ...}"),
    ],
)
def test_random_bad_distribution_at_its_line(tmp_path, dist, message):
    exc = fails(
        tmp_path,
        f"""
        data: r.csv
        split: {{validation_frac: 0.1}}
        methods:
          sgd:
            random:
              trials: 2
              space:
                lr: {{uniform: [0.01, 0.1]}}
                reg: {dist}  # <--
    """,
        message,
    )
    assert exc.message.startswith("methods.sgd.random.space.reg")


def test_random_bounds_in_exponent_notation(tmp_path):
    exp = load(
        tmp_path,
        """
        data: r.csv
        split: {validation_frac: 0.1}
        methods:
          sgd:
            grid: {reg: [1e-4, 1e-1]}
          als:
            random: {trials: 3, space: {reg: {loguniform: [1e-4, 1e-1]}}}
    """,
    )
    assert all(1e-4 <= c.config.als.reg <= 1e-1 for c in exp.methods[1].candidates)


def test_grid_accepts_exponent_notation(tmp_path):
    exp = load(
        tmp_path,
        """
        data: r.csv
        split: {validation_frac: 0.1}
        methods:
          sgd:
            grid: {reg: [1e-4, 1e-1]}
    """,
    )
    assert [c.config.sgd.reg for c in exp.methods[0].candidates] == [1e-4, 1e-1]


@pytest.mark.parametrize(
    "params,key",
    [
        ("{input.path: other.csv}", "input.path"),
        ("{output.path: out.h5}", "output.path"),
        ("{output.force: true}", "output.force"),
        ("{force: true}", "force"),
        ("{input.format: mtx}", "input.format"),
        ("{format: csv}", "format"),
        ("{sep: ';'}", "sep"),
        ("{columns: 'a,b,c'}", "columns"),
    ],
)
def test_param_owned_by_the_experiment_refused(tmp_path, params, key):
    fails(
        tmp_path,
        f"""
        data: r.csv
        methods:
          sgd:
            params: {params}  # <--
    """,
        f"methods.sgd.params.{key}: the experiment sets this for every fit",
        hint="set data:, input: and output: at the top of the file",
    )


def test_owned_key_in_a_grid_refused(tmp_path):
    fails(
        tmp_path,
        """
        data: r.csv
        split: {validation_frac: 0.1}
        methods:
          sgd:
            grid:
              reg: [0.1, 0.2]
              input.sep: [",", ";"]  # <--
    """,
        "methods.sgd.grid.input.sep: the experiment sets this for every fit",
    )


@pytest.mark.parametrize(
    "params", ["{output: {path: x.h5}}", "{input: {path: other.csv}}", "{input: {sep: ';'}}"]
)
def test_nested_owned_param_refused(tmp_path, params):
    fails(
        tmp_path,
        f"""
        data: r.csv
        methods:
          sgd:
            params: {params}  # <--
    """,
        "the experiment sets this for every fit",
    )


@pytest.mark.parametrize(
    "split", ["{}", "{strategy: random, test_frac: 0.2}", "{strategy: temporal, test_frac: 0.2}"]
)
def test_search_without_validation_refused(tmp_path, split):
    fails(
        tmp_path,
        f"""
        data: r.csv
        split: {split}
        methods:
          als: {{params: {{rank: 3}}}}
          sgd:
            params: {{rank: 3}}
            grid: {{reg: [0.1, 0.2]}}  # <--
    """,
        "methods.sgd: a search needs held-out data to choose on",
        hint="set split.validation_frac (e.g. 0.1) or use split.strategy: kfold",
    )


def test_random_search_without_validation_refused(tmp_path):
    fails(
        tmp_path,
        """
        data: r.csv
        methods:
          sgd:
            random: {trials: 3, space: {reg: {uniform: [0.1, 1]}}}  # <--
    """,
        "methods.sgd: a search needs held-out data to choose on",
        hint="split.validation_frac",
    )


def test_cross_field_validate_error_located_at_the_method(tmp_path):
    fails(
        tmp_path,
        """
        data: r.csv
        methods:
          als: {}
          svd:  # <--
            params:
              rank: 3
              shrink: 1.0
    """,
        "methods.svd: svd.shrink applies to --missing only",
        hint="add --missing",
    )


def test_cross_field_validate_error_from_a_grid_candidate(tmp_path):
    fails(
        tmp_path,
        """
        data: r.csv
        split: {validation_frac: 0.1}
        methods:
          svd:  # <--
            params: {missing: true}
            grid: {center: [false, true]}
    """,
        "methods.svd: svd.center and svd.missing exclude each other",
    )


def test_cross_field_validate_sgd_patience(tmp_path):
    fails(
        tmp_path,
        """
        data: r.csv
        methods:
          sgd:  # <--
            params: {sgd: {patience: 3}}
    """,
        "methods.sgd: sgd.patience needs a validation file",
    )


@pytest.mark.parametrize(
    "split,message",
    [
        ("{test_frac: 2}", "split: split.test_frac must be in 0 < x < 1, got 2"),
        (
            "{test_frac: 0.5, validation_frac: 0.6}",
            "split: split.test_frac + split.validation_frac must be below 1",
        ),
        (
            "{strategy: kfold, validation_frac: 0.1}",
            "split: split.validation_frac does not apply to the kfold strategy",
        ),
        ("{strategy: random, folds: 3}", "split: split.folds does not apply to the random"),
    ],
)
def test_bad_split_options(tmp_path, split, message):
    fails(
        tmp_path,
        f"""
        data: r.csv
        split: {split}  # <--
        methods: {{sgd: {{}}}}
    """,
        message,
    )


def test_bad_split_value_at_its_line(tmp_path):
    fails(
        tmp_path,
        """
        data: r.csv
        split:
          strategy: random
          test_frac: lots  # <--
        methods: {sgd: {}}
    """,
        "split.test_frac: expected a number or null, got 'lots'",
    )


def test_unknown_split_key(tmp_path):
    fails(
        tmp_path,
        """
        data: r.csv
        split:
          strategy: random
          tset_frac: 0.2  # <--
        methods: {sgd: {}}
    """,
        "unknown key 'split.tset_frac'",
        hint="did you mean 'split.test_frac'?",
    )


def test_split_not_a_mapping(tmp_path):
    fails(
        tmp_path,
        """
        data: r.csv
        split: random  # <--
        methods: {sgd: {}}
    """,
        "split: expected a mapping",
    )


@pytest.mark.parametrize("value", ["-1", "true", "1.5", "abc"])
def test_seed_must_be_a_non_negative_integer(tmp_path, value):
    fails(
        tmp_path,
        f"""
        data: r.csv
        seed: {value}  # <--
        methods: {{sgd: {{}}}}
    """,
        "seed: expected an integer >= 0",
    )


def test_split_seed_negative(tmp_path):
    fails(
        tmp_path,
        """
        data: r.csv
        split: {seed: -2}  # <--
        methods: {sgd: {}}
    """,
        "runtime.seed: must be >= 0, got -2",
    )


@pytest.mark.parametrize("value", ["0", "two"])
def test_threads_must_be_positive_integer(tmp_path, value):
    fails(
        tmp_path,
        f"""
        data: r.csv
        threads: {value}  # <--
        methods: {{sgd: {{}}}}
    """,
        "threads: expected an integer >= 1",
    )


@pytest.mark.parametrize("value", ['""', "5", "[a]"])
def test_output_not_a_folder_name(tmp_path, value):
    fails(
        tmp_path,
        f"""
        data: r.csv
        output: {value}  # <--
        methods: {{sgd: {{}}}}
    """,
        "output: expected a folder name",
    )


def test_duplicate_key_in_a_method(tmp_path):
    fails(
        tmp_path,
        """
        data: r.csv
        methods:
          sgd:
            params: {rank: 3}
            params: {rank: 4}  # <--
    """,
        "duplicate key 'methods.sgd.params'",
    )


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_experiment(str(tmp_path / "nope.yaml"))
    assert info.value.exit_code == 2
    assert "config file not found" in info.value.message


def test_first_error_wins_and_nothing_is_written(tmp_path):
    before = set(tmp_path.rglob("*"))
    fails(
        tmp_path,
        """
        data: r.csv
        output: out
        methods:
          sgd:
            params: {rank: 0}  # <--
    """,
        "model.rank: must be >= 1, got 0",
    )
    after = set(tmp_path.rglob("*"))
    assert after - before == {tmp_path / "exp.yaml", tmp_path / "r.csv"}


# -------------------------------------------------------------- via the CLI
@pytest.mark.parametrize(
    "text,line,message",
    [
        (
            "data: r.csv\nselct: rmse\nmethods: {sgd: {}}\n",
            2,
            "unknown key 'selct' (did you mean 'select'",
        ),
        (
            "data: r.csv\nmethods:\n  sgd:\n    params: {rank: ten}\n",
            4,
            "model.rank: expected an integer >= 1, got 'ten'",
        ),
        (
            "data: r.csv\nmethods:\n  sgd:\n    grid: {reg: [0.1, 0.2]}\n",
            4,
            "methods.sgd: a search needs held-out data to choose on",
        ),
        ("data: r.csv\nseed: -1\nmethods: {sgd: {}}\n", 2, "seed: expected an integer >= 0"),
        (
            "data: r.csv\nmethods:\n  svd:\n    params: {shrink: 1.0}\n",
            3,
            "methods.svd: svd.shrink applies to --missing only (add --missing)",
        ),
    ],
)
def test_cli_run_spec_error_one_line_exit_2_nothing_written(
    tmp_path, monkeypatch, text, line, message
):
    (tmp_path / "r.csv").write_text("user,item,rating\n1,1,5\n")
    (tmp_path / "bad.yaml").write_text(text)
    monkeypatch.chdir(tmp_path)
    result = invoke("run", "bad.yaml")
    assert result.exit_code == 2, result.output
    err = result.stderr
    assert err.startswith(f"error: bad.yaml:{line}: "), err
    assert message in err
    assert err.count("\n") == 1 and err.endswith("\n")
    assert "Traceback" not in err and "Traceback" not in result.stdout
    assert result.stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml", "r.csv"]


def test_cli_run_output_option_not_created_on_spec_error(tmp_path, monkeypatch):
    (tmp_path / "r.csv").write_text("user,item,rating\n1,1,5\n")
    (tmp_path / "bad.yaml").write_text("data: r.csv\nmethods:\n  sgd: {params: {rnk: 3}}\n")
    monkeypatch.chdir(tmp_path)
    result = invoke("run", "bad.yaml", "-o", "myrun", "--threads", "2")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: bad.yaml:3: unknown key 'rnk'")
    assert not (tmp_path / "myrun").exists()


def test_cli_run_bad_metric_names_file_and_line(tmp_path, monkeypatch):
    (tmp_path / "r.csv").write_text("user,item,rating\n1,1,5\n")
    (tmp_path / "bad.yaml").write_text(
        "data: r.csv\neval: {metrics: [rmse, bogus]}\nmethods: {sgd: {}}\n"
    )
    monkeypatch.chdir(tmp_path)
    result = invoke("run", "bad.yaml")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: bad.yaml:2: eval.metrics: unknown metric 'bogus'")
