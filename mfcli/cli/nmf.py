"""`mfcli nmf`: non-negative matrix factorization of a matrix file (options only; see mfcli.api)."""

from __future__ import annotations

import typer

from mfcli.cli import configure
from mfcli.cli import options as opt
from mfcli.cli.main import app

HELP = """Non-negative factorization INPUT ~ W H^T with K components.

\b
--solver hals    coordinate descent (fast HALS, several sweeps per product): default
--solver mu      multiplicative updates (Lee-Seung)
--loss frobenius 0.5 * sum (x - w.h)^2
--loss kl        generalized Kullback-Leibler sum (x log(x / wh) - x + wh), for counts
--mask observed  fit only the stored entries (a ratings file: missing is not zero);
                 scores are clipped to the fitted range; score it with 'mfcli eval'
                 (with few ratings per row or column, add --l2-w/--l2-h)
--init           nndsvd | nndsvda (zeros filled with the mean) | nndsvdar (small
                 random values) | random; auto = nndsvda, or random with --mask observed

\b
Penalties are added as l1_w * sum(W) + 0.5 * l2_w * ||W||^2 (the same for H),
not scaled by the matrix size (scikit-learn's alpha_W * l1_ratio * n_features is
our l1_w). The fit stops when the objective falls by less than --tol (relative)
in one iteration, or after --max-iter; the objective never increases.

\b
Negative entries are an error (exit 65) naming the first one. A sparse input
stays sparse: memory is O(nnz + (rows + cols) K).

\b
The result file holds /factors/row (W), /factors/col (H^T, one row per input
column), labels, the training matrix, the history of the objective and, with
labels, /nmf/top: each component's --top strongest rows and columns (printed
too). Row and column labels come from the input (CSV ids, HDF5 labels, .terms
and .docs files beside a .mtx) or --row-labels / --col-labels. Fold new rows
in with 'mfcli transform MODEL.h5 ROWS' (H fixed).
"""


@app.command(help=HELP)
def nmf(
    ctx: typer.Context,
    input: str | None = typer.Argument(None, help="Matrix file ('-' = stdin)."),
    output: str | None = opt.OUTPUT,
    rank: int | None = opt.RANK,
    solver: str | None = typer.Option(None, "--solver", help="hals (default) or mu."),
    loss: str | None = typer.Option(None, "--loss", help="frobenius (default) or kl."),
    init: str | None = typer.Option(
        None, "--init", help="auto|nndsvd|nndsvda|nndsvdar|random (default auto)."
    ),
    mask: str | None = typer.Option(
        None, "--mask", help="none (zeros are data, default) or observed (stored entries only)."
    ),
    l1_w: float | None = typer.Option(None, "--l1-w", help="L1 penalty on W (default 0)."),
    l1_h: float | None = typer.Option(None, "--l1-h", help="L1 penalty on H (default 0)."),
    l2_w: float | None = typer.Option(None, "--l2-w", help="L2 penalty on W (default 0)."),
    l2_h: float | None = typer.Option(None, "--l2-h", help="L2 penalty on H (default 0)."),
    tol: float | None = typer.Option(
        None, "--tol", help="Relative objective decrease to stop at (default 1e-4)."
    ),
    max_iter: int | None = typer.Option(None, "--max-iter", help="Iteration limit (default 200)."),
    top: int | None = typer.Option(
        None, "--top", help="Labels kept and printed per component (default 10; 0: none)."
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

    from mfcli.api import fit_nmf

    config = [resume, *(config or [])] if resume else config  # the stored config first
    cfg = configure.resolve_from_cli(ctx, "nmf", config, set_items, dict(
        input=input, output=output, rank=rank, solver=solver, loss=loss, init=init, mask=mask,
        l1_w=l1_w, l1_h=l1_h, l2_w=l2_w, l2_h=l2_h, tol=tol, max_iter=max_iter, top=top,
        seed=seed, threads=threads, scheduler=scheduler, checkpoint=checkpoint,
        checkpoint_every=checkpoint_every, dtype=dtype, force=force, format=format,
        dataset=dataset, sep=sep, header=header, columns=columns, duplicates=duplicates,
        row_labels=row_labels, col_labels=col_labels,
    ))  # fmt: skip
    configure.run_fit(
        cfg, functools.partial(fit_nmf, resume=resume), only_print=print_config,
        json_out=json_out, quiet=quiet, config_files=config,
        allow_changed_input=allow_changed_input,
    )  # fmt: skip
