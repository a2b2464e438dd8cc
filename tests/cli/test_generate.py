"""`mfcli generate`: every kind and format, determinism, overwrite refusal, errors."""

from __future__ import annotations

import gzip
import importlib.util
import json

import h5py
import numpy as np
import pytest

from tests.cli.helpers import invoke, run_cli

READERS = {m: importlib.util.find_spec(f"mfcli.io.{m}") is not None for m in ("mtx", "csv")}

SMALL = {
    "ratings": ["--users", "60", "--items", "80", "--ratings", "900"],
    "implicit": ["--users", "50", "--items", "70", "--nnz", "600"],
    "lowrank": ["--rows", "30", "--cols", "12", "--rank", "3"],
    "lowrank-sparse": ["--rows", "40", "--cols", "30", "--nnz", "300", "--rank", "3"],
    "docterm": ["--rows", "40", "--rank", "3"],
}
SHAPES = {
    "ratings": ((60, 80), 900),
    "implicit": ((50, 70), 600),
    "lowrank": ((30, 12), 360),
    "lowrank-sparse": ((40, 30), 300),
    "docterm": ((40, 192), None),
}


def _ok(result):
    assert result.exit_code == 0, result.output
    return result


def _gen(kind, out, *extra):
    return invoke("generate", kind, "-o", str(out), *SMALL[kind], *extra)


# -------------------------------------------------------------- every kind


@pytest.mark.parametrize("kind", list(SMALL))
@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".mtx", ".h5", ".mtx.gz"])
def test_every_kind_in_every_format(tmp_path, kind, suffix):
    out = tmp_path / f"data{suffix}"
    result = _ok(_gen(kind, out, "--json"))
    summary = json.loads(result.stdout)
    shape, nnz = SHAPES[kind]
    assert summary["kind"] == kind and summary["shape"] == list(shape)
    if nnz is not None:
        assert summary["nnz"] == nnz
    assert summary["seed"] == 0 and summary["seconds"] >= 0
    assert out.exists()
    expected_files = [str(out)]
    if kind == "docterm" and ".mtx" in suffix:
        expected_files.append(str(tmp_path / "data.terms"))
    assert summary["files"] == expected_files
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        p.rsplit("/", 1)[-1] for p in expected_files
    )


def test_csv_columns_per_kind(tmp_path):
    heads = {}
    for kind in SMALL:
        _ok(_gen(kind, tmp_path / f"{kind}.csv"))
        heads[kind] = (tmp_path / f"{kind}.csv").read_text().splitlines()[:2]
    assert heads["ratings"][0] == "user,item,rating,timestamp"
    assert heads["implicit"][0] == "user,item,count"
    assert heads["lowrank-sparse"][0] == "row,col,value"
    assert heads["docterm"][0] == "doc,term,count"
    assert heads["lowrank"][0] == ",".join(f"c{j}" for j in range(1, 13))
    doc, term, count = heads["docterm"][1].split(",")
    assert doc == "1" and term.isalpha() and int(count) >= 1


def test_tsv_separator_and_header_options(tmp_path):
    _ok(_gen("ratings", tmp_path / "r.tsv"))
    assert (tmp_path / "r.tsv").read_text().splitlines()[0] == "user\titem\trating\ttimestamp"
    _ok(_gen("ratings", tmp_path / "r.dat", "--format", "csv", "--sep", "::", "--no-header"))
    first = (tmp_path / "r.dat").read_text().splitlines()[0].split("::")
    assert len(first) == 4 and all(x.isdigit() for x in first)


def test_timestamps_flags(tmp_path):
    _ok(_gen("ratings", tmp_path / "a.csv", "--no-timestamps"))
    assert (tmp_path / "a.csv").read_text().splitlines()[0] == "user,item,rating"
    _ok(_gen("implicit", tmp_path / "b.csv", "--timestamps"))
    assert (tmp_path / "b.csv").read_text().splitlines()[0] == "user,item,count,timestamp"


def test_ratings_options(tmp_path):
    _ok(_gen("ratings", tmp_path / "a.csv", "--scale", "0.5,5", "--step", "0.5", "--rank", "2"))
    values = np.loadtxt(tmp_path / "a.csv", delimiter=",", skiprows=1)[:, 2]
    assert set(values) <= set(np.arange(0.5, 5.01, 0.5)) and values.min() >= 0.5
    _ok(_gen("ratings", tmp_path / "b.csv", "--user-zipf", "0", "--item-zipf", "1.5"))
    _ok(_gen("implicit", tmp_path / "c.csv", "--counts", "geometric"))


def test_lowrank_spectrum_decimals_and_noise(tmp_path):
    result = _ok(
        invoke(
            "generate", "lowrank", "-o", str(tmp_path / "a.csv"), "--rows", "40", "--cols", "20",
            "--rank", "3", "--spectrum", "30,20,10", "--noise", "0", "--decimals", "6", "--json",
        )
    )  # fmt: skip
    assert json.loads(result.stdout)["singular_values"] == [30.0, 20.0, 10.0]
    values = np.loadtxt(tmp_path / "a.csv", delimiter=",", skiprows=1)
    np.testing.assert_allclose(np.linalg.svd(values, compute_uv=False)[:3], [30, 20, 10], atol=1e-4)
    summary = json.loads(_ok(_gen("lowrank-sparse", tmp_path / "s.h5", "--json")).stdout)
    assert len(summary["singular_values"]) == 3


def test_h5_outputs(tmp_path):
    _ok(_gen("ratings", tmp_path / "r.h5"))
    with h5py.File(tmp_path / "r.h5", "r") as h5:
        assert h5["X"].attrs["encoding-type"] == "csr_matrix"
        assert h5["X/data"].shape == (900,) and h5["X/timestamps"].shape == (900,)
        assert list(h5["X"].attrs["shape"]) == [60, 80]
    _ok(_gen("lowrank", tmp_path / "d.h5"))
    with h5py.File(tmp_path / "d.h5", "r") as h5:
        assert h5["X"].shape == (30, 12)
    _ok(_gen("docterm", tmp_path / "t.h5"))
    with h5py.File(tmp_path / "t.h5", "r") as h5:
        assert h5["labels/col"].shape == (192,)


def test_docterm_mtx_writes_the_vocabulary(tmp_path):
    _ok(_gen("docterm", tmp_path / "docs.mtx.gz"))
    terms = (tmp_path / "docs.terms").read_text().splitlines()
    assert len(terms) == 192 and terms == sorted(terms)
    header = gzip.decompress((tmp_path / "docs.mtx.gz").read_bytes()).decode().splitlines()
    assert header[0] == "%%MatrixMarket matrix coordinate integer general"
    assert header[2] == "% mfcli generate docterm seed=0 rank=3 rows=40"
    assert header[3].startswith("40 192 ")


def test_human_and_quiet_output(tmp_path):
    result = _ok(_gen("ratings", tmp_path / "a.csv"))
    assert result.stdout.startswith(f"wrote {tmp_path / 'a.csv'}: ratings 60 x 80, 900 entries")
    assert _ok(_gen("ratings", tmp_path / "b.csv", "-q")).stdout == ""


# ------------------------------------------------------------- determinism


@pytest.mark.parametrize("kind", list(SMALL))
@pytest.mark.parametrize("suffix", [".csv", ".mtx", ".h5", ".csv.gz"])
def test_same_seed_same_bytes(tmp_path, kind, suffix):
    a, b, c = (tmp_path / f"{n}{suffix}" for n in "abc")
    _ok(_gen(kind, a, "--seed", "5"))
    _ok(_gen(kind, b, "--seed", "5"))
    _ok(_gen(kind, c, "--seed", "6"))
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()


def test_same_bytes_across_processes(tmp_path):
    # Fresh interpreters: nothing cached in memory can make two runs agree.
    for name in ("a", "b"):
        proc = run_cli(
            "generate", "ratings", "-o", str(tmp_path / f"{name}.csv"), *SMALL["ratings"]
        )
        assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()


# ----------------------------------------------------------- overwrite (73)


def test_existing_output_exits_73(tmp_path):
    out = tmp_path / "a.csv"
    out.write_text("keep me")
    result = _gen("ratings", out)
    assert result.exit_code == 73
    assert result.stderr.strip() == f"error: {out}: output exists (use --force)"
    assert out.read_text() == "keep me"
    _ok(_gen("ratings", out, "--force"))
    assert out.read_text().startswith("user,item,rating,timestamp")


def test_existing_output_exits_73_in_a_subprocess(tmp_path):
    out = tmp_path / "a.mtx"
    out.write_text("keep me")
    proc = run_cli("generate", "lowrank", "-o", str(out))
    assert proc.returncode == 73
    assert proc.stderr.decode().strip() == f"error: {out}: output exists (use --force)"
    assert "Traceback" not in proc.stderr.decode()


def test_existing_vocabulary_stops_before_writing(tmp_path):
    (tmp_path / "d.terms").write_text("keep")
    result = _gen("docterm", tmp_path / "d.mtx")
    assert result.exit_code == 73
    assert "d.terms: output exists (use --force)" in result.stderr
    assert not (tmp_path / "d.mtx").exists()


def test_missing_directory_exits_73(tmp_path):
    result = _gen("ratings", tmp_path / "no" / "a.csv")
    assert result.exit_code == 73
    assert "directory does not exist (create it first)" in result.stderr


# ------------------------------------------------------------- usage (2)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["generate", "films", "-o", "x.csv"], "unknown kind 'films' (use one of ratings|"),
        (["generate", "ratings", "-o", "x.txt"], "cannot tell the output format from the name"),
        (["generate", "ratings", "-o", "x.h5.gz"], "HDF5 output cannot be .gz compressed"),
        (["generate", "ratings", "-o", "x.csv", "--format", "xls"], "invalid output format 'xls'"),
        (["generate", "lowrank", "-o", "x.csv", "--nnz", "5"], "--nnz does not apply to lowrank"),
        (["generate", "docterm", "-o", "x.csv", "--cols", "5"], "--cols does not apply to docterm"),
        (["generate", "lowrank", "-o", "x.csv", "--timestamps"], "--timestamps does not apply"),
        (["generate", "implicit", "-o", "x.csv", "--noise", "1"], "--noise does not apply"),
        (["generate", "ratings", "-o", "x.csv", "--decimals", "2"], "--decimals does not apply"),
        (["generate", "ratings", "-o", "x.csv", "--scale", "1"], "--scale needs 2 comma-separated"),
        (["generate", "ratings", "-o", "x.csv", "--scale", "a,b"], "--scale needs comma-separated"),
        (
            ["generate", "lowrank", "-o", "x.csv", "--rank", "2", "--spectrum", "3"],
            "1 singular values given for rank 2",
        ),
        (
            [
                "generate",
                "ratings",
                "-o",
                "x.csv",
                "--users",
                "3",
                "--items",
                "3",
                "--ratings",
                "10",
            ],
            "10 ratings do not fit in 3 x 3 = 9 cells (lower --ratings or raise --users/--items)",
        ),
        (["generate", "lowrank", "-o", "x.csv", "--rank", "500"], "rank 500 is larger than"),
        (["generate", "ratings", "-o", "x.csv", "--users", "0"], "rows: must be >= 1, got 0"),
        (["generate", "docterm", "-o", "x.csv", "--rank", "9"], "9 topics asked"),
        (["generate", "ratings"], "no output file given"),
    ],
)
def test_usage_errors_exit_2(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_help_lists_kinds():
    result = invoke("generate", "--help")
    assert result.exit_code == 0
    for kind in SMALL:
        assert kind in result.stdout


# --------------------------------------------------------------- read back


@pytest.mark.parametrize("kind", list(SMALL))
@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".mtx", ".h5"])
def test_generated_files_read_back(tmp_path, kind, suffix):
    from mfcli import synth
    from mfcli.io import read_matrix

    reader = {".csv": "csv", ".tsv": "csv", ".mtx": "mtx"}.get(suffix)
    if reader and not READERS[reader]:
        pytest.skip(f"reader mfcli.io.{reader} is not written yet")

    out = tmp_path / f"data{suffix}"
    _ok(_gen(kind, out))
    back = read_matrix(str(out))
    expected = {
        "ratings": lambda: synth.ratings(60, 80, 900),
        "implicit": lambda: synth.implicit(50, 70, 600),
        "lowrank": lambda: synth.lowrank_dense(30, 12, 3),
        "lowrank-sparse": lambda: synth.lowrank_sparse(40, 30, 300, 3),
        "docterm": lambda: synth.docterm(40, 3),
    }[kind]()[0]
    assert back.nnz == expected.nnz
    if suffix in (".mtx", ".h5") or kind == "lowrank":
        assert back.shape == expected.shape
        np.testing.assert_allclose(back.to_dense(), expected.to_dense(), rtol=1e-15)
    else:  # triplet CSV: ids become labels, so compare (row id, col id, value)
        assert _by_label(back) == _by_label(expected)
    if kind == "docterm" and suffix == ".mtx":
        assert list(back.col_labels) == list(expected.col_labels)


def _by_label(m) -> dict:
    rows = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))
    rl = m.row_labels if m.row_labels is not None else np.arange(1, m.shape[0] + 1)
    cl = m.col_labels if m.col_labels is not None else np.arange(1, m.shape[1] + 1)
    return {
        (str(rl[r]), str(cl[c])): float(v) for r, c, v in zip(rows, m.indices, m.data, strict=True)
    }
