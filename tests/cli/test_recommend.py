"""`mfcli recommend`: lists against naive twins, every option value and every error path."""

from __future__ import annotations

import csv
import gzip
import io
import json
import subprocess
import sys

import h5py
import numpy as np
import pytest

from mfcli.data import Matrix
from mfcli.io.results import Result, read_result, write_result
from tests.cli.helpers import invoke, run_cli
from tests.conftest import REPO

SAMPLE = REPO / "sample_data"
RATINGS = str(SAMPLE / "ratings.csv")
RATINGS_MTX = str(SAMPLE / "ratings.mtx")


# ------------------------------------------------------------------ models
@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Small models fitted by the CLI: svd on ratings.csv (ids) and ratings.mtx (positions)."""
    root = tmp_path_factory.mktemp("models")
    out = {}
    for name, data, args in (
        ("svd", RATINGS, ("svd", "-k", "8")),
        ("svd_mtx", RATINGS_MTX, ("svd", "-k", "5")),
    ):
        path = root / f"{name}.h5"
        result = invoke(*args, data, "-o", str(path), "-q")
        assert result.exit_code == 0, result.output
        out[name] = path
    return out


@pytest.fixture(scope="module")
def nmf_model(tmp_path_factory):
    try:
        import mfcli.solvers.nmf  # noqa: F401
    except ImportError as exc:
        pytest.skip(f"mfcli.solvers.nmf is not importable yet ({exc})")
    path = tmp_path_factory.mktemp("nmf") / "nmf.h5"
    result = invoke("nmf", RATINGS, "-k", "6", "--max-iter", "30", "-o", str(path), "-q")
    if result.exit_code != 0:
        pytest.skip(f"mfcli nmf does not fit yet: {result.stderr.strip()}")
    return path


def _scores(path):
    """The full reconstruction (naive twin), the training matrix and the labels."""
    r = read_result(path)
    U, V = r.factors["row"].astype(np.float64), r.factors["col"].astype(np.float64)
    if "singular_values" in r.factors:
        U = U * r.factors["singular_values"]
    S = U @ V.T
    b = r.biases
    if "global" in b:
        S += b["global"]
    if "row" in b:
        S += np.asarray(b["row"])[:, None]
    if "col" in b:
        S += np.asarray(b["col"])[None, :]
    train = None if r.train is None else r.train.to_dense() != 0
    return S, train, r.labels.get("row"), r.labels.get("col")


def _naive_top(S, n, seen=None, skip=None):
    """Best ``n`` columns of each row of S (ties to the lower index), -inf where seen."""
    S = S.copy()
    if seen is not None:
        S[seen] = -np.inf
    if skip is not None:
        S[np.arange(len(skip)), skip] = -np.inf
    out = []
    for row in S:
        order = np.lexsort((np.arange(row.size), -row))
        out.append([j for j in order[:n] if np.isfinite(row[j])])
    return out


def _table(text, sep=","):
    rows = list(csv.reader(io.StringIO(text), delimiter=sep))
    return rows[0], rows[1:]


def _ok(*args, input=None):
    result = invoke("recommend", *map(str, args), input=input)
    assert result.exit_code == 0, result.stderr
    return result


def _fails(code, *args, contains=()):
    """Exit ``code``, one line on stderr naming what is wrong, nothing on stdout."""
    result = invoke("recommend", *map(str, args))
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for text in contains:
        assert text in lines[0], lines[0]
    assert result.stdout == ""
    return lines[0]


# ------------------------------------------------------------- user lists
def test_user_lists_match_the_naive_ranking(models):
    S, train, users, items = _scores(models["svd"])
    picked = [1, 5, 77, 943]
    result = _ok(models["svd"], "--user", "1", "--user", "5,77", "--user", "943", "-n", "7")
    header, rows = _table(result.stdout)
    assert header == ["user", "rank", "item", "score"]
    rows_of = {u: np.flatnonzero(users == u)[0] for u in picked}
    want = _naive_top(S[[rows_of[u] for u in picked]], 7, train[[rows_of[u] for u in picked]])
    got = {}
    for user, rank, item, score in rows:
        got.setdefault(int(user), []).append((int(rank), int(item), float(score)))
    assert list(got) == picked  # the order asked for
    for u, expected in zip(picked, want, strict=True):
        assert [r for r, _, _ in got[u]] == list(range(1, 8))
        assert [i for _, i, _ in got[u]] == [int(items[j]) for j in expected]
        np.testing.assert_allclose(
            [s for _, _, s in got[u]], S[rows_of[u], expected], rtol=1e-4, atol=1e-5
        )
        assert not train[rows_of[u]][[np.flatnonzero(items == i)[0] for _, i, _ in got[u]]].any()


def test_include_seen_ranks_training_items_too(models):
    S, train, users, items = _scores(models["svd"])
    row = int(np.flatnonzero(users == 3)[0])
    result = _ok(models["svd"], "--user", "3", "-n", "5", "--include-seen", "--json")
    data = json.loads(result.stdout)
    assert data["exclude_seen"] is False
    got = [x["item"] for x in data["recommendations"][0]["items"]]
    assert got == [int(items[j]) for j in _naive_top(S[[row]], 5)[0]]
    assert any(train[row, np.flatnonzero(items == i)[0]] for i in got)  # svd fits the seen ones
    explicit = json.loads(_ok(models["svd"], "--user", "3", "-n", "5", "--exclude-seen",
                              "--json").stdout)  # fmt: skip
    assert explicit["exclude_seen"] is True
    assert not set(got[:1]) & {x["item"] for x in explicit["recommendations"][0]["items"]}


def test_users_file_with_blank_lines_and_repeats(models, tmp_path):
    ids = tmp_path / "users.txt"
    ids.write_text("7\n\n2\n7\n  9  \n")
    from_file = json.loads(_ok(models["svd"], "--users", ids, "--user", "2", "-n", "2",
                               "--json").stdout)  # fmt: skip
    assert [x["user"] for x in from_file["recommendations"]] == [2, 7, 9]  # --user first
    alone = json.loads(_ok(models["svd"], "--users", ids, "-n", "2", "--json").stdout)
    assert [x["user"] for x in alone["recommendations"]] == [7, 2, 9]


def test_all_users_in_every_output_format_agree(models, tmp_path):
    path = models["svd"]
    stdout = _ok(path, "--all", "-n", "4").stdout
    for name in ("r.csv", "r.tsv", "r.csv.gz"):
        summary = _ok(path, "--all", "-n", "4", "-o", tmp_path / name, "--json").stdout
        assert json.loads(summary)["lines"] == 943 * 4
    assert (tmp_path / "r.csv").read_text() == stdout
    assert (tmp_path / "r.tsv").read_text() == stdout.replace(",", "\t")
    assert gzip.decompress((tmp_path / "r.csv.gz").read_bytes()).decode() == stdout
    _ok(path, "--all", "-n", "4", "-o", tmp_path / "r.h5")
    header, rows = _table(stdout)
    with h5py.File(tmp_path / "r.h5") as f:
        assert list(f) == ["item", "rank", "score", "user"]
        assert f.attrs["kind"] == "users" and f.attrs["model"] == str(path)
        assert f["user"][()].tolist() == [int(r[0]) for r in rows]
        assert f["rank"][()].tolist() == [int(r[1]) for r in rows]
        assert f["item"][()].tolist() == [int(r[2]) for r in rows]
        np.testing.assert_array_equal(f["score"][()], np.array([r[3] for r in rows], np.float32))
    assert [int(r[0]) for r in rows[::4]] == read_result(path).labels["row"].tolist()


def test_written_file_message_and_quiet(models, tmp_path):
    out = tmp_path / "r.csv"
    result = _ok(models["svd"], "--user", "1", "-o", out)
    assert result.stdout == f"wrote {out}: 10 lines, top 10 for 1 users\n"
    assert _ok(models["svd"], "--user", "1", "-o", out, "--force", "-q").stdout == ""
    # -q silences chatter, never the lists themselves
    assert _ok(models["svd"], "--user", "1", "-q").stdout.startswith("user,rank,item,score\n")


@pytest.mark.parametrize("n", [1, 3, 10])
def test_list_length(models, n):
    data = json.loads(_ok(models["svd"], "--user", "4", "-n", n, "--json").stdout)
    assert data["n"] == n and len(data["recommendations"][0]["items"]) == n
    ranks = [x["rank"] for x in data["recommendations"][0]["items"]]
    scores = [x["score"] for x in data["recommendations"][0]["items"]]
    assert ranks == list(range(1, n + 1)) and scores == sorted(scores, reverse=True)


def test_lists_shorter_than_n_when_items_run_out(tmp_path):
    path = _tiny(tmp_path, "sgd", train=True)
    data = json.loads(_ok(path, "--user", "u0", "-n", "50", "--json").stdout)
    assert len(data["recommendations"][0]["items"]) == 6 - 2  # 6 items, 2 seen
    assert data["lines"] == 4


def test_threads_do_not_change_the_lists(models):
    one = _ok(models["svd"], "--user", "1,2,3", "--threads", "1").stdout
    assert one == _ok(models["svd"], "--user", "1,2,3", "--threads", "2").stdout


# ------------------------------------------------------- ids and labels
def _tiny(tmp_path, method, *, train=True, labels=True, name=None):
    """A hand-made 5 x 6 result with biases: scores known exactly."""
    rng = np.random.default_rng(7)
    U, V = rng.normal(size=(5, 3)), rng.normal(size=(6, 3))
    biases = {"global": 3.0, "row": rng.normal(size=5), "col": rng.normal(size=6)}
    t = None
    if train:
        t = Matrix.from_coo(np.array([0, 0, 1, 4]), np.array([1, 4, 0, 5]), np.ones(4), (5, 6))
    result = Result(
        method, factors={"row": U, "col": V}, biases=biases, train=t,
        labels={"row": np.array([f"u{i}" for i in range(5)]),
                "col": np.array([f"item {j}" if j != 2 else "a,b" for j in range(6)])}
        if labels else {},
    )  # fmt: skip
    path = tmp_path / (name or f"{method}.h5")
    write_result(result, path)
    return path


@pytest.mark.parametrize("method", ["als", "sgd"])
def test_biased_models_score_with_their_biases(tmp_path, method):
    path = _tiny(tmp_path, method)
    S, train, users, items = _scores(path)
    result = _ok(path, "--all", "-n", "3")
    header, rows = _table(result.stdout)
    want = _naive_top(S, 3, train)
    got = [(r[0], r[2], float(r[3])) for r in rows]
    expected = [
        (f"u{i}", str(items[j]), S[i, j]) for i in range(5) for j in want[i]
    ]  # fmt: skip
    assert [g[:2] for g in got] == [e[:2] for e in expected]
    np.testing.assert_allclose([g[2] for g in got], [e[2] for e in expected], rtol=1e-12)
    assert '"a,b"' in result.stdout or "a,b" not in {g[1] for g in got}  # quoted when written


def test_rating_models_print_clipped_scores_ranked_by_the_model(tmp_path):
    """sgd stores its training range: scores are printed clipped to it, as eval predicts,
    and ranked by the unclipped score (clipping makes ties the model does not have)."""
    path = _tiny(tmp_path, "sgd")
    result = read_result(path)
    result.extra = {"sgd": {"clip": np.array([2.5, 3.5])}}
    write_result(result, path, force=True)
    S, train, _, items = _scores(path)
    want = _naive_top(S, 4, train)
    assert (np.clip(S, 2.5, 3.5) != S).any(axis=1).all()  # every user has clipped scores
    data = json.loads(_ok(path, "--all", "-n", "4", "--json").stdout)
    for i, entry in enumerate(data["recommendations"]):
        assert [x["item"] for x in entry["items"]] == [str(items[j]) for j in want[i]]
        got = [x["score"] for x in entry["items"]]
        np.testing.assert_allclose(got, np.clip(S[i, want[i]], 2.5, 3.5), rtol=1e-12)
        assert got == sorted(got, reverse=True)
    # folded-in users are clipped too
    new = tmp_path / "new.csv"
    new.write_text("user,item,rating\nfresh,item 0,5\nfresh,item 1,5\nfresh,item 3,1\n")
    data = json.loads(_ok(path, "--from", new, "-n", "3", "--json").stdout)
    scores = [x["score"] for x in data["recommendations"][0]["items"]]
    assert scores and all(2.5 <= v <= 3.5 for v in scores)
    # similar-item cosines are not scores on the rating scale: never clipped
    sims = json.loads(_ok(path, "--similar-items", "item 0", "-n", "5", "--json").stdout)
    assert any(x["score"] < 2.5 for x in sims["similar"][0]["neighbours"])


def test_model_without_labels_uses_one_based_positions(models):
    S, train, _, _ = _scores(models["svd_mtx"])
    data = json.loads(_ok(models["svd_mtx"], "--user", "1", "-n", "3", "--json").stdout)
    assert data["recommendations"][0]["user"] == 1
    want = _naive_top(S[[0]], 3, train[[0]])[0]
    assert [x["item"] for x in data["recommendations"][0]["items"]] == [j + 1 for j in want]
    line = _fails(65, models["svd_mtx"], "--user", "0")
    assert "user '0' not in the model" in line and "positions 1..943" in line
    _fails(65, models["svd_mtx"], "--user", "944", contains=("'944'",))
    _fails(65, models["svd_mtx"], "--user", "x", contains=("'x'",))


def test_string_ids(tmp_path):
    path = _tiny(tmp_path, "als")
    data = json.loads(_ok(path, "--user", "u3", "-n", "2", "--json").stdout)
    assert data["recommendations"][0]["user"] == "u3"
    assert all(isinstance(x["item"], str) for x in data["recommendations"][0]["items"])


# ----------------------------------------------------------- /train policy
def test_model_without_train(tmp_path):
    path = _tiny(tmp_path, "sgd", train=False)
    S, _, _, _ = _scores(path)
    result = invoke("recommend", str(path), "--user", "u0", "-n", "2")
    assert result.exit_code == 0
    assert result.stderr.startswith("note: the model has no /train")
    _, rows = _table(result.stdout)
    assert [r[1:3] for r in rows] == [["1", f"item {j}"] if k == 0 else ["2", f"item {j}"]
                                      for k, j in enumerate(_naive_top(S[[0]], 2)[0])]  # fmt: skip
    quiet = invoke("recommend", str(path), "--user", "u0", "-q")
    assert quiet.exit_code == 0 and quiet.stderr == ""
    include = invoke("recommend", str(path), "--user", "u0", "--include-seen")
    assert include.exit_code == 0 and include.stderr == ""
    out = tmp_path / "r.csv"
    _fails(65, path, "--user", "u0", "--exclude-seen", "-o", out,
           contains=(str(path), "no /train", "--include-seen"))  # fmt: skip
    assert not out.exists()


# ------------------------------------------------------------ similar items
def test_similar_items_are_cosine_neighbours(models):
    r = read_result(models["svd"])
    vectors = r.factors["col"].astype(np.float64) * r.factors["singular_values"]
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    items = r.labels["col"]
    picked = [18, 50]
    cols = [int(np.flatnonzero(items == i)[0]) for i in picked]
    result = _ok(models["svd"], "--similar-items", "18", "--similar-items", "50", "-n", "4")
    header, rows = _table(result.stdout)
    assert header == ["item", "rank", "neighbour", "score"]
    want = _naive_top(unit[cols] @ unit.T, 4, skip=cols)
    expected = [(str(picked[q]), str(k + 1), str(items[j]))
                for q in range(2) for k, j in enumerate(want[q])]  # fmt: skip
    assert [tuple(row[:3]) for row in rows] == expected
    cos = [(unit[cols[q]] @ unit[j]) for q in range(2) for j in want[q]]
    np.testing.assert_allclose([float(row[3]) for row in rows], cos, atol=1e-5)
    assert all(row[0] != row[2] for row in rows)


def test_similar_items_json_h5_and_plain_factors(tmp_path):
    path = _tiny(tmp_path, "als")  # no singular values: cosine of the item factors
    V = read_result(path).factors["col"]
    unit = V / np.linalg.norm(V, axis=1, keepdims=True)
    data = json.loads(_ok(path, "--similar-items", "item 3", "-n", "5", "--json").stdout)
    entry = data["similar"][0]
    assert entry["item"] == "item 3" and data["kind"] == "items"
    want = _naive_top(unit[[3]] @ unit.T, 5, skip=[3])[0]
    names = ["item 0", "item 1", "a,b", "item 3", "item 4", "item 5"]
    assert [x["item"] for x in entry["neighbours"]] == [names[j] for j in want]
    assert len(entry["neighbours"]) == 5  # all but the item itself
    _ok(path, "--similar-items", "item 0", "-o", tmp_path / "s.h5")
    with h5py.File(tmp_path / "s.h5") as f:
        assert sorted(f) == ["item", "neighbour", "rank", "score"] and f.attrs["kind"] == "items"
        assert set(f["item"].asstr()[()]) == {"item 0"}
        assert "item 0" not in set(f["neighbour"].asstr()[()])


def test_similar_items_errors(models):
    _fails(65, models["svd"], "--similar-items", "999999",
           contains=("item '999999' not in the model", str(models["svd"])))  # fmt: skip
    _fails(2, models["svd"], "--similar-items", "18", "--user", "1",
           contains=("excludes the user options",))  # fmt: skip
    _fails(2, models["svd"], "--similar-items", "18", "--include-seen",
           contains=("exclude_seen",))  # fmt: skip


# ---------------------------------------------------------------- fold-in
def _as_triplets(path, user, rows, items, values):
    lines = ["user,item,value"] + [
        f"{user},{i},{float(v)!r}" for i, v in zip(items, values, strict=True)
    ]
    path.write_text("\n".join(lines) + "\n")
    return rows


def test_from_folds_new_users_in_by_projection(models, tmp_path):
    """svd: a new row x gets U-coordinates x V diag(1/s), so its scores are x V V^T."""
    path = models["svd"]
    r = read_result(path)
    V = r.factors["col"].astype(np.float64)
    row = int(np.flatnonzero(r.labels["row"] == 12)[0])
    train = r.train.to_dense()
    cols = np.flatnonzero(train[row])
    new = tmp_path / "new.csv"
    _as_triplets(new, "newcomer", row, r.labels["col"][cols], train[row, cols])
    folded = json.loads(_ok(path, "--from", new, "-n", "6", "--json").stdout)
    assert folded["folded_in"] == 1 and folded["fold_in_rule"] == "projection"
    entry = folded["recommendations"][0]
    assert entry["user"] == "newcomer"
    scores = (train[row] @ V) @ V.T
    want = _naive_top(scores[None, :], 6, train[[row]] != 0)[0]
    assert [x["item"] for x in entry["items"]] == [int(r.labels["col"][j]) for j in want]
    np.testing.assert_allclose([x["score"] for x in entry["items"]], scores[want], rtol=1e-4)
    # the model's own factors for that user are close (randomized svd is not exact)
    known = json.loads(_ok(path, "--user", 12, "-n", "6", "--json").stdout)
    np.testing.assert_allclose([x["score"] for x in known["recommendations"][0]["items"]],
                               scores[want], rtol=0.1)  # fmt: skip


def test_from_with_users_all_and_unknown_items(models, tmp_path):
    path = models["svd"]
    new = tmp_path / "new.csv"
    new.write_text("user,item,rating\nn1,18,5\nn1,36,4\nn1,no-such-item,3\nn2,50,5\n")
    result = _ok(path, "--from", new, "-n", "3", "--json")
    data = json.loads(result.stdout)
    assert [x["user"] for x in data["recommendations"]] == ["n1", "n2"]
    assert data["from_items_unknown"] == 1
    assert "1 item(s) of" in result.stderr and "left out" in result.stderr
    n1 = {x["item"] for x in data["recommendations"][0]["items"]}
    assert not n1 & {18, 36}  # their own items are seen
    picked = json.loads(_ok(path, "--from", new, "--user", "n2,5", "-n", "2", "--json").stdout)
    assert [x["user"] for x in picked["recommendations"]] == ["n2", "5"]
    assert picked["folded_in"] == 1
    everyone = json.loads(_ok(path, "--from", new, "--all", "-n", "1", "--json").stdout)
    assert everyone["lists"] == 943 + 2 and everyone["folded_in"] == 2
    assert [x["user"] for x in everyone["recommendations"][-2:]] == ["n1", "n2"]
    included = json.loads(_ok(path, "--from", new, "-n", "3", "--include-seen", "--json").stdout)
    assert included["exclude_seen"] is False


def test_from_file_users_shadow_model_users(models, tmp_path):
    new = tmp_path / "new.csv"
    new.write_text("user,item,rating\n1,18,5\n")
    data = json.loads(_ok(models["svd"], "--from", new, "--all", "-n", "1", "--json").stdout)
    users = [x["user"] for x in data["recommendations"]]
    assert data["lists"] == 943 and users.count(1) == 1 and users[-1] == 1  # ids read as ints


def test_from_needs_a_fold_in_rule(tmp_path):
    path = _tiny(tmp_path, "bpr")  # a method name without a fold-in rule
    new = tmp_path / "new.csv"
    new.write_text("user,item,rating\nx,item 0,5\n")
    _fails(2, path, "--from", new, contains=("recommend --from does not support bpr",))


def test_sgd_fold_in(tmp_path):
    """sgd: new users get the ridge (p_u, b_u) of their ratings; their own items are excluded."""
    from mfcli.solvers.sgd import fold_in

    model = tmp_path / "sgd.h5"
    fitted = invoke("sgd", RATINGS, "-k", "6", "--epochs", "5", "--reg", "0.5",
                    "--reg-bias", "0.1", "-o", str(model), "-q")  # fmt: skip
    assert fitted.exit_code == 0, fitted.stderr
    r = read_result(model)
    V = r.factors["col"].astype(np.float64)
    items = r.labels["col"]
    rng = np.random.default_rng(4)
    own = {"new1": rng.choice(len(items), 25, replace=False), "new2": np.array([0, 7, 40])}
    lines = ["user,item,rating"]
    dense = np.zeros((2, len(items)))
    for u, (name, cols) in enumerate(own.items()):
        values = rng.integers(1, 6, cols.size)
        dense[u, cols] = values
        lines += [f"{name},{items[j]},{v}" for j, v in zip(cols, values, strict=True)]
    new = tmp_path / "new_users.csv"
    new.write_text("\n".join(lines) + "\n")
    result = _ok(model, "--from", new, "-n", "10", "--json")
    data = json.loads(result.stdout)
    assert data["folded_in"] == 2 and "ridge" in data["fold_in_rule"]
    # the naive twin: the solver's fold-in with the fit's reg, reg_bias and reg_power
    b = r.biases
    U, B = fold_in(V, dense, global_bias=float(b["global"]), col_bias=b["col"], reg=0.5,
                   reg_bias=0.1, reg_power=0.5)  # fmt: skip
    S = b["global"] + B[:, None] + np.asarray(b["col"])[None, :] + U @ V.T
    want = _naive_top(S, 10, dense != 0)
    for u, entry in enumerate(data["recommendations"]):
        assert entry["user"] == f"new{u + 1}"
        got = [x["item"] for x in entry["items"]]
        assert not set(got) & {int(items[j]) for j in own[entry["user"]]}
        assert got == [int(items[j]) for j in want[u]]
        np.testing.assert_allclose([x["score"] for x in entry["items"]], S[u, want[u]],
                                   rtol=1e-5)  # fmt: skip
    # the same through a real subprocess, written to a file
    out = tmp_path / "recs.csv"
    run = run_cli("recommend", str(model), "--from", str(new), "-n", "3", "-o", str(out))
    assert run.returncode == 0, run.stderr
    header, rows = _table(out.read_text())
    assert header == ["user", "rank", "item", "score"] and len(rows) == 6


def test_from_errors(models, tmp_path):
    _fails(66, models["svd"], "--from", tmp_path / "none.csv", contains=("none.csv",))
    labelled = tmp_path / "labelled.csv"
    labelled.write_text("user,item,rating\nx,y,5\n")
    _fails(65, models["svd_mtx"], "--from", labelled, contains=(f"{labelled}: only the file",))


def test_nmf_models(nmf_model, tmp_path):
    S, train, users, items = _scores(nmf_model)
    data = json.loads(_ok(nmf_model, "--user", "1", "-n", "4", "--json").stdout)
    row = int(np.flatnonzero(users == 1)[0])
    want = _naive_top(S[[row]], 4, train[[row]])[0]
    assert [x["item"] for x in data["recommendations"][0]["items"]] == [int(items[j]) for j in want]
    new = tmp_path / "new.csv"
    new.write_text("user,item,rating\nz,18,5\nz,36,4\n")
    folded = json.loads(_ok(nmf_model, "--from", new, "-n", "2", "--json").stdout)
    assert folded["folded_in"] == 1 and "non-negative" in folded["fold_in_rule"]
    assert all(x["score"] >= 0 for x in folded["recommendations"][0]["items"])


def test_als_fold_in_when_the_solver_exists(tmp_path):
    path = _tiny(tmp_path, "als")
    new = tmp_path / "new.csv"
    new.write_text("user,item,rating\nx,item 0,5\nx,item 3,1\n")
    result = invoke("recommend", str(path), "--from", str(new), "-n", "2", "--json")
    try:
        from mfcli.solvers import als

        available = hasattr(als, "fold_in")
    except ImportError:
        available = False
    if not available:
        assert result.exit_code == 2 and "does not support als" in result.stderr
        pytest.skip("mfcli.solvers.als.fold_in does not exist yet")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["folded_in"] == 1
    assert {x["item"] for x in data["recommendations"][0]["items"]} <= {
        f"item {j}" for j in (1, 2, 4, 5)
    } | {"a,b"}


# ------------------------------------------------------------------ errors
def test_unknown_users(models, tmp_path):
    out = tmp_path / "r.csv"
    line = _fails(65, models["svd"], "--user", "1,424242,515151", "-o", out)
    assert line == (
        f"error: {models['svd']}: user '424242' (and 1 more) not in the model "
        "(give its interactions with --from FILE to fold it in)"
    )
    assert not out.exists()


def test_usage_errors(models, tmp_path):
    m = models["svd"]
    _fails(2, contains=("no model given",))
    _fails(2, m, contains=("say whose recommendations",))
    _fails(2, m, "--all", "--user", "1", contains=("recommend.all excludes",))
    _fails(2, m, "--user", "1", "-n", "0", contains=("recommend.n",))
    _fails(2, m, "--user", "1,,2", contains=("empty id",))
    _fails(2, m, "--user", "1", "-o", tmp_path / "r.mtx", contains=("not mtx",))
    _fails(2, m, "--user", "1", "-o", tmp_path / "r.txt", contains=("output format",))
    _fails(2, m, "--user", "1", "--set", "recommend.bogus=1", contains=("unknown key",))


def test_file_errors(models, tmp_path):
    m = models["svd"]
    _fails(66, tmp_path / "none.h5", "--user", "1", contains=("none.h5", "no such file"))
    text = tmp_path / "x.h5"
    text.write_text("not hdf5\n")
    _fails(65, text, "--user", "1", contains=("not an HDF5 file",))
    _fails(66, m, "--users", tmp_path / "ids.txt", contains=("ids.txt",))
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    _fails(65, m, "--users", empty, contains=("no ids",))
    out = tmp_path / "r.csv"
    out.write_text("keep me\n")
    _fails(73, m, "--user", "1", "-o", out, contains=("output exists", "--force"))
    assert out.read_text() == "keep me\n"
    _ok(m, "--user", "1", "-o", out, "--force")
    assert out.read_text().startswith("user,rank,item,score\n")
    _fails(73, m, "--user", "1", "-o", tmp_path / "no" / "r.csv", contains=("directory",))


# ------------------------------------------------------------------ config
def test_config_file_and_print_config(models, tmp_path):
    cfg = tmp_path / "rec.yaml"
    cfg.write_text(f"recommend:\n  model: {models['svd']}\n  users: 1,2\n  n: 2\n")
    result = _ok("--config", cfg)
    assert len(_table(result.stdout)[1]) == 4
    printed = _ok(models["svd"], "--user", "3", "--user", "4", "--include-seen",
                  "--print-config").stdout  # fmt: skip
    assert "command: recommend" in printed and "users: 3,4" in printed
    assert "exclude_seen: false" in printed
    again = _ok("--config", cfg, "--set", "recommend.n=1", "-n", "3")
    assert len(_table(again.stdout)[1]) == 2 * 3  # the flag beats --set


# -------------------------------------------------------------- subprocess
def test_real_process(models):
    ok = run_cli("recommend", str(models["svd"]), "--user", "1", "-n", "2")
    assert ok.returncode == 0 and ok.stderr == b""
    assert ok.stdout.decode().splitlines()[0] == "user,rank,item,score"
    assert len(ok.stdout.decode().splitlines()) == 3
    bad = run_cli("recommend", str(models["svd"]), "--user", "nobody")
    assert bad.returncode == 65 and bad.stdout == b""
    assert bad.stderr.decode().count("\n") == 1 and "'nobody'" in bad.stderr.decode()


def test_closed_pipe_is_not_an_error(models):
    producer = subprocess.Popen(
        [sys.executable, "-m", "mfcli", "recommend", str(models["svd"]), "--all", "-n", "50"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    first = producer.stdout.readline()
    producer.stdout.close()  # like `| head -1`
    code = producer.wait(timeout=120)
    assert first == b"user,rank,item,score\n"
    assert code == 0, producer.stderr.read()
    assert producer.stderr.read() == b""


def test_from_is_read_with_the_input_options(models, tmp_path):
    new = tmp_path / "new.txt"
    new.write_text("n1;18;5\nn1;36;4\n")
    options = ("--format", "csv", "--sep", ";", "--no-header", "--columns", "0,1,2")
    data = json.loads(_ok(models["svd"], "--from", new, *options, "-n", "2", "--json").stdout)
    assert [x["user"] for x in data["recommendations"]] == ["n1"]
    twice = tmp_path / "twice.csv"
    twice.write_text("user,item,rating\nn1,18,5\nn1,18,4\n")
    _ok(models["svd"], "--from", twice, "--duplicates", "last")
    _fails(65, models["svd"], "--from", twice, "--duplicates", "error", contains=("twice.csv",))
    _fails(2, models["svd"], "--from", twice, "--format", "nope", contains=("format",))
