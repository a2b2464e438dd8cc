"""`mfcli split`: every strategy and option, exact partitions, formats, determinism, errors."""

from __future__ import annotations

import bz2
import gzip
import json
import os
from collections import Counter
from pathlib import Path

import h5py
import numpy as np
import pytest

from mfcli.io import read_matrix
from tests.cli.helpers import invoke, run_cli

PARTS = ("train.csv", "validation.csv", "test.csv")


COLS = ("--columns", "user,item,rating,time")  # the test files carry an extra 'note' column


def split(src, out, *args):
    """``mfcli split SRC -o OUT ARGS`` in-process, naming the columns of the test files."""
    return invoke("split", str(src), "-o", str(out), *COLS, *args)


def _ok(result):
    assert result.exit_code == 0, result.output
    return result


def _fails(result, code: int, *words: str):
    assert result.exit_code == code, result.output
    err = result.stderr
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    for word in words:
        assert word in err, err
    return err


def _csv(path: Path, n: int = 600, seed: int = 0, *, sep: str = ",", crlf: bool = False) -> Path:
    """A ratings file with comments, a header, string ids, an extra column and time ties."""
    rng = np.random.default_rng(seed)
    end = "\r\n" if crlf else "\n"
    lines = ["# exported ratings", "// second comment line", sep.join(
        ["user", "item", "rating", "time", "note"])]  # fmt: skip
    for i in range(n):
        u = f"u{int(rng.integers(0, 30)):02d}"
        it = int(rng.integers(100, 160))
        t = 1_000_000 + int(rng.integers(0, 200)) * 10
        lines.append(sep.join([u, str(it), f"{rng.integers(1, 11) / 2:g}", str(t), f"n{i}"]))
        if i % 97 == 0:
            lines.append(lines[-1])  # a duplicated line: two entries
        if i == n // 2:
            lines.append("# a comment in the middle")
            lines.append("")
    path.write_bytes((end.join(lines) + end).encode())
    return path


def _data_lines(path: Path, skip: int) -> list[bytes]:
    """Data lines of a text file after ``skip`` preamble lines (comments and blanks dropped)."""
    raw = path.read_bytes()
    if path.suffix == ".gz":
        raw = gzip.decompress(raw)
    lines = raw.split(b"\n")[skip:]
    return [ln for ln in lines if ln.strip() and not ln.lstrip().startswith((b"#", b"//", b"%"))]


def _parts(out: Path, suffix: str = ".csv") -> dict[str, Path]:
    return {p: out / f"{p}{suffix}" for p in ("train", "validation", "test")
            if (out / f"{p}{suffix}").exists()}  # fmt: skip


def _check_partition(src: Path, out: Path, suffix: str = ".csv", skip: int = 3, same: int = 3):
    """Disjoint parts whose union is the input, as multisets of lines; the first
    ``same`` lines (header, comments) as in the input."""
    parts = _parts(out, suffix)
    everything = Counter(_data_lines(src, skip))
    union = Counter()
    lines = {}
    for name, path in parts.items():
        lines[name] = _data_lines(path, skip)
        union.update(lines[name])
    assert union == everything
    assert sum(len(v) for v in lines.values()) == sum(everything.values())
    head = src.read_bytes().split(b"\n")[:same]
    for path in parts.values():
        raw = path.read_bytes()
        raw = gzip.decompress(raw) if path.suffix == ".gz" else raw
        assert raw.split(b"\n")[:same] == head
    return lines


def _manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text())


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}  # fmt: skip


@pytest.fixture(scope="module")
def ratings(tmp_path_factory) -> Path:
    return _csv(tmp_path_factory.mktemp("in") / "ratings.csv")


# -------------------------------------------------------------- strategies
STRATEGIES = {
    "random": ["--test-frac", "0.25", "--validation-frac", "0.1"],
    "temporal": ["--test-frac", "0.2", "--validation-frac", "0.1"],
    "temporal-cut": ["--strategy", "temporal", "--cut-time", "1001500"],
    "temporal-per-user": ["--strategy", "temporal", "--per-user", "--min-train", "3"],
    "user": ["--test-frac", "0.3", "--min-train", "5", "--validation-frac", "0.1"],
    "leave-k-out": ["-k", "2", "--validation-frac", "0.1"],
}


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_every_strategy_partitions_the_lines_exactly(tmp_path, ratings, name):
    args = STRATEGIES[name]
    if "--strategy" not in args:
        args = ["--strategy", name, *args]
    out = tmp_path / "out"
    summary = json.loads(_ok(split(ratings, out, *args, "--json")).stdout)
    lines = _check_partition(ratings, out)
    manifest = _manifest(out)
    assert manifest["strategy"] == summary["strategy"] == args[1]
    assert manifest["input"]["entries"] == 607
    for part, info in manifest["parts"].items():
        assert info["entries"] == len(lines[part])
        assert info["file"] == f"{part}.csv"
        assert info["sha256"] == __import__("hashlib").sha256(
            (out / info["file"]).read_bytes()).hexdigest()  # fmt: skip
    assert set(manifest["unseen_in_train"]) == set(manifest["parts"]) - {"train"}
    # re-running gives the same bytes, manifest included
    again = tmp_path / "again"
    _ok(split(ratings, again, *args))
    assert _tree(out) == _tree(again)


def _fields(lines: list[bytes]) -> list[list[str]]:
    return [ln.decode().rstrip("\r").split(",") for ln in lines]


def test_temporal_cut_and_global_fraction(tmp_path, ratings):
    out = tmp_path / "cut"
    _ok(split(ratings, out, "--strategy", "temporal",
               "--cut-time", "1001500"))  # fmt: skip
    lines = _check_partition(ratings, out)
    assert all(int(f[3]) >= 1001500 for f in _fields(lines["test"]))
    assert all(int(f[3]) < 1001500 for f in _fields(lines["train"]))
    # an ISO date works the same (1001500 s after the epoch)
    iso = tmp_path / "iso"
    _ok(split(ratings, iso, "--strategy", "temporal",
               "--cut-time", "1970-01-12T14:11:40"))  # fmt: skip
    assert (iso / "test.csv").read_bytes() == (out / "test.csv").read_bytes()
    frac = tmp_path / "frac"
    _ok(split(ratings, frac, "--strategy", "temporal"))
    lines = _check_partition(ratings, frac)
    assert len(lines["test"]) == 121
    newest_train = max(int(f[3]) for f in _fields(lines["train"]))
    assert all(int(f[3]) >= newest_train for f in _fields(lines["test"]))


def test_iso_date_times(tmp_path):
    src = tmp_path / "dated.csv"
    days = [f"2015-{m:02d}-{d:02d}" for m in (1, 3, 6, 9) for d in (1, 15)]
    src.write_text("user,item,date\n" + "".join(f"u{i % 3},{i},{t}\n" for i, t in enumerate(days)))
    out = tmp_path / "o"
    _ok(invoke("split", str(src), "-o", str(out), "--strategy", "temporal", "--cut-time",
               "2015-06-01"))  # fmt: skip
    assert (out / "test.csv").read_text().splitlines()[1:] == [
        "u1,4,2015-06-01", "u2,5,2015-06-15", "u0,6,2015-09-01", "u1,7,2015-09-15"]  # fmt: skip
    assert _manifest(out)["parameters"]["cut_time_seconds"] == 1433116800.0


def test_per_user_fractions_and_min_train(tmp_path, ratings):
    out = tmp_path / "user"
    _ok(split(ratings, out, "--strategy", "user",
               "--test-frac", "0.3", "--min-train", "25"))  # fmt: skip
    lines = _check_partition(ratings, out)
    per_user = Counter(f[0] for f in _fields(_data_lines(ratings, 3)))
    test = Counter(f[0] for f in _fields(lines["test"]))
    for user, n in per_user.items():
        expected = 0 if n <= 25 else min(int(np.floor(0.3 * n + 0.5)), n - 25)
        assert test[user] == expected, user


def test_leave_k_out_takes_each_users_newest(tmp_path, ratings):
    out = tmp_path / "lko"
    _ok(split(ratings, out, "--strategy", "leave-k-out", "-k", "1"))
    lines = _check_partition(ratings, out)
    data = _fields(_data_lines(ratings, 3))
    test = _fields(lines["test"])
    assert len(test) == len({f[0] for f in data})
    for f in test:
        mine = [(int(g[3]), i) for i, g in enumerate(data) if g[0] == f[0]]
        newest = data[max(mine)[1]]
        assert f == newest


def test_kfold_union_and_single_fold_runs(tmp_path, ratings):
    full = tmp_path / "full"
    _ok(split(ratings, full, "--strategy", "kfold", "--folds", "3"))
    everything = Counter(_data_lines(ratings, 3))
    tests = Counter()
    for i in range(3):
        fold = full / f"fold_{i}"
        assert sorted(p.name for p in fold.iterdir()) == ["manifest.json", "test.csv", "train.csv"]
        _check_partition(ratings, fold)
        tests.update(_data_lines(fold / "test.csv", 3))
        assert _manifest(fold)["fold"] == i and _manifest(fold)["folds"] == 3
    assert tests == everything
    # K array jobs writing one fold each give the same tree
    jobs = tmp_path / "jobs"
    for i in (2, 0, 1):
        _ok(split(ratings, jobs, "--strategy", "kfold",
                   "--folds", "3", "--fold", str(i)))  # fmt: skip
    assert _tree(jobs) == _tree(full)
    err = _fails(split(ratings, jobs, "--strategy", "kfold",
                        "--folds", "3", "--fold", "1"), 73, "fold_1")  # fmt: skip
    assert "--force" in err
    _ok(split(ratings, jobs, "--strategy", "kfold",
               "--folds", "3", "--fold", "1", "--force"))  # fmt: skip
    assert _tree(jobs) == _tree(full)


def test_seed_changes_the_split(tmp_path, ratings):
    a, b = tmp_path / "a", tmp_path / "b"
    _ok(split(ratings, a, "--seed", "1"))
    _ok(split(ratings, b, "--seed", "2"))
    assert (a / "test.csv").read_bytes() != (b / "test.csv").read_bytes()
    assert _manifest(a)["seed"] == 1 and _manifest(a)["parameters"]["seed"] == 1


def test_unseen_counts_in_summary_and_manifest(tmp_path, ratings):
    out = tmp_path / "o"
    result = _ok(split(ratings, out, "--strategy", "temporal",
                        "--test-frac", "0.3", "--validation-frac", "0.2"))  # fmt: skip
    lines = {k: _fields(v) for k, v in _check_partition(ratings, out).items()}
    train_users = {f[0] for f in lines["train"]}
    train_items = {f[1] for f in lines["train"]}
    unseen = _manifest(out)["unseen_in_train"]
    for part in ("test", "validation"):
        assert unseen[part]["users"] == len({f[0] for f in lines[part]} - train_users)
        assert unseen[part]["items"] == len({f[1] for f in lines[part]} - train_items)
        assert f"{part}: {unseen[part]['users']} users and {unseen[part]['items']} items" in (
            result.stdout
        )


# ----------------------------------------------------------------- formats
def test_csv_dialects_are_preserved(tmp_path):
    src = _csv(tmp_path / "r.tsv", n=200, sep="\t", crlf=True)
    out = tmp_path / "o"
    _ok(split(src, out, "--strategy", "user"))
    _check_partition(src, out, ".tsv")
    first = (out / "train.tsv").read_bytes().split(b"\n")[3]
    assert first.endswith(b"\r") and first.count(b"\t") == 4
    # no header, ';' separator, a last line without a newline: it gets one
    plain = tmp_path / "plain.txt"
    plain.write_bytes(b"1;10;5\n2;11;3\n1;12;4\n3;10;1")
    out = tmp_path / "p"
    _ok(invoke("split", str(plain), "-o", str(out), "--test-frac", "0.5"))
    text = (out / "train.txt").read_bytes() + (out / "test.txt").read_bytes()
    assert sorted(text.split(b"\n")[:-1]) == sorted(plain.read_bytes().split(b"\n"))
    assert text.endswith(b"\n")


def test_columns_option_names_the_user_and_time(tmp_path):
    src = tmp_path / "log.csv"
    src.write_text("when,item,who\n" + "".join(f"{t},i{t % 5},u{t % 3}\n" for t in range(30)))
    out = tmp_path / "o"
    _ok(invoke("split", str(src), "-o", str(out), "--strategy", "leave-k-out",
               "--columns", "who,item,-,when"))  # fmt: skip
    test = (out / "test.csv").read_text().splitlines()[1:]
    assert sorted(test) == ["27,i2,u0", "28,i3,u1", "29,i4,u2"]
    assert _manifest(out)["input"]["columns"]["time"] == "when"


def test_compressed_inputs_give_compressed_outputs(tmp_path):
    plain = _csv(tmp_path / "r.csv", n=150)
    gz = tmp_path / "r.csv.gz"
    gz.write_bytes(gzip.compress(plain.read_bytes(), mtime=0))
    out = tmp_path / "o"
    result = _ok(split(gz, out))
    assert "gz-compressed" in result.stdout
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "test.csv.gz", "train.csv.gz"]
    ref = tmp_path / "ref"
    _ok(split(plain, ref))
    for part in ("train", "test"):
        assert gzip.decompress((out / f"{part}.csv.gz").read_bytes()) == (
            ref / f"{part}.csv").read_bytes()  # fmt: skip
    bz = tmp_path / "r.dat.bz2"
    bz.write_bytes(bz2.compress(plain.read_bytes()))
    _ok(split(bz, tmp_path / "b"))
    assert bz2.decompress((tmp_path / "b" / "test.dat.bz2").read_bytes()) == (
        ref / "test.csv").read_bytes()  # fmt: skip


def test_matrix_market_keeps_banner_and_rewrites_the_count(tmp_path):
    src = tmp_path / "m.mtx"
    entries = [(r, c) for r in range(1, 21) for c in range(1, 16) if (r * c) % 3 == 0]
    body = "".join(f"{r} {c} {r + c}.5\n" for r, c in entries)
    src.write_text(f"%%MatrixMarket matrix coordinate real general\n% made here\n"
                   f"20 15 {len(entries)}\n{body}")  # fmt: skip
    out = tmp_path / "o"
    _ok(invoke("split", str(src), "-o", str(out), "--strategy", "leave-k-out", "--validation-frac",
               "0.2"))  # fmt: skip
    _check_partition(src, out, ".mtx", skip=3, same=2)
    total = 0
    for name in ("train", "validation", "test"):
        head = (out / f"{name}.mtx").read_text().splitlines()[:3]
        assert head[:2] == ["%%MatrixMarket matrix coordinate real general", "% made here"]
        m = read_matrix(str(out / f"{name}.mtx"))
        assert m.shape == (20, 15) and head[2] == f"20 15 {m.nnz}"
        total += m.nnz
    assert total == len(entries)
    assert "no time column" in _manifest(out)["notes"][0]


def test_hdf5_gives_csr_groups_with_shape_and_labels(tmp_path):
    src = tmp_path / "r.h5"
    _ok(invoke("generate", "ratings", "-o", str(src), "--users", "40", "--items", "30",
               "--ratings", "400"))  # fmt: skip
    whole = read_matrix(str(src))
    out = tmp_path / "o"
    _ok(invoke("split", str(src), "-o", str(out), "--strategy", "temporal", "--per-user"))
    parts = [read_matrix(str(out / f"{p}.h5")) for p in ("train", "test")]
    assert all(p.shape == whole.shape for p in parts)
    assert all(np.array_equal(p.row_labels, whole.row_labels) for p in parts)
    total = (parts[0].to_scipy() + parts[1].to_scipy()).toarray()
    assert np.array_equal(total, whole.to_dense())
    with h5py.File(out / "test.h5", "r") as h5:
        stamps = h5["X/timestamps"][()]
    with h5py.File(out / "train.h5", "r") as h5:
        indptr, train_stamps = h5["X/indptr"][()], h5["X/timestamps"][()]
    assert stamps.size == parts[1].nnz
    # per user, the test entries are newer than the train ones
    test_indptr = parts[1].indptr
    for u in range(whole.shape[0]):
        a, b = test_indptr[u], test_indptr[u + 1]
        if a < b and indptr[u] < indptr[u + 1]:
            assert stamps[a:b].min() >= train_stamps[indptr[u] : indptr[u + 1]].max()


def test_hdf5_kfold_and_symmetric_matrix_market(tmp_path):
    src = tmp_path / "m.h5"
    _ok(invoke("generate", "lowrank-sparse", "-o", str(src), "--rows", "30", "--cols", "20",
               "--nnz", "150"))  # fmt: skip
    out = tmp_path / "k"
    _ok(invoke("split", str(src), "-o", str(out), "--strategy", "kfold", "--folds", "2"))
    tests = [read_matrix(str(out / f"fold_{i}" / "test.h5")).to_scipy() for i in (0, 1)]
    assert np.array_equal((tests[0] + tests[1]).toarray(), read_matrix(str(src)).to_dense())
    sym = tmp_path / "s.mtx"
    sym.write_text("%%MatrixMarket matrix coordinate pattern symmetric\n4 4 5\n"
                   "1 1\n2 1\n3 2\n4 4\n4 3\n")  # fmt: skip
    out = tmp_path / "s"
    _ok(invoke("split", str(sym), "-o", str(out), "--test-frac", "0.4"))
    test = (out / "test.mtx").read_text().splitlines()
    assert test[:2] == ["%%MatrixMarket matrix coordinate pattern symmetric", "4 4 2"]
    assert "symmetric storage" in _manifest(out)["notes"][0]


def test_stdin_input(tmp_path, ratings):
    out = tmp_path / "o"
    proc = run_cli("split", "-", "-o", str(out), *COLS, "--json", input=ratings.read_bytes())
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["parts"]["test"]["entries"] == 121
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "test.csv", "train.csv"]
    _check_partition(ratings, out)


# ------------------------------------------------------------------ config
def test_print_config_and_replay(tmp_path, ratings):
    result = _ok(split(ratings, tmp_path / "x", "--strategy", "user",
                        "--print-config"))  # fmt: skip
    text = result.stdout
    assert "strategy: user" in text and "test_frac: 0.2" in text and "min_train: 1" in text
    assert "leave_k: null" in text and not (tmp_path / "x").exists()
    config = tmp_path / "split.yaml"
    config.write_text(text)
    _ok(invoke("split", "--config", str(config), "--set", "split.test_frac=0.5"))
    assert _manifest(tmp_path / "x")["parameters"]["test_frac"] == 0.5


# ------------------------------------------------------------------ errors
def test_output_rules(tmp_path, ratings):
    out = tmp_path / "o"
    out.mkdir()  # an empty directory is fine
    _ok(split(ratings, out))
    before = _tree(out)
    _fails(split(ratings, out, "--seed", "3"), 73, "not empty", "--force")
    assert _tree(out) == before
    _ok(split(ratings, out, "--seed", "3", "--force"))
    assert _tree(out) != before and _manifest(out)["seed"] == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o"]  # nothing left behind
    (out / "mine.txt").write_text("keep me")  # not a split's file: --force refuses
    _fails(split(ratings, out, "--force"), 73, "other files", "mine.txt")
    assert (out / "mine.txt").exists()
    (tmp_path / "file").write_text("x")
    _fails(split(ratings, tmp_path / "file"), 73, "not a directory")
    _fails(split(ratings, tmp_path / "no" / "o"), 73, "does not exist")


def test_a_failing_run_leaves_nothing(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("user,item,rating\n1,2,3\n1,3,x\n")
    _fails(invoke("split", str(bad), "-o", str(tmp_path / "o")), 65, "bad.csv:3", "'x'")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv"]


ERRORS = [
    (["--test-frac", "1.5"], 2, "test_frac must be in 0 < x < 1"),
    (["--test-frac", "0"], 2, "test_frac"),
    (["--validation-frac", "-0.1"], 2, "validation_frac"),
    (["--test-frac", "0.6", "--validation-frac", "0.5"], 2, "below 1"),
    (["--strategy", "shuffle"], 2, "unknown strategy"),
    (["--strategy", "random", "--cut-time", "5"], 2, "does not apply to the random"),
    (["--strategy", "kfold", "--test-frac", "0.1"], 2, "does not apply to the kfold"),
    (["--strategy", "kfold", "--folds", "3", "--fold", "3"], 2, "below split.folds"),
    (["--strategy", "kfold", "--folds", "1"], 2, "folds: must be >= 2"),
    (["--strategy", "leave-k-out", "-k", "0"], 2, "leave_k: must be >= 1"),
    (["--strategy", "temporal", "--cut-time", "soon"], 2, "number or an ISO date"),
    (["--strategy", "temporal", "--cut-time", "5", "--per-user"], 2, "exclude each other"),
    (["--strategy", "temporal", "--min-train", "2"], 2, "per user"),
    (["--set", "split.folds=x"], 2, "split.folds"),
]


@pytest.mark.parametrize(("args", "code", "words"), ERRORS)
def test_usage_errors(tmp_path, ratings, args, code, words):
    _fails(split(ratings, tmp_path / "o", *args), code, words)
    assert not (tmp_path / "o").exists()


def test_missing_arguments(tmp_path, ratings):
    _fails(invoke("split", "-o", str(tmp_path / "o")), 2, "no input file")
    _fails(invoke("split", str(ratings), *COLS), 2, "no output directory")


def test_input_errors(tmp_path):
    out = str(tmp_path / "o")
    _fails(invoke("split", str(tmp_path / "none.csv"), "-o", out), 66, "none.csv", "no such file")
    _fails(invoke("split", str(tmp_path), "-o", out), 66, "directory")
    parts = tmp_path / "parts"
    parts.mkdir()
    for k in range(2):
        (parts / f"part-{k}.csv").write_text(f"user,item,rating\n{k},2,3\n")
    for spec in (parts, parts / "part-*.csv"):
        _fails(invoke("split", str(spec), "-o", out), 2, str(spec),
               "not a partitioned input (2 part files)", "join the parts")  # fmt: skip
    assert not os.path.exists(out)
    notime = tmp_path / "r.csv"
    notime.write_text("user,item,rating\n1,2,3\n2,3,4\n")
    _fails(invoke("split", str(notime), "-o", out, "--strategy", "temporal"), 65,
           "r.csv", "needs a time column", "--columns")  # fmt: skip
    dense = tmp_path / "dense.csv"
    dense.write_text("".join(",".join(str(i * j) for j in range(6)) + "\n" for i in range(5)))
    _fails(invoke("split", str(dense), "-o", out), 65, "dense table")
    array = tmp_path / "a.mtx"
    array.write_text("%%MatrixMarket matrix array real general\n2 2\n1\n2\n3\n4\n")
    _fails(invoke("split", str(array), "-o", out), 65, "a.mtx", "array")
    short = tmp_path / "s.mtx"
    short.write_text("%%MatrixMarket matrix coordinate real general\n3 3 4\n1 1 1\n2 2 2\n")
    _fails(invoke("split", str(short), "-o", out), 65, "truncated")
    wide = tmp_path / "w.mtx"
    wide.write_text("%%MatrixMarket matrix coordinate real general\n3 3 2\n1 1 1\n4 2 2\n")
    _fails(invoke("split", str(wide), "-o", out), 65, "w.mtx:4", "out of range")
    nan = tmp_path / "nan.csv"
    nan.write_text("user,item,rating,time\n1,2,3,1.5\n1,3,4,nan\n")
    _fails(invoke("split", str(nan), "-o", out, "--strategy", "temporal"), 65, "nan.csv:3", "NaN")
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("user,item,rating\n1,2,3\n1,3\n")
    _fails(invoke("split", str(ragged), "-o", out), 65, "ragged.csv:3", "fields")
    bad = tmp_path / "bad.mat"
    bad.write_bytes(b"MATLAB 5.0 MAT-file" + b"\0" * 200)
    _fails(invoke("split", str(bad), "-o", out), 65, "bad.mat")
    assert not (tmp_path / "o").exists()


def test_subprocess_run_and_error(tmp_path, ratings):
    out = tmp_path / "o"
    proc = run_cli("split", str(ratings), "-o", str(out), *COLS, "--strategy", "kfold", "--folds",
                   "2")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert b"fold_1:" in proc.stdout and (out / "fold_1" / "manifest.json").exists()
    proc = run_cli("split", str(ratings), "-o", str(out))
    assert proc.returncode == 73
    assert proc.stderr.decode().startswith("error: ") and b"Traceback" not in proc.stderr


def test_reader_options_threads_and_quiet(tmp_path):
    src = tmp_path / "log.data"
    src.write_bytes(b"".join(b"%d|%d|%d\n" % (i % 7, i % 5, i) for i in range(70)))
    out = tmp_path / "o"
    result = _ok(invoke("split", str(src), "-o", str(out), "--format", "csv", "--sep", "|",
                        "--no-header", "--threads", "1", "-q"))  # fmt: skip
    assert result.stdout == ""
    _check_partition(src, out, ".data", skip=0, same=0)
    assert _manifest(out)["input"]["columns"] == {"user": 0, "item": 1, "value": 2, "time": None}
    # --header takes the first line as names: one entry fewer
    out = tmp_path / "h"
    _ok(invoke("split", str(src), "-o", str(out), "--sep", "pipe", "--header", "--format", "csv",
               "--columns", "0,1,2"))  # fmt: skip
    assert _manifest(out)["input"]["entries"] == 69
    h5 = tmp_path / "m.h5"
    _ok(invoke("generate", "lowrank-sparse", "-o", str(h5), "--rows", "20", "--cols", "10",
               "--nnz", "60"))  # fmt: skip
    a, b = tmp_path / "a", tmp_path / "b"
    _ok(invoke("split", str(h5), "-o", str(a), "--dataset", "X"))
    _ok(invoke("split", f"{h5}:/X", "-o", str(b)))
    assert (a / "test.h5").read_bytes() == (b / "test.h5").read_bytes()
    assert _manifest(a)["input"]["columns"]["object"] == "/X"
