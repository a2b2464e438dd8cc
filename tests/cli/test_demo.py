"""`mfcli demo` runs with no arguments: every sample file read, then the demo experiment."""

from __future__ import annotations

import json

from tests.cli.helpers import invoke, run_cli

METHODS = ["svd", "nmf", "als", "sgd"]


def test_demo_json_reads_every_sample_file_and_compares_four_methods():
    result = invoke("demo", "--json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    names = {row["file"]: row for row in report["files"]}
    assert set(names) == {
        "docterm.mtx",
        "implicit.tsv",
        "lowrank_csr.h5",
        "lowrank_dense.csv",
        "lowrank_dense.h5",
        "ratings.csv",
        "ratings.mtx",
    }
    assert names["ratings.csv"]["nnz"] == 35000 and names["ratings.csv"]["timestamps"]
    assert names["docterm.mtx"]["labels"]  # the vocabulary beside it
    exp = report["experiment"]
    assert [r["name"] for r in exp["rows"]] == METHODS
    assert exp["metrics"] == ["rmse", "mae", "precision@10", "ndcg@10"]
    assert exp["select"] == "rmse" and exp["split"] == "random" and exp["folds"] == 1
    for row in exp["rows"]:
        assert row["trials"] > 1 and row["selected_on"]["rmse"] is not None
        # ratings 1..5 with noise sd 0.5: every model well below a constant guess (~1.1)
        assert 0.6 < row["metrics"]["rmse"]["mean"] < 1.0, row
        assert row["metrics"]["ndcg@10"]["mean"] > 0
    assert exp["steps"] == {"ran": 1 + sum(2 * r["trials"] + 1 for r in exp["rows"]), "skipped": 0}
    assert report["kept"] is None  # the run folder was temporary


def test_demo_output_keeps_the_run_folder_and_run_repeats_it(tmp_path):
    out = tmp_path / "demo"
    result = invoke("demo", "-o", str(out), "--json")
    assert result.exit_code == 0, result.stderr
    results = json.loads((out / "results.json").read_text())
    assert [r["name"] for r in results["rows"]] == METHODS
    for row in results["rows"]:
        assert (out / row["model"]).is_file()
    # the same experiment by hand: nothing changed, so every step is skipped
    again = invoke("run", str(out / "experiment.yaml"), "--json")
    assert again.exit_code == 0, again.stderr
    repeated = json.loads(again.stdout)
    assert repeated["steps"]["ran"] == 0
    assert [r["metrics"] for r in repeated["rows"]] == [r["metrics"] for r in results["rows"]]


def test_demo_runs_as_a_process_and_prints_the_comparison():
    proc = run_cli("demo")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.decode()
    assert "read every sample file" in out and "ratings.csv" in out
    assert "the demo experiment" in out and "chosen on rmse" in out
    for name in METHODS:
        assert f"  {name}: {name} rank=" in out
    assert "mfcli run sample_data/experiment.yaml -o runs/demo" in out


def test_demo_generates_its_data_when_no_folder_is_found(tmp_path, monkeypatch):
    import mfcli.demo

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(mfcli.demo, "__file__", str(tmp_path / "pkg" / "demo.py"))
    report = mfcli.demo.run_demo()
    assert report["origin"].startswith("generated into ")
    assert len(report["files"]) == 7
    assert [r["name"] for r in report["experiment"]["rows"]] == METHODS


def test_demo_data_dir_without_the_experiment_file(tmp_path):
    import shutil

    from mfcli.demo import find_sample_data

    folder, _ = find_sample_data()
    shutil.copy(folder / "ratings.csv", tmp_path / "ratings.csv")
    result = invoke("demo", "--data-dir", str(tmp_path), "--json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert [f["file"] for f in report["files"]] == ["ratings.csv"]
    assert [r["name"] for r in report["experiment"]["rows"]] == METHODS
