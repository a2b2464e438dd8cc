"""`mfcli eval`: score a result file on held-out data (options only; see mfcli.api)."""

from __future__ import annotations

import typer

from mfcli.cli import configure
from mfcli.cli import options as opt
from mfcli.cli.main import app

# Kept in step with mfcli.evaluate.metrics.DEFINITIONS (a test checks it); written
# out here so that `--help` does not import the numeric code.
HELP = """Score MODEL.h5 on the held-out TEST file.

\b
Metrics (--metrics, comma-separated; K is any positive integer):
  rmse         sqrt(mean((prediction - rating)^2)) over test entries
               with known user and item
  mae          mean(|prediction - rating|) over the same entries
  precision@K  hits in the top K / K (implicit divides by min(K, |rel|))
  recall@K     hits in the top K / |relevant|
  ndcg@K       DCG / ideal DCG: binary gain, discount 1/log2(rank + 2)
               (rank from 0), ideal over min(K, |relevant|) hits
  map@K        sum over hits at rank i of precision@(i+1),
               divided by min(K, |relevant|)
  hit_rate@K   1 if any of the top K is relevant, else 0
  coverage@K   share of the model's items in at least one top-K list
  auc          P(a relevant test item scores above a non-relevant
               candidate; ties count 1/2)

\b
Ranking metrics are averaged over test users with at least one relevant
test item; the user's training items are never ranked. Relevant: every
test entry, or with --relevance-threshold T those with value >= T.
Predictions: row @ diag(s) @ col.T (svd), row @ col.T + biases (others).
Test and train ids are matched to the model's labels. Users and items
unseen in training are counted and handled by --cold-start: drop (left
out), mean (rating metrics predict the mean plus known biases; unseen
users are not ranked) or error (exit 65). See docs/metrics.md.

\b
--fail-if "rmse>0.95" (repeatable; > >= < <=) exits 3 when a gate fails,
after printing the metrics: a quality gate for CI.
"""


@app.command(name="eval", help=HELP)
def eval_command(
    ctx: typer.Context,
    model_path: str | None = typer.Argument(None, metavar="MODEL", help="Result file (.h5)."),
    test: str | None = typer.Argument(
        None, metavar="TEST", help="Held-out entries (any input format; '-' = stdin)."
    ),
    train: str | None = typer.Option(
        None, "--train", help="Training file; default: the model's stored /train."
    ),
    metrics: str | None = typer.Option(
        None,
        "--metrics",
        help="Comma-separated metrics (default rmse,mae,precision@10,recall@10,ndcg@10).",
    ),
    relevance_threshold: float | None = typer.Option(
        None, "--relevance-threshold", help="Test entries with value >= this are relevant."
    ),
    cold_start: str | None = typer.Option(
        None, "--cold-start", help="Unseen test users/items: drop|mean|error (default drop)."
    ),
    fail_if: list[str] | None = typer.Option(
        None, "--fail-if", help="Quality gate METRIC OP NUMBER, e.g. 'rmse>0.95'; repeatable."
    ),
    write: bool = typer.Option(
        False, "--write", help="Record the metrics in the model's /metrics (atomic rewrite)."
    ),
    format: str = opt.FORMAT,
    dataset: str | None = opt.DATASET,
    sep: str | None = opt.SEP,
    header: bool | None = opt.HEADER,
    columns: str | None = opt.COLUMNS,
    duplicates: str | None = opt.DUPLICATES,
    json_out: bool = opt.JSON,
    quiet: bool = opt.QUIET,
    config: list[str] | None = configure.CONFIG,
    set_items: list[str] | None = configure.SET,
    print_config: bool = configure.PRINT_CONFIG,
) -> None:
    from mfcli.api import evaluate_files
    from mfcli.cli import render
    from mfcli.errors import QualityGateError
    from mfcli.evaluate.metrics import check_fail_if

    cfg = configure.resolve_from_cli(ctx, "eval", config, set_items, dict(
        model_path=model_path, test=test, train=train, metrics=metrics,
        relevance_threshold=relevance_threshold, cold_start=cold_start,
        fail_if=",".join(fail_if) if fail_if else None, write=write, format=format,
        dataset=dataset, sep=sep, header=header, columns=columns, duplicates=duplicates,
    ))  # fmt: skip
    if print_config:
        configure.print_config(cfg)
        return
    report = evaluate_files(cfg)
    failed = check_fail_if(cfg.gates(), report.values)
    summary = {"kind": "eval", "path": f"{cfg.eval.model} on {cfg.input.path}"}
    summary.update(report.as_dict())
    summary["gates"] = {g: "failed" if any(f.condition.text == g for f in failed) else "passed"
                        for g in cfg.gates()}  # fmt: skip
    if json_out:
        render.print_json(summary)
    elif not quiet:
        render.print_eval(summary)
    if failed:
        raise QualityGateError("; ".join(f.message for f in failed))
