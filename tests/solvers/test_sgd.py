"""Biased MF by blocked SGD: recovery, determinism, resume, divergence, time bins, errors."""

from __future__ import annotations

import numba
import numpy as np
import pytest
import scipy.sparse as sp

from mfcli.data import Matrix
from mfcli.errors import InputDataError, NumericsError, UsageError
from mfcli.solvers import sgd as sgd_mod
from mfcli.solvers.sgd import SGDFit, predict, sgd

DAY = 86400.0


def planted(m=300, n=200, rank=3, density=0.3, noise=0.1, seed=0, lo=1.0, hi=5.0):
    """Ratings ``3 + b_u + b_i + p_u . q_i + noise`` (unclipped), split 80/20."""
    rng = np.random.default_rng(seed)
    P = rng.standard_normal((m, rank)) * 0.5
    Q = rng.standard_normal((n, rank)) * 0.5
    bu = rng.standard_normal(m) * 0.3
    bi = rng.standard_normal(n) * 0.3
    mask = rng.random((m, n)) < density
    r, c = np.nonzero(mask)
    vals = 3.0 + bu[r] + bi[c] + np.einsum("ij,ij->i", P[r], Q[c])
    vals += noise * rng.standard_normal(vals.shape[0])
    test = rng.random(vals.shape[0]) < 0.2
    train = sp.csr_matrix((vals[~test], (r[~test], c[~test])), shape=(m, n))
    return train, (r[test], c[test], vals[test])


def rmse(fit, triplets, times=None):
    r, c, v = triplets
    return float(np.sqrt(np.mean((predict(fit, r, c, times) - v) ** 2)))


@pytest.fixture(scope="module")
def data():
    return planted()


@pytest.fixture
def threads():
    before = numba.get_num_threads()
    yield
    numba.set_num_threads(before)


def test_planted_low_rank_with_biases_is_recovered(data):
    train, test = data
    fit = sgd(train, 5, epochs=40, seed=1, reg=0.1, decay=0.95)
    assert fit.U.shape == (300, 5) and fit.V.shape == (200, 5)
    assert fit.U.dtype == np.float32
    assert fit.row_bias.shape == (300,) and fit.col_bias.shape == (200,)
    assert fit.global_bias == pytest.approx(train.data.mean())
    assert fit.n_iter == fit.best_iter == 40
    assert set(fit.history) >= {"loss", "rmse", "seconds", "lr"}
    assert np.all(np.diff(fit.history["seconds"]) >= 0)
    # the spread of the planted signal is ~0.7; the noise 0.1
    assert rmse(fit, test) < 0.14
    assert fit.history["rmse"][-1] < fit.history["rmse"][0]


@pytest.mark.parametrize("schedule", ["constant", "adagrad"])
def test_other_schedules_learn(data, schedule):
    train, test = data
    lr = {"constant": 0.02, "adagrad": 0.1}[schedule]
    fit = sgd(train, 5, epochs=30, schedule=schedule, lr=lr, reg=0.1, dtype=np.float64)
    assert fit.U.dtype == np.float64
    assert rmse(fit, test) < 0.25


def test_without_biases(data):
    train, test = data
    fit = sgd(train, 5, epochs=40, biases=False, reg=0.1, decay=0.95)
    assert fit.row_bias is None and fit.col_bias is None
    assert fit.global_bias == pytest.approx(train.data.mean())  # still used
    assert rmse(fit, test) < 0.3


@pytest.mark.parametrize("blocks", [4, 8])
def test_same_factors_on_one_and_two_threads(data, blocks, threads, monkeypatch):
    monkeypatch.setattr(sgd_mod, "MIN_RATINGS_PER_THREAD", 1)
    train, _ = data
    fits = []
    for t in (1, min(2, numba.config.NUMBA_NUM_THREADS)):
        numba.set_num_threads(t)
        fits.append(sgd(train, 4, epochs=3, blocks=blocks, seed=7))
    a, b = fits
    assert np.array_equal(a.U, b.U) and np.array_equal(a.V, b.V)
    assert np.array_equal(a.row_bias, b.row_bias) and np.array_equal(a.col_bias, b.col_bias)
    assert np.array_equal(a.history["rmse"], b.history["rmse"])
    c = sgd(train, 4, epochs=3, blocks=blocks, seed=8)
    assert not np.array_equal(a.U, c.U)


def test_blocks_one_is_serial_and_deterministic(data):
    train, _ = data
    a = sgd(train, 3, epochs=2, blocks=1, seed=3)
    b = sgd(train, 3, epochs=2, blocks=1, seed=3)
    assert np.array_equal(a.U, b.U)


def test_resume_continues_old_rows_and_initialises_new(data):
    train, _ = data
    old = train[:250, :150]
    first = sgd(old, 4, epochs=10, seed=2)
    # new ratings: more for old users, plus new users (rows 250..) and items (cols 150..)
    fit0 = sgd(train, 4, epochs=1, seed=2, init=first, lr=1e-12)
    # with a negligible step the old rows stay where they were
    np.testing.assert_allclose(fit0.U[:250], first.U, atol=1e-6)
    np.testing.assert_allclose(fit0.row_bias[:250], first.row_bias, atol=1e-6)
    assert fit0.global_bias == first.global_bias
    # new rows: fresh seeded values, the same a fresh fit of the full matrix starts from
    fresh = sgd(train, 4, epochs=1, seed=2, lr=1e-12)
    np.testing.assert_allclose(fit0.U[250:], fresh.U[250:], atol=1e-6)
    np.testing.assert_allclose(fit0.V[150:], fresh.V[150:], atol=1e-6)
    assert np.abs(fit0.row_bias[250:]).max() < 1e-9  # fresh biases start at 0

    resumed = sgd(train, 4, epochs=5, seed=2, init=first)
    assert resumed.U.shape == (300, 4) and resumed.V.shape == (200, 4)
    # old factors continued: the first epoch starts from a trained model
    cold = sgd(train, 4, epochs=5, seed=2)
    assert resumed.history["rmse"][0] < cold.history["rmse"][0]
    assert resumed.history["rmse"][-1] < resumed.history["rmse"][0]
    assert first.U.shape == (250, 4)  # the given fit is not modified


def test_resume_checks_the_model(data):
    train, _ = data
    first = sgd(train[:100, :100], 4, epochs=1)
    with pytest.raises(UsageError, match="rank"):
        sgd(train, 5, init=first)
    with pytest.raises(UsageError, match="larger"):
        sgd(train[:50], 4, init=first)
    nobias = sgd(train[:100, :100], 4, epochs=1, biases=False)
    with pytest.raises(UsageError, match="no biases"):
        sgd(train, 4, init=nobias)


def test_divergence_restarts_with_a_smaller_step(data):
    train, test = data
    fit = sgd(train, 4, epochs=5, lr=2.0, schedule="constant", reg=1.0, reg_power=0.0)
    assert any("diverged" in note and "restarted" in note for note in fit.notes)
    for a in (fit.U, fit.V, fit.row_bias, fit.col_bias):
        assert np.isfinite(a).all()
    assert fit.history["lr"][0] < 2.0


def test_hopeless_divergence_raises_numerics_error(data):
    train, _ = data
    with pytest.raises(NumericsError) as info:
        sgd(train, 4, epochs=3, lr=1e4, schedule="constant", reg=1.0, reg_power=0.0)
    assert info.value.exit_code == 4
    assert "lower --lr" in info.value.hint


def test_predictions_are_clipped_to_the_training_range():
    rng = np.random.default_rng(5)
    m, n = 60, 40
    r, c = np.nonzero(rng.random((m, n)) < 0.5)
    vals = rng.choice([1.0, 2.0, 3.0, 4.0], r.shape[0])
    X = sp.csr_matrix((vals, (r, c)), shape=(m, n))
    fit = sgd(X, 8, epochs=20, reg=0.0, init_scale=1.0, lr=0.02)
    assert fit.clip == (1.0, 4.0)
    rows, cols = np.meshgrid(np.arange(m), np.arange(n), indexing="ij")
    p = predict(fit, rows.ravel(), cols.ravel())
    assert p.min() >= 1.0 and p.max() <= 4.0
    raw = fit.global_bias + fit.row_bias[:, None] + fit.col_bias[None, :] + fit.U @ fit.V.T
    assert raw.max() > 4.0 or raw.min() < 1.0  # the clip did something


def test_cold_rows_fall_back_to_biases():
    X = sp.csr_matrix(np.array([[5.0, 0, 1.0], [0, 0, 0], [4.0, 0, 2.0]]))
    fit = sgd(X, 3, epochs=5)
    assert np.all(fit.U[1] == 0) and np.all(fit.V[1] == 0)
    assert fit.row_bias[1] == 0 and fit.col_bias[1] == 0
    assert predict(fit, [1], [1])[0] == pytest.approx(fit.global_bias)


def test_early_stopping_keeps_the_best_epoch(data):
    train, test = data
    seen = []

    def validate(fit):
        assert isinstance(fit, SGDFit)
        score = rmse(fit, test)
        seen.append((score, fit.U.copy()))
        return {"rmse": score, "other": 1.0}

    # a large step overfits quickly without regularisation
    fit = sgd(train, 30, epochs=40, reg=0.0, reg_bias=0.0, lr=0.05, schedule="constant",
              validate=validate, patience=3)  # fmt: skip
    scores = [s for s, _ in seen]
    best = int(np.argmin(scores))
    assert fit.best_iter == best + 1
    assert fit.n_iter == fit.best_iter + 3 < 40
    np.testing.assert_array_equal(fit.U, seen[best][1])
    assert rmse(fit, test) == pytest.approx(scores[best])
    assert list(fit.history["rmse"]) != list(fit.history["loss"])  # validation rmse stored
    assert fit.history["other"].shape == (fit.n_iter,)
    assert any("early stop" in note for note in fit.notes)


def test_higher_is_better_and_no_patience(data):
    train, test = data
    values = iter([1.0, 3.0, 2.0, 0.5])
    fit = sgd(train, 4, epochs=4, validate=lambda f: {"ndcg": next(values)},
              higher_is_better=True)  # fmt: skip
    assert fit.n_iter == 4 and fit.best_iter == 2


def test_callback_sees_every_epoch_and_can_stop(data):
    train, _ = data
    calls = []

    def callback(epoch, stats):
        calls.append((epoch, set(stats)))
        return epoch == 3

    fit = sgd(train, 4, epochs=10, callback=callback)
    assert [e for e, _ in calls] == [1, 2, 3]
    assert calls[0][1] >= {"loss", "rmse", "seconds", "lr"}
    assert fit.n_iter == 3
    assert any("callback" in note for note in fit.notes)


def drifting(seed=0, m=200, n=100, density=0.4, bins=4):
    """Item biases that change with time, as 4 regimes over 400 days."""
    rng = np.random.default_rng(seed)
    r, c = np.nonzero(rng.random((m, n)) < density)
    t0 = 1.5e9
    days = rng.uniform(0, 400, r.shape[0])
    regime = np.minimum((days / 100).astype(int), bins - 1)
    drift = rng.standard_normal((n, bins)) * 0.8
    vals = 3.0 + drift[c, regime] + 0.1 * rng.standard_normal(r.shape[0])
    order = np.lexsort((c, r))  # CSR order, so times line up with the entries
    r, c, vals, times = r[order], c[order], vals[order], t0 + days[order] * DAY
    test = rng.random(r.shape[0]) < 0.2
    X = sp.csr_matrix((vals[~test], (r[~test], c[~test])), shape=(m, n))
    return X, times[~test], (r[test], c[test], vals[test]), times[test]


def test_time_bins_capture_item_bias_drift():
    X, times, test, test_times = drifting()
    static = sgd(X, 4, epochs=20)
    timed = sgd(X, 4, epochs=20, times=times, time_bins=4)
    tp = timed.time
    assert tp["item_bin_bias"].shape == (100, 4)
    assert tp["bin_edges"].shape == (5,)
    assert tp["bin_edges"][0] == times.min() and tp["bin_edges"][-1] == times.max()
    assert tp["user_alpha"].shape == (200,)
    assert tp["user_mean_time"].shape == (200,)
    assert np.ndim(tp["dev_scale"]) == 0 and float(tp["dev_scale"]) > 0
    assert static.time is None
    assert timed.history["rmse"][-1] < static.history["rmse"][-1] - 0.1
    assert rmse(timed, test, test_times) < rmse(static, test) - 0.1
    # without a time the static part of the model predicts
    no_time = rmse(timed, test)
    assert abs(no_time - rmse(static, test)) < 0.3


def test_time_bins_take_matrix_timestamps():
    X, times, _, _ = drifting(m=50, n=30)
    M = Matrix.from_csr(X.indptr, X.indices, X.data, X.shape, timestamps=times)
    a = sgd(M, 2, epochs=2, time_bins=3)
    b = sgd(X, 2, epochs=2, time_bins=3, times=times)
    assert np.array_equal(a.U, b.U)
    with pytest.raises(UsageError, match="timestamps"):
        sgd(X, 2, time_bins=3)
    with pytest.raises(InputDataError, match="timestamps"):
        sgd(X, 2, time_bins=3, times=times[:-1])
    bad = times.copy()
    bad[0] = np.nan
    with pytest.raises(InputDataError):
        sgd(X, 2, time_bins=3, times=bad)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"k": 0}, "rank"),
        ({"k": 2.5}, "rank"),
        ({"lr": 0.0}, "lr"),
        ({"reg": -1.0}, "reg"),
        ({"epochs": 0}, "epochs"),
        ({"blocks": 0}, "blocks"),
        ({"schedule": "cosine"}, "schedule"),
        ({"schedule": "decay", "decay": 1.5}, "decay"),
        ({"time_bins": -1}, "time_bins"),
        ({"patience": 0}, "patience"),
        ({"dtype": np.int32}, "dtype"),
        ({"seed": -1}, "seed"),
    ],
)
def test_bad_options(data, kwargs, match):
    train, _ = data
    args = {"k": 3, **kwargs}
    with pytest.raises(UsageError, match=match) as info:
        sgd(train, **args)
    assert info.value.exit_code == 2


def test_bad_data():
    X = sp.csr_matrix(np.array([[1.0, np.nan], [2.0, 3.0]]))
    with pytest.raises(InputDataError, match="NaN") as info:
        sgd(X, 2)
    assert info.value.exit_code == 65
    with pytest.raises(InputDataError, match="empty"):
        sgd(sp.csr_matrix((3, 4)), 2)
    with pytest.raises(InputDataError, match="empty"):
        sgd(sp.csr_matrix((0, 4)), 2)


def test_dense_input_takes_zeros_as_missing():
    dense = np.array([[5.0, 0.0, 1.0], [4.0, 2.0, 0.0]])
    fit = sgd(dense, 2, epochs=3)
    assert fit.clip == (1.0, 5.0)
    assert any("zeros" in note for note in fit.notes)


def test_predict_checks_indices(data):
    train, _ = data
    fit = sgd(train, 2, epochs=1)
    with pytest.raises(UsageError, match="out of range"):
        predict(fit, [300], [0])
    with pytest.raises(UsageError):
        predict(fit, [0, 1], [0])


def test_final_bounds_check_catches_what_the_kernel_does_not_read():
    """The kernel bounds the terms it reads; the state after the last epoch is checked whole."""
    m, n, k = 4, 3, 2
    st = sgd_mod._State(*(np.zeros(s, np.float32) for s in ((m, k), (n, k), m, n)),
                        *(np.ones(0, np.float32) for _ in range(4)),
                        np.zeros((0, 0), np.float32), np.zeros(0, np.float32))  # fmt: skip
    assert st.sane(10.0)
    st.U[1, 1] = -3.0  # 9 <= 10 (factor entries are checked squared)
    assert st.sane(10.0)
    st.V[2, 0] = 4.0
    assert not st.sane(10.0)
    st.V[2, 0] = np.nan
    assert not st.sane(10.0)
    st.V[2, 0] = 0.0
    st.bv[0] = -11.0  # biases are checked as they are
    assert not st.sane(10.0)
