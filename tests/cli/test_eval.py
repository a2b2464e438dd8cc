"""`mfcli eval`: files in, metrics out, gates, --write, cold start, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mfcli.data import Matrix
from mfcli.evaluate.metrics import DEFINITIONS, evaluate
from mfcli.io import read_matrix
from mfcli.io.results import Result, read_result, write_result
from tests.cli.helpers import invoke, run_cli

N_USERS, N_ITEMS, K = 40, 25, 3


@pytest.fixture(scope="module")
def planted():
    """Factors, their labels, and the training entries (every third pair)."""
    rng = np.random.default_rng(5)
    row = rng.normal(size=(N_USERS, K))
    col = rng.normal(size=(N_ITEMS, K))
    users = np.arange(N_USERS) * 7 + 100  # ids that are not 0..n-1
    items = np.array([f"item{j:02d}" for j in range(N_ITEMS)])
    pairs = [(u, i) for u in range(N_USERS) for i in range(N_ITEMS)]
    train_pairs = [p for t, p in enumerate(pairs) if t % 3 == 0]
    test_pairs = [p for t, p in enumerate(pairs) if t % 3 == 1]
    return row, col, users, items, train_pairs, test_pairs


def _model_file(tmp_path, planted, *, method="als", train=True, name="m.h5"):
    row, col, users, items, train_pairs, _ = planted
    r, c = np.array(train_pairs).T
    train_matrix = Matrix.from_coo(r, c, (row[r] * col[c]).sum(1), (N_USERS, N_ITEMS))
    result = Result(
        method,
        config_yaml="command: als\n",
        factors={"row": row, "col": col},
        labels={"row": users, "col": items},
        train=train_matrix if train else None,
    )
    path = tmp_path / name
    write_result(result, path)
    return path


def _triplets(path, planted, pairs, *, noise=0.0, extra_user=None):
    row, col, users, items, _, _ = planted
    rng = np.random.default_rng(1)
    lines = ["user,item,rating"]
    for u, i in pairs:
        value = float(row[u] @ col[i]) + noise * rng.normal()
        lines.append(f"{users[u]},{items[i]},{value!r}")
    if extra_user is not None:
        lines.append(f"{extra_user},{items[0]},1.0")
    path.write_text("\n".join(lines) + "\n")
    return path


def _json(result):
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_exact_predictions_give_zero_errors(tmp_path, planted):
    model = _model_file(tmp_path, planted)
    test = _triplets(tmp_path / "test.csv", planted, planted[5])
    out = _json(invoke("eval", str(model), str(test), "--metrics", "rmse,mae", "--json"))
    assert out["values"]["rmse"] == pytest.approx(0, abs=1e-9)
    assert out["values"]["mae"] == pytest.approx(0, abs=1e-9)
    assert out["entries"] == out["test_entries"] == len(planted[5])
    assert out["unseen_users"] == out["unseen_items"] == 0


def test_values_equal_the_library_on_the_same_files(tmp_path, planted):
    model = _model_file(tmp_path, planted)
    test = _triplets(tmp_path / "test.csv", planted, planted[5], noise=0.3)
    names = "rmse,mae,precision@5,recall@5,ndcg@5,map@5,hit_rate@5,coverage@5,auc"
    out = _json(
        invoke("eval", str(model), str(test), "--metrics", names, "--relevance-threshold", "0.5",
               "--json")
    )  # fmt: skip
    expected = evaluate(
        read_result(model), read_matrix(str(test)), metrics=names, relevance_threshold=0.5
    )
    assert list(out["values"]) == names.split(",")
    for name, value in expected.values.items():
        assert out["values"][name] == pytest.approx(value, abs=1e-12), name
    assert out["excluded_training"] is True
    assert out["ranking_users"] == expected.ranking_users > 0


def test_table_output_and_default_metrics(tmp_path, planted):
    model = _model_file(tmp_path, planted)
    test = _triplets(tmp_path / "test.csv", planted, planted[5], noise=0.3)
    result = invoke("eval", str(model), str(test))
    assert result.exit_code == 0, result.output
    for name in ("rmse", "mae", "precision@10", "recall@10", "ndcg@10"):
        assert name in result.stdout
    assert "unseen in training: 0 users, 0 items (drop)" in result.stdout
    assert invoke("eval", str(model), str(test), "-q").stdout == ""


def test_train_file_replaces_the_stored_train(tmp_path, planted):
    model = _model_file(tmp_path, planted, train=False)
    test = _triplets(tmp_path / "test.csv", planted, planted[5], noise=0.3)
    train = _triplets(tmp_path / "train.csv", planted, planted[4])
    without = _json(invoke("eval", str(model), str(test), "--metrics", "ndcg@5", "--json"))
    with_train = _json(
        invoke("eval", str(model), str(test), "--train", str(train), "--metrics", "ndcg@5",
               "--json")
    )  # fmt: skip
    assert without["excluded_training"] is False and with_train["excluded_training"] is True
    stored = _json(
        invoke("eval", str(_model_file(tmp_path, planted, name="s.h5")), str(test), "--metrics",
               "ndcg@5", "--json")
    )  # fmt: skip
    assert with_train["values"]["ndcg@5"] == pytest.approx(stored["values"]["ndcg@5"], abs=1e-12)


@pytest.mark.parametrize(
    ("gate", "code"),
    [("rmse>0.95", 0), ("rmse<0.95", 3), ("ndcg@10<=1", 3), ("ndcg@10>=0", 3), ("mae>=10", 0)],
)
def test_fail_if_gates(tmp_path, planted, gate, code):
    model = _model_file(tmp_path, planted)
    test = _triplets(tmp_path / "test.csv", planted, planted[5], noise=0.3)
    metrics = "rmse,mae,ndcg@10"
    result = invoke("eval", str(model), str(test), "--metrics", metrics, "--fail-if", gate)
    assert result.exit_code == code, result.output
    assert "rmse" in result.stdout  # the metrics are printed whatever the gates say
    if code == 3:
        line = result.stderr.strip()
        assert line.startswith("error: ") and "\n" not in line and f"(--fail-if {gate})" in line
        assert "failed" in result.stdout
    else:
        assert result.stderr == "" and "passed" in result.stdout


def test_several_gates_report_every_failure(tmp_path, planted):
    model = _model_file(tmp_path, planted)
    test = _triplets(tmp_path / "test.csv", planted, planted[5], noise=0.3)
    result = invoke("eval", str(model), str(test), "--metrics", "rmse,mae",
                    "--fail-if", "rmse<9", "--fail-if", "mae<9", "--fail-if", "mae>9")  # fmt: skip
    assert result.exit_code == 3
    assert "rmse<9" in result.stderr and "mae<9" in result.stderr and "mae>9" not in result.stderr


def test_gate_exit_code_in_a_real_process(tmp_path, planted):
    model = _model_file(tmp_path, planted)
    test = _triplets(tmp_path / "test.csv", planted, planted[5], noise=0.3)
    proc = run_cli("eval", str(model), str(test), "--metrics", "rmse", "--fail-if", "rmse>0")
    assert proc.returncode == 3
    assert proc.stderr.decode().count("\n") == 1 and b"Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--metrics", "rmse", "--fail-if", "ndcg@10<0.1"], "ndcg@10 is not among the metrics"),
        (["--metrics", "nDGC@10"], "did you mean 'ndcg@10'"),
        (["--metrics", "precision"], "needs a list length"),
        (["--fail-if", "rmse=1"], "invalid --fail-if"),
        (["--cold-start", "ignore"], "expected one of drop, mean, error"),
    ],
)
def test_usage_errors_exit_2(tmp_path, planted, args, message):
    model = _model_file(tmp_path, planted)
    test = _triplets(tmp_path / "test.csv", planted, planted[5])
    result = invoke("eval", str(model), str(test), *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr and result.stderr.count("\n") == 1


def test_missing_arguments_exit_2(tmp_path, planted):
    model = _model_file(tmp_path, planted)
    assert invoke("eval").exit_code == 2
    result = invoke("eval", str(model))
    assert result.exit_code == 2 and "no test file given" in result.stderr


def test_unreadable_and_invalid_files(tmp_path, planted):
    model = _model_file(tmp_path, planted)
    test = _triplets(tmp_path / "test.csv", planted, planted[5])
    missing = invoke("eval", str(tmp_path / "none.h5"), str(test))
    assert missing.exit_code == 66 and "none.h5" in missing.stderr
    assert invoke("eval", str(model), str(tmp_path / "none.csv")).exit_code == 66
    not_result = tmp_path / "plain.h5"
    not_result.write_bytes(b"not hdf5 at all")
    bad = invoke("eval", str(not_result), str(test))
    assert bad.exit_code == 65 and "plain.h5" in bad.stderr
    broken = tmp_path / "broken.csv"
    broken.write_text("user,item,rating\n100,item00,1\n107,item01,x\n")
    bad_test = invoke("eval", str(model), str(broken))
    assert bad_test.exit_code == 65 and "broken.csv:3" in bad_test.stderr


def test_cold_start_policies(tmp_path, planted):
    model = _model_file(tmp_path, planted)
    test = _triplets(tmp_path / "test.csv", planted, planted[5], extra_user=99999)
    dropped = _json(invoke("eval", str(model), str(test), "--metrics", "rmse", "--json"))
    assert dropped["unseen_users"] == 1 and dropped["unseen_entries"] == 1
    assert dropped["entries"] == len(planted[5])
    error = invoke("eval", str(model), str(test), "--cold-start", "error")
    assert error.exit_code == 65 and "1 test users and 0 test items" in error.stderr
    mean = _json(
        invoke("eval", str(model), str(test), "--metrics", "rmse", "--cold-start", "mean",
               "--json")
    )  # fmt: skip
    assert mean["entries"] == len(planted[5]) + 1


def test_write_records_metrics_and_keeps_the_rest(tmp_path, planted):
    model = _model_file(tmp_path, planted)
    before = read_result(model)
    test = _triplets(tmp_path / "test.csv", planted, planted[5], noise=0.3)
    out = _json(invoke("eval", str(model), str(test), "--metrics", "rmse,ndcg@5", "--write",
                       "--json"))  # fmt: skip
    after = read_result(model)
    assert after.metrics == pytest.approx(out["values"])
    assert after.metrics_split["test"] == str(test)
    assert after.metrics_split["train"] == "model /train"
    assert len(after.metrics_split["test_sha256"]) == 64
    np.testing.assert_array_equal(after.factors["row"], before.factors["row"])
    np.testing.assert_array_equal(after.labels["col"], before.labels["col"])
    assert after.created_utc == before.created_utc and after.config_yaml == before.config_yaml
    # a second run adds to the metrics and replaces those of the same name
    invoke("eval", str(model), str(test), "--metrics", "mae", "--write")
    assert set(read_result(model).metrics) == {"rmse", "ndcg@5", "mae"}


def test_write_leaves_the_model_alone_when_reading_fails(tmp_path, planted):
    model = _model_file(tmp_path, planted)
    data = model.read_bytes()
    broken = tmp_path / "broken.csv"
    broken.write_text("user,item,rating\n100,item00,x\n")
    assert invoke("eval", str(model), str(broken), "--write").exit_code == 65
    assert model.read_bytes() == data


def test_print_config_round_trip(tmp_path, planted):
    model = _model_file(tmp_path, planted)
    test = _triplets(tmp_path / "test.csv", planted, planted[5], noise=0.3)
    printed = invoke("eval", str(model), str(test), "--metrics", "rmse,ndcg@5", "--fail-if",
                     "rmse>5", "--cold-start", "mean", "--print-config")  # fmt: skip
    assert printed.exit_code == 0
    text = printed.stdout
    assert "command: eval" in text and "fail_if: rmse>5" in text and "cold_start: mean" in text
    config = tmp_path / "eval.yaml"
    config.write_text(text)
    replay = _json(invoke("eval", "--config", str(config), "--json"))
    direct = _json(invoke("eval", str(model), str(test), "--metrics", "rmse,ndcg@5",
                          "--cold-start", "mean", "--json"))  # fmt: skip
    assert replay["values"] == direct["values"]
    assert replay["gates"] == {"rmse>5": "passed"}


def test_help_states_every_definition():
    text = invoke("eval", "--help").stdout
    for name in DEFINITIONS:
        assert name in text, name
    assert "min(K, |rel|)" in text  # how precision differs from implicit's
