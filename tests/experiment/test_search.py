"""mfcli.experiment.search: grid expansion and the seeded random search."""

from __future__ import annotations

import pytest

from mfcli.experiment import search
from mfcli.experiment.search import SearchError, grid, random_search

WHERE = ("methods", "sgd", "grid")
RANDOM = ("methods", "sgd", "random")


# ------------------------------------------------------------------- grid
def test_grid_product_first_key_slowest():
    sets = grid({"rank": [5, 10], "reg": [0.1, 0.2, 0.3]}, WHERE)
    assert sets == [
        {"rank": 5, "reg": 0.1},
        {"rank": 5, "reg": 0.2},
        {"rank": 5, "reg": 0.3},
        {"rank": 10, "reg": 0.1},
        {"rank": 10, "reg": 0.2},
        {"rank": 10, "reg": 0.3},
    ]


def test_grid_count_is_product_of_lengths():
    sets = grid({"a": [1, 2], "b": [1, 2, 3], "c": [1, 2, 3, 4]}, WHERE)
    assert len(sets) == 2 * 3 * 4
    assert len({tuple(s.items()) for s in sets}) == 24  # all distinct


def test_grid_single_key_and_single_value():
    assert grid({"reg": [0.5]}, WHERE) == [{"reg": 0.5}]
    assert grid({"reg": [1, 2]}, WHERE) == [{"reg": 1}, {"reg": 2}]


def test_grid_keeps_key_order_of_the_mapping():
    sets = grid({"z": [1], "a": [2]}, WHERE)
    assert list(sets[0]) == ["z", "a"]


@pytest.mark.parametrize("values", [None, [], {}, [1, 2], "reg", 3])
def test_grid_not_a_mapping(values):
    with pytest.raises(SearchError, match=r"^grid: expected a mapping of key: \[values\]") as exc:
        grid(values, WHERE)
    assert exc.value.parts == WHERE


@pytest.mark.parametrize("options", [[], 0.1, "0.1, 0.2", None, {"a": 1}])
def test_grid_value_not_a_non_empty_list(options):
    with pytest.raises(SearchError, match=r"^grid\.reg: expected a non-empty list of values"):
        grid({"rank": [5], "reg": options}, WHERE)
    with pytest.raises(SearchError) as exc:
        grid({"rank": [5], "reg": options}, WHERE)
    assert exc.value.parts == (*WHERE, "reg")


def test_search_error_is_a_value_error():
    assert issubclass(SearchError, ValueError)
    assert SearchError("x").parts == ()


# ---------------------------------------------------------- random search
def spec(space, trials=20, seed=0):
    return {"trials": trials, "seed": seed, "space": space}


def test_random_same_seed_same_draws():
    s = spec(
        {
            "reg": {"loguniform": [0.01, 1]},
            "lr": {"uniform": [0.01, 0.1]},
            "rank": {"int": [2, 50]},
            "schedule": {"choice": ["adagrad", "decay"]},
        }
    )
    assert random_search(s, RANDOM) == random_search(s, RANDOM)


def test_random_different_seed_different_draws():
    a = random_search(spec({"reg": {"uniform": [0, 1]}}, seed=0), RANDOM)
    b = random_search(spec({"reg": {"uniform": [0, 1]}}, seed=1), RANDOM)
    assert a != b


def test_random_seed_defaults_to_zero():
    s = {"trials": 5, "space": {"reg": {"uniform": [0, 1]}}}
    assert random_search(s, RANDOM) == random_search({**s, "seed": 0}, RANDOM)


def test_random_trials_count_and_keys():
    sets = random_search(spec({"a": {"uniform": [0, 1]}, "b": {"int": [1, 3]}}, trials=7), RANDOM)
    assert len(sets) == 7
    assert all(list(s) == ["a", "b"] for s in sets)


def test_random_uniform_inside_bounds():
    sets = random_search(spec({"x": {"uniform": [0.25, 0.75]}}, trials=200), RANDOM)
    values = [s["x"] for s in sets]
    assert all(isinstance(v, float) for v in values)
    assert all(0.25 <= v <= 0.75 for v in values)
    assert len(set(values)) > 50  # really drawn, not constant


def test_random_loguniform_inside_bounds_and_spread_over_decades():
    sets = random_search(spec({"x": {"loguniform": [1e-3, 10.0]}}, trials=300), RANDOM)
    values = [s["x"] for s in sets]
    assert all(1e-3 <= v <= 10.0 for v in values)
    # log-uniform: about a quarter of the draws in each decade, so some below 1e-2
    assert sum(v < 1e-2 for v in values) > 30
    assert sum(v > 1.0 for v in values) > 30


def test_random_int_inclusive_bounds_and_integer_type():
    sets = random_search(spec({"k": {"int": [1, 3]}}, trials=200), RANDOM)
    values = [s["k"] for s in sets]
    assert all(type(v) is int for v in values)
    assert set(values) == {1, 2, 3}  # both ends are reachable


def test_random_int_float_written_bounds_give_ints():
    sets = random_search(spec({"k": {"int": [4.0, 4.0]}}, trials=3), RANDOM)
    assert [s["k"] for s in sets] == [4, 4, 4]
    assert all(type(s["k"]) is int for s in sets)


def test_random_equal_bounds_allowed():
    sets = random_search(spec({"x": {"uniform": [0.5, 0.5]}}, trials=3), RANDOM)
    assert [s["x"] for s in sets] == [0.5, 0.5, 0.5]


def test_random_choice_draws_only_listed_values():
    options = ["adagrad", "decay", 3, None]
    sets = random_search(spec({"c": {"choice": options}}, trials=200), RANDOM)
    values = [s["c"] for s in sets]
    assert all(v in options for v in values)
    assert {str(v) for v in values} == {str(o) for o in options}


def test_random_choice_of_one():
    assert random_search(spec({"c": {"choice": [7]}}, trials=2), RANDOM) == [{"c": 7}, {"c": 7}]


def test_random_values_rounded_to_four_significant_digits():
    sets = random_search(
        spec({"u": {"uniform": [0.0, 1000.0]}, "l": {"loguniform": [1e-6, 1e3]}}, trials=100),
        RANDOM,
    )
    for s in sets:
        for v in s.values():
            assert v == float(f"{v:.4g}")
            digits = f"{v:.10e}".split("e")[0].replace(".", "").rstrip("0")
            assert len(digits) <= 4


def test_short_rounding():
    assert search._short(0.123456789) == 0.1235
    assert search._short(123456.0) == 123500.0
    assert search._short(1.0) == 1.0


def test_random_rounding_keeps_values_inside_fine_bounds():
    sets = random_search(spec({"x": {"uniform": [1.23441, 1.23449]}}, trials=10), RANDOM)
    assert all(1.23441 <= s["x"] <= 1.23449 for s in sets)


def test_random_accepts_number_like_lists():
    # bounds may be ints; they are taken as floats for uniform
    sets = random_search(spec({"x": {"uniform": [0, 2]}}, trials=5), RANDOM)
    assert all(isinstance(s["x"], float) and 0 <= s["x"] <= 2 for s in sets)


def test_random_accepts_yaml_exponent_strings():
    sets = random_search(spec({"reg": {"loguniform": ["1e-4", "1e-1"]}}, trials=5), RANDOM)
    assert all(1e-4 <= s["reg"] <= 1e-1 for s in sets)


def test_random_infinite_bounds_are_a_search_error():
    with pytest.raises(SearchError):
        random_search(spec({"x": {"uniform": [0.0, float("inf")]}}), RANDOM)


def test_random_huge_int_bounds_are_a_search_error():
    with pytest.raises(SearchError):
        random_search(spec({"k": {"int": [1, 10**23]}}), RANDOM)


# ------------------------------------------------------------ random errors
def check_error(spec_, message, parts):
    with pytest.raises(SearchError) as exc:
        random_search(spec_, RANDOM)
    assert str(exc.value) == message
    assert exc.value.parts == parts
    return exc.value


@pytest.mark.parametrize("value", [None, [], "trials: 3", 5])
def test_random_not_a_mapping(value):
    check_error(value, "random: expected a mapping with trials, seed and space", RANDOM)


def test_random_unknown_key():
    s = {**spec({"x": {"uniform": [0, 1]}}), "trails": 3}
    check_error(s, "random.trails: unknown key (use trials, seed, space)", (*RANDOM, "trails"))


def test_random_unknown_keys_first_in_sorted_order_reported():
    s = {**spec({"x": {"uniform": [0, 1]}}), "zz": 1, "aa": 2}
    check_error(s, "random.aa: unknown key (use trials, seed, space)", (*RANDOM, "aa"))


@pytest.mark.parametrize("trials", [0, -1, True, False, 2.0, "3", None])
def test_random_trials_must_be_int_at_least_one(trials):
    s = {"trials": trials, "space": {"x": {"uniform": [0, 1]}}}
    if trials is None:
        s.pop("trials")
    check_error(s, "random.trials: expected an integer >= 1", (*RANDOM, "trials"))


@pytest.mark.parametrize("seed", [-1, True, 1.5, "0"])
def test_random_seed_must_be_int_at_least_zero(seed):
    s = spec({"x": {"uniform": [0, 1]}}, seed=seed)
    check_error(s, "random.seed: expected an integer >= 0", (*RANDOM, "seed"))


@pytest.mark.parametrize("space", [None, {}, [], "reg"])
def test_random_space_must_be_a_non_empty_mapping(space):
    s = {"trials": 2, "space": space}
    check_error(s, "random.space: expected a mapping of key: {distribution: ...}", RANDOM)


@pytest.mark.parametrize("dist", [0.1, [0, 1], {}, {"uniform": [0, 1], "int": [1, 2]}, "uniform"])
def test_random_distribution_must_be_one_key_mapping(dist):
    check_error(
        spec({"reg": dist}),
        "random.space.reg: expected one of {uniform, loguniform, int, choice: ...}",
        (*RANDOM, "space", "reg"),
    )


def test_random_unknown_distribution_name():
    check_error(
        spec({"reg": {"normal": [0, 1]}}),
        "random.space.reg: unknown distribution 'normal' (use uniform, loguniform, int, choice)",
        (*RANDOM, "space", "reg"),
    )


@pytest.mark.parametrize("kind", ["uniform", "loguniform", "int", "choice"])
@pytest.mark.parametrize("args", [[], 1, "0,1", None])
def test_random_distribution_args_must_be_a_list(kind, args):
    check_error(
        spec({"reg": {kind: args}}),
        f"random.space.reg.{kind}: expected a list",
        (*RANDOM, "space", "reg"),
    )


@pytest.mark.parametrize("kind", ["uniform", "loguniform", "int"])
@pytest.mark.parametrize("args", [[2, 1], [1], [1, 2, 3], [0, "x"], [True, 2], [None, 1]])
def test_random_bounds_low_high(kind, args):
    check_error(
        spec({"reg": {kind: args}}),
        f"random.space.reg.{kind}: expected [low, high] with low <= high",
        (*RANDOM, "space", "reg"),
    )


@pytest.mark.parametrize("args", [[1.5, 3], [1, 2.5], [0.1, 0.9]])
def test_random_int_bounds_must_be_integers(args):
    check_error(
        spec({"rank": {"int": args}}),
        "random.space.rank.int: bounds must be integers",
        (*RANDOM, "space", "rank"),
    )


@pytest.mark.parametrize("args", [[0, 1], [-1, 1], [-2.0, -1.0], [0.0, 0.0]])
def test_random_loguniform_bounds_must_be_positive(args):
    check_error(
        spec({"reg": {"loguniform": args}}),
        "random.space.reg.loguniform: bounds must be > 0",
        (*RANDOM, "space", "reg"),
    )


def test_random_error_names_the_offending_key_among_several():
    s = spec({"ok": {"uniform": [0, 1]}, "bad": {"int": [0.5, 2]}})
    check_error(s, "random.space.bad.int: bounds must be integers", (*RANDOM, "space", "bad"))
