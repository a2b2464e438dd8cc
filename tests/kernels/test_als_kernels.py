"""ALS kernels against naive NumPy twins (float64)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from mfcli.kernels import als as kern


# ------------------------------------------------------------ naive twins
def naive_implicit_matrix(y, w_row, j_row, g, lam):
    """``A = G + lam I + sum w y y.T`` and ``b = sum (1 + w) y`` for one row."""
    yj = y[j_row]
    a = g + lam * np.eye(g.shape[0]) + (yj * w_row[:, None]).T @ yj
    b = ((1.0 + w_row)[:, None] * yj).sum(axis=0)
    return a, b


def naive_explicit_matrix(y, e_row, j_row, lam, biased):
    z = y[j_row]
    if biased:
        z = np.hstack([z, np.ones((z.shape[0], 1))])
    return z.T @ z + lam * np.eye(z.shape[1]), z.T @ e_row


def naive_cg(a, b, x, steps):
    """Textbook CG from ``x`` (the kernels' stopping rules included)."""
    x = x.copy()
    r = b - a @ x
    p = r.copy()
    rs = r @ r
    if rs < kern.CG_TINY:
        return x
    for _ in range(steps):
        ap = a @ p
        pap = p @ ap
        if not pap > 0:
            break
        step = rs / pap
        x += step * p
        r -= step * ap
        rs_new = r @ r
        if rs_new < kern.CG_TINY:
            break
        p = r + (rs_new / rs) * p
        rs = rs_new
    return x


def rows_of(indptr):
    return np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))


# ------------------------------------------------------------- inputs
def problem(m=40, n=30, k=6, density=0.25, seed=0, empty_row=3, dtype=np.float64):
    rng = np.random.default_rng(seed)
    x = sp.random(m, n, density=density, random_state=seed, format="lil")
    x[empty_row, :] = 0
    x = x.tocsr()
    x.eliminate_zeros()
    x.sort_indices()
    indptr = x.indptr.astype(np.int64)
    indices = x.indices.astype(np.int32)
    values = (x.data * 3).astype(dtype)
    Y = rng.standard_normal((n, k)).astype(dtype)
    X = rng.standard_normal((m, k)).astype(dtype)
    return indptr, indices, values, X, Y


def blocks_for(indptr, n_blocks):
    return kern.cost_blocks(indptr, 4.0, 2.0, n_blocks)


# ------------------------------------------------------------- tests
def test_cost_blocks_cover_rows_and_balance():
    indptr = np.concatenate(([0], np.cumsum([0, 100, 1, 1, 1, 1, 50, 0, 2]))).astype(np.int64)
    b = kern.cost_blocks(indptr, 1.0, 1.0, 3)
    assert b[0] == 0 and b[-1] == len(indptr) - 1
    assert np.all(np.diff(b) > 0)
    assert kern.cost_blocks(indptr[:1], 1.0, 1.0, 4).tolist() == [0]  # no rows


@pytest.mark.parametrize("n", [1, 5, 9, 4099])
@pytest.mark.parametrize("chunk", [3, 2048])
def test_gram_partials(n, chunk):
    y = np.random.default_rng(n).standard_normal((n, 7)).astype(np.float32)
    parts = np.empty((-(-n // chunk), 7, 7))
    kern.gram_partials(y, chunk, parts)
    ref = y.astype(np.float64).T @ y.astype(np.float64)
    np.testing.assert_allclose(parts.sum(axis=0), ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("m", [0, 3, 601])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rotate_rows(m, dtype):
    rng = np.random.default_rng(m)
    x = rng.standard_normal((m, 9)).astype(dtype)
    q = np.linalg.qr(rng.standard_normal((9, 9)))[0]
    ref = x.astype(np.float64) @ q
    kern.rotate_rows(x, np.ascontiguousarray(q.T, dtype=dtype))
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(x, ref, rtol=tol, atol=tol)


def test_row_sq_norms():
    x = np.random.default_rng(1).standard_normal((11, 5)).astype(np.float32)
    out = np.empty(11)
    kern.row_sq_norms(x, out)
    np.testing.assert_allclose(out, (x.astype(np.float64) ** 2).sum(axis=1), rtol=1e-12)


@pytest.mark.parametrize("count_scaled", [False, True])
@pytest.mark.parametrize("diagonal", [False, True])
@pytest.mark.parametrize("steps", [1, 3, 12])
def test_implicit_cg_matches_twin(count_scaled, diagonal, steps):
    indptr, indices, w, X, Y = problem(k=8)
    reg = 0.3
    if diagonal:  # the solver's rotated basis: Y.T Y diagonal
        _, q = np.linalg.eigh(Y.T @ Y)
        Y = np.ascontiguousarray(Y @ q)
        X = np.ascontiguousarray(X @ q)
    g = Y.T @ Y
    if diagonal:
        g = np.diag(np.diag(g))
    out = X.copy()
    kern.implicit_cg(
        indptr, indices, w, Y, g, diagonal, reg, count_scaled, steps, blocks_for(indptr, 5), out
    )
    for u in range(X.shape[0]):
        lo, hi = indptr[u], indptr[u + 1]
        if lo == hi:
            assert np.all(out[u] == 0)
            continue
        lam = reg * (hi - lo) if count_scaled else reg
        a, b = naive_implicit_matrix(Y, w[lo:hi], indices[lo:hi], Y.T @ Y, lam)
        np.testing.assert_allclose(out[u], naive_cg(a, b, X[u], steps), rtol=1e-8, atol=1e-9)


@pytest.mark.parametrize("count_scaled", [False, True])
def test_implicit_exact_matches_twin(count_scaled):
    indptr, indices, w, X, Y = problem(k=5, seed=2)
    out = X.copy()
    failed = np.ones(X.shape[0], dtype=np.uint8)
    g = Y.T @ Y
    kern.implicit_exact(
        indptr, indices, w, Y, g, 0.2, count_scaled, blocks_for(indptr, 4), out, failed
    )
    assert not failed.any()
    for u in range(X.shape[0]):
        lo, hi = indptr[u], indptr[u + 1]
        if lo == hi:
            assert np.all(out[u] == 0)
            continue
        lam = 0.2 * (hi - lo) if count_scaled else 0.2
        a, b = naive_implicit_matrix(Y, w[lo:hi], indices[lo:hi], g, lam)
        np.testing.assert_allclose(out[u], np.linalg.solve(a, b), rtol=1e-10, atol=1e-12)


def test_implicit_exact_float32_builds_in_float64():
    indptr, indices, w, X, Y = problem(k=5, seed=3, dtype=np.float32)
    w = w * 1e4  # large confidences: float32 normal equations would be ill-conditioned
    out = X.copy()
    failed = np.zeros(X.shape[0], dtype=np.uint8)
    g = Y.astype(np.float64).T @ Y.astype(np.float64)
    kern.implicit_exact(indptr, indices, w, Y, g, 1e-3, False, blocks_for(indptr, 3), out, failed)
    assert not failed.any()
    u = 0
    lo, hi = indptr[u], indptr[u + 1]
    a, b = naive_implicit_matrix(
        Y.astype(np.float64), w[lo:hi].astype(np.float64), indices[lo:hi], g, 1e-3
    )
    np.testing.assert_allclose(out[u], np.linalg.solve(a, b), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("biased", [False, True])
@pytest.mark.parametrize("count_scaled", [False, True])
@pytest.mark.parametrize("steps", [2, 15])
def test_explicit_cg_matches_twin(biased, count_scaled, steps):
    indptr, indices, data, X, Y = problem(k=6, seed=4)
    rng = np.random.default_rng(5)
    col_bias = rng.standard_normal(Y.shape[0]) if biased else np.zeros(0)
    row_bias = rng.standard_normal(X.shape[0]) if biased else np.zeros(0)
    offset = 0.7 if biased else 0.0
    out, out_b = X.copy(), row_bias.copy()
    kern.explicit_cg(
        indptr,
        indices,
        data,
        Y,
        col_bias,
        offset,
        0.4,
        count_scaled,
        biased,
        steps,
        blocks_for(indptr, 6),
        out,
        out_b,
    )
    for u in range(X.shape[0]):
        lo, hi = indptr[u], indptr[u + 1]
        if lo == hi:
            assert np.all(out[u] == 0) and (not biased or out_b[u] == 0)
            continue
        lam = 0.4 * (hi - lo) if count_scaled else 0.4
        j = indices[lo:hi]
        e = data[lo:hi] - offset - (col_bias[j] if biased else 0.0)
        a, b = naive_explicit_matrix(Y, e, j, lam, biased)
        x0 = np.append(X[u], row_bias[u]) if biased else X[u]
        ref = naive_cg(a, b, x0, steps)
        np.testing.assert_allclose(out[u], ref[: X.shape[1]], rtol=1e-8, atol=1e-9)
        if biased:
            np.testing.assert_allclose(out_b[u], ref[-1], rtol=1e-8, atol=1e-9)


@pytest.mark.parametrize("biased", [False, True])
@pytest.mark.parametrize("count_scaled", [False, True])
def test_explicit_exact_matches_twin(biased, count_scaled):
    indptr, indices, data, X, Y = problem(k=4, seed=6)
    col_bias = np.linspace(-1, 1, Y.shape[0]) if biased else np.zeros(0)
    offset = 1.5 if biased else 0.0
    out = X.copy()
    out_b = np.zeros(X.shape[0] if biased else 0)
    failed = np.ones(X.shape[0], dtype=np.uint8)
    kern.explicit_exact(
        indptr,
        indices,
        data,
        Y,
        col_bias,
        offset,
        0.1,
        count_scaled,
        biased,
        blocks_for(indptr, 7),
        out,
        out_b,
        failed,
    )
    assert not failed.any()
    for u in range(X.shape[0]):
        lo, hi = indptr[u], indptr[u + 1]
        if lo == hi:
            assert np.all(out[u] == 0)
            continue
        lam = 0.1 * (hi - lo) if count_scaled else 0.1
        j = indices[lo:hi]
        e = data[lo:hi] - offset - (col_bias[j] if biased else 0.0)
        a, b = naive_explicit_matrix(Y, e, j, lam, biased)
        ref = np.linalg.solve(a, b)
        np.testing.assert_allclose(out[u], ref[: X.shape[1]], rtol=1e-10, atol=1e-12)
        if biased:
            np.testing.assert_allclose(out_b[u], ref[-1], rtol=1e-10, atol=1e-12)


def test_exact_reports_singular_rows():
    indptr, indices, data, X, Y = problem(k=6, seed=7)
    out = X.copy()
    failed = np.zeros(X.shape[0], dtype=np.uint8)
    kern.explicit_exact(
        indptr,
        indices,
        data,
        Y,
        np.zeros(0),
        0.0,
        0.0,
        False,
        False,
        blocks_for(indptr, 2),
        out,
        np.zeros(0),
        failed,
    )
    # Fewer entries than k and no regularisation: singular (roundoff may leave
    # a tiny positive pivot, so not every such row need be caught).
    few = (np.diff(indptr) < 6) & (np.diff(indptr) > 0)
    assert failed.any()
    assert not (failed.astype(bool) & ~few).any()
    np.testing.assert_array_equal(out[failed.astype(bool)], X[failed.astype(bool)])


def test_implicit_row_losses():
    indptr, indices, w, X, Y = problem(seed=8)
    out = np.empty(X.shape[0])
    kern.implicit_row_losses(indptr, indices, w, X, Y, blocks_for(indptr, 3), out)
    # Full dense objective = stored part + sum over all pairs of s**2.
    c = np.ones((X.shape[0], Y.shape[0]))
    p = np.zeros_like(c)
    rows = rows_of(indptr)
    c[rows, indices] += w
    p[rows, indices] = 1
    s = X @ Y.T
    dense = (c * (p - s) ** 2).sum()
    total = out.sum() + np.sum((X.T @ X) * (Y.T @ Y))
    np.testing.assert_allclose(total, dense, rtol=1e-10)


@pytest.mark.parametrize("biased", [False, True])
def test_explicit_row_losses(biased):
    indptr, indices, data, X, Y = problem(seed=9)
    rb = np.arange(X.shape[0]) * 0.1 if biased else np.zeros(0)
    cb = np.arange(Y.shape[0]) * -0.05 if biased else np.zeros(0)
    out = np.empty(X.shape[0])
    kern.explicit_row_losses(
        indptr, indices, data, X, Y, rb, cb, 0.3, biased, blocks_for(indptr, 4), out
    )
    rows = rows_of(indptr)
    pred = (X[rows] * Y[indices]).sum(axis=1) + 0.3
    if biased:
        pred += rb[rows] + cb[indices]
    ref = np.bincount(rows, weights=(data - pred) ** 2, minlength=X.shape[0])
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_results_do_not_depend_on_blocks(dtype):
    indptr, indices, w, X, Y = problem(m=200, n=50, k=16, seed=10, dtype=dtype)
    g = (Y.T @ Y).astype(dtype)
    outs = []
    for n_blocks in (1, 3, 17, 200):
        out = X.copy()
        kern.implicit_cg(
            indptr, indices, w, Y, g, False, 0.1, True, 3, blocks_for(indptr, n_blocks), out
        )
        out2 = X.copy()
        ob = np.zeros(X.shape[0], dtype=dtype)
        kern.explicit_cg(
            indptr,
            indices,
            w,
            Y,
            np.zeros(Y.shape[0], dtype=dtype),
            0.5,
            0.1,
            True,
            True,
            3,
            blocks_for(indptr, n_blocks),
            out2,
            ob,
        )
        outs.append((out, out2, ob))
    for other in outs[1:]:
        for a, b in zip(outs[0], other, strict=True):
            np.testing.assert_array_equal(a, b)
