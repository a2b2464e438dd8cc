"""Distributed randomized SVD against the local solver (mfcli.solvers.svd)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from mfcli.data import Matrix
from mfcli.errors import InputDataError, UsageError
from mfcli.solvers.svd import truncated_svd

pytest.importorskip("distributed")

from mfcli.distributed.blocks import scatter_rows  # noqa: E402
from mfcli.distributed.svd import _Plan, bytes_per_pass, randomized_svd, tsqr  # noqa: E402

RTOL = 1e-5


def sparse_matrix(m=600, n=240, density=0.04, seed=1, empty_rows=()):
    """Random sparse values plus a few strong blocks: well separated top values."""
    x = sp.random(m, n, density=density, random_state=seed, format="lil")
    x[:40, :30] = x[:40, :30].toarray() + 3.0
    x[100:160, 50:62] = 2.0
    x[300:330, 100:140] = x[300:330, 100:140].toarray() + 1.0
    x = x.tocsr()
    x.data = (1 + 4 * x.data) if len(x.data) else x.data
    for r in empty_rows:
        x.data[x.indptr[r] : x.indptr[r + 1]] = 0.0
    x.eliminate_zeros()
    return x


def dense_matrix(m=300, n=120, seed=0, values=None):
    """Singular values ``values``, by default 100 * 0.8**i."""
    rng = np.random.default_rng(seed)
    u, _ = np.linalg.qr(rng.standard_normal((m, n)))
    v, _ = np.linalg.qr(rng.standard_normal((n, n)))
    values = 100 * 0.8 ** np.arange(n) if values is None else values
    return (u * values) @ v.T


def as_matrix(x, dtype=np.float64) -> Matrix:
    if sp.issparse(x):
        x = x.tocsr()
        return Matrix(shape=x.shape, data=x.data.astype(dtype), indptr=x.indptr, indices=x.indices)
    return Matrix.from_dense(x, dtype=dtype)


def close(a, b, rtol=RTOL):
    """Relative to the largest magnitude: vectors and values alike."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape
    scale = max(float(np.abs(b).max()), 1e-300)
    err = float(np.abs(a - b).max()) / scale
    assert err <= rtol, f"relative difference {err:.3g} > {rtol:g}"


def assert_same_fit(fit, ref, rtol=RTOL):
    assert fit.U.dtype == ref.U.dtype and fit.V.dtype == ref.V.dtype
    assert fit.s.dtype == np.float64
    close(fit.s, ref.s, rtol)
    close(fit.U, ref.U, rtol)
    close(fit.V, ref.V, rtol)
    close(fit.explained_variance, ref.explained_variance, rtol)
    close(fit.explained_variance_ratio, ref.explained_variance_ratio, rtol)
    if ref.mean is None:
        assert fit.mean is None
    else:
        close(fit.mean, ref.mean, 1e-12)
    assert fit.n_iter == ref.n_iter and fit.method == "randomized"
    assert set(fit.history) == set(ref.history)
    for name in ref.history:
        assert fit.history[name].shape == ref.history[name].shape


def run_both(client, x, k, *, n_blocks, dtype, center, value_dtype=np.float64, **kw):
    mat = as_matrix(x, value_dtype)
    ref = truncated_svd(mat, k, method="randomized", center=center, dtype=dtype, **kw)
    blocks = scatter_rows(client, mat, n_blocks=n_blocks)
    fit = randomized_svd(client, blocks, k, center=center, dtype=dtype, **kw)
    return fit, ref


# ------------------------------------------------------------------ equality
# Each combination costs a cluster round trip per pass: a covering set, not the product.
COMBOS = [
    (np.float32, False, 2),
    (np.float32, True, 5),
    (np.float64, False, 1),
    (np.float64, True, 3),
]


@pytest.mark.parametrize(("dtype", "center", "n_blocks"), COMBOS)
def test_sparse_matches_local(client, dtype, center, n_blocks):
    fit, ref = run_both(
        client, sparse_matrix(), 6, n_blocks=n_blocks, dtype=dtype, center=center, seed=3
    )
    assert_same_fit(fit, ref)


@pytest.mark.parametrize(("dtype", "center", "n_blocks"), COMBOS)
def test_dense_matches_local(client, dtype, center, n_blocks):
    # values stored in the factor dtype, so float32 products really run in float32
    fit, ref = run_both(
        client, dense_matrix(), 8, n_blocks=n_blocks, dtype=dtype, center=center,
        value_dtype=dtype, seed=5, power_iters=4,
    )  # fmt: skip
    assert_same_fit(fit, ref)


def test_float64_values_with_float32_factors_work_in_float64(client):
    # as locally: a float64 dense array is never copied to float32
    fit, ref = run_both(client, dense_matrix(), 5, n_blocks=2, dtype=np.float32, center=False)
    assert fit.U.dtype == np.float32
    assert_same_fit(fit, ref, 1e-10)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_empty_rows_and_an_empty_block(client, dtype):
    empty = list(range(0, 600, 7)) + list(range(480, 600))  # the last block holds no entries
    x = sparse_matrix(empty_rows=empty)
    assert x.getnnz(axis=1)[480:].sum() == 0
    fit, ref = run_both(client, x, 5, n_blocks=5, dtype=dtype, center=False, seed=11)
    assert_same_fit(fit, ref)
    assert np.all(fit.U[480:] == 0)


@pytest.mark.parametrize("center", [False, True])
def test_power_iters_zero_and_one(client, center):
    for q in (0, 1):
        fit, ref = run_both(
            client, sparse_matrix(), 4, n_blocks=2, dtype=np.float64, center=center,
            power_iters=q, seed=2,
        )  # fmt: skip
        assert_same_fit(fit, ref, 1e-9)
        assert fit.n_iter == q


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_k_at_the_oversample_edge(client, dtype):
    # k + oversample = min(m, n) - 1: the largest sketch that stays randomized locally
    x = dense_matrix(m=200, n=40, seed=4, values=np.linspace(10, 1, 40))
    fit, ref = run_both(
        client, x, 29, n_blocks=3, dtype=dtype, center=False, value_dtype=dtype, oversample=10
    )
    assert ref.method == "randomized" and not fit.notes
    assert_same_fit(fit, ref)


def test_sketch_covering_the_matrix_is_exact(client):
    # k + oversample >= min(m, n): locally an exact dense SVD; here a full-width sketch
    x = dense_matrix(m=200, n=40, seed=4)
    fit, ref = run_both(client, x, 35, n_blocks=3, dtype=np.float64, center=False)
    assert ref.method == "dense"
    assert any("sketch spans the whole matrix" in note for note in fit.notes)
    close(fit.s, ref.s, 1e-10)
    close(fit.U, ref.U, 1e-8)
    close(fit.V, ref.V, 1e-8)


def test_planted_low_rank_is_recovered(client):
    rng = np.random.default_rng(7)
    m, n, r = 400, 150, 5
    a = rng.standard_normal((m, r)) @ (rng.standard_normal((r, n)) * [[9], [7], [5], [3], [1]])
    blocks = scatter_rows(client, as_matrix(a), n_blocks=3)
    fit = randomized_svd(client, blocks, r, dtype=np.float64, power_iters=2)
    np.testing.assert_allclose(fit.s, np.linalg.svd(a, compute_uv=False)[:r], rtol=1e-12)
    recon = (fit.U * fit.s) @ fit.V.T
    assert np.abs(recon - a).max() <= 1e-10 * np.abs(a).max()
    np.testing.assert_allclose(fit.U.T @ fit.U, np.eye(r), atol=1e-12)
    np.testing.assert_allclose(fit.V.T @ fit.V, np.eye(r), atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_result_does_not_depend_on_the_block_count(client, dtype):
    mat = as_matrix(sparse_matrix(seed=9))
    fits = [
        randomized_svd(client, scatter_rows(client, mat, n_blocks=b), 6, dtype=dtype, seed=1)
        for b in (1, 2, 3, 5, 8)
    ]
    for fit in fits[1:]:
        close(fit.s, fits[0].s)
        close(fit.U, fits[0].U)
        close(fit.V, fits[0].V)


def test_same_seed_same_blocks_is_bitwise_repeatable(client):
    blocks = scatter_rows(client, as_matrix(sparse_matrix()), n_blocks=5)
    a = randomized_svd(client, blocks, 6, seed=4, center=True)
    b = randomized_svd(client, blocks, 6, seed=4, center=True)
    assert np.array_equal(a.U, b.U) and np.array_equal(a.V, b.V) and np.array_equal(a.s, b.s)


# ------------------------------------------------------------------ pieces
def test_tsqr_matches_householder_qr(client):
    rng = np.random.default_rng(0)
    y = rng.standard_normal((203, 12))
    mat = as_matrix(y)
    blocks = scatter_rows(client, mat, n_blocks=5)
    plan = _Plan(client, blocks)
    pieces = [
        client.scatter(y[a:b], workers=[w])
        for (a, b), w in zip(blocks.bounds, blocks.workers, strict=True)
    ]
    qs, r = tsqr(plan, pieces)
    q = np.vstack(client.gather(qs))
    assert np.all(np.diag(r) >= 0)
    np.testing.assert_allclose(q @ r, y, atol=1e-12)
    np.testing.assert_allclose(q.T @ q, np.eye(12), atol=1e-12)
    q_ref, r_ref = np.linalg.qr(y)
    signs = np.sign(np.diag(r_ref))
    np.testing.assert_allclose(q, q_ref * signs, atol=1e-12)
    np.testing.assert_allclose(r, signs[:, None] * r_ref, atol=1e-12)


def test_callback_and_history(client):
    blocks = scatter_rows(client, as_matrix(sparse_matrix()), n_blocks=2)
    seen = []
    fit = randomized_svd(
        client, blocks, 3, power_iters=3, callback=lambda i, s: seen.append((i, s))
    )
    assert [i for i, _ in seen] == [1, 2, 3]
    assert [s["of"] for _, s in seen] == [3, 3, 3]
    assert fit.history["seconds"].shape == (3,)
    with pytest.raises(KeyboardInterrupt):
        randomized_svd(
            client, blocks, 3, callback=lambda i, s: (_ for _ in ()).throw(KeyboardInterrupt)
        )


# ------------------------------------------------------------------ bytes
@pytest.mark.parametrize(("dtype", "center", "n_blocks"), COMBOS)
def test_bytes_per_pass_model(client, dtype, center, n_blocks):
    m, n, k, over = 600, 240, 6, 10
    blocks = scatter_rows(client, as_matrix(sparse_matrix(m, n)), n_blocks=n_blocks)
    seen = []
    randomized_svd(
        client, blocks, k, oversample=over, power_iters=3, center=center, dtype=dtype,
        callback=lambda i, s: seen.append(s["bytes"]),
    )  # fmt: skip
    workers = len(client.scheduler_info()["workers"])
    size = np.dtype(dtype).itemsize
    model = [
        bytes_per_pass(m, n, k + over, workers, size, n_blocks=n_blocks, center=center, last=last)
        for last in (False, False, True)
    ]
    assert seen == model
    # the closed form of the docstring, one block per worker
    if n_blocks == workers:
        l = k + over  # noqa: E741
        assert model[0] == workers * (2 * n * l * size + 16 * l * l) + (
            8 * workers * l if center else 0
        )
        assert model[2] - model[0] == 16 * n_blocks * l * l
    # nothing of size m travels: a taller matrix costs the same per pass
    assert bytes_per_pass(10 * m, n, k + over, workers, size) == bytes_per_pass(
        m, n, k + over, workers, size
    )


def test_bytes_model_clips_the_width():
    assert bytes_per_pass(50, 20, 100, 2, 8) == bytes_per_pass(50, 20, 20, 2, 8)


def test_blocks_stay_on_their_workers(client):
    """Blocks are never copied; workers send factor-sized data only (about the model)."""
    mat = as_matrix(sparse_matrix())
    blocks = scatter_rows(client, mat, n_blocks=4)

    def sent(dask_worker):
        return dask_worker.transfer_outgoing_bytes_total

    before = client.run(sent)
    fit = randomized_svd(client, blocks, 6, power_iters=2, dtype=np.float64)
    moved = sum(client.run(sent).values()) - sum(before.values())
    who = client.who_has(blocks.futures)
    for future, owner in zip(blocks.futures, blocks.workers, strict=True):
        assert list(who[future.key]) == [owner]
    workers = len(client.scheduler_info()["workers"])
    m, n = mat.shape
    passes = sum(bytes_per_pass(m, n, 16, workers, 8, n_blocks=4, last=last) for last in (0, 1))
    print(f"workers sent {moved} bytes; model: {passes} for the passes")
    assert moved <= 3 * passes + fit.U.nbytes + 64 * 1024


# ------------------------------------------------------------------ errors
def test_errors(client):
    mat = as_matrix(sparse_matrix(m=60, n=20))
    blocks = scatter_rows(client, mat, n_blocks=2)
    with pytest.raises(UsageError, match="not below min"):
        randomized_svd(client, blocks, 20)
    with pytest.raises(UsageError):
        randomized_svd(client, blocks, 0)
    with pytest.raises(UsageError):
        randomized_svd(client, blocks, 3, dtype=np.int32)
    bad = sparse_matrix(m=60, n=20)
    bad.data[5] = np.nan
    row = int(np.searchsorted(bad.indptr, 5, side="right")) - 1
    with pytest.raises(InputDataError, match=f"row {row + 1}, column {bad.indices[5] + 1}"):
        randomized_svd(client, scatter_rows(client, as_matrix(bad), n_blocks=3), 3)
    const = Matrix.from_dense(np.ones((30, 10)))
    with pytest.raises(InputDataError, match="centred matrix is all zeros"):
        randomized_svd(client, scatter_rows(client, const, n_blocks=2), 3, center=True)
    zeros = Matrix.from_dense(np.zeros((30, 10)))
    with pytest.raises(InputDataError, match="matrix is all zeros"):
        randomized_svd(client, scatter_rows(client, zeros, n_blocks=2), 3)
