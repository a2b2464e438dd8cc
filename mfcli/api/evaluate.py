"""`mfcli eval`: score a result file on held-out data."""

from __future__ import annotations

import dataclasses
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mfcli.config import EvalConfig
    from mfcli.evaluate.metrics import EvalReport


def evaluate_files(cfg: EvalConfig) -> EvalReport:
    """Score the result file ``cfg.eval.model`` on the test file ``cfg.input.path``.

    The test (and ``cfg.eval.train``, when given) are read with the config's
    input options; their ids are matched to the model's labels. With
    ``cfg.eval.write`` the values go to the model's ``/metrics`` together with
    what they were measured on.

    Raises
    ------
    UsageError : exit 2, no model or test file
    InputMissingError, InputDataError : exit 66 / 65, unreadable or invalid files
    """
    from mfcli.errors import UsageError
    from mfcli.evaluate.metrics import evaluate
    from mfcli.io import read_matrix
    from mfcli.io.results import read_result, record_metrics, sha256_file

    e = cfg.eval
    if not e.model:
        raise UsageError("no model given", hint="mfcli eval MODEL.h5 TEST")
    if not cfg.input.path:
        raise UsageError("no test file given", hint="mfcli eval MODEL.h5 TEST")
    result = read_result(e.model)
    # held-out values are compared in float64, whatever the model's dtype
    options = dataclasses.replace(cfg.read_options(), dtype="float64")
    test = read_matrix(cfg.input.path, options)
    train = read_matrix(e.train, options) if e.train else None
    report = evaluate(
        result,
        test,
        train,
        metrics=e.metrics,
        relevance_threshold=e.relevance_threshold,
        cold_start=e.cold_start,
    )
    if e.write:
        record_metrics(e.model, report.values, _measured_on(cfg, report, sha256_file))
    return report


def _measured_on(cfg: EvalConfig, report: EvalReport, sha256_file) -> dict:
    """The ``/metrics`` split attributes: which files, settings and counts."""
    e = cfg.eval
    out = {
        "test": os.fspath(cfg.input.path),
        "train": os.fspath(e.train) if e.train else "model /train",
        "cold_start": e.cold_start,
        "entries": report.entries,
        "users": report.users,
        "unseen_users": report.unseen_users,
        "unseen_items": report.unseen_items,
    }
    if cfg.input.path != "-":
        out["test_sha256"] = sha256_file(cfg.input.path)
    if e.relevance_threshold is not None:
        out["relevance_threshold"] = e.relevance_threshold
    if report.ranking_users is not None:
        out["ranking_users"] = report.ranking_users
    return out
