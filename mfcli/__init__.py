"""mfcli: matrix factorization from the command line.

Importing this package is cheap: numba, scipy and h5py are imported only by
the modules that need them.
"""

__version__ = "0.1.0"

__all__ = ["__version__", "read_matrix", "Matrix"]


def __getattr__(name: str):
    # Lazy re-exports keep `import mfcli` (and `mfcli --help`) fast.
    if name == "read_matrix":
        from mfcli.io import read_matrix

        return read_matrix
    if name == "Matrix":
        from mfcli.data import Matrix

        return Matrix
    raise AttributeError(f"module 'mfcli' has no attribute {name!r}")
