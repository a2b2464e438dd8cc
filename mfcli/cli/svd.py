"""`mfcli svd`: truncated SVD / PCA of a matrix file (options only; see mfcli.api)."""

from __future__ import annotations

import typer

from mfcli.cli import configure
from mfcli.cli import options as opt
from mfcli.cli.main import app

HELP = """Truncated SVD of INPUT: the top K singular values and vectors.

\b
--method randomized  Halko-Martinsson-Tropp range finder (default): K + --oversample
                     columns, --power-iters passes re-orthonormalised between them
--method lanczos     block Krylov iterations to --tol: tight singular values
--center             PCA: column means subtracted inside the products (a sparse
                     matrix stays sparse); the means are the result's /bias/col
--missing            soft-impute: fit only the stored entries (a ratings file is
                     completed, not read as zeros), shrinking singular values by
                     --shrink; score it with 'mfcli eval'

\b
Singular values are descending; signs are fixed so the same seed gives the same
factors on any thread count. K at or above min(rows, cols): an exact dense SVD
when the matrix is small enough, else an error (exit 2).

\b
The result file holds /factors/row (U), /factors/col (V, not V^T),
/factors/singular_values, /svd/explained_variance(_ratio), labels, the
training matrix and the config; reconstruction is row @ diag(s) @ col.T
(+ biases). Project new rows with 'mfcli transform MODEL.h5 ROWS'.
"""


@app.command(help=HELP)
def svd(
    ctx: typer.Context,
    input: str | None = typer.Argument(None, help="Matrix file ('-' = stdin)."),
    output: str | None = opt.OUTPUT,
    rank: int | None = opt.RANK,
    method: str | None = typer.Option(None, "--method", help="randomized|lanczos."),
    oversample: int | None = typer.Option(
        None, "--oversample", help="randomized: extra range-finder columns (default 10)."
    ),
    power_iters: int | None = typer.Option(
        None, "--power-iters", help="randomized: power iterations (default: the solver's)."
    ),
    tol: float | None = typer.Option(None, "--tol", help="lanczos / --missing: tolerance."),
    max_iter: int | None = typer.Option(
        None, "--max-iter", help="lanczos / --missing: iteration limit."
    ),
    center: bool = typer.Option(False, "--center", help="PCA: subtract column means."),
    missing: bool = typer.Option(
        False, "--missing", help="Fit only the stored entries (soft-impute)."
    ),
    shrink: float | None = typer.Option(
        None, "--shrink", help="--missing: soft threshold on singular values."
    ),
    seed: int | None = opt.SEED,
    threads: int | None = opt.THREADS,
    scheduler: str | None = opt.SCHEDULER,
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
    from mfcli.api import fit_svd

    cfg = configure.resolve_from_cli(ctx, "svd", config, set_items, dict(
        input=input, output=output, rank=rank, method=method, oversample=oversample,
        power_iters=power_iters, tol=tol, max_iter=max_iter, center=center, missing=missing,
        shrink=shrink, seed=seed, threads=threads, scheduler=scheduler, dtype=dtype, force=force,
        format=format,
        dataset=dataset, sep=sep, header=header, columns=columns, duplicates=duplicates,
        row_labels=row_labels, col_labels=col_labels,
    ))  # fmt: skip
    configure.run_fit(
        cfg, fit_svd, only_print=print_config, json_out=json_out, quiet=quiet,
        config_files=config, allow_changed_input=allow_changed_input,
    )  # fmt: skip
