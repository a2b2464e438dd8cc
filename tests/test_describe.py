"""`mfcli info` on small files made here (the corpus tests need ../shared)."""

from __future__ import annotations

import json

import h5py
import numpy as np

from tests.cli.helpers import invoke


def _info(path) -> dict:
    result = invoke("info", "--json", str(path))
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_sparse_statistics(tmp_path):
    path = tmp_path / "m.mtx"
    path.write_text(
        "%%MatrixMarket matrix coordinate real general\n3 4 4\n1 1 2\n1 2 -1\n3 1 5\n3 3 0.5\n"
    )
    report = _info(path)
    assert report["kind"] == "matrix" and report["format"] == "mtx"
    assert report["shape"] == [3, 4] and report["nnz"] == 4
    assert report["density"] == 4 / 12
    assert (report["value_min"], report["value_max"]) == (-1.0, 5.0)
    assert report["integer_valued"] is False
    assert report["row_degree"] == {"min": 0, "median": 2.0, "max": 2, "empty": 1}
    assert report["col_degree"] == {"min": 0, "median": 1.0, "max": 2, "empty": 1}
    assert report["row_labels"] is None and report["timestamps"] is None


def test_triplets_with_labels_and_timestamps(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("user,item,rating,time\nann,x,4,100\nbob,y,5,300\nann,y,3,200\n")
    report = _info(path)
    assert report["shape"] == [2, 2] and report["nnz"] == 3
    assert report["row_labels"] == {"count": 2, "type": "str", "first": ["ann", "bob"]}
    assert report["timestamps"] == {"min": 100, "max": 300, "dtype": "int64"}


def test_complex_matrix_is_described(tmp_path):
    path = tmp_path / "c.mtx"
    path.write_text("%%MatrixMarket matrix coordinate complex general\n2 2 1\n1 2 3 4\n")
    report = _info(path)
    assert report["complex"] is True
    assert report["abs_max"] == 5.0


def test_unclear_table_is_described(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("1,2,3,4,5,2020-01-01\n2,3,4,5,1,2020-01-02\n")
    report = _info(path)
    assert report["kind"] == "table"
    assert [c["kind"] for c in report["columns"]] == ["int"] * 5 + ["date"]
    result = invoke("info", str(path), "--columns", "0,1,4,5", "--json")
    assert json.loads(result.stdout)["timestamps"]["min"] == 1577836800


def test_container_is_described(tmp_path):
    path = tmp_path / "two.h5"
    with h5py.File(path, "w") as fh:
        fh["a"] = np.ones((2, 3))
        fh["b"] = np.ones((4, 5))
    report = _info(path)
    assert report["kind"] == "container"
    assert report["objects"] == ["/a (2 x 3, dense float64)", "/b (4 x 5, dense float64)"]
    assert _info(f"{path}:/b")["shape"] == [4, 5]


def test_label_list_is_described(tmp_path):
    path = tmp_path / "barcodes.tsv"
    path.write_text("AAAC-1\nAAAG-1\n")
    report = _info(path)
    assert report == {
        "path": str(path),
        "kind": "labels",
        "what": "10x cell barcodes",
        "count": 2,
        "first": ["AAAC-1", "AAAG-1"],
        "hint": "a label list, not a matrix: pass it with --row-labels/--col-labels",
    }


def test_several_files_continue_after_an_error(tmp_path):
    good = tmp_path / "m.mtx"
    good.write_text("%%MatrixMarket matrix coordinate pattern general\n2 2 1\n1 1\n")
    bad = tmp_path / "bad.mtx"
    bad.write_text("%%MatrixMarket matrix coordinate real general\n2 2 1\n1 9 1\n")
    result = invoke("info", "--json", str(bad), str(good))
    assert result.exit_code == 65
    reports = json.loads(result.stdout)
    assert reports[0]["kind"] == "error" and reports[1]["nnz"] == 1
    assert result.stderr == f"error: {bad}:3: column index 9 out of range 1..2\n"


def test_result_file_is_summarised(tmp_path):
    from mfcli.io.results import Result, write_result

    path = tmp_path / "model.h5"
    write_result(
        Result(
            method="svd",
            config_yaml="command: svd\n",
            factors={"row": np.ones((3, 2)), "col": np.ones((4, 2))},
            metrics={"rmse": 0.5},
        ),
        str(path),
    )
    report = _info(path)
    assert report["kind"] == "result" and report["method"] == "svd"
    assert report["metrics"]["rmse"] == 0.5
    human = invoke("info", str(path))
    assert human.exit_code == 0 and "svd" in human.stdout
