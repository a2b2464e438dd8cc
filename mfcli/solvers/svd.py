"""Truncated SVD and PCA of sparse or dense matrices: randomized, Lanczos, dense.

``truncated_svd(X, k)`` returns an :class:`SVDFit` with ``X ~ U diag(s) V.T``
(``X - 1 mean`` when ``center=True``: PCA without densifying a sparse matrix).

Methods
-------
``randomized`` (default)
    Halko, Martinsson & Tropp (2011): a Gaussian sketch of ``k + oversample``
    columns and ``power_iters`` passes of ``A.T`` then ``A`` (default 5, the
    default of scikit-learn's TruncatedSVD, so results are comparable), then
    the exact SVD of the projection: ``2 * power_iters + 2`` products. Between
    products one Cholesky QR pass keeps the basis well conditioned (the job
    LU does in scikit-learn, at the cost of two BLAS-3 calls); the final basis
    gets CholeskyQR2, orthonormal to roundoff (see :mod:`mfcli.solvers.linalg`;
    LAPACK's Householder QR of a 200k x 60 block was several times slower here).
``lanczos``
    Block Lanczos with full re-orthogonalisation and thick restarts (Wu &
    Simon 2000) on ``A.T A`` (``A A.T`` when m < n), so the Krylov basis lives
    on the smaller side. Each cycle adds ``LANCZOS_STEPS`` blocks of
    ``LANCZOS_BLOCK`` columns (a product with ``A`` and one with ``A.T`` each)
    to the ``k + oversample`` best Ritz vectors of the last cycle, until each of
    the ``k`` residuals ``||A.T u_i - s_i v_i||`` is at most ``tol * s_1``
    (default ``tol``: 1e-5 for float32 factors, 1e-9 for float64) or at the
    roundoff floor of ``A.T A``. A last Rayleigh-Ritz step on ``A V`` gives
    ``s`` with the accuracy of an SVD of ``A V`` (not of the eigenvalues of
    ``A.T A``) and ``A v_i = s_i u_i`` to roundoff. On 200k x 50k with 20M
    entries and k = 50 the top singular values agree with ARPACK's to ~1e-7 in
    float32. (A Golub-Kahan bidiagonalisation keeping and re-orthogonalising
    both bases was as accurate but slower and larger there: 14 s and 850 MiB
    peak against 9 s and 640 MiB.)
``dense``
    LAPACK's SVD of the densified matrix (only within the dense limits).

When ``k >= min(m, n)`` (or the sketch would cover the whole matrix) the exact
dense SVD is used if the matrix is small enough (``min(m, n) <= 5000`` and
``m * n <= 5e7``), with a note; otherwise :class:`~mfcli.errors.UsageError`.

Conventions
-----------
* ``s`` descending, float64; ``U`` and ``V`` in the requested dtype. Sparse
  products run in that dtype; dense ones in the wider of it and the array's
  (a float64 array is never copied to float32).
* Signs: in each column of ``V`` the entry of largest magnitude (the first
  one on ties) is positive, ``U`` follows. This is scikit-learn's ``svd_flip``
  with ``u_based_decision=False`` (TruncatedSVD and PCA since 1.5).
* ``explained_variance``: with ``center=True``, PCA's ``s**2 / (m - 1)`` and a
  ratio over the total variance ``||X - 1 mean||_F**2 / (m - 1)``; without,
  TruncatedSVD's variance of the scores ``X @ v_i`` (``s_i**2 / m -
  (mean @ v_i)**2``, ddof 0) over the sum of column variances
  ``||X||_F**2 / m - ||mean||**2``. Both from sums over stored entries.
* Determinism: a seed gives the same factors on any number of threads. The
  kernels sum every value on one thread in a fixed order and Gram matrices
  are summed over fixed row chunks; sparse fits run BLAS on one thread (with
  threadpoolctl installed; see :func:`mfcli.solvers.linalg.blas_threads`).
  Dense inputs use BLAS's threads, assumed deterministic for a fixed count.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from mfcli.errors import InputDataError, UsageError
from mfcli.solvers import linalg

METHODS = ("randomized", "lanczos", "dense")
DENSE_MAX_MIN_DIM = 5000  # exact dense SVD only up to this min(m, n) ...
DENSE_MAX_CELLS = 50_000_000  # ... and this many cells (400 MB in float64)
DEFAULT_POWER_ITERS = 5  # scikit-learn TruncatedSVD's n_iter
LANCZOS_BLOCK = 20  # columns added per Lanczos step
LANCZOS_STEPS = 6  # steps per restart cycle
LANCZOS_MAX_CYCLES = 300
LANCZOS_TOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-9}
CHECK_CHUNK = 1 << 20  # values per finiteness check
RESIDUAL_FLOOR = 4.0  # converged at this many eps * s_1**2 of eigen-residual

Callback = Callable[[int, dict], object]


@dataclass
class SVDFit:
    """A truncated SVD ``X ~ offset + 1 mean + U diag(s) V.T``.

    Attributes
    ----------
    U : (m, k) left singular vectors, the requested dtype
    s : (k,) singular values, descending, float64
    V : (n, k) right singular vectors (V, not V.T), the requested dtype
    mean : (n,) float64 column means subtracted (``center=True``), or None
    explained_variance : (k,) float64, see the module docstring
    explained_variance_ratio : (k,) float64
    history : per-iteration arrays ("seconds", and for lanczos "residual" and
        "converged", for soft-impute "objective", "rmse", "change", "rank")
    n_iter : power iterations (randomized), restart cycles (lanczos),
        iterations (soft-impute), 0 (dense)
    method : "randomized", "lanczos", "dense" or "soft-impute"
    notes : what the user should know (fallbacks, convergence)
    offset : global value added to every prediction (soft-impute), else 0.0
    shrink : soft-threshold applied to the singular values (soft-impute), else 0.0
    """

    U: np.ndarray
    s: np.ndarray
    V: np.ndarray
    mean: np.ndarray | None
    explained_variance: np.ndarray
    explained_variance_ratio: np.ndarray
    history: dict[str, np.ndarray] = field(default_factory=dict)
    n_iter: int = 0
    method: str = "randomized"
    notes: list[str] = field(default_factory=list)
    offset: float = 0.0
    shrink: float = 0.0

    @property
    def k(self) -> int:
        return int(self.s.shape[0])


# ------------------------------------------------------------------ inputs
@dataclass
class Input:
    """A validated input: CSR arrays or a dense array, with its shape."""

    shape: tuple[int, int]
    dense: np.ndarray | None = None
    indptr: np.ndarray | None = None
    indices: np.ndarray | None = None
    data: np.ndarray | None = None

    @property
    def is_sparse(self) -> bool:
        return self.dense is None

    def to_dense(self, dtype) -> np.ndarray:
        if not self.is_sparse:
            return np.array(self.dense, dtype=dtype, order="C")
        import scipy.sparse as sp

        csr = sp.csr_matrix((self.data, self.indices, self.indptr), shape=self.shape)
        return csr.toarray().astype(dtype, copy=False)

    def operator(self, dtype, *, center: bool) -> linalg.Operator:
        if self.is_sparse:
            return linalg.SparseOperator(
                self.indptr, self.indices, self.data, self.shape, dtype, center=center
            )
        return linalg.DenseOperator(self.dense, dtype, center=center)


def as_input(X, *, what: str = "matrix", allow_nan: bool = False) -> Input:
    """Validate ``X`` (a mfcli Matrix, scipy.sparse matrix or 2-D array).

    Raises
    ------
    InputDataError
        empty matrix, non-finite values (NaN allowed in dense input when
        ``allow_nan``), or an unsupported type.
    """
    from mfcli.data import Matrix

    if isinstance(X, Matrix):
        if X.is_sparse:
            inp = Input(X.shape, indptr=X.indptr, indices=X.indices, data=X.data)
        else:
            inp = Input(X.shape, dense=X.data)
    elif hasattr(X, "tocsr") and hasattr(X, "nnz"):
        csr = X.tocsr(copy=False)
        if not csr.has_canonical_format:
            csr = csr.copy()
            csr.sum_duplicates()
        inp = Input(
            (int(csr.shape[0]), int(csr.shape[1])),
            indptr=csr.indptr,
            indices=csr.indices,
            data=csr.data,
        )
    else:
        array = np.asarray(X)
        if array.ndim != 2:
            raise InputDataError(f"expected a 2-D {what}, got {array.ndim}-D")
        inp = Input((int(array.shape[0]), int(array.shape[1])), dense=array)
    m, n = inp.shape
    if m == 0 or n == 0:
        raise InputDataError(
            f"the {what} is empty ({m} x {n})", hint="the input needs rows and columns"
        )
    values = inp.data if inp.is_sparse else inp.dense
    if values.dtype.kind not in "biuf":
        raise InputDataError(f"{what} values must be real numbers, got {values.dtype}")
    if values.dtype.kind != "f":
        values = values.astype(np.float64)
        if inp.is_sparse:
            inp.data = values
        else:
            inp.dense = values
    _check_finite(inp, values, what, allow_nan)
    return inp


def _check_finite(inp: Input, values: np.ndarray, what: str, allow_nan: bool) -> None:
    flat = values.reshape(-1)  # a view for contiguous inputs
    bad = -1
    for a in range(0, flat.shape[0], CHECK_CHUNK):  # no input-sized mask
        part = flat[a : a + CHECK_CHUNK]
        finite = np.isfinite(part)
        if allow_nan:
            finite |= np.isnan(part)
        if not finite.all():
            bad = a + int(np.argmin(finite))
            break
    if bad < 0:
        return
    if inp.is_sparse:
        row = int(np.searchsorted(inp.indptr, bad, side="right")) - 1
        col = int(inp.indices[bad])
    else:
        row, col = divmod(bad, inp.shape[1])
    value = flat[bad]
    raise InputDataError(
        f"the {what} holds a non-finite value ({value}) at row {row + 1}, column {col + 1}",
        hint="remove or replace NaN/inf entries before factorizing",
    )


def _check_dtype(dtype) -> np.dtype:
    dt = np.dtype(dtype)
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise UsageError(f"dtype must be float32 or float64, got {dt}")
    return dt


def _check_int(name: str, value, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise UsageError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def dense_allowed(shape: tuple[int, int]) -> bool:
    """Whether an exact dense SVD of this shape is within the limits."""
    m, n = shape
    return min(m, n) <= DENSE_MAX_MIN_DIM and m * n <= DENSE_MAX_CELLS


def _too_large(k: int, shape: tuple[int, int]) -> UsageError:
    m, n = shape
    return UsageError(
        f"k={k} is not below min(m, n)={min(m, n)} and the {m} x {n} matrix is too "
        f"large for an exact dense SVD (limits: min(m, n) <= {DENSE_MAX_MIN_DIM}, "
        f"m * n <= {DENSE_MAX_CELLS:.0e})",
        hint=f"choose k < {min(m, n)}",
    )


# ------------------------------------------------------------------ public
def truncated_svd(
    X,
    k: int,
    *,
    method: str = "randomized",
    oversample: int = 10,
    power_iters: int | None = None,
    tol: float | None = None,
    max_iter: int | None = None,
    center: bool = False,
    seed: int = 0,
    dtype=np.float32,
    callback: Callback | None = None,
) -> SVDFit:
    """The ``k`` largest singular triplets of ``X`` (or of ``X - 1 mean`` when centred).

    Parameters
    ----------
    X : mfcli.data.Matrix, scipy.sparse matrix or (m, n) ndarray
    k : number of singular values, >= 1
    method : "randomized", "lanczos" or "dense"
    oversample : extra sketch columns (randomized); extra Ritz vectors kept
        at a restart (lanczos)
    power_iters : randomized passes of ``A.T`` then ``A``; default 5
    tol : lanczos: stop when each of the ``k`` residuals ``||A.T u - s v||``
        is at most ``tol * s[0]``; default 1e-5 (float32) or 1e-9 (float64)
    max_iter : lanczos restart cycles at most; default 300
    center : subtract the column means (PCA), inside the products for sparse X
    seed : seed of the random start
    dtype : float32 or float64, the dtype of the factors and of the products
    callback : ``callback(iteration, stats)`` once per pass or cycle; raising
        stops the fit (the exception propagates)

    Returns
    -------
    SVDFit

    Raises
    ------
    UsageError
        bad ``k``, method or option; ``k >= min(m, n)`` on a matrix too large
        for the exact dense SVD
    InputDataError
        empty matrix, NaN or inf values, a matrix that is all zeros
    """
    start = time.perf_counter()
    dt = _check_dtype(dtype)
    if method not in METHODS:
        raise UsageError(f"unknown SVD method {method!r}", hint="choose " + ", ".join(METHODS))
    k = _check_int("k", k, 1)
    oversample = _check_int("oversample", oversample, 0)
    if power_iters is not None:
        power_iters = _check_int("power_iters", power_iters, 0)
    if max_iter is not None:
        max_iter = _check_int("max_iter", max_iter, 1)
    if tol is not None and not (np.isfinite(tol) and tol > 0):
        raise UsageError(f"tol must be a positive number, got {tol!r}")
    inp = as_input(X)
    m, n = inp.shape
    notes: list[str] = []
    small = min(m, n)
    if k >= small:
        if not dense_allowed(inp.shape):
            raise _too_large(k, inp.shape)
        if k > small:
            notes.append(f"k={k} is above min(m, n)={small}: {small} components returned")
        notes.append(f"k >= min(m, n)={small}: exact dense SVD used")
        method, k = "dense", small
    elif method == "dense" and not dense_allowed(inp.shape):
        raise UsageError(
            f"the {m} x {n} matrix is too large for an exact dense SVD",
            hint="use method randomized or lanczos",
        )
    elif method != "dense" and k + oversample >= small and dense_allowed(inp.shape):
        notes.append(f"k + oversample >= min(m, n)={small}: exact dense SVD used")
        method = "dense"

    op = inp.operator(dt, center=center)
    total = op.squared_norm()
    if total == 0.0:
        what = "centred matrix" if center else "matrix"
        raise InputDataError(
            f"the {what} is all zeros: there is nothing to factorize",
            hint="every column is constant" if center else "check the input values",
        )
    rng = np.random.default_rng(seed)
    if method == "lanczos" and tol is None:
        tol = LANCZOS_TOL[dt]  # by the requested dtype, whatever the products run in
    with linalg.blas_threads(1 if inp.is_sparse and method != "dense" else None):
        U, s, V, history, n_iter = _solve(
            inp, op, k, method, oversample, power_iters, tol, max_iter, rng, callback, start, notes
        )
    op.release()  # the transposed copy: room for the contiguous factors
    U, V = flip_signs(U, V)
    U, V = U.astype(dt, copy=False), V.astype(dt, copy=False)
    ev, ratio = explained_variance(inp, op, s, V, center, total)
    return SVDFit(
        U=U,
        s=s,
        V=V,
        mean=op.mean,
        explained_variance=ev,
        explained_variance_ratio=ratio,
        history=history,
        n_iter=int(n_iter),
        method=method,
        notes=notes,
    )


def _solve(inp, op, k, method, oversample, power_iters, tol, max_iter, rng, callback, start, notes):
    """Run ``method``; returns ``(U, s, V, history, n_iter)`` and appends to ``notes``."""
    dt = op.dtype
    history: dict[str, np.ndarray] = {}
    if method == "dense":
        U, s, V = _dense_svd(inp, op, k, dt)
        n_iter = 0
    elif method == "randomized":
        q = DEFAULT_POWER_ITERS if power_iters is None else power_iters
        U, s, V, history = _randomized(op, k, k + oversample, q, rng, callback, start)
        n_iter = q
    else:
        tol = float(tol)
        cycles = LANCZOS_MAX_CYCLES if max_iter is None else max_iter
        U, s, V, history, n_iter, converged = _lanczos(
            op, k, k + oversample, tol, cycles, rng, callback, start
        )
        if not converged:
            worst = float(history["residual"][-1])
            notes.append(
                f"lanczos stopped after {n_iter} cycles before every residual met "
                f"tol={tol:g} (largest residual / s[0]: {worst:.2e})"
            )
    return U, s, V, history, n_iter


def fold_in(fit: SVDFit, rows) -> np.ndarray:
    """Project new rows onto a fit: ``(rows - mean) @ V @ diag(1 / s)``.

    Components with ``s == 0`` get 0. For a soft-impute fit only the stored
    entries of a sparse row count (missing is not zero): each row's
    coordinates solve the ridge problem of the fit's objective,
    ``min_a ||r - (B a)_obs||**2 + shrink * ||a||**2`` with ``B = V diag(sqrt s)``
    and ``r = row - offset``, returned as ``a / sqrt(s)`` so that predictions
    are ``offset + rows_k @ diag(s) @ V.T`` as for the fitted rows.

    Parameters
    ----------
    fit : SVDFit
    rows : mfcli.data.Matrix, scipy.sparse matrix or (r, n) ndarray

    Returns
    -------
    (r, k) array in the dtype of ``fit.V``
    """
    n, k = fit.V.shape
    if fit.method == "soft-impute":
        from mfcli.solvers.softimpute import fold_in_observed, observed

        inp = observed(rows, what="rows")
    else:
        inp = as_input(rows, what="rows")
    if inp.shape[1] != n:
        raise InputDataError(
            f"the rows have {inp.shape[1]} columns but the model has {n}",
            hint="fold in rows over the same columns as the fitted matrix",
        )
    if fit.method == "soft-impute":
        return fold_in_observed(fit, inp)
    dt = fit.V.dtype
    inv = np.zeros(k)
    positive = fit.s > 0
    inv[positive] = 1.0 / fit.s[positive]
    op = inp.operator(dt, center=False)
    proj = op.matmul(fit.V).astype(np.float64)
    if fit.mean is not None:
        proj -= fit.mean @ fit.V.astype(np.float64)
    return (proj * inv).astype(dt)


# ------------------------------------------------------------------ helpers
def flip_signs(U: np.ndarray, V: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Make the largest-magnitude entry of each column of ``V`` positive.

    ``U`` and ``V`` may be views (they are changed in place); the results are
    C-contiguous.
    """
    if V.shape[1]:
        top = np.argmax(np.abs(V), axis=0)
        signs = np.sign(V[top, np.arange(V.shape[1])])
        signs[signs == 0] = 1
        U *= signs.astype(U.dtype)
        V *= signs.astype(V.dtype)
    return np.ascontiguousarray(U), np.ascontiguousarray(V)


def column_means(inp: Input) -> np.ndarray:
    """(n,) float64 column means of the stored matrix."""
    m, n = inp.shape
    if inp.is_sparse:
        return np.bincount(inp.indices, weights=inp.data, minlength=n) / m
    return inp.dense.mean(axis=0, dtype=np.float64)


def explained_variance(inp, op, s, V, center, total):
    """scikit-learn's conventions (module docstring); ``total`` is ``||A||_F**2``."""
    m = inp.shape[0]
    s2 = s.astype(np.float64) ** 2
    if center:
        ev = s2 / max(m - 1, 1)
        return ev, s2 / total
    mean = column_means(inp)
    ev = s2 / m - (mean @ V.astype(np.float64)) ** 2
    var_total = total / m - float(mean @ mean)
    ratio = ev / var_total if var_total > 0 else np.zeros_like(ev)
    return ev, ratio


def _small_svd(r: np.ndarray):
    """SVD of a small float64 matrix, falling back to a slower driver if needed."""
    try:
        return np.linalg.svd(r, full_matrices=False)
    except np.linalg.LinAlgError:
        import scipy.linalg as sl

        return sl.svd(r, full_matrices=False, lapack_driver="gesvd")


def _dense_svd(inp: Input, op: linalg.Operator, k: int, dt):
    if isinstance(op, linalg.DenseOperator):
        a = op.centered()
    else:
        a = inp.to_dense(dt)
        if op.mean is not None:
            a -= op.mean.astype(dt)
    u, s, vt = _small_svd(a)
    return (
        np.ascontiguousarray(u[:, :k], dtype=dt),
        s[:k].astype(np.float64),
        np.ascontiguousarray(vt[:k].T, dtype=dt),
    )


def _randomized(op, k, width, power_iters, rng, callback, start):
    m, n = op.shape
    width = min(width, m, n)
    seconds = []
    z = rng.standard_normal((n, width), dtype=op.dtype)
    # Between products one Cholesky pass keeps the basis well conditioned (the
    # role LU plays in scikit-learn); the last basis is orthonormal to roundoff.
    # Products are written over the buffer they no longer need.
    q, _ = linalg.orthonormalize(op.matmul(z), passes=1 if power_iters else 2)
    for it in range(power_iters):
        z, _ = linalg.orthonormalize(op.rmatmul(q, out=z), passes=1)
        last = it == power_iters - 1
        q, _ = linalg.orthonormalize(op.matmul(z, out=q), passes=2 if last else 1)
        seconds.append(time.perf_counter() - start)
        if callback is not None:
            callback(it + 1, {"pass": it + 1, "of": power_iters, "seconds": seconds[-1]})
    # A ~ q q.T A = q (A.T q).T = q r.T w.T with A.T q = w r.
    w, r = linalg.orthonormalize(op.rmatmul(q, out=z))
    ub, s, vbt = _small_svd(r.T)
    linalg.rotate_columns(q, width, ub[:, :k])
    linalg.rotate_columns(w, width, vbt[:k].T)
    history = {"seconds": np.asarray(seconds)} if seconds else {}
    return q[:, :k], s[:k].astype(np.float64), w[:, :k], history


def _lanczos(op, k, keep, tol, max_cycles, rng, callback, start):
    """Thick-restart block Lanczos on ``G = A.T A`` (or ``A A.T`` when m < n).

    The basis lives on the smaller side only (``min(m, n)`` rows), so its
    memory and its re-orthogonalisation are those of the small dimension.
    Invariants within a cycle: ``basis[:, :nv]`` is orthonormal,
    ``t[:nv, :nv] = basis.T @ G @ basis`` (float64, symmetric), and the pending
    block ``p`` is orthogonal to the basis with ``G @ basis - basis @ t`` in its
    span. At the end a Rayleigh-Ritz step on ``F x`` (``F = A`` or ``A.T``)
    gives singular values with the accuracy of an SVD of ``F x`` rather than
    of the eigenvalues of ``G``, and ``F v_i = s_i u_i`` to roundoff.
    """
    m, n = op.shape
    small = min(m, n)
    if m >= n:
        forward, gram = op.matmul, op.gram_matmul  # basis of right vectors
    else:
        forward = op.rmatmul  # basis of left vectors

        def gram(block):
            return op.matmul(op.rmatmul(block))

    # Smaller blocks and fewer steps when the matrix is narrow: the basis and the
    # pending block must fit in the small dimension (size + block <= small), or
    # the pending block holds rounding directions and the restarts stall.
    block = max(1, min(LANCZOS_BLOCK, (small - k) // 2))
    keep = max(k, min(keep, small - 2 * block))
    steps = max(1, min(LANCZOS_STEPS, (small - block - keep) // block))
    size = keep + steps * block
    dt = op.dtype
    eps = float(np.finfo(dt).eps)
    basis = np.empty((small, size), dtype=dt)
    t = np.zeros((size, size))
    p, _ = linalg.orthonormalize(rng.standard_normal((small, block), dtype=dt))
    nv = 0
    hist = {"residual": [], "converged": [], "seconds": []}
    converged = False
    cycle = 0
    while True:
        cycle += 1
        while nv + block <= size:
            basis[:, nv : nv + block] = p
            z = gram(p)
            lo, nv = nv, nv + block
            p, c, r = linalg.orthonormalize_against(basis[:, :nv], z)
            t[:nv, lo:nv] = c
            t[lo:nv, :lo] = c[:lo].T
            t[lo:nv, lo:nv] = 0.5 * (c[lo:nv] + c[lo:nv].T)
            del z
        theta, y = np.linalg.eigh(t[:nv, :nv])
        theta, y = theta[::-1], y[:, ::-1]
        s = np.sqrt(np.maximum(theta, 0.0))
        top = s[0] if s[0] > 0 else 1.0
        # ||G x - theta x|| = ||A.T u - s v|| * s: measured against tol * s_1 * s, or
        # against the roundoff of G (a few eps * s_1**2), below which it cannot go.
        res = np.linalg.norm(r @ y[nv - block : nv, :k], axis=0)
        done = (res <= tol * top * s[:k]) | (res <= RESIDUAL_FLOOR * eps * top**2)
        rel = res / np.maximum(s[:k], eps * top) / top
        n_conv = int(np.sum(done))
        hist["residual"].append(float(rel.max()))
        hist["converged"].append(n_conv)
        hist["seconds"].append(time.perf_counter() - start)
        if callback is not None:
            stats = {"cycle": cycle, "residual": float(rel.max()), "converged": n_conv, "of": k}
            callback(cycle, {**stats, "seconds": hist["seconds"][-1]})
        converged = n_conv == k
        if converged or cycle >= max_cycles:
            break
        linalg.rotate_columns(basis, nv, y[:, :keep])
        t[:] = 0.0
        t[np.arange(keep), np.arange(keep)] = theta[:keep]
        nv = keep
    del p
    linalg.rotate_columns(basis, nv, y[:, :k])
    x = np.ascontiguousarray(basis[:, :k])
    del basis
    # Orthonormal to roundoff again after the rotations (they cost ~1e-6 in float32).
    x, _ = linalg.orthonormalize(x)
    q, rr = linalg.orthonormalize(forward(x))
    a, s, bt = _small_svd(rr)
    linalg.rotate_columns(x, k, bt.T)
    linalg.rotate_columns(q, k, a)
    U, V = (q, x) if m >= n else (x, q)
    history = {name: np.asarray(values) for name, values in hist.items()}
    return U, s.astype(np.float64), V, history, cycle, converged
