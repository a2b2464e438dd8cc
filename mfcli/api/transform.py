"""`mfcli transform`: fold new rows into a fitted model."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from mfcli.config import TransformConfig


def transform_rows(cfg: TransformConfig) -> dict:
    """Fold the rows of ``cfg.input.path`` into the model ``cfg.transform.model``.

    The rows' columns are matched to the model's by label (or position when
    neither has labels); columns the model does not know are left out and
    counted. Writes ``cfg.output.path``: HDF5 (``/projections`` with
    ``/labels/row``) or CSV/TSV (row label, then one column per factor).

    Returns
    -------
    dict : summary (rows, k, rule used, unknown columns, output path)
    """
    from mfcli.api.foldin import fold_in, in_model_columns, require
    from mfcli.data import Matrix
    from mfcli.errors import UsageError
    from mfcli.evaluate.model import map_labels
    from mfcli.io import read_matrix, write
    from mfcli.io.results import read_result

    model_path, out = cfg.transform.model, cfg.output.path
    if not model_path or not cfg.input.path:
        raise UsageError("give a model and the rows", hint="mfcli transform MODEL.h5 ROWS -o OUT")
    if not out:
        raise UsageError("no output file given", hint="use -o OUT.h5 or -o OUT.csv")
    fmt = write.output_format(out, "auto")
    write.check_output(out, force=cfg.output.force)
    result = read_result(model_path)
    require(result.method, "transform")
    options = dataclasses.replace(cfg.read_options(), dtype="float64")
    rows = read_matrix(cfg.input.path, options)
    factors = result.factors
    n_model = factors["col"].shape[0]
    cols = map_labels(result.labels.get("col"), rows.col_labels, n_model, rows.shape[1])
    known = cols >= 0
    folded = fold_in(result, in_model_columns(rows, cols, n_model), command="transform")
    coords, rule = folded.coords, folded.rule
    k = coords.shape[1]
    names = [f"f{j}" for j in range(k)]
    projected = Matrix.from_dense(
        coords.astype(np.asarray(factors["row"]).dtype), row_labels=rows.row_labels,
        col_labels=np.asarray(names),
    )  # fmt: skip
    if fmt == "h5":
        write.write_h5_dense(out, projected, name="projections", force=cfg.output.force)
    elif fmt in ("csv", "tsv"):
        write.write_dense_csv(
            out, projected, sep="\t" if fmt == "tsv" else ",", header=True,
            row_label_name="row", force=cfg.output.force,
        )  # fmt: skip
    else:
        raise UsageError(f"transform writes .h5, .csv or .tsv, not {fmt}")
    return {
        "path": out,
        "model": model_path,
        "method": result.method,
        "rule": rule,
        "rows": int(rows.shape[0]),
        "k": int(k),
        "columns_matched": int(known.sum()),
        "columns_unknown": int((~known).sum()),
    }
