"""Numba kernels: pure functions over arrays. No files, configs or printing here."""

from mfcli.runtime import configure_numba_cache

# Must run before the first kernel module imports numba.
configure_numba_cache()
