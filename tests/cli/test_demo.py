"""`mfcli demo` runs with no arguments and reports every sample file."""

from __future__ import annotations

import json

from tests.cli.helpers import invoke, run_cli


def test_demo_json_reads_every_sample_file():
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
    ratings, dense, topics = report["fits"]
    assert ratings["fit"] == "svd (soft-impute)"
    rmse = float(ratings["result"].split("rmse ")[1].split(",")[0])
    assert 0.5 < rmse < 1.1  # ratings 1..5 with noise 0.5: well below a constant guess
    spectrum = [float(v) for v in dense["result"].split("values ")[1].split(", ")]
    assert spectrum[4] > 10 * spectrum[5]  # five planted values, then noise
    assert topics["fit"].startswith("nmf (hals, frobenius")
    found = topics["result"].split("topics: ")[1].split(" (")[0].split(" | ")
    assert len(found) == 6 and all(len(words.split()) == 5 for words in found)


def test_demo_runs_as_a_process_and_prints_a_table():
    proc = run_cli("demo")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.decode()
    assert "read every sample file" in out and "ratings.csv" in out
    assert "mfcli eval model.h5 split/test.csv" in out and "singular values" in out


def test_demo_generates_its_data_when_no_folder_is_found(tmp_path, monkeypatch):
    import mfcli.demo

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(mfcli.demo, "__file__", str(tmp_path / "pkg" / "demo.py"))
    report = mfcli.demo.run_demo()
    assert report["origin"].startswith("generated into ")
    assert len(report["files"]) == 7
