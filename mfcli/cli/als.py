"""`mfcli als`: alternating least squares on ratings or interactions (options only)."""

from __future__ import annotations

import typer

from mfcli.cli import configure
from mfcli.cli import options as opt
from mfcli.cli.main import app

HELP = """Alternating least squares: user and item factors from INPUT (rows are users).

\b
explicit (default)  fit the stored ratings: r ~ mu + b_u + b_i + x_u . y_i
                    (--no-biases: x_u . y_i), every other pair unknown
--implicit          Hu-Koren-Volinsky: preference p = (r > 0) for EVERY pair,
                    confidence c = 1 + alpha r (--confidence linear) or
                    1 + alpha log(1 + r / eps) (--confidence log)

\b
Regularisation: lambda ||x_u||^2 per row (--reg-scaling none, as the implicit
library), or lambda n_u ||x_u||^2 with n_u the row's entries (count: ALS-WR,
Spark's explicit mode). Default --reg-scaling auto: count for explicit,
none for implicit; default --reg 0.1 explicit, 0.01 implicit.

\b
--solver cg         conjugate gradient, --cg-steps per row, warm-started (default)
--solver cholesky   the exact k x k solve per row (the loss never increases)

\b
--validation FILE scores a held-out file after every iteration (--metric,
default rmse explicit, ndcg@10 implicit) and keeps the best iteration's
factors (as sgd keeps the best epoch); --patience P also stops after P
iterations without improvement. --transpose when the file is items x users.
Same seed, same factors on any thread count.

\b
The result file holds /factors/row (users), /factors/col (items), biases,
labels, /train and the loss history; 'mfcli recommend MODEL.h5' and
'mfcli eval MODEL.h5 TEST' use it.
"""


@app.command(help=HELP)
def als(
    ctx: typer.Context,
    input: str | None = typer.Argument(None, help="Ratings or interactions ('-' = stdin)."),
    output: str | None = opt.OUTPUT,
    rank: int | None = opt.RANK,
    implicit: bool = typer.Option(False, "--implicit", help="Implicit feedback (HKV)."),
    alpha: float | None = typer.Option(None, "--alpha", help="Implicit: confidence scale (1.0)."),
    confidence: str | None = typer.Option(
        None, "--confidence", help="Implicit: linear (default) or log."
    ),
    eps: float | None = typer.Option(None, "--eps", help="Log confidence: eps (1.0)."),
    solver: str | None = typer.Option(None, "--solver", help="cg (default) or cholesky."),
    cg_steps: int | None = typer.Option(None, "--cg-steps", help="CG steps per row (3)."),
    reg: float | None = typer.Option(None, "--reg", help="Lambda (0.1 explicit, 0.01 implicit)."),
    reg_scaling: str | None = typer.Option(
        None, "--reg-scaling", help="auto (default), none or count."
    ),
    biases: bool | None = typer.Option(
        None, "--biases/--no-biases", help="Explicit: user and item biases (default on)."
    ),
    iters: int | None = typer.Option(None, "--iters", help="Iterations (15)."),
    transpose: bool = typer.Option(False, "--transpose", help="The file is items x users."),
    validation: str | None = typer.Option(
        None, "--validation", help="Held-out file scored after every iteration."
    ),
    metric: str | None = typer.Option(None, "--metric", help="Early-stopping metric."),
    patience: int | None = typer.Option(
        None, "--patience", help="Iterations without improvement before stopping."
    ),
    seed: int | None = opt.SEED,
    threads: int | None = opt.THREADS,
    scheduler: str | None = opt.SCHEDULER,
    checkpoint: str | None = opt.CHECKPOINT,
    checkpoint_every: int | None = opt.CHECKPOINT_EVERY,
    resume: str | None = opt.RESUME_CHECKPOINT,
    dtype: str | None = opt.FIT_DTYPE,
    force: bool = opt.FORCE,
    format: str = opt.FORMAT,
    dataset: str | None = opt.DATASET,
    sep: str | None = opt.SEP,
    header: bool | None = opt.HEADER,
    columns: str | None = opt.COLUMNS,
    duplicates: str | None = opt.DUPLICATES,
    row_labels: str | None = opt.ROW_LABELS,
    col_labels: str | None = opt.COL_LABELS,
    json_out: bool = opt.JSON,
    quiet: bool = opt.QUIET,
    config: list[str] | None = configure.CONFIG,
    set_items: list[str] | None = configure.SET,
    print_config: bool = configure.PRINT_CONFIG,
    allow_changed_input: bool = configure.ALLOW_CHANGED_INPUT,
) -> None:
    import functools

    from mfcli.api import fit_als

    config = [resume, *(config or [])] if resume else config  # the stored config first
    cfg = configure.resolve_from_cli(ctx, "als", config, set_items, dict(
        input=input, output=output, rank=rank, implicit=implicit, alpha=alpha,
        confidence=confidence, eps=eps, solver=solver, cg_steps=cg_steps, reg=reg,
        reg_scaling=reg_scaling, biases=biases, iters=iters, transpose=transpose,
        validation=validation, metric=metric, patience=patience, seed=seed, threads=threads,
        scheduler=scheduler, checkpoint=checkpoint, checkpoint_every=checkpoint_every,
        dtype=dtype, force=force, format=format, dataset=dataset, sep=sep, header=header,
        columns=columns, duplicates=duplicates, row_labels=row_labels, col_labels=col_labels,
    ))  # fmt: skip
    configure.run_fit(
        cfg, functools.partial(fit_als, resume=resume), only_print=print_config,
        json_out=json_out, quiet=quiet, config_files=config,
        allow_changed_input=allow_changed_input,
    )  # fmt: skip
