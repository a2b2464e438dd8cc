"""A trivial parallel kernel: running it makes numba pick its threading layer."""

import numpy as np
from numba import njit, prange


@njit(cache=True, parallel=True)
def _fill(out):
    for i in prange(out.shape[0]):
        out[i] = i


def touch_threads() -> None:
    _fill(np.empty(4, dtype=np.int64))
