"""Numba kernels: pure functions over arrays. No files, configs or printing here."""
