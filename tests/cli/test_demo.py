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
    ratings, dense, topics, words, sgd = report["fits"]
    assert report["steps"] == ["read", "split", "svd", "eval", "nmf", "als", "sgd"]
    assert ratings["fit"] == "svd (soft-impute)"
    rmse = float(ratings["result"].split("rmse ")[1].split(",")[0])
    assert 0.5 < rmse < 1.1  # ratings 1..5 with noise 0.5: well below a constant guess
    spectrum = [float(v) for v in dense["result"].split("values ")[1].split(", ")]
    assert spectrum[4] > 10 * spectrum[5]  # five planted values, then noise
    assert topics["fit"].startswith("nmf (hals, frobenius")
    found = topics["result"].split("topics: ")[1].split(" (")[0].split(" | ")
    assert len(found) == 6 and all(len(top.split()) == 5 for top in found)
    # als --implicit on the document-term counts finds the topics: far above popularity
    assert words["fit"].startswith("als (implicit")
    assert set(words["values"]) == {"precision@10", "ndcg@10"}
    popularity = words["baseline"]["values"]
    assert words["baseline"]["name"] == "popularity"
    assert words["values"]["precision@10"] > 3 * popularity["precision@10"]
    assert words["values"]["ndcg@10"] > 3 * popularity["ndcg@10"]
    assert words["result"].startswith("precision@10 0.") and "(popularity: 0." in words["result"]
    # sgd beats the biases alone on the held-out ratings
    assert sgd["fit"] == "sgd" and sgd["baseline"]["name"] == "mean + biases"
    rmse, baseline = sgd["values"]["rmse"], sgd["baseline"]["values"]["rmse"]
    assert 0.6 < rmse < 0.98 * baseline < 0.9
    assert sgd["commands"][0].startswith("mfcli sgd split/train.csv -k 20")


def test_demo_runs_as_a_process_and_prints_a_table():
    proc = run_cli("demo")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.decode()
    assert "read every sample file" in out and "ratings.csv" in out
    assert "mfcli eval model.h5 split/test.csv" in out and "singular values" in out
    assert "als --implicit" in out and "(popularity: " in out
    assert "mfcli eval sgd.h5 split/test.csv --metrics rmse" in out and "(mean + biases: " in out


def test_demo_generates_its_data_when_no_folder_is_found(tmp_path, monkeypatch):
    import mfcli.demo

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(mfcli.demo, "__file__", str(tmp_path / "pkg" / "demo.py"))
    report = mfcli.demo.run_demo()
    assert report["origin"].startswith("generated into ")
    assert len(report["files"]) == 7
