"""The metrics API against hand-computed cases and a naive per-user reference."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp

from mfcli.data import Matrix
from mfcli.errors import EXIT_DATA, EXIT_USAGE, InputDataError, UsageError
from mfcli.evaluate.metrics import (
    DEFINITIONS,
    MetricName,
    check_fail_if,
    evaluate,
    parse_fail_if,
    parse_metric,
    parse_metrics,
    predict,
    top_k,
)
from mfcli.evaluate.model import ScoringModel, map_labels, model_indices, to_model_space
from mfcli.io.results import Result, read_result, write_result
from tests.evaluate.reference import reference_evaluate

ALL_AT_K = ("precision", "recall", "ndcg", "map", "hit_rate", "coverage")


def metric_names(ks):
    return ["rmse", "mae", "auc"] + [f"{b}@{k}" for k in ks for b in ALL_AT_K]


def coo(triplets, shape, **kwargs):
    rows, cols, vals = zip(*triplets, strict=True) if triplets else ((), (), ())
    return Matrix.from_coo(
        np.array(rows, dtype=np.int64),
        np.array(cols, dtype=np.int64),
        np.array(vals, dtype=np.float64),
        shape,
        duplicates="last",
        **kwargs,
    )


def assert_values(got: dict, want: dict):
    assert set(got) <= set(want)
    for name, value in got.items():
        if math.isnan(want[name]):
            assert math.isnan(value), name
        else:
            assert value == pytest.approx(want[name], abs=1e-9, rel=0), name


# ------------------------------------------------------- hand-computed cases
# Item factors are the identity, so score(u, i) = USER[u][i].
USER = [
    [5.0, 4.0, 3.0, 2.0, 1.0],  # ranks items 0 1 2 3 4
    [1.0, 2.0, 3.0, 4.0, 5.0],  # ranks items 4 3 2 1 0
    [0.0, 0.0, 0.0, 0.0, 0.0],  # all tied: lower index first, 0 1 2 3 4
]


def identity_model(dtype=np.float64, **kwargs):
    return ScoringModel(np.array(USER, dtype=dtype), np.eye(5, dtype=dtype), **kwargs)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_hand_case_ranking_without_training(dtype):
    # Relevant: u0 {1, 3}, u1 {4}, u2 {2, 3, 4}; K = 2.
    # u0 top [0, 1] hits [0, 1]: P 1/2, R 1/2, DCG 1/log2(3), IDCG 1 + 1/log2(3)
    #    -> nDCG 1/log2(6); AP (1/2) / 2 = 1/4; hit 1
    # u1 top [4, 3] hits [1, 0]: P 1/2, R 1, nDCG 1, AP 1, hit 1
    # u2 top [0, 1] (ties by index) hits [0, 0]: all 0
    # coverage {0, 1, 3, 4} / 5 = 0.8
    # AUC u0: item 1 (4) beats 2 (3) and 4 (1), loses to 0 (5); item 3 (2) beats 4
    #    only -> 3/6. u1: 4/4. u2: all tied -> 6 * 1/2 / 6 = 1/2. Mean 2/3.
    test = coo([(0, 1, 1), (0, 3, 1), (1, 4, 1), (2, 2, 1), (2, 3, 1), (2, 4, 1)], (3, 5))
    names = ["precision@2", "recall@2", "ndcg@2", "map@2", "hit_rate@2", "coverage@2", "auc"]
    report = evaluate(identity_model(dtype), test, None, names)
    assert report.values == pytest.approx(
        {
            "precision@2": 1 / 3,
            "recall@2": 0.5,
            "ndcg@2": (1 / math.log2(6) + 1) / 3,
            "map@2": 1.25 / 3,
            "hit_rate@2": 2 / 3,
            "coverage@2": 0.8,
            "auc": 2 / 3,
        },
        abs=1e-12,
    )
    assert report.ranking_users == 3 and report.auc_users == 3
    assert not report.excluded_training and report.train_overlap == 0


def test_hand_case_training_excluded_threshold_and_short_lists():
    # Train: u0 {0}, u1 {3, 4}, u2 {0, 1, 2}. Threshold 4:
    # relevant u0 {1, 3} (item 2 rated 3 is not), u1 {2}, u2 none (not ranked).
    # K = 3: u0 candidates 1 2 3 4 -> top [1, 2, 3] hits [1, 0, 1]: P 2/3, R 1,
    #    nDCG (1 + 1/2) / (1 + 1/log2(3)), AP (1 + 2/3) / 2 = 5/6
    # u1 candidates 0 1 2 -> top [2, 1, 0] hits [1, 0, 0]: P 1/3, R 1, nDCG 1, AP 1
    # K = 4: u1 has 3 candidates, P = 1/4 still divides by K; u0 P 2/4 -> 3/8
    # AUC u0: 1 (4) beats 2 (3), 4 (1); 3 (2) beats 4 only -> 3/4. u1: 2/2. Mean 7/8.
    # rmse/mae (every entry, no threshold): errors -1 0 -2 -1 -1 -1 -> sqrt(8/6), 1
    train = coo([(0, 0, 5), (1, 4, 5), (1, 3, 5), (2, 0, 5), (2, 1, 5), (2, 2, 5)], (3, 5))
    test = coo([(0, 1, 5), (0, 2, 3), (0, 3, 4), (1, 2, 4), (1, 0, 2), (2, 3, 1)], (3, 5))
    names = ["rmse", "mae", "precision@3", "recall@3", "ndcg@3", "map@3", "precision@4"]
    report = evaluate(identity_model(), test, train, names + ["auc"], relevance_threshold=4)
    assert report.values == pytest.approx(
        {
            "rmse": math.sqrt(8 / 6),
            "mae": 1.0,
            "precision@3": 0.5,
            "recall@3": 1.0,
            "ndcg@3": (1.5 / (1 + 1 / math.log2(3)) + 1) / 2,
            "map@3": (5 / 6 + 1) / 2,
            "precision@4": 3 / 8,
            "auc": 7 / 8,
        },
        abs=1e-12,
    )
    assert list(report.values) == names + ["auc"]
    assert report.ranking_users == 2 and report.entries == 6 and report.excluded_training


def labelled_model():
    # score = 3 + user bias + item bias + user * item
    return ScoringModel(
        np.array([[1.0], [0.0], [2.0]]),
        np.array([[1.0], [0.5]]),
        global_bias=3.0,
        user_bias=np.array([0.5, -0.5, 0.0]),
        item_bias=np.array([1.0, -1.0]),
        user_labels=np.array(["a", "b", "c"]),
        item_labels=np.array([10, 20]),
    )


def labelled_test():
    # user z and item 30 are unknown to the model
    return Matrix.from_coo(
        np.array([0, 0, 1, 2, 2]),
        np.array([0, 2, 1, 0, 2]),
        np.array([5.0, 4.0, 2.0, 3.0, 1.0]),
        (3, 3),
        row_labels=np.array(["a", "b", "z"]),
        col_labels=np.array([10, 20, 30]),
    )


def test_hand_case_cold_start_drop():
    # (a,10,5): 3 + .5 + 1 + 1 = 5.5 -> +0.5; (b,20,2): 3 - .5 - 1 + 0 = 1.5 -> -0.5
    # Ranking, K = 1: a ranks 10 (5.5) over 20 (3.0): hit; b ranks 10 (3.5) over 20 (1.5):
    # miss. AUC a 1, b 0.
    names = ["rmse", "mae", "precision@1", "recall@1", "auc"]
    report = evaluate(labelled_model(), labelled_test(), None, names)
    assert report.values == pytest.approx(
        {"rmse": 0.5, "mae": 0.5, "precision@1": 0.5, "recall@1": 0.5, "auc": 0.5}, abs=1e-12
    )
    assert (report.unseen_users, report.unseen_items, report.unseen_entries) == (1, 1, 3)
    assert (report.entries, report.users, report.items) == (2, 2, 2)
    assert (report.test_entries, report.test_users, report.test_items) == (5, 3, 3)


def test_hand_case_cold_start_mean():
    # Unknown sides fall back to global + known-side bias:
    # (a,30,4): 3 + .5 = 3.5 -> -0.5; (z,10,3): 3 + 1 = 4 -> +1; (z,30,1): 3 -> +2
    # errors .5 -.5 -.5 1 2: rmse sqrt(5.75 / 5), mae 4.5 / 5.
    # Ranking: a's item 30 stays relevant but can never be hit: |rel| = 2, recall 1/2;
    # z is dropped. precision@1 (1 + 0) / 2, recall@1 (1/2 + 0) / 2.
    # AUC a: 10 beats 20 (1 pair of 2 x 1) -> 1/2; b 0 -> 1/4.
    names = ["rmse", "mae", "precision@1", "recall@1", "auc"]
    report = evaluate(labelled_model(), labelled_test(), None, names, cold_start="mean")
    assert report.values == pytest.approx(
        {
            "rmse": math.sqrt(1.15),
            "mae": 0.9,
            "precision@1": 0.5,
            "recall@1": 0.25,
            "auc": 0.25,
        },
        abs=1e-12,
    )
    assert report.entries == 5 and report.ranking_users == 2 and report.relevant_entries == 3


def test_hand_case_cold_start_error():
    with pytest.raises(InputDataError, match="1 test users and 1 test items") as info:
        evaluate(labelled_model(), labelled_test(), None, ["rmse"], cold_start="error")
    assert info.value.exit_code == EXIT_DATA


def test_cold_start_error_passes_when_everything_is_known():
    test = coo([(0, 1, 1), (2, 4, 1)], (3, 5))
    report = evaluate(identity_model(), test, None, ["rmse"], cold_start="error")
    assert report.unseen_users == report.unseen_items == 0


def test_mean_without_biases_uses_training_mean_and_needs_it():
    model = ScoringModel(np.ones((2, 1)), np.ones((2, 1)))
    train = coo([(0, 0, 2.0), (1, 0, 4.0)], (2, 2))  # item 1 has no training entry
    test = coo([(0, 1, 5.0), (1, 2, 1.0)], (2, 3))  # item 2 has no factors
    report = evaluate(model, test, train, ["mae"], cold_start="mean")
    assert report.values["mae"] == pytest.approx(2.0)  # predicts the mean 3 for both
    assert report.unseen_items == 2
    with pytest.raises(UsageError, match="needs a model with biases"):
        evaluate(model, test, None, ["mae"], cold_start="mean")


def test_unknown_cold_start_policy():
    with pytest.raises(UsageError, match="did you mean 'drop'") as info:
        evaluate(identity_model(), coo([(0, 0, 1)], (3, 5)), None, ["rmse"], cold_start="dorp")
    assert info.value.exit_code == EXIT_USAGE


def test_no_relevant_users_gives_nan():
    test = coo([(0, 1, 1.0)], (3, 5))
    report = evaluate(identity_model(), test, None, ["ndcg@5", "auc", "coverage@5"], 4.0)
    assert all(math.isnan(v) for v in report.values.values())
    assert report.ranking_users == 0 and report.auc_users == 0
    assert report.as_dict()["values"]["ndcg@5"] is None


# ------------------------------------------------ random cases vs reference
def random_case(seed, *, integer, dtype=np.float64, biases=False):
    """A model, a training matrix with empty rows/columns, and a test matrix
    larger than the model (unknown users and items), with train overlap."""
    rng = np.random.default_rng(seed)
    n_users, n_items, k = 23, 31, 3
    if integer:  # exact scores in every dtype: many exact ties
        u = rng.integers(-2, 3, (n_users, k)).astype(dtype)
        v = rng.integers(-2, 3, (n_items, k)).astype(dtype)
    else:
        u = rng.normal(size=(n_users, k)).astype(dtype)
        v = rng.normal(size=(n_items, k)).astype(dtype)
    bias = None
    if biases:
        bias = (3.5, rng.integers(-2, 3, n_users) / 4, rng.integers(-2, 3, n_items) / 4)
    model = ScoringModel(
        u,
        v,
        global_bias=None if bias is None else bias[0],
        user_bias=None if bias is None else bias[1],
        item_bias=None if bias is None else bias[2],
    )
    train_rows = rng.integers(0, n_users - 2, 160)  # last users have no training entries
    train_cols = rng.integers(0, n_items - 3, 160)  # nor do the last items
    train_vals = rng.integers(1, 6, 160)
    train = list(zip(train_rows.tolist(), train_cols.tolist(), train_vals.tolist(), strict=True))
    test_rows = rng.integers(0, n_users + 3, 220)
    test_cols = rng.integers(0, n_items + 4, 220)
    test_vals = rng.integers(1, 6, 220)
    test = list(zip(test_rows.tolist(), test_cols.tolist(), test_vals.tolist(), strict=True))
    test += train[:7]  # overlap: never ranked
    train_m = coo(train, (n_users, n_items))
    test_m = coo(test, (n_users + 3, n_items + 4))
    return model, train_m, test_m, bias


def as_triplets(matrix):
    dense = matrix.to_dense()
    rows, cols = np.nonzero(dense)
    return [(int(r), int(c), float(dense[r, c])) for r, c in zip(rows, cols, strict=True)]


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("cold_start", ["drop", "mean"])
@pytest.mark.parametrize("threshold", [None, 4.0])
def test_random_cases_match_reference(seed, cold_start, threshold):
    integer = seed % 2 == 0
    model, train, test, bias = random_case(seed, integer=integer, biases=seed >= 2)
    ks = [1, 5, 40]  # 40 > every user's candidate count
    report = evaluate(
        model, test, train, metric_names(ks), threshold, cold_start, chunk=[None, 4][seed % 2]
    )
    want = reference_evaluate(
        model.user_factors.tolist(),
        model.item_factors.tolist(),
        as_triplets(test),
        as_triplets(train),
        ks,
        threshold=threshold,
        cold_start=cold_start,
        biases=None if bias is None else (bias[0], list(bias[1]), list(bias[2])),
    )
    assert_values(report.values, want["values"])
    for count in ("entries", "unseen_users", "unseen_items", "ranking_users", "auc_users"):
        assert getattr(report, count) == want[count], count
    assert report.unseen_users >= 5 and report.unseen_items >= 7  # plus any missed by chance
    assert report.train_overlap >= 1


@pytest.mark.parametrize("seed", [4, 5])
def test_random_cases_without_training_match_reference(seed):
    model, _, test, _ = random_case(seed, integer=True)
    ks = [3, 10]
    report = evaluate(model, test, None, metric_names(ks), relevance_threshold=3.0)
    want = reference_evaluate(
        model.user_factors.tolist(),
        model.item_factors.tolist(),
        as_triplets(test),
        None,
        ks,
        threshold=3.0,
    )
    assert_values(report.values, want["values"])
    assert report.unseen_users == 3 and report.unseen_items == 4


def test_float32_model_with_exact_scores_matches_reference():
    model, train, test, _ = random_case(6, integer=True, dtype=np.float32)
    ks = [2, 7]
    report = evaluate(model, test, train, metric_names(ks), relevance_threshold=2.0)
    want = reference_evaluate(
        model.user_factors.tolist(),
        model.item_factors.tolist(),
        as_triplets(test),
        as_triplets(train),
        ks,
        threshold=2.0,
    )
    assert_values(report.values, want["values"])


# ------------------------------------------------------------------ top_k
def naive_top_k(scores, k, excluded):
    items, values = [], []
    for u, row in enumerate(scores.tolist()):
        ranked = sorted(
            (i for i in range(len(row)) if i not in excluded.get(u, ())),
            key=lambda i, row=row: (-row[i], i),
        )[:k]
        items.append(ranked + [-1] * (k - len(ranked)))
        values.append([row[i] for i in ranked] + [-math.inf] * (k - len(ranked)))
    return np.array(items), np.array(values)


@pytest.mark.parametrize("chunk", [None, 1, 7])
def test_top_k_matches_naive_and_ignores_chunking(chunk):
    model, train, _, _ = random_case(8, integer=True, biases=True)
    users = np.arange(model.n_users)
    items, scores = top_k(model, users, 12, exclude=train, chunk=chunk)
    full = (
        model.user_factors @ model.item_factors.T
        + model.global_bias
        + model.user_bias[:, None]
        + model.item_bias[None, :]
    )
    excluded = {}
    for r, c, _ in as_triplets(train):
        excluded.setdefault(r, set()).add(c)
    want_items, want_scores = naive_top_k(full, 12, excluded)
    np.testing.assert_array_equal(items, want_items)
    np.testing.assert_allclose(scores, want_scores, rtol=0, atol=1e-12)


def test_top_k_factor_pair_scipy_exclusion_and_padding():
    u = np.array(USER)
    v = np.eye(5)
    exclude = sp.csr_matrix(np.array([[1, 0, 0, 0, 0], [0, 0, 0, 1, 1], [1, 1, 1, 0, 0]]))
    items, scores = top_k((u, v), np.array([2, 0, 1]), 4, exclude=exclude)
    np.testing.assert_array_equal(items, [[3, 4, -1, -1], [1, 2, 3, 4], [2, 1, 0, -1]])
    assert scores[0, 2] == -np.inf
    items, _ = top_k((u, v), [0], 2, blocked_items=np.array([0, 1]))
    np.testing.assert_array_equal(items, [[2, 3]])


def test_top_k_errors():
    with pytest.raises(UsageError, match="at least 1"):
        top_k(identity_model(), [0], 0)
    with pytest.raises(ValueError, match="model rows"):
        top_k(identity_model(), [3], 1)
    with pytest.raises(UsageError, match="exclusion matrix"):
        top_k(identity_model(), [0], 1, exclude=sp.csr_matrix((2, 5)))
    with pytest.raises(TypeError):
        top_k(np.ones(3), [0], 1)


def test_predict_adds_biases():
    model = labelled_model()
    got = predict(model, np.array([0, 1, 2]), np.array([0, 1, 1]))
    np.testing.assert_allclose(got, [5.5, 1.5, 3 + 0 - 1 + 1.0])


# ------------------------------------------------------- model from a file
def test_svd_result_folds_singular_values_into_users(tmp_path):
    rng = np.random.default_rng(9)
    row, col = rng.normal(size=(6, 2)), rng.normal(size=(4, 2))
    s = np.array([3.0, 0.5])
    write_result(
        Result("svd", factors={"row": row, "col": col, "singular_values": s}), tmp_path / "m.h5"
    )
    model = ScoringModel.from_result(read_result(tmp_path / "m.h5"))
    np.testing.assert_allclose(model.user_factors @ model.item_factors.T, row @ np.diag(s) @ col.T)
    assert model.method == "svd" and not model.has_biases


def test_sgd_result_with_biases_labels_and_train(tmp_path):
    rng = np.random.default_rng(10)
    train = coo([(0, 0, 4.0), (1, 1, 2.0), (2, 1, 5.0)], (3, 2))
    result = Result(
        "sgd",
        factors={"row": rng.normal(size=(3, 2)).astype(np.float32), "col": np.ones((2, 2))},
        biases={"global": 3.0, "row": np.zeros(3), "col": np.array([0.5, -0.5])},
        labels={"row": np.array(["u1", "u2", "u3"]), "col": np.array([7, 9])},
        train=train,
    )
    write_result(result, tmp_path / "m.h5")
    loaded = read_result(tmp_path / "m.h5")
    model = ScoringModel.from_result(loaded)
    assert model.dtype == np.float64  # float32 user and float64 item factors -> common dtype
    assert model.global_bias == 3.0 and model.train is not None
    test = Matrix.from_coo(
        np.array([0, 1]),
        np.array([0, 0]),
        np.array([5.0, 1.0]),
        (2, 1),
        row_labels=np.array(["u3", "u1"]),
        col_labels=np.array([9]),
    )
    # The Result itself is accepted; its /train excludes u3's item 9 and u1's item 7.
    report = evaluate(loaded, test, None, ["rmse", "precision@1"])
    assert report.excluded_training and report.train_overlap == 1
    assert report.entries == 2 and report.ranking_users == 1
    want = predict(model, np.array([2, 0]), np.array([1, 1])) - np.array([5.0, 1.0])
    assert report.values["rmse"] == pytest.approx(float(np.sqrt(np.mean(want**2))))


def test_result_without_factors_is_rejected():
    with pytest.raises(InputDataError, match="no /factors"):
        ScoringModel.from_result(Result("als"))


def test_model_shape_checks():
    with pytest.raises(InputDataError, match="rank"):
        ScoringModel(np.ones((2, 3)), np.ones((2, 2)))
    with pytest.raises(InputDataError, match="user_bias"):
        ScoringModel(np.ones((2, 2)), np.ones((2, 2)), user_bias=np.ones(3))
    with pytest.raises(InputDataError, match="labels"):
        ScoringModel(np.ones((2, 2)), np.ones((2, 2)), item_labels=np.array([1]))


# ------------------------------------------------------------ id matching
def test_map_labels_by_id_by_text_and_by_position():
    np.testing.assert_array_equal(
        map_labels(np.array([30, 10, 20]), np.array([10, 40, 30]), 3, 3), [1, -1, 0]
    )
    np.testing.assert_array_equal(map_labels(np.array(["7", "x"]), np.array([7, 8]), 2, 2), [0, -1])
    np.testing.assert_array_equal(map_labels(None, None, 2, 4), [0, 1, -1, -1])
    assert map_labels(np.array([], dtype=np.int64), np.array([1]), 0, 1).tolist() == [-1]
    with pytest.raises(InputDataError, match="only the file has ids"):
        map_labels(None, np.array([1]), 1, 1)


def test_model_indices_and_training_file_in_its_own_ids():
    model = labelled_model()
    rows, cols = model_indices(model, labelled_test())
    assert rows.tolist() == [0, 1, -1] and cols.tolist() == [0, 1, -1]
    train = Matrix.from_coo(
        np.array([0, 1, 1]),
        np.array([0, 0, 1]),
        np.array([1.0, 2.0, 3.0]),
        (2, 2),
        row_labels=np.array(["c", "q"]),
        col_labels=np.array([20, 10]),
    )
    mapped = to_model_space(model, train)
    assert mapped.shape == (3, 2) and mapped.row_labels is None
    np.testing.assert_array_equal(mapped.to_dense(), [[0, 0], [0, 0], [0, 1]])


# ----------------------------------------------------------- metric names
def test_parse_metric_names_and_aliases():
    assert parse_metric("NDCG@10") == MetricName("ndcg", 10)
    assert parse_metric(" rmse ") == MetricName("rmse")
    assert str(parse_metric("hr@5")) == "hit_rate@5"
    assert str(parse_metric("p@3")) == "precision@3"
    assert [str(m) for m in parse_metrics("rmse, ndcg@10,rmse,auc")] == ["rmse", "ndcg@10", "auc"]


@pytest.mark.parametrize(
    ("text", "message", "hint"),
    [
        ("ndgc@10", "unknown metric", "did you mean 'ndcg@10'"),
        ("presicion@5", "unknown metric", "'precision@5'"),
        ("rsme", "unknown metric", "'rmse'"),
        ("zzz", "unknown metric", "known metrics: rmse"),
        ("precision", "needs a list length", "precision@10"),
        ("recall@0", "positive integer", "recall@10"),
        ("ndcg@x", "positive integer", ""),
        ("rmse@5", "takes no @K", "'rmse'"),
        ("", "invalid metric", ""),
    ],
)
def test_parse_metric_errors(text, message, hint):
    with pytest.raises(UsageError, match=message) as info:
        parse_metric(text)
    assert hint in (info.value.hint or "")
    assert info.value.exit_code == EXIT_USAGE


def test_definitions_cover_every_metric():
    assert set(DEFINITIONS) == {"rmse", "mae", "auc"} | {f"{b}@K" for b in ALL_AT_K}
    assert DEFINITIONS["precision@K"].startswith("hits in the top K / K")


# ---------------------------------------------------------------- fail-if
def test_fail_if_conditions():
    values = {"rmse": 0.97, "ndcg@10": 0.05, "auc": float("nan")}
    failed = check_fail_if(["rmse>0.95", "ndcg@10 < 0.1", "RMSE<=0.5", "auc>=0.5"], values)
    assert [f.condition.text for f in failed] == ["rmse>0.95", "ndcg@10 < 0.1", "auc>=0.5"]
    assert failed[0].message == "rmse = 0.97 > 0.95 (--fail-if rmse>0.95)"
    assert "nan" in failed[2].message
    assert check_fail_if(["rmse>=0.98", "rmse<0.97"], values) == []
    assert check_fail_if(["rmse>=0.97"], values)[0].value == 0.97
    assert parse_fail_if("NDCG@10>=0.2").metric == "ndcg@10"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rmse=0.9", "invalid --fail-if"),
        ("rmse>", "invalid --fail-if"),
        ("rmse>abc", "not a number"),
        ("rmsd>0.9", "unknown metric"),
    ],
)
def test_fail_if_errors(text, message):
    with pytest.raises(UsageError, match=message):
        parse_fail_if(text)


def test_fail_if_on_a_metric_not_computed():
    with pytest.raises(UsageError, match="was not computed"):
        check_fail_if(["mae>1"], {"rmse": 1.0})
