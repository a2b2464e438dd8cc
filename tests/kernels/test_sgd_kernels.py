"""SGD kernels against naive Python twins (float64), and their determinism."""

from __future__ import annotations

import numba
import numpy as np
import pytest

from mfcli.kernels import sgd as K

E32 = np.empty(0, np.int32)


def naive_epoch(order, rows, cols, vals, tbin, tdev, U, V, bu, bv, G, tbias, alpha, Ru, Rv,
                mu, lo, hi, lr, reg_bias, biases, adagrad, timed):  # fmt: skip
    """The textbook updates, one rating at a time, right-hand sides before the update."""
    Gu, Gv, Gbu, Gbv = G
    sse = 0.0
    for t in order:
        u, i = rows[t], cols[t]
        pred = mu + U[u] @ V[i]
        if biases:
            pred += bu[u] + bv[i]
        if timed:
            pred += tbias[i, tbin[t]] + alpha[u] * tdev[t]
        e = vals[t] - min(max(pred, lo), hi)
        sse += e * e
        gp = e * V[i] - Ru[u] * U[u]
        gq = e * U[u] - Rv[i] * V[i]
        su, si = (lr / np.sqrt(Gu[u]), lr / np.sqrt(Gv[i])) if adagrad else (lr, lr)
        tu, ti = (lr / np.sqrt(Gbu[u]), lr / np.sqrt(Gbv[i])) if adagrad else (lr, lr)
        U[u] = U[u] + su * gp
        V[i] = V[i] + si * gq
        if adagrad:
            Gu[u] += np.mean(gp**2)
            Gv[i] += np.mean(gq**2)
        if biases:
            gbu, gbv = e - reg_bias * bu[u], e - reg_bias * bv[i]
            bu[u] += tu * gbu
            bv[i] += ti * gbv
            if adagrad:
                Gbu[u] += gbu**2
                Gbv[i] += gbv**2
        if timed:
            b = tbin[t]
            tbias[i, b] += ti * (e - reg_bias * tbias[i, b])
            alpha[u] += tu * (e * tdev[t] - reg_bias * alpha[u])
    return sse


SEED, EPOCH = 4, 3


def block_order_of(lo, hi, seed, epoch, block):
    perm = np.zeros(hi, np.int64)
    K.block_permutation(perm, lo, hi, np.uint64(K.stream_key(seed, epoch, block)))
    return perm[lo:hi]


def problem(seed=0, m=30, n=25, nnz=300, k=6, bins=3):
    rng = np.random.default_rng(seed)
    cells = rng.choice(m * n, nnz, replace=False)
    rows, cols = (cells // n).astype(np.int32), (cells % n).astype(np.int32)
    vals = rng.integers(1, 6, nnz).astype(np.float64)
    return {
        "rows": rows,
        "cols": cols,
        "vals": vals,
        "tbin": rng.integers(0, bins, nnz).astype(np.int32),
        "tdev": rng.standard_normal(nnz),
        "U": rng.standard_normal((m, k)) * 0.3,
        "V": rng.standard_normal((n, k)) * 0.3,
        "bu": rng.standard_normal(m) * 0.1,
        "bv": rng.standard_normal(n) * 0.1,
        "tbias": rng.standard_normal((n, bins)) * 0.1,
        "alpha": rng.standard_normal(m) * 0.1,
        "Ru": rng.uniform(0.01, 0.2, m),
        "Rv": rng.uniform(0.01, 0.2, n),
    }


@pytest.mark.parametrize("biases", [True, False])
@pytest.mark.parametrize("schedule", ["constant", "decay", "adagrad"])
@pytest.mark.parametrize("timed", [False, True])
@pytest.mark.parametrize("k", [6, 16, 21])  # float64 rows of 8 lanes: scalar, whole, with a tail
def test_serial_epoch_matches_naive(biases, schedule, timed, k):
    p = problem(k=k)
    m, n = p["U"].shape[0], p["V"].shape[0]
    nnz = p["vals"].shape[0]
    order = block_order_of(0, nnz, SEED, EPOCH, 0)  # the order the kernel runs the block in
    adagrad = schedule == "adagrad"
    # "decay" only changes the step handed to the kernel from epoch to epoch.
    lr = 0.05 * (0.9**3 if schedule == "decay" else 1.0)
    G = [np.ones(s) + np.arange(s) * 0.01 for s in (m, n, m, n)]
    mu, lo, hi, reg_bias = 3.1, 1.0, 5.0, 0.03
    ref = {name: a.copy() for name, a in p.items()}
    G_ref = [g.copy() for g in G]
    sse_ref = naive_epoch(order, ref["rows"], ref["cols"], ref["vals"], ref["tbin"], ref["tdev"],
                          ref["U"], ref["V"], ref["bu"], ref["bv"], G_ref, ref["tbias"],
                          ref["alpha"], ref["Ru"], ref["Rv"], mu, lo, hi, lr, reg_bias, biases,
                          adagrad, timed)  # fmt: skip

    empty = np.empty(0)
    sse, ok = np.empty(1), np.empty(1, np.bool_)
    src = [p["rows"], p["cols"], p["vals"], p["tbin"] if timed else E32,
           p["tdev"] if timed else empty]  # fmt: skip
    K.sgd_epoch(
        np.array([0, nnz], np.int64), np.zeros(1, np.int64), SEED, EPOCH, np.empty(nnz, np.int64),
        *src, *[np.empty_like(a) for a in src],
        p["U"], p["V"], p["bu"] if biases else empty, p["bv"] if biases else empty,
        *(G if adagrad else [empty] * 4),
        p["tbias"] if timed else np.empty((0, 0)), p["alpha"] if timed else empty,
        p["Ru"], p["Rv"], mu, lo, hi, lr, lr, reg_bias, biases, adagrad, timed, 1e3, sse, ok,
    )  # fmt: skip
    assert ok[0]
    assert sse[0] == pytest.approx(sse_ref, rel=1e-9)
    np.testing.assert_allclose(p["U"], ref["U"], atol=1e-6)
    np.testing.assert_allclose(p["V"], ref["V"], atol=1e-6)
    if biases:
        np.testing.assert_allclose(p["bu"], ref["bu"], atol=1e-6)
        np.testing.assert_allclose(p["bv"], ref["bv"], atol=1e-6)
    if adagrad:
        for got, want in zip(G, G_ref, strict=True):
            np.testing.assert_allclose(got, want, atol=1e-6)
    if timed:
        np.testing.assert_allclose(p["tbias"], ref["tbias"], atol=1e-6)
        np.testing.assert_allclose(p["alpha"], ref["alpha"], atol=1e-6)


def _run_one_block(p, limit=1e3):
    nnz = p["vals"].shape[0]
    empty = np.empty(0)
    sse, ok = np.empty(1), np.empty(1, np.bool_)
    src = [p["rows"], p["cols"], p["vals"], E32, empty]
    K.sgd_epoch(
        np.array([0, nnz], np.int64), np.zeros(1, np.int64), 0, 1, np.empty(nnz, np.int64),
        *src, *[np.empty_like(a) for a in src],
        p["U"], p["V"], p["bu"], p["bv"], empty, empty, empty, empty,
        np.empty((0, 0)), empty, p["Ru"], p["Rv"], 3.0, 1.0, 5.0, 0.01, 0.01, 0.01,
        True, False, False, limit, sse, ok,
    )  # fmt: skip
    return ok[0]


def test_non_finite_prediction_is_flagged():
    p = problem()
    p["U"][p["rows"][0]] = np.nan
    assert not _run_one_block(p)


@pytest.mark.parametrize("where", ["factor", "bias"])
def test_a_term_beyond_the_limit_is_flagged(where):
    p = problem()
    assert _run_one_block({name: a.copy() for name, a in p.items()})
    if where == "factor":
        p["U"][p["rows"][5]] *= 1e5  # |p_u . q_i| far above the limit
    else:
        p["bv"][p["cols"][5]] = 2e3
    assert not _run_one_block(p)


def test_block_order_groups_entries_stably():
    rng = np.random.default_rng(3)
    rows = rng.integers(0, 20, 500).astype(np.int32)
    cols = rng.integers(0, 15, 500).astype(np.int32)
    rg, cg = rng.integers(0, 4, 20), rng.integers(0, 4, 15)
    ptr, order = K.block_order(rows, cols, rg, cg, 4)
    assert ptr[0] == 0 and ptr[-1] == 500
    assert np.array_equal(np.sort(order), np.arange(500))
    block = rg[rows] * 4 + cg[cols]
    for b in range(16):
        got = order[ptr[b] : ptr[b + 1]]
        assert np.array_equal(got, np.flatnonzero(block == b))  # input order inside a block


def test_block_permutation_permutes_its_range_only():
    perm = np.full(1000, -1, np.int64)
    key = np.uint64(K.stream_key(5, 2, 3))
    K.block_permutation(perm, 100, 450, key)
    assert np.all(perm[:100] == -1) and np.all(perm[450:] == -1)
    part = perm[100:450]
    assert np.array_equal(np.sort(part), np.arange(100, 450))
    assert not np.array_equal(part, np.arange(100, 450))
    again = np.zeros(1000, np.int64)
    K.block_permutation(again, 100, 450, key)
    assert np.array_equal(again[100:450], part)
    K.block_permutation(again, 100, 450, np.uint64(K.stream_key(5, 3, 3)))  # a new order per epoch
    assert not np.array_equal(again[100:450], part)
    K.block_permutation(again, 7, 8, key)  # a block of one
    assert again[7] == 7


def test_epoch_order_ignores_threads():
    p = problem(m=60, n=50, nnz=1500)
    rng = np.random.default_rng(3)
    rg, cg = rng.integers(0, 3, 60), rng.integers(0, 3, 50)
    ptr, order = K.block_order(p["rows"], p["cols"], rg, cg, 3)
    p = {**p, "rows": p["rows"][order], "cols": p["cols"][order], "vals": p["vals"][order]}
    empty = np.empty(0)
    before = numba.get_num_threads()
    out = []
    try:
        for threads in (1, min(2, numba.config.NUMBA_NUM_THREADS)):
            numba.set_num_threads(threads)
            U, V, bu, bv = (p[name].copy() for name in ("U", "V", "bu", "bv"))
            src = [p["rows"], p["cols"], p["vals"], E32, empty]
            work = [np.empty_like(a) for a in src]
            sse, ok = np.empty(9), np.empty(9, np.bool_)
            K.sgd_epoch(ptr, np.array([2, 0, 1], np.int64), 7, 2, np.empty(1500, np.int64),
                        *src, *work, U, V, bu, bv, empty, empty, empty, empty,
                        np.empty((0, 0)), empty, p["Ru"], p["Rv"], 3.0, 1.0, 5.0, 0.02, 0.02,
                        0.01, True, False, False, 1e3, sse, ok)  # fmt: skip
            assert ok.all()
            out.append((U, V, bu, bv, sse, work[0]))
    finally:
        numba.set_num_threads(before)
    for a, b in zip(*out, strict=True):
        assert np.array_equal(a, b)
    for b in range(9):  # each block ran its own entries, in the order drawn for it
        lo, hi = ptr[b], ptr[b + 1]
        want = p["rows"][block_order_of(lo, hi, 7, 2, b)]
        assert np.array_equal(out[0][5][lo:hi], want)


def test_init_factors_rows_depend_only_on_seed_and_row():
    a = np.empty((50, 7))
    K.init_factors(a, 0, 11, 0, 0.1, False)
    b = np.full((80, 7), 9.0)
    K.init_factors(b, 30, 11, 0, 0.1, False)
    assert np.array_equal(b[30:50], a[30:50])
    assert np.all(b[:30] == 9.0)  # rows before ``first`` untouched
    c = np.empty((50, 7))
    K.init_factors(c, 0, 11, 1, 0.1, False)  # another stream
    assert not np.array_equal(a, c)
    assert abs(a.std() - 0.1) < 0.02 and abs(a.mean()) < 0.03
    u = np.empty((200, 5), np.float32)
    K.init_factors(u, 0, 1, 0, 0.5, True)
    assert u.min() >= 0 and u.max() < 0.5


def test_predict_entries_matches_numpy():
    p = problem()
    rows, cols = p["rows"].astype(np.int64), p["cols"].astype(np.int64)
    out = np.empty(rows.shape[0])
    empty = np.empty(0)
    K.predict_entries(rows, cols, p["U"], p["V"], p["bu"], p["bv"], 3.0, 1.0, 5.0, E32, empty,
                      np.empty((0, 0)), empty, out)  # fmt: skip
    want = 3.0 + p["bu"][rows] + p["bv"][cols] + np.einsum("ij,ij->i", p["U"][rows], p["V"][cols])
    np.testing.assert_allclose(out, np.clip(want, 1.0, 5.0), atol=1e-12)
    K.predict_entries(rows, cols, p["U"], p["V"], p["bu"], p["bv"], 3.0, 1.0, 5.0, p["tbin"],
                      p["tdev"], p["tbias"], p["alpha"], out)  # fmt: skip
    want += p["tbias"][cols, p["tbin"]] + p["alpha"][rows] * p["tdev"]
    np.testing.assert_allclose(out, np.clip(want, 1.0, 5.0), atol=1e-12)


@numba.njit
def _prefetch_all(a):
    for r in range(a.shape[0]):
        K._prefetch_row(a, r)
    return a.sum()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_prefetch_is_only_a_hint(dtype):
    a = np.arange(3 * 37, dtype=dtype).reshape(3, 37)
    before = a.copy()
    assert _prefetch_all(a) == before.sum()
    assert np.array_equal(a, before)


@numba.njit
def _dot_and_update(U, u, V, i, su, si, se):
    d = K._row_dot(U, u, V, i)
    K._row_update(U, u, V, i, su, si, se)
    return d


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k", [16, 17, 24, 31, 32, 33, 48, 100, 129])
def test_row_simd_matches_numpy(dtype, k):
    rng = np.random.default_rng(k)
    U = rng.standard_normal((3, k)).astype(dtype)
    V = rng.standard_normal((4, k)).astype(dtype)
    before_u, before_v = U.copy(), V.copy()
    p, q = U[1].astype(np.float64), V[2].astype(np.float64)
    got = _dot_and_update(U, 1, V, 2, 0.9, 0.8, 0.05)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    assert got == pytest.approx(p @ q, rel=tol, abs=tol * k)
    np.testing.assert_allclose(U[1], 0.9 * p + 0.05 * q, rtol=tol, atol=tol)
    np.testing.assert_allclose(V[2], 0.8 * q + 0.05 * p, rtol=tol, atol=tol)
    for a, b, row in ((U, before_u, 1), (V, before_v, 2)):  # other rows untouched
        others = np.arange(a.shape[0]) != row
        assert np.array_equal(a[others], b[others])
