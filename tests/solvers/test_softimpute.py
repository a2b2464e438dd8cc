"""soft_impute: completion of planted low-rank matrices, options, errors, fold-in."""

from __future__ import annotations

import numba
import numpy as np
import pytest
import scipy.sparse as sp

from mfcli.errors import EXIT_DATA, EXIT_USAGE, InputDataError, UsageError
from mfcli.solvers.softimpute import soft_impute
from mfcli.solvers.svd import fold_in


def planted(m=300, n=200, rank=3, share=0.3, seed=0):
    """A rank-3 matrix around 2.0 and a mask keeping ``share`` of its entries."""
    rng = np.random.default_rng(seed)
    full = (rng.standard_normal((m, rank)) * [3.0, 2.0, 1.5]) @ rng.standard_normal((rank, n))
    full += 2.0
    mask = rng.random((m, n)) < share
    rows, cols = np.nonzero(mask)
    observed = sp.csr_matrix((full[rows, cols], (rows, cols)), shape=(m, n))
    return full, mask, observed


def predict(fit):
    return fit.offset + (fit.U.astype(np.float64) * fit.s) @ fit.V.T.astype(np.float64)


def held_out_error(fit, full, mask):
    """RMSE on the missing entries relative to their spread."""
    held = ~mask
    err = predict(fit)[held] - full[held]
    return np.sqrt(np.mean(err**2)) / np.std(full[held])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_recovers_a_planted_rank_3_matrix_from_30_percent(dtype):
    full, mask, observed = planted()
    fit = soft_impute(observed, 5, dtype=dtype)
    assert fit.method == "soft-impute" and fit.mean is None
    assert fit.U.dtype == dtype and fit.U.shape == (300, 5) and fit.V.shape == (200, 5)
    assert held_out_error(fit, full, mask) < 0.05
    assert np.count_nonzero(fit.s) == 3  # the spare components are thresholded away
    assert abs(fit.offset - full[mask].mean()) < 1e-9
    assert any("offset=" in note for note in fit.notes)
    assert any("shrink=" in note for note in fit.notes)
    hist = fit.history
    assert {"objective", "rmse", "change", "rank", "seconds"} <= set(hist)
    assert len(hist["objective"]) == fit.n_iter < 100
    assert hist["change"][-1] < 1e-4
    # The penalised loss goes down (up to the inexact warm-started SVD steps).
    assert np.all(np.diff(hist["objective"]) <= 1e-6 * hist["objective"][0])


def test_dense_input_with_nan_is_the_same_problem():
    full, mask, observed = planted(120, 80, share=0.4, seed=1)
    dense = np.where(mask, full, np.nan)
    a = soft_impute(observed, 3, dtype=np.float64)
    b = soft_impute(dense, 3, dtype=np.float64)
    np.testing.assert_allclose(a.s, b.s, rtol=1e-10)
    np.testing.assert_allclose(predict(a), predict(b), atol=1e-8)


def test_shrink_option_and_a_threshold_above_every_value():
    full, mask, observed = planted(100, 60, seed=2)
    fit = soft_impute(observed, 3, shrink=1e9)
    assert np.all(fit.s == 0) and fit.shrink == 1e9
    np.testing.assert_allclose(predict(fit), full[mask].mean())
    plain = soft_impute(observed, 3, shrink=0.0, center=False, dtype=np.float64)
    assert plain.offset == 0.0 and plain.shrink == 0.0


def test_identical_factors_on_any_thread_count():
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs 2 numba threads")
    _, _, observed = planted(400, 300, seed=3)
    before = numba.get_num_threads()
    fits = []
    try:
        for threads in (1, 2):
            numba.set_num_threads(threads)
            fits.append(soft_impute(observed, 4, max_iter=10, seed=7))
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(fits[0].U, fits[1].U)
    np.testing.assert_array_equal(fits[0].V, fits[1].V)
    np.testing.assert_array_equal(fits[0].s, fits[1].s)


def test_callback_and_max_iter_note():
    _, _, observed = planted(100, 60, seed=4)
    calls = []
    fit = soft_impute(observed, 3, max_iter=4, tol=1e-12, callback=lambda i, s: calls.append(i))
    assert calls == [1, 2, 3, 4] and fit.n_iter == 4
    assert any("stopped after 4 iterations" in note for note in fit.notes)


def test_fold_in_uses_only_the_observed_entries():
    full, mask, observed = planted(seed=5)
    fit = soft_impute(observed, 3, dtype=np.float64)
    # New rows: the training rows' observed entries give back close predictions ...
    rows = fold_in(fit, observed[:40])
    assert rows.shape == (40, 3)
    pred_new = fit.offset + (rows * fit.s) @ fit.V.T
    fitted = predict(fit)[:40]
    assert np.sqrt(np.mean((pred_new - fitted) ** 2)) < 0.05 * np.std(full)
    # ... and a dense row with NaN for missing is the same row.
    dense = np.where(mask[:40], full[:40], np.nan)
    np.testing.assert_allclose(fold_in(fit, dense), rows, atol=1e-10)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"k": 0}, "k must be"),
        ({"k": 2, "shrink": -1.0}, "shrink must be"),
        ({"k": 2, "max_iter": 0}, "max_iter must be"),
        ({"k": 2, "tol": -1.0}, "tol must be"),
    ],
)
def test_bad_options(kwargs, message):
    _, _, observed = planted(30, 20)
    with pytest.raises(UsageError, match=message) as info:
        soft_impute(observed, **kwargs)
    assert info.value.exit_code == EXIT_USAGE


def test_bad_inputs():
    with pytest.raises(InputDataError, match="no observed entries") as info:
        soft_impute(sp.csr_matrix((5, 4)), 2)
    assert info.value.exit_code == EXIT_DATA
    x = sp.csr_matrix(np.ones((5, 4)))
    x.data[3] = np.nan
    with pytest.raises(InputDataError, match="NaN at row 1, column 4"):
        soft_impute(x, 2)
    a = np.ones((5, 4))
    a[2, 1] = np.inf
    with pytest.raises(InputDataError, match="row 3, column 2"):
        soft_impute(a, 2)
    with pytest.raises(InputDataError, match="no observed entries"):
        soft_impute(np.full((3, 3), np.nan), 1)
