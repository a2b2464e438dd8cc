"""truncated_svd and fold_in against numpy, scipy and scikit-learn."""

from __future__ import annotations

import numba
import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.linalg import svds

from mfcli import synth
from mfcli.data import Matrix
from mfcli.errors import EXIT_DATA, EXIT_USAGE, InputDataError, UsageError
from mfcli.solvers.svd import SVDFit, flip_signs, fold_in, truncated_svd

TOL = {np.float32: 2e-5, np.float64: 1e-10}


def decaying_dense(m=300, n=120, seed=0):
    """Dense matrix with singular values 100 * 0.8**i: randomized SVD converges."""
    rng = np.random.default_rng(seed)
    u, _ = np.linalg.qr(rng.standard_normal((m, n)))
    v, _ = np.linalg.qr(rng.standard_normal((n, n)))
    return (u * (100 * 0.8 ** np.arange(n))) @ v.T


def sparse_input(m=800, n=300, density=0.03, seed=1):
    x = sp.random(m, n, density=density, random_state=seed, format="csr")
    x.data = 1 + 4 * x.data
    # A few strong directions on top of the noise so the top values are separated.
    x = x.tolil()
    x[:40, :30] = x[:40, :30].toarray() + 3.0
    x[100:140, 50:60] = 2.0
    return x.tocsr()


def reference(a, k):
    """numpy's SVD with mfcli's sign convention."""
    u, s, vt = np.linalg.svd(a, full_matrices=False)
    u, v = flip_signs(u[:, :k], vt[:k].T)
    return u, s[:k], v


def assert_same_factors(fit: SVDFit, u, s, v, rtol, vtol):
    np.testing.assert_allclose(fit.s, s, rtol=rtol)
    np.testing.assert_allclose(fit.V, v, atol=vtol)
    np.testing.assert_allclose(fit.U, u, atol=vtol)


# ----------------------------------------------------------- accuracy
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("method", ["randomized", "lanczos", "dense"])
def test_dense_input_matches_numpy(method, dtype):
    a = decaying_dense()
    k = 8
    fit = truncated_svd(a, k, method=method, dtype=dtype, power_iters=8)
    assert fit.U.dtype == dtype and fit.V.dtype == dtype and fit.s.dtype == np.float64
    assert fit.U.shape == (300, k) and fit.V.shape == (120, k) and fit.s.shape == (k,)
    assert fit.method == method and fit.mean is None
    u, s, v = reference(a, k)
    assert_same_factors(fit, u, s, v, TOL[dtype], 1e-3 if dtype == np.float32 else 1e-8)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sparse_lanczos_matches_arpack(dtype):
    x = sparse_input()
    k = 10
    u, s, vt = svds(x, k=k, tol=0, random_state=0)
    order = np.argsort(s)[::-1]
    u, v = flip_signs(u[:, order], vt[order].T)
    fit = truncated_svd(x, k, method="lanczos", dtype=dtype)
    assert fit.notes == []
    vtol = 2e-3 if dtype == np.float32 else 1e-7
    assert_same_factors(fit, u, s[order], v, TOL[dtype], vtol)
    assert fit.history["residual"][-1] <= (1e-5 if dtype == np.float32 else 1e-9)
    assert len(fit.history["residual"]) == fit.n_iter


@pytest.mark.parametrize("method", ["randomized", "lanczos"])
def test_wide_matrix_works_on_its_row_side(method):
    # m < n: Lanczos keeps its basis on the left (row) side.
    x = sparse_input().T.tocsr()
    fit = truncated_svd(x, 6, method=method, dtype=np.float64, power_iters=12)
    u, s, v = reference(x.toarray(), 6)
    assert fit.U.shape == (300, 6) and fit.V.shape == (800, 6)
    np.testing.assert_allclose(fit.s[:2], s[:2], rtol=1e-9)
    if method == "lanczos":
        assert_same_factors(fit, u, s, v, 1e-9, 1e-7)


def test_float32_array_with_float64_factors():
    a = decaying_dense().astype(np.float32)
    fit = truncated_svd(a, 4, method="lanczos", dtype=np.float64)
    assert fit.U.dtype == np.float64
    _, s, _ = reference(a.astype(np.float64), 4)
    np.testing.assert_allclose(fit.s, s, rtol=1e-9)


def test_sparse_randomized_top_values_match_arpack():
    x = sparse_input()
    s_ref = svds(x, k=5, tol=0, random_state=0)[1][::-1]
    fit = truncated_svd(x, 5, dtype=np.float64, oversample=20, power_iters=10)
    np.testing.assert_allclose(fit.s[:3], s_ref[:3], rtol=1e-6)
    np.testing.assert_allclose(fit.s, s_ref, rtol=2e-2)


def test_mfcli_matrix_input_sparse_and_dense():
    x = sparse_input()
    sparse = Matrix.from_csr(x.indptr, x.indices, x.data, x.shape)
    dense = Matrix.from_dense(x.toarray())
    a = truncated_svd(sparse, 4, method="lanczos", dtype=np.float64)
    b = truncated_svd(dense, 4, method="lanczos", dtype=np.float64)
    c = truncated_svd(x, 4, method="lanczos", dtype=np.float64)
    np.testing.assert_allclose(a.s, b.s, rtol=1e-10)
    np.testing.assert_array_equal(a.s, c.s)
    np.testing.assert_allclose(np.abs(a.V.T @ b.V), np.eye(4), atol=1e-8)


def test_empty_rows_and_columns():
    x = sparse_input().tolil()
    x[5, :] = 0
    x[:, 7] = 0
    x = x.tocsr()
    x.eliminate_zeros()
    fit = truncated_svd(x, 6, method="lanczos", dtype=np.float64)
    np.testing.assert_allclose(fit.U[5], 0, atol=1e-12)
    np.testing.assert_allclose(fit.V[7], 0, atol=1e-12)
    _, s, _ = reference(x.toarray(), 6)
    np.testing.assert_allclose(fit.s, s, rtol=1e-9)


@pytest.mark.parametrize("method", ["randomized", "lanczos", "dense"])
def test_exact_recovery_of_a_low_rank_matrix(method):
    matrix, truth = synth.lowrank_dense(400, 150, 5, noise=0.0, seed=3)
    a = matrix.data
    fit = truncated_svd(matrix, 5, method=method, dtype=np.float64)
    np.testing.assert_allclose(fit.s, truth["singular_values"], rtol=1e-10)
    recon = (fit.U * fit.s) @ fit.V.T
    assert np.linalg.norm(recon - a) <= 1e-10 * np.linalg.norm(a)
    fit32 = truncated_svd(matrix, 5, method=method)
    recon32 = (fit32.U.astype(np.float64) * fit32.s) @ fit32.V.T.astype(np.float64)
    assert np.linalg.norm(recon32 - a) <= 1e-5 * np.linalg.norm(a)


def test_rank_deficient_sparse_matrix_with_k_above_its_rank():
    # Rank 3; asking for 8 must give 3 values and 5 (near) zeros, not garbage.
    rng = np.random.default_rng(4)
    b = rng.standard_normal((200, 3)) @ rng.standard_normal((3, 90))
    x = sp.csr_matrix(b)
    for method in ("randomized", "lanczos"):
        fit = truncated_svd(x, 8, method=method, dtype=np.float64, oversample=2)
        s_ref = np.linalg.svd(b, compute_uv=False)[:8]
        np.testing.assert_allclose(fit.s[:3], s_ref[:3], rtol=1e-10)
        assert np.all(fit.s[3:] < 1e-10 * fit.s[0])
        np.testing.assert_allclose(fit.V.T @ fit.V, np.eye(8), atol=1e-8)


# ----------------------------------------------------------- centring
@pytest.mark.parametrize("method", ["randomized", "lanczos"])
def test_center_matches_pca_on_the_densified_matrix(method):
    from sklearn.decomposition import PCA

    x = sparse_input()
    k = 6
    fit = truncated_svd(x, k, method=method, center=True, dtype=np.float64, power_iters=10)
    dense = x.toarray()
    pca = PCA(n_components=k, svd_solver="full").fit(dense)
    np.testing.assert_allclose(fit.mean, dense.mean(axis=0), rtol=1e-12)
    # Randomized: the two separated values are exact, the flat noise bulk is close.
    rtol = 1e-9 if method == "lanczos" else 1e-2
    np.testing.assert_allclose(fit.s[:2], pca.singular_values_[:2], rtol=1e-9)
    np.testing.assert_allclose(fit.s, pca.singular_values_, rtol=rtol)
    np.testing.assert_allclose(fit.explained_variance, pca.explained_variance_, rtol=rtol)
    np.testing.assert_allclose(
        fit.explained_variance_ratio, pca.explained_variance_ratio_, rtol=rtol
    )
    if method == "lanczos":
        np.testing.assert_allclose(fit.V, pca.components_.T, atol=1e-7)
        scores = (dense - fit.mean) @ fit.V
        np.testing.assert_allclose(scores, fit.U * fit.s, atol=1e-7)


def test_center_dense_input_and_float32():
    a = decaying_dense() + 5.0
    fit = truncated_svd(a, 5, center=True, method="lanczos")
    _, s, v = reference(a - a.mean(axis=0), 5)
    np.testing.assert_allclose(fit.s, s, rtol=1e-5)
    np.testing.assert_allclose(fit.V, v, atol=1e-3)


def test_uncentred_explained_variance_matches_truncated_svd():
    from sklearn.decomposition import TruncatedSVD

    x = sparse_input()
    fit = truncated_svd(x, 5, method="lanczos", dtype=np.float64)
    ref = TruncatedSVD(5, algorithm="arpack", tol=0, random_state=0).fit(x)
    np.testing.assert_allclose(fit.s, ref.singular_values_, rtol=1e-9)
    np.testing.assert_allclose(fit.explained_variance, ref.explained_variance_, rtol=1e-7)
    np.testing.assert_allclose(
        fit.explained_variance_ratio, ref.explained_variance_ratio_, rtol=1e-7
    )
    np.testing.assert_allclose(fit.V, ref.components_.T, atol=1e-7)  # same signs


# ------------------------------------------------------- determinism
@pytest.mark.parametrize("method", ["randomized", "lanczos"])
@pytest.mark.parametrize("center", [False, True])
def test_identical_factors_on_any_thread_count(method, center):
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs 2 numba threads")
    x = sparse_input(3000, 900, 0.01)
    before = numba.get_num_threads()
    fits = []
    try:
        for threads in (1, 2, 1):
            numba.set_num_threads(threads)
            fits.append(truncated_svd(x, 7, method=method, center=center, seed=5))
    finally:
        numba.set_num_threads(before)
    for fit in fits[1:]:
        np.testing.assert_array_equal(fit.U, fits[0].U)
        np.testing.assert_array_equal(fit.V, fits[0].V)
        np.testing.assert_array_equal(fit.s, fits[0].s)


def test_seed_decides_the_start():
    x = sparse_input()
    a = truncated_svd(x, 5, seed=1, power_iters=1)
    b = truncated_svd(x, 5, seed=1, power_iters=1)
    c = truncated_svd(x, 5, seed=2, power_iters=1)
    np.testing.assert_array_equal(a.U, b.U)
    assert not np.array_equal(a.U, c.U)


def test_sign_convention_largest_entry_of_v_is_positive():
    fit = truncated_svd(sparse_input(), 6, method="lanczos")
    top = np.argmax(np.abs(fit.V), axis=0)
    assert np.all(fit.V[top, np.arange(6)] > 0)
    assert np.all(np.diff(fit.s) <= 0)


# ------------------------------------------------ callback and history
def test_callback_once_per_pass_and_cycle():
    x = sparse_input()
    calls = []
    fit = truncated_svd(x, 4, power_iters=3, callback=lambda i, st: calls.append((i, st)))
    assert [i for i, _ in calls] == [1, 2, 3] and fit.n_iter == 3
    assert len(fit.history["seconds"]) == 3
    calls.clear()
    fit = truncated_svd(x, 4, method="lanczos", callback=lambda i, st: calls.append((i, st)))
    assert [i for i, _ in calls] == list(range(1, fit.n_iter + 1))
    assert {"residual", "converged", "seconds"} <= set(calls[-1][1])
    assert calls[-1][1]["converged"] == 4


def test_callback_exception_stops_the_fit():
    def stop(i, stats):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        truncated_svd(sparse_input(), 4, method="lanczos", callback=stop)


def test_lanczos_max_iter_leaves_a_note():
    fit = truncated_svd(sparse_input(), 10, method="lanczos", max_iter=1, tol=1e-12)
    assert fit.n_iter == 1
    assert any("stopped after 1 cycles" in note for note in fit.notes)


# ------------------------------------------------- k and the dense path
def test_k_at_min_dimension_uses_exact_dense_svd():
    a = decaying_dense(60, 20)
    fit = truncated_svd(a, 20)
    assert fit.method == "dense"
    assert any("exact dense SVD" in note for note in fit.notes)
    _, s, _ = reference(a, 20)
    np.testing.assert_allclose(fit.s, s, rtol=1e-5)
    fit = truncated_svd(sp.csr_matrix(a), 25, dtype=np.float64)
    assert fit.k == 20 and any("20 components returned" in n for n in fit.notes)


def test_sketch_covering_the_matrix_uses_dense_svd():
    fit = truncated_svd(decaying_dense(60, 20), 15, oversample=10)
    assert fit.method == "dense" and fit.k == 15


def test_k_too_large_for_a_dense_svd_is_a_usage_error():
    x = sp.random(6000, 5001, density=1e-4, random_state=0, format="csr")
    with pytest.raises(UsageError) as info:
        truncated_svd(x, 5001)
    assert info.value.exit_code == EXIT_USAGE
    assert "k=5001" in str(info.value) and "choose k < 5001" in str(info.value)
    with pytest.raises(UsageError, match="too large for an exact dense SVD"):
        truncated_svd(x, 3, method="dense")


# ------------------------------------------------------------ errors
@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"k": 0}, "k must be an integer >= 1"),
        ({"k": 2.5}, "k must be an integer >= 1"),
        ({"k": 2, "method": "arpack"}, "unknown SVD method"),
        ({"k": 2, "dtype": np.int32}, "dtype must be float32 or float64"),
        ({"k": 2, "oversample": -1}, "oversample must be"),
        ({"k": 2, "power_iters": -1}, "power_iters must be"),
        ({"k": 2, "tol": 0.0}, "tol must be a positive number"),
        ({"k": 2, "max_iter": 0}, "max_iter must be"),
    ],
)
def test_bad_options_are_usage_errors(kwargs, message):
    with pytest.raises(UsageError, match=message) as info:
        truncated_svd(decaying_dense(30, 10), **kwargs)
    assert info.value.exit_code == EXIT_USAGE


@pytest.mark.parametrize(
    "x, message",
    [
        (np.zeros((0, 4)), "empty"),
        (sp.csr_matrix((5, 0)), "empty"),
        (sp.csr_matrix((5, 4)), "all zeros"),
        (np.ones((5, 4)), None),
        (np.zeros(4), "2-D"),
    ],
)
def test_bad_inputs_are_input_data_errors(x, message):
    if message is None:  # constant columns: fine uncentred, nothing left centred
        assert truncated_svd(x, 1).s[0] > 0
        with pytest.raises(InputDataError, match="centred matrix is all zeros"):
            truncated_svd(x, 1, center=True)
        return
    with pytest.raises(InputDataError, match=message) as info:
        truncated_svd(x, 1)
    assert info.value.exit_code == EXIT_DATA


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_values_are_named_with_their_position(bad):
    a = decaying_dense(30, 10)
    a[4, 6] = bad
    with pytest.raises(InputDataError, match="row 5, column 7"):
        truncated_svd(a, 2)
    x = sp.csr_matrix(decaying_dense(30, 10))
    x.data[x.indptr[12] + 3] = bad
    with pytest.raises(InputDataError, match="row 13, column 4") as info:
        truncated_svd(x, 2)
    assert info.value.exit_code == EXIT_DATA


def test_integer_values_are_accepted():
    a = np.arange(40).reshape(8, 5) % 7
    fit = truncated_svd(a, 2, method="lanczos")
    np.testing.assert_allclose(fit.s, np.linalg.svd(a.astype(float), compute_uv=False)[:2])


# ------------------------------------------------------------ fold_in
@pytest.mark.parametrize("center", [False, True])
def test_fold_in_of_training_rows_gives_u(center):
    x = sparse_input()
    fit = truncated_svd(x, 5, method="lanczos", center=center, dtype=np.float64)
    np.testing.assert_allclose(fold_in(fit, x[:50]), fit.U[:50], atol=1e-8)
    np.testing.assert_allclose(fold_in(fit, x[:50].toarray()), fit.U[:50], atol=1e-8)
    rows = Matrix.from_csr(x[:3].indptr, x[:3].indices, x[:3].data, (3, x.shape[1]))
    assert fold_in(fit, rows).shape == (3, 5)


def test_fold_in_rejects_other_columns():
    fit = truncated_svd(sparse_input(), 3)
    with pytest.raises(InputDataError, match="the model has 300") as info:
        fold_in(fit, np.ones((2, 299)))
    assert info.value.exit_code == EXIT_DATA


# ------------------------------------------------------ linalg helpers
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_orthonormalize_full_and_rank_deficient_blocks(dtype):
    from mfcli.solvers.linalg import orthonormalize, orthonormalize_against

    rng = np.random.default_rng(9)
    eps = np.finfo(dtype).eps
    for y in (
        rng.standard_normal((500, 12)),
        rng.standard_normal((500, 4)) @ rng.standard_normal((4, 12)),  # rank 4
        np.zeros((500, 3)),
    ):
        q, r = orthonormalize(y.astype(dtype))
        assert q.dtype == dtype and q.flags.c_contiguous
        np.testing.assert_allclose(q.T @ q, np.eye(y.shape[1]), atol=50 * eps)
        np.testing.assert_allclose(q @ r, y, atol=1e3 * eps * max(1.0, np.abs(y).max()))
    basis, _ = orthonormalize(rng.standard_normal((500, 10)).astype(dtype))
    y = np.hstack([basis[:, :3] @ rng.standard_normal((3, 2)), rng.standard_normal((500, 4))])
    y = y.astype(dtype)
    q, c, r = orthonormalize_against(basis, y.copy())
    np.testing.assert_allclose(basis.T @ q, 0, atol=50 * eps)
    np.testing.assert_allclose(q.T @ q, np.eye(6), atol=50 * eps)
    np.testing.assert_allclose(basis @ c + q @ r, y, atol=1e3 * eps * np.abs(y).max())


def test_overflow_in_float32_is_a_numerics_error():
    from mfcli.errors import EXIT_NUMERICS, NumericsError

    a = decaying_dense(40, 20) * 1e37
    with pytest.raises(NumericsError, match="non-finite") as info:
        truncated_svd(sp.csr_matrix(a), 3, method="randomized")
    assert info.value.exit_code == EXIT_NUMERICS
    assert truncated_svd(a, 3, dtype=np.float64, method="lanczos").s[0] > 1e38


def test_lanczos_on_a_narrow_flat_spectrum_converges():
    # The basis and the pending block must fit in min(m, n) = 97, or restarts stall.
    a = np.random.default_rng(11).standard_normal((300, 97))
    for oversample in (2, 10):
        fit = truncated_svd(a, 3, method="lanczos", oversample=oversample, dtype=np.float64)
        assert fit.notes == [] and fit.n_iter < 50
        np.testing.assert_allclose(fit.s, reference(a, 3)[1], rtol=1e-9)


def test_dense_fused_gram_product_matches_two_products():
    from mfcli.solvers.linalg import DenseOperator

    a = np.random.default_rng(12).standard_normal((3000, 70))
    op = DenseOperator(a, np.float64)
    block = np.random.default_rng(13).standard_normal((70, 5))
    np.testing.assert_allclose(op.gram_matmul(block), a.T @ (a @ block), rtol=1e-10)
