"""`mfcli plot`: figures of result files (svd, nmf, als, sgd) and of `mfcli run` directories."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys

import numpy as np
import pytest

from mfcli.io.results import Result, write_result
from tests.cli.helpers import invoke
from tests.cli.replay_data import FITS, write_ratings

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

EXPECTED_PANELS = {
    "svd": ["singular values", "explained variance"],
    "nmf": ["objective", "error"],
    "als": ["loss"],
    "sgd": ["rating error", "lr"],  # sgd's loss is its train_rmse: one line, both names
}


@pytest.fixture(scope="module")
def fits(tmp_path_factory):
    """One tiny result file per method, fitted once for the module."""
    root = tmp_path_factory.mktemp("fits")
    data = write_ratings(root / "ratings.csv")
    out = {}
    for method, args in FITS.items():
        path = root / f"{method}.h5"
        result = invoke(method, data, *args, "-o", str(path), "-q")
        assert result.exit_code == 0, result.output
        out[method] = path
    return out


def _run_table(folds: int = 3) -> dict:
    def cell(mean, std):
        return {"mean": mean, "std": std if folds > 1 else (None if std is None else 0.0)}

    return {
        "experiment": "tiny",
        "metrics": ["rmse", "mae", "precision@10"],
        "folds": folds,
        "rows": [
            {
                "name": "sgd",
                "method": "sgd",
                "params": {"k": 8},
                "metrics": {
                    "rmse": cell(0.91, 0.01),
                    "mae": cell(0.72, 0.02),
                    "precision@10": cell(0.08, 0.005),
                },
                "fit_seconds": 1.2,
            },
            {
                "name": "als",
                "method": "als",
                "params": {"k": 8, "reg": 0.1},
                "metrics": {
                    "rmse": cell(0.95, 0.02),
                    "mae": cell(0.75, None),
                    "precision@10": cell(None, None),
                },
                "fit_seconds": 0.7,
            },
        ],
    }


@pytest.fixture
def run_dir(tmp_path):
    path = tmp_path / "exp"
    path.mkdir()
    (path / "results.json").write_text(json.dumps(_run_table()))
    return path


def _plot(*args):
    return invoke("plot", *map(str, args))


def _ok(*args) -> dict:
    result = _plot(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _png_size(path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head.startswith(PNG_MAGIC)
    return struct.unpack(">II", head[16:24])


def _one_line_error(result, code: int, *parts: str) -> None:
    assert result.exit_code == code, result.output
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    for part in parts:
        assert part in result.stderr, result.stderr


def _leftovers(directory) -> list[str]:
    return sorted(n for n in os.listdir(directory) if n.endswith(".tmp"))


# ------------------------------------------------------------- result files
@pytest.mark.parametrize("method", sorted(FITS))
def test_plot_a_result_file(tmp_path, fits, method):
    out = tmp_path / f"{method}.png"
    summary = _ok(fits[method], "-o", out)
    assert out.read_bytes().startswith(PNG_MAGIC)
    assert [p["name"] for p in summary["panels"]] == EXPECTED_PANELS[method]
    assert summary["method"] == method and summary["k"] == 3
    assert summary["fit_input"] == "ratings.csv"
    assert summary["format"] == "png" and summary["output"] == str(out)
    assert "seconds" in summary["skipped"]
    drawn = [s for p in summary["panels"] for s in p["series"]]
    assert "seconds" not in drawn


def test_sgd_loss_and_train_rmse_share_a_line(tmp_path, fits):
    summary = _ok(fits["sgd"], "-o", tmp_path / "f.png")
    panel = summary["panels"][0]
    assert set(panel["series"]) == {"train_rmse", "loss"} and panel["log_y"] is True


def test_loss_like_history_is_log_scaled(tmp_path, fits):
    panels = _ok(fits["nmf"], "-o", tmp_path / "f.png")["panels"]
    assert all(p["log_y"] for p in panels)
    lr = _ok(fits["sgd"], "-o", tmp_path / "g.png")["panels"][1]
    assert lr["name"] == "lr" and lr["log_y"] is False


def test_svd_explained_variance_is_the_stored_share_of_total(tmp_path, fits):
    panels = _ok(fits["svd"], "-o", tmp_path / "f.png")["panels"]
    assert panels[0]["kind"] == "spectrum" and panels[0]["log_y"] is True
    assert panels[1]["kind"] == "explained_variance" and panels[1]["of_total"] is True


def _bare_svd(path, history=None) -> str:
    rng = np.random.default_rng(0)
    write_result(
        Result(
            "svd",
            provenance={"input_path": "/data/sub/m.mtx"},
            factors={
                "row": rng.random((6, 3)),
                "col": rng.random((5, 3)),
                "singular_values": np.array([5.0, 2.0, 1.0]),
            },
            history=history or {},
        ),
        path,
    )
    return str(path)


def test_svd_without_stored_total_says_the_share_is_of_the_k_computed(tmp_path):
    summary = _ok(_bare_svd(tmp_path / "m.h5"), "-o", tmp_path / "f.png")
    variance = summary["panels"][1]
    assert variance["of_total"] is False and variance["series"] == ["share of sum of s^2"]
    assert summary["fit_input"] == "m.mtx"


def test_history_of_any_name_is_drawn(tmp_path):
    history = {
        "objective": np.array([9.0, 4.0, 3.0]),
        "rank": np.array([3, 3, 2]),
        "ndcg@10": np.array([0.1, 0.2, 0.25]),
        "recall@10": np.array([0.2, 0.3, 0.3]),
        "seconds": np.array([0.1, 0.2, 0.3]),
    }
    summary = _ok(_bare_svd(tmp_path / "m.h5", history), "-o", tmp_path / "f.png")
    names = [p["name"] for p in summary["panels"]]
    assert names[:3] == ["objective", "rank", "ranking metrics"]
    assert summary["panels"][2]["series"] == ["ndcg@10", "recall@10"]
    assert summary["panels"][2]["log_y"] is False


def test_x_seconds(tmp_path, fits):
    summary = _ok(fits["nmf"], "-o", tmp_path / "f.png", "--x", "seconds")
    assert summary["x"] == "seconds"


def test_x_seconds_needs_a_seconds_series(tmp_path):
    source = _bare_svd(tmp_path / "m.h5", {"objective": np.array([2.0, 1.0])})
    out = tmp_path / "f.png"
    _one_line_error(_plot(source, "-o", out, "--x", "seconds"), 65, "no /history/seconds")
    assert not out.exists()


def test_a_result_with_nothing_to_draw_exits_65(tmp_path):
    source = tmp_path / "empty.h5"
    write_result(Result("nmf", factors={"row": np.ones((2, 1)), "col": np.ones((2, 1))}), source)
    out = tmp_path / "f.png"
    _one_line_error(_plot(source, "-o", out), 65, str(source), "nothing to plot")
    assert not out.exists()


@pytest.mark.parametrize(("suffix", "magic"), [("pdf", b"%PDF"), ("svg", b"<?xml")])
def test_the_suffix_picks_the_format(tmp_path, fits, suffix, magic):
    out = tmp_path / f"f.{suffix}"
    assert _ok(fits["als"], "-o", out)["format"] == suffix
    assert out.read_bytes().startswith(magic)


def test_size_and_dpi(tmp_path, fits):
    out = tmp_path / "f.png"
    _ok(fits["nmf"], "-o", out, "--width", "4", "--height", "3", "--dpi", "50")
    assert _png_size(out) == (200, 150)


@pytest.mark.parametrize("suffix", ["png", "pdf", "svg"])
def test_the_same_result_gives_the_same_bytes(tmp_path, fits, suffix):
    a, b = tmp_path / f"a.{suffix}", tmp_path / f"b.{suffix}"
    _ok(fits["svd"], "-o", a)
    _ok(fits["svd"], "-o", b)
    assert a.read_bytes() == b.read_bytes()


def test_human_line_and_quiet(tmp_path, fits):
    out = tmp_path / "f.png"
    result = _plot(fits["nmf"], "-o", out)
    assert result.exit_code == 0, result.output
    assert result.stdout == f"wrote {out}: 2 panels (objective, error)\n"
    quiet = _plot(fits["nmf"], "-o", tmp_path / "g.png", "-q")
    assert quiet.exit_code == 0 and quiet.stdout == ""


# ----------------------------------------------------------- run directories
def test_plot_a_run_directory(tmp_path, run_dir):
    out = tmp_path / "runs.png"
    summary = _ok(run_dir, "-o", out)
    assert out.read_bytes().startswith(PNG_MAGIC)
    assert summary["kind"] == "run" and summary["experiment"] == "tiny"
    assert summary["folds"] == 3 and summary["rows"] == ["sgd", "als"]
    panels = {p["name"]: p for p in summary["panels"]}
    assert list(panels) == ["rmse", "mae", "precision@10", "fit_seconds"]
    assert panels["rmse"]["lower_is_better"] and panels["mae"]["lower_is_better"]
    assert not panels["precision@10"]["lower_is_better"]
    assert panels["rmse"]["values"] == [0.91, 0.95]
    assert panels["precision@10"]["values"] == [0.08, None]  # drawn as "n/a"
    assert panels["fit_seconds"]["values"] == [1.2, 0.7]


def test_a_single_fold_run_and_its_results_json_directly(tmp_path):
    table = tmp_path / "results.json"
    table.write_text(json.dumps(_run_table(folds=1)))
    summary = _ok(table, "-o", tmp_path / "f.png")
    assert summary["folds"] == 1 and len(summary["panels"]) == 4


def test_the_python_api(tmp_path, run_dir, fits):
    from mfcli import plot

    fig, summary = plot.result_figure(plot.load(str(fits["als"])))
    assert len(fig.axes) == len(summary["panels"]) == 1
    fig, summary = plot.run_figure(plot.load(str(run_dir)))
    plot.save_figure(fig, str(tmp_path / "runs.svg"))
    assert (tmp_path / "runs.svg").read_bytes().startswith(b"<?xml")


def test_the_table_says_which_way_is_better(tmp_path, run_dir):
    table = {**_run_table(), "lower_is_better": ["rmse"]}  # as `mfcli run` writes it
    (run_dir / "results.json").write_text(json.dumps(table))
    panels = {p["name"]: p for p in _ok(run_dir, "-o", tmp_path / "f.png")["panels"]}
    assert panels["rmse"]["lower_is_better"] and not panels["mae"]["lower_is_better"]
    assert panels["fit_seconds"]["lower_is_better"]


def test_metrics_come_from_the_rows_when_the_list_is_missing(tmp_path, run_dir):
    table = _run_table()
    del table["metrics"]
    (run_dir / "results.json").write_text(json.dumps(table))
    names = [p["name"] for p in _ok(run_dir, "-o", tmp_path / "f.png")["panels"]]
    assert names == ["rmse", "mae", "precision@10", "fit_seconds"]


def test_x_does_not_apply_to_a_run_directory(tmp_path, run_dir):
    result = _plot(run_dir, "-o", tmp_path / "f.png", "--x", "seconds")
    _one_line_error(result, 2, "--x applies to result files")


# ------------------------------------------------------------------- errors
def test_missing_input_exits_66(tmp_path):
    missing, out = tmp_path / "nope.h5", tmp_path / "f.png"
    _one_line_error(_plot(missing, "-o", out), 66, f"error: {missing}: no such file")
    assert not out.exists()


@pytest.mark.parametrize("content", [b"user,item,rating\n1,2,3\n", b""])
def test_a_file_that_is_not_a_result_exits_65(tmp_path, content):
    source, out = tmp_path / "ratings.csv", tmp_path / "f.png"
    source.write_bytes(content)
    _one_line_error(_plot(source, "-o", out), 65, f"error: {source}: ")
    assert not out.exists()


def test_an_hdf5_file_that_is_not_a_result_exits_65(tmp_path):
    import h5py

    source, out = tmp_path / "matrix.h5", tmp_path / "f.png"
    with h5py.File(source, "w") as f:
        f["x"] = np.ones((2, 2))
    _one_line_error(_plot(source, "-o", out), 65, str(source), "not an mfcli result file")
    assert not out.exists()


def test_a_directory_without_results_json_exits_65(tmp_path):
    directory, out = tmp_path / "somewhere", tmp_path / "f.png"
    directory.mkdir()
    _one_line_error(_plot(directory, "-o", out), 65, f"{directory}: directory has no results.json")
    assert not out.exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"rows": 3}', "not a run table"),
        ('["rmse"]', "not a run table"),
        ('{"rows": []}', "no rows"),
    ],
)
def test_a_bad_results_json_exits_65(tmp_path, run_dir, text, message):
    (run_dir / "results.json").write_text(text)
    out = tmp_path / "f.png"
    _one_line_error(_plot(run_dir, "-o", out), 65, str(run_dir / "results.json"), message)
    assert not out.exists()


def test_an_existing_output_is_refused_and_force_replaces_it(tmp_path, fits):
    out = tmp_path / "f.png"
    out.write_bytes(b"keep me")
    _one_line_error(_plot(fits["als"], "-o", out), 73, f"{out}: output exists", "--force")
    assert out.read_bytes() == b"keep me"
    _ok(fits["als"], "-o", out, "--force")
    assert out.read_bytes().startswith(PNG_MAGIC)
    assert _leftovers(tmp_path) == []


def test_an_output_in_a_missing_directory_exits_73(tmp_path, fits):
    out = tmp_path / "no" / "f.png"
    _one_line_error(_plot(fits["als"], "-o", out), 73, "directory does not exist")


@pytest.mark.parametrize("name", ["f.jpg", "f"])
def test_an_unknown_figure_format_is_a_usage_error(tmp_path, fits, name):
    out = tmp_path / name
    _one_line_error(_plot(fits["als"], "-o", out), 2, ".png, .pdf or .svg")
    assert not out.exists()


@pytest.mark.parametrize("option", ["--dpi", "--width", "--height"])
def test_sizes_must_be_positive(tmp_path, fits, option):
    _one_line_error(_plot(fits["als"], "-o", tmp_path / "f.png", option, "0"), 2, option)


def test_output_is_required(fits):
    result = _plot(fits["als"])
    assert result.exit_code == 2 and "--output" in result.stderr


def test_without_matplotlib_exits_2_with_the_install_hint(tmp_path, fits, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` fail
    out = tmp_path / "f.png"
    _one_line_error(_plot(fits["als"], "-o", out), 2, "matplotlib", 'pip install "mfcli[plot]"')
    assert not out.exists()


def test_a_failed_write_leaves_no_partial_file(tmp_path, fits, monkeypatch):
    from matplotlib.figure import Figure

    def half_then_fail(self, fname, **kwargs):
        with open(fname, "wb") as fh:
            fh.write(PNG_MAGIC)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Figure, "savefig", half_then_fail)
    out = tmp_path / "f.png"
    _one_line_error(_plot(fits["als"], "-o", out), 73, "No space left on device")
    assert not out.exists() and _leftovers(tmp_path) == []


def test_importing_the_command_loads_no_numerics():
    code = (
        "import sys, mfcli.cli.main, mfcli.cli.plot; "
        "print(sorted(m for m in ('numpy', 'h5py', 'matplotlib') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
