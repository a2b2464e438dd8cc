"""Starting factors for NMF: NNDSVD and its variants, or scaled random values.

The formulas are scikit-learn's (``sklearn.decomposition._nmf._initialize_nmf``)
so that "same init" comparisons are honest; the SVD is ours
(:func:`mfcli.solvers.svd.truncated_svd`, randomized and seeded, sparse
input never densified) computed to convergence, where scikit-learn uses a
7-pass randomized SVD: the factors agree with scikit-learn's closely for
well-separated singular values and loosely for the trailing components of a
matrix whose spectrum decays slowly (where scikit-learn's are the less exact).
"To convergence": every residual ``||X v_j - s_j u_j||`` at most
``tol * s_0``, Lanczos's default ``tol`` for the dtype (1e-5 float32, 1e-9
float64). A dense input first tries a randomized sketch (1 power pass for
float32, 2 for float64) and keeps it when it meets that; otherwise, and for
sparse input, Lanczos runs.

``nndsvd`` (Boutsidis & Gallopoulos 2008)
    From the top ``k`` singular triplets ``(s_j, u_j, v_j)``: component 0 is
    ``sqrt(s_0) |u_0|``, ``sqrt(s_0) |v_0|``; component ``j >= 1`` keeps the
    positive parts ``(u_j+, v_j+)`` or the negative parts ``(u_j-, v_j-)``,
    whichever has the larger ``||u|| ||v||`` (ties: the negative parts),
    normalised and scaled by ``sqrt(s_j ||u|| ||v||)``. Values below 1e-6
    become 0. The choice is invariant under flipping the sign of a
    singular pair, so the SVD's sign convention does not matter.
``nndsvda``
    ``nndsvd`` with its zeros replaced by the mean of ``X`` (better for
    sparse data and for the multiplicative updates, which cannot move a 0).
``nndsvdar``
    ``nndsvd`` with its zeros replaced by ``|N(0, 1)| * mean / 100``, seeded.
``random``
    ``sqrt(mean / k) * |N(0, 1)|`` for each entry of ``W`` then of ``H``,
    seeded (scikit-learn's scale; its own draws come from a different
    generator, so the values differ).

"mean" is over the fitted entries: all ``m * n`` entries for ``mask none``
(the zeros of a sparse matrix are data), the stored ones for ``mask observed``.
"""

from __future__ import annotations

import numpy as np

from mfcli.solvers.svd import LANCZOS_TOL, Input, truncated_svd

NNDSVD_EPS = 1e-6  # scikit-learn's cut-off for small NNDSVD values
# Dense 2000 x 1000 rank 20 + noise, k = 20, float32: a 1-pass sketch met the
# tolerance (2e-6) in 14 ms where Lanczos took 54 ms. Sparse inputs skip the
# sketch: their products are cheap and slowly decaying spectra never passed
# (BBC, ratings: 1e-2).
# float64's tolerance is 1e4 times tighter: one more pass (there: 3e-6 -> 5e-10).
SKETCH_POWER_ITERS = {np.dtype(np.float32): 1, np.dtype(np.float64): 2}


def fitted_mean(inp: Input, observed: bool) -> float:
    """Mean of the fitted entries (see the module docstring), float64."""
    m, n = inp.shape
    if inp.is_sparse:
        total = float(np.sum(inp.data, dtype=np.float64))
        count = inp.data.shape[0] if observed else m * n
        return total / count if count else 0.0
    return float(np.mean(inp.dense, dtype=np.float64))


def nndsvd_factors(U: np.ndarray, s: np.ndarray, V: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Plain NNDSVD from singular triplets (float64).

    Parameters
    ----------
    U : (m, k) left singular vectors
    s : (k,) singular values, descending
    V : (n, k) right singular vectors (V, not V.T)

    Returns
    -------
    W : (m, k) float64, non-negative
    H : (n, k) float64, non-negative
    """
    U = np.asarray(U, dtype=np.float64)
    V = np.asarray(V, dtype=np.float64)
    m, k = U.shape
    n = V.shape[0]
    W = np.zeros((m, k))
    H = np.zeros((n, k))
    W[:, 0] = np.sqrt(s[0]) * np.abs(U[:, 0])
    H[:, 0] = np.sqrt(s[0]) * np.abs(V[:, 0])
    for j in range(1, k):
        x, y = U[:, j], V[:, j]
        xp, yp = np.maximum(x, 0), np.maximum(y, 0)
        xn, yn = np.abs(np.minimum(x, 0)), np.abs(np.minimum(y, 0))
        xp_nrm, yp_nrm = np.linalg.norm(xp), np.linalg.norm(yp)
        xn_nrm, yn_nrm = np.linalg.norm(xn), np.linalg.norm(yn)
        mp, mn = xp_nrm * yp_nrm, xn_nrm * yn_nrm
        if mp > mn:
            u, v, sigma = xp / xp_nrm, yp / yp_nrm, mp
        elif mn > 0:
            u, v, sigma = xn / xn_nrm, yn / yn_nrm, mn
        else:  # a singular pair of zeros (rank below k): the component starts at 0
            continue
        lbd = np.sqrt(s[j] * sigma)
        W[:, j] = lbd * u
        H[:, j] = lbd * v
    W[W < NNDSVD_EPS] = 0
    H[H < NNDSVD_EPS] = 0
    return W, H


def _svd_input(inp: Input):
    if not inp.is_sparse:
        return inp.dense
    import scipy.sparse as sp

    return sp.csr_matrix((inp.data, inp.indices, inp.indptr), shape=inp.shape, copy=False)


def _top_singular(inp: Input, k: int, seed: int, dtype, dense):
    """(U, s, V) of the top ``k`` triplets, converged (module docstring)."""
    if dense is not None:
        passes = SKETCH_POWER_ITERS[np.dtype(dtype)]
        fit = truncated_svd(dense, k, method="randomized", power_iters=passes, seed=seed,
                            dtype=dtype)  # fmt: skip
        with np.errstate(over="ignore", invalid="ignore"):
            res = np.linalg.norm((dense @ fit.V - fit.U * fit.s).astype(np.float64), axis=0)
        if fit.s[0] > 0 and np.all(res <= LANCZOS_TOL[np.dtype(dtype)] * fit.s[0]):
            return fit.U, fit.s, fit.V
    X = _svd_input(inp) if dense is None else dense
    fit = truncated_svd(X, k, method="lanczos", seed=seed, dtype=dtype)
    return fit.U, fit.s, fit.V


def initialize(
    inp: Input, k: int, init: str, *, observed: bool, seed: int, dtype, dense=None
) -> tuple[np.ndarray, np.ndarray]:
    """Starting ``W`` (m, k) and ``H`` (n, k) in ``dtype``, C-contiguous.

    Parameters
    ----------
    inp : the validated input (non-negative, not all zeros)
    k : components, 1 <= k <= min(m, n)
    init : "nndsvd", "nndsvda", "nndsvdar" or "random" (already resolved)
    observed : whether only the stored entries are fitted (sets the mean)
    seed : seeds the SVD sketch and the random values
    dtype : float32 or float64
    dense : the dense input already in ``dtype`` (C-contiguous), or None: the
        SVD's products then run in ``dtype`` without another copy
    """
    m, n = inp.shape
    mean = fitted_mean(inp, observed)
    rng = np.random.default_rng(seed)
    if init == "random":
        scale = np.sqrt(mean / k)
        W = scale * np.abs(rng.standard_normal((m, k)))
        H = scale * np.abs(rng.standard_normal((n, k)))
    else:
        # A converged SVD, not any sketch: the trailing singular vectors of a
        # sketch are off (scikit-learn's 7-pass randomized_svd: by up to 10-20% on
        # the 9635 x 2225 BBC matrix, k = 20), the start then depends on the
        # sketch's seed and NMF ends in a different local minimum (there: 919.71 or
        # 919.49 by seed, against 919.16 from the exact NNDSVD). 0.1 s more there.
        W, H = nndsvd_factors(*_top_singular(inp, k, seed, dtype, dense))
        fill_zeros(W, H, init, mean, rng)
    return np.ascontiguousarray(W, dtype=dtype), np.ascontiguousarray(H, dtype=dtype)


def fill_zeros(W: np.ndarray, H: np.ndarray, init: str, mean: float, rng) -> None:
    """NNDSVD's zeros, in place: the mean (nndsvda), small random values (nndsvdar) or kept."""
    if init == "nndsvda":
        W[W == 0] = mean
        H[H == 0] = mean
    elif init == "nndsvdar":
        zw, zh = W == 0, H == 0
        W[zw] = np.abs(mean * rng.standard_normal(int(zw.sum())) / 100)
        H[zh] = np.abs(mean * rng.standard_normal(int(zh.sum())) / 100)
