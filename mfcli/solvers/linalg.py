"""Linear algebra under the SVD solvers: matrix operators and orthonormal bases.

An :class:`Operator` is the matrix the solver works on, ``A`` (m x n),
optionally centred by column means without being densified:
``A @ B = X @ B - 1 (mean @ B)`` and ``A.T @ C = X.T @ C - mean (1 @ C)``.
Sparse products go through the numba kernels of :mod:`mfcli.kernels.spmm`
(parallel, independent of the thread count); dense products through BLAS.

Bases are orthonormalised by Cholesky QR, twice (CholeskyQR2): two Gram
matrices (accumulated in float64 over fixed row chunks, so float32 bases keep
directions down to ~1e-8 of the largest) and two triangular updates, all
BLAS-3. On 200k x 60 float32 it is several times faster than LAPACK's
Householder QR here, with orthogonality at the unit roundoff. An
ill-conditioned or rank-deficient block is first shifted (Fukaya et al. 2020,
shifted CholeskyQR3), so it never fails.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np

from mfcli.errors import NumericsError
from mfcli.kernels import spmm

GRAM_CHUNK = 8192  # rows per float64 Gram update, and per in-place basis update
SUM_CHUNK = 1 << 20  # values per float64 sum of squares
SLAB_BYTES = 1 << 21  # rows of a dense matrix per fused A.T (A x) step
REORTH_RATIO = 0.5**0.5  # second Gram-Schmidt pass when a column loses more than this
MAX_COND = 1e6  # above this condition number, CholeskyQR starts with a shifted pass


@contextmanager
def blas_threads(n: int | None):
    """Limit BLAS to ``n`` threads inside the block (threadpoolctl, when installed).

    Sparse fits alternate numba kernels with small BLAS calls; OpenBLAS threads
    spin for a while after each call and starve numba's threads (2 cores:
    Lanczos on 20k x 5k took 2.9 s with 2 BLAS threads, 0.7 s with 1; on 200k x
    50k, 18 s and 16 s). One BLAS thread also makes the BLAS part independent
    of the thread count. ``None`` leaves BLAS alone.
    """
    if n is None:
        yield
        return
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # an optional speed-up: without it BLAS keeps its threads
        yield
        return
    with threadpool_limits(limits=n, user_api="blas"):
        yield


# ------------------------------------------------------------------ operators
class Operator:
    """``A`` (m x n) for the solvers: products with dense blocks and norms.

    Attributes
    ----------
    shape : (m, n)
    dtype : the factor dtype; products are computed and returned in it
    mean : (n,) column means subtracted (float64), or None
    """

    shape: tuple[int, int]
    dtype: np.dtype
    mean: np.ndarray | None

    def matmul(self, block: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """``A @ block``: (n, l) -> (m, l), C-contiguous (into ``out`` when given)."""
        raise NotImplementedError

    def rmatmul(self, block: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """``A.T @ block``: (m, l) -> (n, l), C-contiguous (into ``out`` when given)."""
        raise NotImplementedError

    def squared_norm(self) -> float:
        """``||A||_F ** 2`` in float64 (centred when ``mean`` is set)."""
        raise NotImplementedError

    def gram_matmul(self, block: np.ndarray) -> np.ndarray:
        """``A.T @ (A @ block)``: (n, l) -> (n, l)."""
        return self.rmatmul(self.matmul(block))

    @property
    def nbytes(self) -> int:
        """Bytes held beyond the input (copies, transposed structure)."""
        return 0

    def release(self) -> None:
        """Drop what can be rebuilt (the transposed copy); products still work."""


class SparseOperator(Operator):
    """A CSR matrix, with its banded transpose built on first use.

    Parameters
    ----------
    indptr, indices, data : the CSR arrays (not copied)
    shape : (m, n)
    dtype : factor dtype (float32 or float64)
    center : subtract the column means inside the products
    """

    def __init__(self, indptr, indices, data, shape, dtype, *, center=False):
        self.indptr, self.indices, self.data = indptr, indices, data
        self.shape = (int(shape[0]), int(shape[1]))
        self.dtype = np.dtype(dtype)
        self.blocks = spmm.balanced_blocks(indptr)
        self._t: spmm.Transposed | None = None
        self.mean = None
        if center:
            sums = np.bincount(indices, weights=data, minlength=self.shape[1])
            self.mean = sums / self.shape[0]
        self._mean_f = None if self.mean is None else self.mean.astype(self.dtype)

    @property
    def transposed(self) -> spmm.Transposed:
        if self._t is None:
            self._t = spmm.transpose(
                self.indptr, self.indices, self.data, self.shape[1], self.dtype
            )
        return self._t

    @property
    def nbytes(self) -> int:
        return 0 if self._t is None else self._t.nbytes

    def release(self) -> None:
        self._t = None

    def matmul(self, block, out=None):
        block = np.ascontiguousarray(block, dtype=self.dtype)
        out = _output(out, (self.shape[0], block.shape[1]), self.dtype)
        spmm.csr_matmul(self.indptr, self.indices, self.data, block, self.blocks, out)
        if self._mean_f is not None:
            out -= self._mean_f @ block
        return out

    def rmatmul(self, block, out=None):
        block = np.ascontiguousarray(block, dtype=self.dtype)
        out = _output(out, (self.shape[1], block.shape[1]), self.dtype)
        spmm.csr_t_matmul(self.transposed, block, out)
        if self._mean_f is not None:
            out -= np.outer(self._mean_f, block.sum(axis=0))
        return out

    def squared_norm(self):
        total = sum_squares(self.data)
        if self.mean is not None:
            total -= self.shape[0] * float(self.mean @ self.mean)
        return max(total, 0.0)


class DenseOperator(Operator):
    """A dense matrix, used as it is: BLAS products, centred inside them.

    Products run in the wider of the array's and the requested float dtype,
    so a float64 array is never copied (and a float32 one only when float64
    is asked for); the solvers cast the factors to the requested dtype.

    Parameters
    ----------
    array : (m, n) ndarray
    dtype : requested factor dtype
    center : subtract the column means inside the products
    """

    def __init__(self, array, dtype, *, center=False):
        work = np.promote_types(np.dtype(dtype), array.dtype)
        if work not in (np.dtype(np.float32), np.dtype(np.float64)):
            work = np.dtype(np.float64)
        self.dtype = work
        self.shape = (int(array.shape[0]), int(array.shape[1]))
        self.array = np.asarray(array, dtype=work)
        self._copied = self.array is not array
        self.mean = array.mean(axis=0, dtype=np.float64) if center else None
        self._mean_f = None if self.mean is None else self.mean.astype(work)

    @property
    def nbytes(self) -> int:
        return self.array.nbytes if self._copied else 0

    def centered(self) -> np.ndarray:
        """The centred matrix as a new array (for the exact dense SVD)."""
        if self._mean_f is None:
            return np.array(self.array)
        return self.array - self._mean_f

    def matmul(self, block, out=None):
        block = block.astype(self.dtype, copy=False)
        out = _output(out, (self.shape[0], block.shape[1]), self.dtype)
        np.matmul(self.array, block, out=out)
        if self._mean_f is not None:
            out -= self._mean_f @ block
        return out

    def rmatmul(self, block, out=None):
        block = block.astype(self.dtype, copy=False)
        out = _output(out, (self.shape[1], block.shape[1]), self.dtype)
        np.matmul(self.array.T, block, out=out)
        if self._mean_f is not None:
            out -= np.outer(self._mean_f, block.sum(axis=0))
        return out

    def gram_matmul(self, block):
        # One pass over A: each slab of rows is still in cache for its A.T product
        # (30% faster than two passes on 5000 x 2000; slabs in a fixed order).
        if self._mean_f is not None:
            return super().gram_matmul(block)
        block = block.astype(self.dtype, copy=False)
        out = np.zeros((self.shape[1], block.shape[1]), dtype=self.dtype)
        rows = max(1, SLAB_BYTES // max(self.shape[1] * self.dtype.itemsize, 1))
        for a in range(0, self.shape[0], rows):
            slab = self.array[a : a + rows]
            out += slab.T @ (slab @ block)
        return out

    def squared_norm(self):
        total = 0.0
        rows = max(1, SUM_CHUNK // max(self.shape[1], 1))
        for a in range(0, self.shape[0], rows):
            c = self.array[a : a + rows].astype(np.float64, copy=False)
            if self.mean is not None:
                c = c - self.mean
            total += float(np.einsum("ij,ij->", c, c))
        return total


def _output(out: np.ndarray | None, shape: tuple[int, int], dtype) -> np.ndarray:
    if out is None:
        return np.empty(shape, dtype=dtype)
    if out.shape != shape or out.dtype != dtype or not out.flags.c_contiguous:
        raise ValueError("out must be a C-contiguous array of the product's shape and dtype")
    return out


def sum_squares(values: np.ndarray) -> float:
    """Sum of squares of a 1-D array in float64, over fixed chunks (no full copy)."""
    total = 0.0
    for a in range(0, values.shape[0], SUM_CHUNK):
        c = values[a : a + SUM_CHUNK].astype(np.float64, copy=False)
        total += float(np.dot(c, c))
    return total


# -------------------------------------------------------------- orthonormal
def gram(y: np.ndarray) -> np.ndarray:
    """``y.T @ y`` in float64, summed over fixed row chunks (deterministic).

    Parameters
    ----------
    y : (m, l) float32 or float64

    Returns
    -------
    (l, l) float64
    """
    with np.errstate(all="ignore"):  # non-finite values are reported by the caller
        if y.dtype == np.float64:
            return y.T @ y
        g = np.zeros((y.shape[1], y.shape[1]))
        for a in range(0, y.shape[0], GRAM_CHUNK):
            c = y[a : a + GRAM_CHUNK].astype(np.float64)
            g += c.T @ c
    return g


def _cholesky_upper(g: np.ndarray, shift: float) -> np.ndarray | None:
    try:
        lower = np.linalg.cholesky(g + shift * np.eye(g.shape[0]) if shift else g)
    except np.linalg.LinAlgError:
        return None
    return lower.T


def _solve_upper(y: np.ndarray, r: np.ndarray) -> np.ndarray:
    """``y @ inv(r)`` for upper-triangular ``r`` (float64), in place."""
    import scipy.linalg as sl

    inv = sl.solve_triangular(r, np.eye(r.shape[0]), lower=False, check_finite=False)
    rotate_columns(y, y.shape[1], inv)
    return y


def rotate_columns(basis: np.ndarray, used: int, coeffs: np.ndarray) -> None:
    """``basis[:, :w] = basis[:, :used] @ coeffs`` in place, over row chunks.

    Parameters
    ----------
    basis : (m, c) C-contiguous, float32 or float64; c >= w
    used : columns of ``basis`` combined
    coeffs : (used, w) float64 (converted to ``basis``'s dtype)
    """
    c = coeffs.astype(basis.dtype)
    width = c.shape[1]
    for a in range(0, basis.shape[0], GRAM_CHUNK):
        rows = basis[a : a + GRAM_CHUNK]
        rows[:, :width] = rows[:, :used] @ c


def orthonormalize(y: np.ndarray, *, passes: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """``y = q @ r`` with orthonormal columns ``q`` and upper-triangular ``r``.

    CholeskyQR2, preceded by a shifted pass when the Gram matrix is too
    ill-conditioned for its dtype. Columns of a rank-deficient ``y`` still come
    out orthonormal (spanning its range plus rounding directions).

    Parameters
    ----------
    y : (m, l) float32 or float64, C-contiguous, m >= l; overwritten by ``q``
    passes : 2 for orthonormal columns; 1 only makes a well-conditioned basis
        of the same span (orthogonal to about ``cond(y)**2`` float64 roundoff,
        plus ``cond(y)`` in float32), enough between power iterations

    Returns
    -------
    q : (m, l) same dtype, C-contiguous (``y`` itself unless a fallback was needed)
    r : (l, l) float64
    """
    y = np.ascontiguousarray(y)
    m, width = y.shape
    if width == 0:
        return np.ascontiguousarray(y), np.zeros((0, 0))
    return cholesky_qr(
        y, m, width, gram_of=gram, solve=_solve_upper,
        fallback=lambda: _fallback_basis(m, width, y.dtype), householder=_householder,
        passes=passes,
    )  # fmt: skip


def cholesky_qr(y, m: int, width: int, *, gram_of, solve, fallback, householder, passes=2):
    """The steps of :func:`orthonormalize` on a ``y`` held anywhere (an array here,
    row blocks on a cluster in :mod:`mfcli.distributed.svd`).

    ``gram_of(y)`` is ``y.T @ y`` (float64), ``solve(y, r)`` is ``y @ inv(r)``,
    ``fallback()`` an orthonormal basis for an all-zero ``y`` and
    ``householder(y)`` the ``(q, r)`` of a Householder QR, the last resort.
    """
    g = gram_of(y)
    scale = float(np.trace(g))
    if not np.isfinite(scale):
        raise NumericsError(
            "non-finite values appeared in the products",
            hint="values too large for float32? try dtype float64 or rescale the input",
        )
    if scale == 0.0:
        return fallback(), np.zeros((width, width))
    r_total = np.eye(width)
    r = _cholesky_upper(g, 0.0)
    if r is None or np.linalg.cond(r) > MAX_COND:
        # Shifted CholeskyQR (Fukaya et al. 2020) with the float64 Gram's roundoff.
        eps = float(np.finfo(np.float64).eps)
        shift = 11.0 * (m * width + width * (width + 1)) * eps * scale
        r = _cholesky_upper(g, shift)
        if r is None:  # a shifted PSD matrix always has a Cholesky factor
            raise NumericsError("Cholesky factorisation of a shifted Gram matrix failed")
        y = solve(y, r)
        r_total = r
        r = _cholesky_upper(gram_of(y), 0.0)
    for step in range(passes):
        if r is None:  # not expected after a shift; Householder QR as a last resort
            q, rr = householder(y)
            return q, rr @ r_total
        y = solve(y, r)
        r_total = r @ r_total
        r = _cholesky_upper(gram_of(y), 0.0) if step + 1 < passes else r
    return y, r_total


def _householder(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    q, rr = np.linalg.qr(y)
    return np.ascontiguousarray(q), rr.astype(np.float64)


def _fallback_basis(m: int, width: int, dtype) -> np.ndarray:
    # Any orthonormal columns will do for an all-zero block; seeded, so deterministic.
    rng = np.random.default_rng(m * 7919 + width)
    q, _ = np.linalg.qr(rng.standard_normal((m, width)))
    return np.ascontiguousarray(q, dtype=dtype)


def orthonormalize_against(
    basis: np.ndarray, y: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``y = basis @ c + q @ r`` with ``q`` orthonormal and orthogonal to ``basis``.

    Block classical Gram-Schmidt run twice (CGS2), then :func:`orthonormalize`;
    when ``y`` had (nearly) dependent columns the new directions are projected
    out of ``basis`` once more.

    Parameters
    ----------
    basis : (m, j) orthonormal columns, float32 or float64 (may be a view)
    y : (m, l) same dtype; overwritten

    Returns
    -------
    q : (m, l) C-contiguous
    c : (j, l) float64
    r : (l, l) float64 upper triangular
    """
    c = np.zeros((basis.shape[1], y.shape[1]))
    norms = np.linalg.norm(y, axis=0)
    size = float(norms.max()) if norms.size else 0.0
    if basis.shape[1]:
        for _ in range(2):
            step = basis.T @ y
            y -= basis @ step
            c += step
            # "Twice is enough", and once when no column lost more than 1 - 1/sqrt(2)
            # of its norm (Kahan-Parlett): then no cancellation spoiled the projection.
            after = np.linalg.norm(y, axis=0)
            if np.all(after >= REORTH_RATIO * norms):
                break
            norms = after
    q, r = orthonormalize(y)
    d = np.abs(np.diag(r))
    if basis.shape[1] and d.size and d.min() < np.sqrt(np.finfo(y.dtype).eps) * size:
        # Rounding directions of a dependent block are not orthogonal to basis yet.
        step = basis.T @ q
        q -= basis @ step
        c += step @ r
        q, r2 = orthonormalize(q)
        r = r2 @ r
    return q, c, r
