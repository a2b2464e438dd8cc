"""The one place that chains reading, computing and writing for the commands.

The CLI resolves a config and calls one function here; nothing here parses
options or prints. One module per command.
"""

from mfcli.api.als import fit_als
from mfcli.api.evaluate import evaluate_files
from mfcli.api.nmf import fit_nmf
from mfcli.api.recommend import recommendations
from mfcli.api.sgd import fit_sgd
from mfcli.api.svd import fit_svd
from mfcli.api.transform import transform_rows

__all__ = [
    "evaluate_files",
    "fit_als",
    "fit_nmf",
    "fit_sgd",
    "fit_svd",
    "recommendations",
    "transform_rows",
]
