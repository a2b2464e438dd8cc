"""`mfcli run`: experiments end to end, skips like make, kfold spreads, command configs."""

from __future__ import annotations

import csv
import json
import os
import shutil
import statistics
from pathlib import Path

import h5py
import numpy as np
import pytest

from tests.cli.helpers import invoke, run_cli

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data"

EXPERIMENT = """\
name: small
data: ratings.csv
split: {strategy: random, test_frac: 0.2, validation_frac: 0.1, seed: 3}
eval: {metrics: [rmse, mae, ndcg@10], relevance_threshold: 4}
select: rmse
output: out
methods:
  svd: {params: {rank: 5, missing: true, max_iter: 20}}
  sgd:
    params: {rank: 8, epochs: 5}
    grid: {reg: [0.02, 0.2]}
"""


@pytest.fixture
def exp(tmp_path):
    shutil.copy(SAMPLE / "ratings.csv", tmp_path / "ratings.csv")
    path = tmp_path / "exp.yaml"
    path.write_text(EXPERIMENT)
    return path


def _run(*args: str):
    result = invoke("run", *args)
    assert result.exit_code == 0, result.stderr
    return result


def _json(*args: str) -> dict:
    return json.loads(_run(*args, "--json").stdout)


def _steps(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text())["steps"]


def _ran(folder: Path) -> set[str]:
    return {name for name, s in _steps(folder).items() if s["status"] == "ran"}


def test_a_run_writes_every_artefact_and_prints_the_table(exp):
    result = _run(str(exp))
    out = exp.parent / "out"
    for name in ("manifest.json", "experiment.yaml", "results.json", "results.csv", "trials.csv"):
        assert (out / name).is_file(), name
    for name in ("train.csv", "validation.csv", "test.csv", "manifest.json"):
        assert (out / "split" / name).is_file()
    assert (out / "models/svd/00/model.h5").is_file()
    assert (out / "models/sgd/00/model.h5").is_file() and (out / "models/sgd/01/model.h5").is_file()
    assert "small: random split, test metrics; parameter sets chosen on rmse" in result.stdout
    assert "sgd: sgd rank=8 epochs=5 reg=" in result.stdout
    # progress goes to stderr, one line a step
    assert "split: random, 35000 entries" in result.stderr
    assert "fit sgd #01 (reg=0.2)" in result.stderr
    results = json.loads((out / "results.json").read_text())
    assert [r["name"] for r in results["rows"]] == ["svd", "sgd"]
    assert results["lower_is_better"] == ["rmse", "mae"]
    for row in results["rows"]:
        for m in ("rmse", "mae", "ndcg@10"):
            assert row["metrics"][m]["std"] is None and len(row["metrics"][m]["folds"]) == 1
    # every output the manifest names is on disk with its sha256
    import hashlib

    for step in _steps(out).values():
        for rel, digest in step["outputs"].items():
            assert hashlib.sha256((out / rel).read_bytes()).hexdigest() == digest


def test_the_chosen_parameter_set_is_the_best_on_validation(exp):
    results = _json(str(exp))
    rows = list(csv.DictReader((exp.parent / "out" / "trials.csv").open()))
    sgd = [r for r in rows if r["name"] == "sgd"]
    assert [r["params"] for r in sgd] == ["reg=0.02", "reg=0.2"]
    best = min(sgd, key=lambda r: float(r["rmse"]))
    assert [r["chosen"] for r in sgd] == ["1" if r is best else "0" for r in sgd]
    row = results["rows"][1]
    assert row["chosen"] == int(best["trial"])
    assert row["selected_on"]["rmse"] == pytest.approx(float(best["rmse"]), abs=1e-6)
    # the reported metrics are the chosen model's on test, not on validation
    test_rmse = row["metrics"]["rmse"]["mean"]
    model, test = exp.parent / "out" / row["model"], exp.parent / "out/split/test.csv"
    evaluated = invoke("eval", str(model), str(test), "--metrics", "rmse", "--json")
    assert json.loads(evaluated.stdout)["values"]["rmse"] == pytest.approx(test_rmse, abs=1e-9)


def test_an_unchanged_rerun_skips_every_step(exp):
    first = _json(str(exp))
    out = exp.parent / "out"
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*.h5")}
    second = _json(str(exp))
    assert second["steps"]["ran"] == 0 and second["steps"]["skipped"] == first["steps"]["ran"]
    assert second["rows"] == first["rows"]
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.h5")} == stamps
    assert _ran(out) == set()
    text = invoke("run", str(exp)).stderr
    assert "split: unchanged, skipped" in text and "fit svd: unchanged, skipped" in text


def test_force_reruns_every_step(exp):
    first = _json(str(exp))
    again = _json(str(exp), "--force")
    assert again["steps"]["ran"] == first["steps"]["ran"] and again["steps"]["skipped"] == 0
    assert [r["metrics"] for r in again["rows"]] == [r["metrics"] for r in first["rows"]]


def test_changing_one_method_reruns_only_its_steps(exp):
    _json(str(exp))
    exp.write_text(EXPERIMENT.replace("max_iter: 20", "max_iter: 21"))
    _json(str(exp))
    assert _ran(exp.parent / "out") == {"fit/svd/00", "eval/svd/00/test"}


def test_thread_counts_never_cause_a_rerun(exp):
    _json(str(exp), "--threads", "1")
    again = _json(str(exp), "--threads", "2")
    assert again["steps"]["ran"] == 0


def test_changed_data_reruns_the_split_and_everything_after(exp):
    first = _json(str(exp))
    data = exp.parent / "ratings.csv"
    lines = data.read_text().splitlines(keepends=True)
    data.write_text("".join(lines[:-500]))  # fewer ratings
    again = _json(str(exp))
    assert again["steps"]["ran"] == first["steps"]["ran"] and again["steps"]["skipped"] == 0


def test_a_tampered_model_is_refitted(exp):
    _json(str(exp))
    out = exp.parent / "out"
    model = out / "models/svd/00/model.h5"
    with h5py.File(model, "r+") as f:
        f["factors/row"][0, 0] += 1.0
    again = _json(str(exp))
    # the refit restores the same factors (fits are deterministic), so its
    # recorded evaluation, keyed by the fit's inputs, stays valid
    assert _ran(out) == {"fit/svd/00"} and again["steps"]["ran"] == 1
    with h5py.File(model) as f:
        restored = f["factors/row"][0, 0]
    with h5py.File(out / "models/svd/00/model.h5") as f:
        assert f["factors/row"][0, 0] == restored


def test_a_deleted_split_file_reruns_the_split(exp):
    _json(str(exp))
    out = exp.parent / "out"
    (out / "split/test.csv").unlink()
    _json(str(exp))
    # the same data and seed give byte-identical split files, so the fits stay valid
    assert _ran(out) == {"split"}
    assert (out / "split/test.csv").is_file()


def test_kfold_reports_mean_and_std_over_folds(tmp_path, exp):
    text = EXPERIMENT.replace(
        "{strategy: random, test_frac: 0.2, validation_frac: 0.1, seed: 3}",
        "{strategy: kfold, folds: 3, seed: 3}",
    )
    exp.write_text(text)
    results = _json(str(exp))
    out = exp.parent / "out"
    assert results["folds"] == 3 and results["split"] == "kfold"
    for i in range(3):
        assert (out / f"split/fold_{i}/train.csv").is_file()
        assert (out / f"models/svd/00/fold_{i}/model.h5").is_file()
        assert (out / f"models/sgd/01/fold_{i}/model.h5").is_file()
    for row in results["rows"]:
        for m in ("rmse", "mae", "ndcg@10"):
            spread = row["metrics"][m]
            assert len(spread["folds"]) == 3
            assert spread["mean"] == pytest.approx(statistics.mean(spread["folds"]))
            assert spread["std"] == pytest.approx(statistics.stdev(spread["folds"]))
            assert spread["std"] > 0
    # the search chooses on the mean over the held-out folds
    sgd = [r for r in csv.DictReader((out / "trials.csv").open()) if r["name"] == "sgd"]
    assert min(sgd, key=lambda r: float(r["rmse"]))["chosen"] == "1"
    head = (out / "results.csv").read_text().splitlines()[0].split(",")
    assert head[3:9] == ["rmse", "rmse_std", "mae", "mae_std", "ndcg@10", "ndcg@10_std"]
    shown = invoke("run", str(exp)).stdout
    assert "3 folds, held-out metrics as mean ± std" in shown and " ± " in shown


def test_random_search_draws_the_same_sets_every_time(exp):
    exp.write_text(EXPERIMENT.replace(
        "grid: {reg: [0.02, 0.2]}",
        "random: {trials: 3, seed: 5, space: {reg: {loguniform: [0.01, 0.5]}, "
        "rank: {int: [2, 6]}}}",
    ))  # fmt: skip
    _json(str(exp))
    rows = list(csv.DictReader((exp.parent / "out" / "trials.csv").open()))
    again = _json(str(exp), "--force")
    assert again["steps"]["skipped"] == 0
    assert list(csv.DictReader((exp.parent / "out" / "trials.csv").open())) == rows
    drawn = [r["params"] for r in rows if r["name"] == "sgd"]
    assert len(drawn) == 3 and len(set(drawn)) == 3
    for text in drawn:
        values = dict(part.split("=") for part in text.split())
        assert 0.01 <= float(values["reg"]) <= 0.5 and 2 <= int(values["rank"]) <= 6


def test_a_diverging_set_in_a_search_is_left_out(exp):
    exp.write_text(EXPERIMENT.replace(
        "grid: {reg: [0.02, 0.2]}", "grid: {lr: [0.01, 1000.0]}"
    ).replace("epochs: 5}", "epochs: 5, schedule: constant}"))  # fmt: skip
    result = _run(str(exp))
    assert "failed" in result.stderr and "left out of the search" in result.stderr
    rows = list(csv.DictReader((exp.parent / "out" / "trials.csv").open()))
    sgd = [r for r in rows if r["name"] == "sgd"]
    assert sgd[1]["status"].startswith("failed") and sgd[1]["rmse"] == ""
    assert sgd[0]["chosen"] == "1"


def test_a_diverging_single_set_stops_the_run_with_exit_4(exp):
    text = EXPERIMENT.replace("grid: {reg: [0.02, 0.2]}", "")
    exp.write_text(text.replace("epochs: 5}", "epochs: 5, lr: 1000.0, schedule: constant}"))
    result = invoke("run", str(exp))
    assert result.exit_code == 4, result.stderr
    last = result.stderr.splitlines()[-1]
    assert last.startswith("error: methods.sgd (sgd): SGD diverged") and "lower --lr" in last
    assert "Traceback" not in result.stderr
    # the steps before it are recorded: a fixed re-run starts from there
    steps = _steps(exp.parent / "out")
    assert "split" in steps and "fit/svd/00" in steps and "fit/sgd/00" not in steps


def test_missing_data_exits_66_naming_the_file(exp):
    (exp.parent / "ratings.csv").unlink()
    result = invoke("run", str(exp))
    assert result.exit_code == 66, result.stderr
    assert "ratings.csv" in result.stderr and "Traceback" not in result.stderr


def test_a_run_folder_that_is_a_file_exits_73(exp):
    (exp.parent / "out").write_text("not a folder")
    result = invoke("run", str(exp))
    assert result.exit_code == 73, result.stderr
    assert "out" in result.stderr


def test_output_flag_overrides_the_file(exp, tmp_path):
    target = tmp_path / "elsewhere"
    _json(str(exp), "-o", str(target))
    assert (target / "results.json").is_file() and not (exp.parent / "out").exists()


def test_the_copied_experiment_repeats_the_run_in_place(exp, tmp_path, monkeypatch):
    first = _json(str(exp))
    copy = exp.parent / "out" / "experiment.yaml"
    monkeypatch.chdir(tmp_path.parent)  # paths in the copy are absolute
    again = _json(str(copy))
    assert again["steps"]["ran"] == 0 and again["rows"] == first["rows"]


def test_set_is_refused_for_experiments(exp):
    result = invoke("run", str(exp), "--set", "model.rank=3")
    assert result.exit_code == 2 and "--set applies to command configs" in result.stderr


def test_a_command_config_runs_that_command(tmp_path):
    shutil.copy(SAMPLE / "lowrank_dense.csv", tmp_path / "dense.csv")
    config = tmp_path / "svd.yaml"
    config.write_text(
        f"command: svd\ninput: {{path: {tmp_path / 'dense.csv'}}}\nmodel: {{rank: 5}}\n"
        f"output: {{path: {tmp_path / 'a.h5'}}}\n"
    )
    _run(str(config), "-q")
    _run(str(config), "--set", "model.rank=3", "-o", str(tmp_path / "b.h5"))
    direct = invoke("svd", "--config", str(config), "-o", str(tmp_path / "c.h5"))
    assert direct.exit_code == 0, direct.stderr
    with h5py.File(tmp_path / "a.h5") as a, h5py.File(tmp_path / "c.h5") as c:
        np.testing.assert_array_equal(a["factors/row"][()], c["factors/row"][()])
    with h5py.File(tmp_path / "b.h5") as b:
        assert b["factors/row"].shape == (200, 3)
    # the output exists: the command's own rule applies
    again = invoke("run", str(config))
    assert again.exit_code == 73


def test_a_file_that_is_neither_exits_2(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text("name: nothing\n")
    result = invoke("run", str(path))
    assert result.exit_code == 2
    assert "neither an experiment" in result.stderr and "x.yaml" in result.stderr


def test_run_in_a_real_process_and_plot_its_folder(exp, tmp_path):
    proc = run_cli("run", str(exp), "-q")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == b"" and proc.stderr == b""
    figure = tmp_path / "bars.png"
    plotted = invoke("plot", str(exp.parent / "out"), "-o", str(figure))
    assert plotted.exit_code == 0, plotted.stderr
    assert figure.read_bytes().startswith(b"\x89PNG")


def test_docs_experiment_files_load(monkeypatch):
    from mfcli.experiment.spec import load_experiment

    folder = Path(__file__).resolve().parents[2] / "docs" / "experiments"
    files = sorted(folder.glob("*.yaml"))
    assert files, "docs/experiments/ holds worked experiment files"
    for path in files:
        exp = load_experiment(str(path))
        assert os.path.isfile(exp.data), (path, exp.data)
        assert exp.methods


DOC_EXPERIMENTS = sorted((Path(__file__).resolve().parents[2] / "docs/experiments").glob("*.yaml"))


@pytest.mark.slow
@pytest.mark.parametrize("path", DOC_EXPERIMENTS, ids=[p.stem for p in DOC_EXPERIMENTS])
def test_docs_experiment_files_run(path, tmp_path):
    results = _json(str(path), "-o", str(tmp_path / "run"))
    assert len(results["rows"]) >= 2
    for row in results["rows"]:
        assert all(v["mean"] is not None for v in row["metrics"].values()), row
