"""NMF multiplicative-update and KL kernels against naive dense NumPy twins (float64)."""

from __future__ import annotations

import numba
import numpy as np
import pytest
import scipy.sparse as sp

from mfcli.kernels import nmf_mu
from mfcli.kernels.nmf_mu import EPSILON

PENALTIES = [(0.0, 0.0), (0.1, 0.0), (0.0, 0.3), (0.2, 0.5)]


# ------------------------------------------------------------ naive twins
def naive_mu(R, mask, F, G, kl, l1, l2):
    """One multiplicative update of F on dense R; ``mask`` None = all entries fitted."""
    F = F.astype(np.float64)
    G = G.astype(np.float64)
    full = np.ones_like(R) if mask is None else mask.astype(np.float64)
    wh = F @ G.T
    if kl:
        ratio = np.where(R > 0, R / np.maximum(wh, EPSILON), 0.0)
        num = ratio @ G
        den = full @ G + l1 + l2 * F
    else:
        num = R @ G
        den = (full * wh) @ G + l1 + l2 * F
    den[den == 0] = EPSILON
    return F * num / den


def naive_kl(R, mask, W, H):
    wh = W.astype(np.float64) @ H.astype(np.float64).T
    pos = R > 0
    terms = wh - R
    terms[pos] += R[pos] * np.log(R[pos] / np.maximum(wh[pos], EPSILON))
    if mask is not None:
        terms = terms[mask]
    return terms.sum()


def naive_frob(R, mask, W, H):
    wh = W.astype(np.float64) @ H.astype(np.float64).T
    return 0.5 * np.sum(((R - wh) ** 2)[mask])


def naive_kl_cd(R, mask, F, G, l1, l2, steps):
    """The coordinate descent written out over dense rows."""
    F = F.astype(np.float64).copy()
    G = G.astype(np.float64)
    full = np.ones_like(R, dtype=bool) if mask is None else mask
    for i in range(R.shape[0]):
        cols = np.flatnonzero(full[i])
        total = G[cols].sum(axis=0)
        pos = cols[R[i, cols] > 0]
        x = R[i, pos]
        g = G[pos]
        wh = g @ F[i]
        for c in range(F.shape[1]):
            lin = total[c] + l1
            gc = g[:, c]

            def curvature(s):
                q = wh + s * gc
                low = np.any(q < EPSILON)
                q = np.maximum(q, EPSILON)
                return np.sum(x * gc / q), np.sum(x * gc**2 / q**2), low

            def objective(s):  # up to a constant
                return lin * s + 0.5 * l2 * (f + s) ** 2 - np.sum(
                    x * np.log(np.maximum(wh + s * gc, EPSILON)))

            for _ in range(steps):
                f = F[i, c]
                a, b, low = curvature(0.0)
                d1 = lin + l2 * f - a
                d2 = l2 + b
                if d2 > 0:
                    new = max(0.0, f - d1 / d2)
                else:
                    new = 0.0 if d1 > 0 else f
                s = new - f
                if s == 0:
                    break
                a1, b1, low1 = curvature(s)
                if low or (s < 0 and low1):
                    for _h in range(nmf_mu.MAX_HALVINGS):
                        if objective(s) <= objective(0.0):
                            break
                        s *= 0.5
                    else:
                        s = 0.0
                elif s < 0 and d1 * s + 0.5 * (b1 + l2) * s * s > 0:
                    s = -d1 / (b1 + l2)
                F[i, c] = max(0.0, f + s)
                if F[i, c] == f:
                    break
                wh = wh + (F[i, c] - f) * gc
    return F


# ------------------------------------------------------------- inputs
def random_problem(m, n, k, density, seed, *, idx=np.int32, dtype=np.float64, empty_rows=(),
                   empty_cols=(), stored_zeros=0):
    """A non-negative CSR matrix (as arrays and dense) and positive factors."""
    rng = np.random.default_rng(seed)
    x = sp.random(m, n, density=density, random_state=seed, format="lil")
    for r in empty_rows:
        x[r, :] = 0
    for c in empty_cols:
        x[:, c] = 0
    x = x.tocsr()
    x.eliminate_zeros()
    x.data = rng.gamma(2.0, 2.0, size=x.nnz)
    if stored_zeros:
        # Explicit zeros: masked fits must count them, the rest must not mind them.
        x.data[rng.choice(x.nnz, size=min(stored_zeros, x.nnz), replace=False)] = 0.0
    x.sort_indices()
    mask = np.zeros((m, n), dtype=bool)
    rows = np.repeat(np.arange(m), np.diff(x.indptr))
    mask[rows, x.indices] = True
    W = rng.uniform(0.1, 1.0, size=(m, k)).astype(dtype)
    H = rng.uniform(0.1, 1.0, size=(n, k)).astype(dtype)
    arrays = (x.indptr.astype(idx), x.indices.astype(idx), x.data.copy())
    return arrays, x.toarray(), mask, W, H


def transposed(arrays, m, n):
    indptr, indices, data = arrays
    xt = sp.csr_matrix((data, indices, indptr), shape=(m, n)).T.tocsr()
    xt.sort_indices()
    return xt.indptr.astype(indptr.dtype), xt.indices.astype(indices.dtype), xt.data


def aux_for(G, kl, masked):
    if masked:
        return np.empty(0)
    return G.sum(axis=0) if kl else G.T @ G


@pytest.fixture
def threads():
    before = numba.get_num_threads()
    yield numba.set_num_threads
    numba.set_num_threads(before)


# ------------------------------------------------------------ twins: updates
@pytest.mark.parametrize("kl", [False, True])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("l1,l2", PENALTIES)
def test_mu_update_sparse_matches_twin(kl, masked, l1, l2):
    arrays, R, mask, W, H = random_problem(40, 30, 5, 0.2, 1, empty_rows=[3], stored_zeros=10)
    want = naive_mu(R, mask if masked else None, W, H, kl, l1, l2)
    nmf_mu.mu_update_sparse(*arrays, W, H, kl, masked, l1, l2, aux_for(H, kl, masked))
    np.testing.assert_allclose(W, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kl", [False, True])
@pytest.mark.parametrize("l1,l2", PENALTIES)
def test_mu_update_dense_matches_twin(kl, l1, l2, monkeypatch):
    monkeypatch.setattr(nmf_mu, "DENSE_BLOCK", 70)  # several row blocks of 2 rows
    _, R, _, W, H = random_problem(25, 35, 4, 0.5, 2)
    want = naive_mu(R, None, W, H, kl, l1, l2)
    nmf_mu.mu_update_dense(R, W, H, kl, l1, l2)
    np.testing.assert_allclose(W, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("l1,l2", PENALTIES)
@pytest.mark.parametrize("steps", [1, 3])
def test_kl_cd_matches_twin(masked, l1, l2, steps):
    arrays, R, mask, W, H = random_problem(30, 25, 4, 0.25, 3, empty_rows=[0], stored_zeros=8)
    want = naive_kl_cd(R, mask if masked else None, W, H, l1, l2, steps)
    nmf_mu.kl_cd_update_sparse(*arrays, W, H, masked, l1, l2, H.sum(axis=0), steps)
    np.testing.assert_allclose(W, want, rtol=1e-10, atol=1e-12)


# ------------------------------------------------------------- twins: losses
@pytest.mark.parametrize("masked", [False, True])
def test_kl_divergence_sparse_matches_twin(masked):
    arrays, R, mask, W, H = random_problem(40, 30, 5, 0.2, 4, empty_cols=[2], stored_zeros=10)
    W[5] = 0.0  # predictions of 0 at stored x > 0 take the floor
    got = nmf_mu.kl_divergence_sparse(*arrays, W, H, masked)
    want = naive_kl(R, mask if masked else None, W, H)
    assert got == pytest.approx(want, rel=1e-12)


def test_frobenius_observed_matches_twin():
    arrays, R, mask, W, H = random_problem(40, 30, 5, 0.2, 5, stored_zeros=10)
    got = nmf_mu.frobenius_observed(*arrays, W, H)
    assert got == pytest.approx(naive_frob(R, mask, W, H), rel=1e-12)


def test_kl_divergence_dense_matches_twin(monkeypatch):
    monkeypatch.setattr(nmf_mu, "DENSE_BLOCK", 100)
    _, R, _, W, H = random_problem(33, 40, 5, 0.4, 6)
    W[1] = 0.0
    assert nmf_mu.kl_divergence_dense(R, W, H) == pytest.approx(naive_kl(R, None, W, H), rel=1e-12)


def test_kl_divergence_dense_matches_sklearn():
    pytest.importorskip("sklearn")
    from sklearn.decomposition._nmf import _beta_divergence

    _, R, _, W, H = random_problem(50, 40, 6, 0.3, 7)
    want = _beta_divergence(R, W, H.T, 1)
    assert nmf_mu.kl_divergence_dense(R, W, H) == pytest.approx(want, rel=1e-10)


# ------------------------------------------------------------- monotonicity
def objective(arrays, R, mask, W, H, kl, masked, l1, l2):
    if kl:
        loss = nmf_mu.kl_divergence_sparse(*arrays, W, H, masked)
    elif masked:
        loss = nmf_mu.frobenius_observed(*arrays, W, H)
    else:
        loss = 0.5 * np.sum((R - W @ H.T) ** 2)
    penalty = sum(l1 * F.sum() + 0.5 * l2 * np.sum(F * F) for F in (W, H))
    return loss + penalty


def run_monotone(update, kl, masked, l1, l2, iterations=30, seed=8):
    m, n = 35, 28
    arrays, R, mask, W, H = random_problem(m, n, 4, 0.3, seed, empty_rows=[2], empty_cols=[5],
                                           stored_zeros=6)
    W *= 2.0
    tarrays = transposed(arrays, m, n)
    values = [objective(arrays, R, mask, W, H, kl, masked, l1, l2)]
    for _ in range(iterations):
        update(arrays, W, H)
        values.append(objective(arrays, R, mask, W, H, kl, masked, l1, l2))
        update(tarrays, H, W)
        values.append(objective(arrays, R, mask, W, H, kl, masked, l1, l2))
    values = np.array(values)
    assert np.all(np.isfinite(values))
    rises = np.diff(values) - 1e-12 * np.abs(values[:-1])
    assert np.all(rises <= 0), values
    assert values[-1] < values[0]
    return W, H


@pytest.mark.parametrize("kl", [False, True])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("l1,l2", PENALTIES)
def test_mu_monotone(kl, masked, l1, l2):
    def update(arrays, F, G):
        nmf_mu.mu_update_sparse(*arrays, F, G, kl, masked, l1, l2, aux_for(G, kl, masked))

    run_monotone(update, kl, masked, l1, l2)


@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("l1,l2", PENALTIES)
@pytest.mark.parametrize("steps", [1, 2, 5])
def test_kl_cd_monotone(masked, l1, l2, steps):
    def update(arrays, F, G):
        nmf_mu.kl_cd_update_sparse(*arrays, F, G, masked, l1, l2, G.sum(axis=0), steps)

    run_monotone(update, True, masked, l1, l2)


@pytest.mark.parametrize("kl", [False, True])
def test_mu_dense_monotone(kl):
    _, R, _, W, H = random_problem(30, 20, 4, 0.5, 9)
    full = np.ones_like(R, dtype=bool)

    def value():
        return naive_kl(R, None, W, H) if kl else naive_frob(R, full, W, H)

    values = [value()]
    for _ in range(30):
        nmf_mu.mu_update_dense(R, W, H, kl, 0.0, 0.0)
        nmf_mu.mu_update_dense(np.ascontiguousarray(R.T), H, W, kl, 0.0, 0.0)
        values.append(value())
    assert np.all(np.diff(values) <= 1e-12 * np.abs(values[:-1]))


# ------------------------------------------------- threads, index and float types
def all_kernels(arrays, W, H, masked):
    out = []
    W = W.copy()
    H = H.copy()
    for kl in (False, True):
        nmf_mu.mu_update_sparse(*arrays, W, H, kl, masked, 0.1, 0.2, aux_for(H, kl, masked))
        out.append(W.copy())
    nmf_mu.kl_cd_update_sparse(*arrays, W, H, masked, 0.1, 0.2, H.sum(axis=0), 2)
    out.append(W.copy())
    out.append(nmf_mu.kl_divergence_sparse(*arrays, W, H, masked))
    out.append(nmf_mu.frobenius_observed(*arrays, W, H))
    return out


@pytest.mark.parametrize("masked", [False, True])
def test_same_bits_on_1_and_2_threads_and_index_types(masked, threads):
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs 2 threads")
    results = []
    for n_threads in (1, 2):
        for idx in (np.int32, np.int64):
            threads(n_threads)
            arrays, _, _, W, H = random_problem(300, 200, 6, 0.05, 10, idx=idx)
            results.append(all_kernels(arrays, W, H, masked))
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("masked", [False, True])
def test_float32_factors_run_and_stay_finite(masked):
    arrays, R, mask, W, H = random_problem(60, 50, 5, 0.1, 11, dtype=np.float32,
                                           empty_rows=[0], empty_cols=[1])
    arrays = (arrays[0], arrays[1], arrays[2].astype(np.float32))
    tarrays = transposed(arrays, 60, 50)
    for kl in (False, True):
        for _ in range(5):
            nmf_mu.mu_update_sparse(*arrays, W, H, kl, masked, 0.0, 0.1, aux_for(H, kl, masked))
            nmf_mu.mu_update_sparse(*tarrays, H, W, kl, masked, 0.0, 0.1, aux_for(W, kl, masked))
    for _ in range(5):
        nmf_mu.kl_cd_update_sparse(*arrays, W, H, masked, 0.0, 0.1, H.sum(axis=0), 2)
        nmf_mu.kl_cd_update_sparse(*tarrays, H, W, masked, 0.0, 0.1, W.sum(axis=0), 2)
    nmf_mu.mu_update_dense(R.astype(np.float32), W, H, True, 0.0, 0.0)
    assert W.dtype == np.float32 and H.dtype == np.float32
    assert np.all(np.isfinite(W)) and np.all(np.isfinite(H))
    assert np.isfinite(nmf_mu.kl_divergence_sparse(*arrays, W, H, masked))
    # float32 against float64 from the same start: close, not equal
    arrays64, _, _, W64, H64 = random_problem(60, 50, 5, 0.1, 11, empty_rows=[0], empty_cols=[1])
    W32 = W64.astype(np.float32)
    nmf_mu.mu_update_sparse(*arrays64, W64, H64, True, masked, 0.0, 0.0, aux_for(H64, True, masked))
    nmf_mu.mu_update_sparse(*arrays64, W32, H64.astype(np.float32), True, masked, 0.0, 0.0,
                            aux_for(H64, True, masked))
    np.testing.assert_allclose(W32, W64, rtol=1e-4, atol=1e-6)


# ------------------------------------------------------------ zeros
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("kl", [False, True])
def test_zero_rows_and_columns_stay_finite(kl, masked):
    arrays, R, mask, W, H = random_problem(30, 20, 4, 0.2, 12, empty_rows=[1, 7], empty_cols=[3])
    tarrays = transposed(arrays, 30, 20)
    W[4] = 0.0  # a zero row of F with data in its row
    H[:, 2] = 0.0  # a component unused by G
    for _ in range(5):
        nmf_mu.mu_update_sparse(*arrays, W, H, kl, masked, 0.0, 0.0, aux_for(H, kl, masked))
        assert np.all(W[4] == 0.0)
        nmf_mu.mu_update_sparse(*tarrays, H, W, kl, masked, 0.0, 0.0, aux_for(W, kl, masked))
    assert np.all(np.isfinite(W)) and np.all(np.isfinite(H))
    assert np.all(W[4] == 0.0) and np.all(H[:, 2] == 0.0)
    if not masked:
        assert np.all(W[[1, 7]] == 0.0)  # rows of zeros fitted as zeros
    nmf_mu.mu_update_dense(R, W, H, kl, 0.0, 0.0)
    assert np.all(np.isfinite(W)) and np.all(W[4] == 0.0)


@pytest.mark.parametrize("masked", [False, True])
def test_kl_cd_zeros_stay_finite(masked):
    arrays, R, mask, W, H = random_problem(30, 20, 4, 0.2, 13, empty_rows=[1, 7], empty_cols=[3])
    tarrays = transposed(arrays, 30, 20)
    W[4] = 0.0
    H[:, 2] = 0.0
    empty = W[[1, 7]].copy()
    for _ in range(5):
        nmf_mu.kl_cd_update_sparse(*arrays, W, H, masked, 0.0, 0.0, H.sum(axis=0), 2)
        nmf_mu.kl_cd_update_sparse(*tarrays, H, W, masked, 0.0, 0.0, W.sum(axis=0), 2)
    assert np.all(np.isfinite(W)) and np.all(np.isfinite(H))
    assert np.all(W >= 0) and np.all(H >= 0)
    if not masked:
        assert np.all(W[[1, 7]] == 0.0) and np.all(H[3] == 0.0)
    else:
        np.testing.assert_array_equal(W[[1, 7]], empty)  # nothing fitted: left alone


def test_rejects_mixed_factor_dtypes():
    arrays, _, _, W, H = random_problem(10, 8, 2, 0.3, 14)
    with pytest.raises(TypeError):
        nmf_mu.mu_update_sparse(*arrays, W.astype(np.float32), H, False, False, 0, 0, H.T @ H)
