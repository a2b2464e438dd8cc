"""`mfcli sgd`: biased matrix factorization of ratings by SGD (options only; see mfcli.api)."""

from __future__ import annotations

import typer

from mfcli.cli import configure
from mfcli.cli import options as opt
from mfcli.cli.main import app

HELP = """Biased matrix factorization of the ratings in INPUT by stochastic gradient descent.

\b
prediction  r_hat = mu + b_u + b_i + p_u . q_i  (--no-biases: mu + p_u . q_i),
            clipped to the rating range seen in training; mu: the mean rating
update      e = r - r_hat;  p_u += lr (e q_i - reg_u p_u);  q_i += lr (e p_u - reg_i q_i);
            b_u += lr (e - reg_bias b_u);  b_i likewise; reg_u = reg * n_u^-reg_power
            with n_u the user's ratings (--reg-power 0: the classic constant reg)
schedules   constant | decay | adagrad (per-parameter steps)

\b
Parallel and deterministic: the ratings are cut into a fixed grid of --blocks x
--blocks blocks, processed in rounds of blocks that share no user and no item,
each in a seeded shuffled order: the same seed and block count give the same
factors on any number of threads. A diverging fit (NaN, inf, an exploding loss)
never writes a result file full of NaN.

\b
--resume MODEL.h5   continue from a saved sgd model with new ratings: known
                    users and items keep their factors, new ones start fresh
--time-bins N       time-aware biases (item bias per time bin, drifting user
                    bias; timeSVD-style) when the ratings have timestamps
--validation FILE   scored after every epoch (--metric, default rmse); the
                    best epoch's model is kept; --patience P also stops
                    after P epochs without improvement
--checkpoint FILE   save the state after every --checkpoint-every epochs and on
                    SIGTERM/SIGINT (exit 143/130); --resume FILE finishes the run

\b
One machine: sgd has no cluster back end (there is no --scheduler; with
$MFCLI_SCHEDULER set it runs in this process and says so). On a cluster, run
it on one node with all its cores (--threads); see docs/hpc.md.
"""


@app.command(help=HELP)
def sgd(
    ctx: typer.Context,
    input: str | None = typer.Argument(None, help="Ratings file ('-' = stdin)."),
    output: str | None = opt.OUTPUT,
    rank: int | None = opt.RANK,
    lr: float | None = typer.Option(None, "--lr", help="Learning rate (0.04)."),
    reg: float | None = typer.Option(None, "--reg", help="L2 on the factors (1.0)."),
    reg_bias: float | None = typer.Option(None, "--reg-bias", help="L2 on the biases (0.02)."),
    reg_power: float | None = typer.Option(
        None, "--reg-power", help="Factor L2 per update: reg * n^-reg_power (0.5)."
    ),
    epochs: int | None = typer.Option(None, "--epochs", help="Passes over the ratings (20)."),
    schedule: str | None = typer.Option(None, "--schedule", help="constant, decay or adagrad."),
    decay: float | None = typer.Option(None, "--decay", help="decay: lr * decay^(epoch-1) (0.9)."),
    init_scale: float | None = typer.Option(
        None, "--init-scale", help="Std of the seeded near-normal initial factors (0.1)."
    ),
    biases: bool | None = typer.Option(
        None, "--biases/--no-biases", help="User and item biases (default on; mu is always fitted)."
    ),
    blocks: int | None = typer.Option(None, "--blocks", help="Blocks per side of the grid (8)."),
    time_bins: int | None = typer.Option(
        None, "--time-bins", help="Time-aware biases over N bins (0: off)."
    ),
    resume: str | None = typer.Option(
        None,
        "--resume",
        help="Continue from this sgd result file with new ratings, or, given a --checkpoint "
        "file, finish the interrupted fit that wrote it (its stored config and state).",
    ),
    checkpoint: str | None = opt.CHECKPOINT,
    checkpoint_every: int | None = opt.CHECKPOINT_EVERY,
    validation: str | None = typer.Option(
        None, "--validation", help="Held-out file scored after every epoch."
    ),
    metric: str | None = typer.Option(None, "--metric", help="Early-stopping metric (rmse)."),
    patience: int | None = typer.Option(
        None, "--patience", help="Epochs without improvement before stopping."
    ),
    seed: int | None = opt.SEED,
    threads: int | None = opt.THREADS,
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

    from mfcli.api import fit_sgd
    from mfcli.api.checkpoint import is_checkpoint

    interrupted = None
    if resume and is_checkpoint(resume):  # an interrupted fit: its config, then its state
        interrupted, resume = resume, None
        config = [interrupted, *(config or [])]
    cfg = configure.resolve_from_cli(ctx, "sgd", config, set_items, dict(
        input=input, output=output, rank=rank, lr=lr, reg=reg, reg_bias=reg_bias,
        reg_power=reg_power, epochs=epochs, schedule=schedule, decay=decay,
        init_scale=init_scale, biases=biases, blocks=blocks, time_bins=time_bins,
        resume=resume, validation=validation, metric=metric, patience=patience, seed=seed,
        threads=threads, checkpoint=checkpoint, checkpoint_every=checkpoint_every,
        dtype=dtype, force=force, format=format, dataset=dataset, sep=sep,
        header=header, columns=columns, duplicates=duplicates, row_labels=row_labels,
        col_labels=col_labels,
    ))  # fmt: skip
    configure.run_fit(
        cfg, functools.partial(fit_sgd, checkpoint=interrupted), only_print=print_config,
        json_out=json_out, quiet=quiet, config_files=config,
        allow_changed_input=allow_changed_input,
    )  # fmt: skip
