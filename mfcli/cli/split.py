"""`mfcli split`: seeded train/validation/test files in the input's own format.

Only option parsing and printing live here; the assignment is in
:mod:`mfcli.evaluate.split`, reading and writing in :mod:`mfcli.evaluate.split_run`.
"""

from __future__ import annotations

import typer

from mfcli.cli import configure
from mfcli.cli import options as opt
from mfcli.cli.main import app

STRATEGIES = ("random", "temporal", "user", "leave-k-out", "kfold")
# Strategy defaults, filled into the config so --print-config is explicit.
DEFAULTS = {"test_frac": 0.2, "validation_frac": 0.0, "min_train": 1, "leave_k": 1, "folds": 5}


@app.command()
def split(
    ctx: typer.Context,
    input: str | None = typer.Argument(
        None, help="Input file: .mtx, .csv (any separator), .h5 ('-' = stdin for text)."
    ),
    output: str | None = typer.Option(
        None, "-o", "--output", help="Output directory (created; must be empty unless --force)."
    ),
    strategy: str | None = typer.Option(
        None, "--strategy", help="random|temporal|user|leave-k-out|kfold (default random)."
    ),
    test_frac: float | None = typer.Option(
        None,
        "--test-frac",
        help="Share for test: of all entries (random, temporal) or of each user's "
        "(user, temporal --per-user). Default 0.2.",
    ),
    validation_frac: float | None = typer.Option(
        None,
        "--validation-frac",
        help="Share for a validation file, carved like test (after it). Default 0.",
    ),
    cut_time: str | None = typer.Option(
        None,
        "--cut-time",
        help="temporal: entries at or after this time are test (a number in the file's "
        "unit, e.g. Unix seconds, or an ISO date such as 2015-01-01).",
    ),
    per_user: bool = typer.Option(
        False, "--per-user", help="temporal: each user's newest --test-frac is test."
    ),
    min_train: int | None = typer.Option(
        None,
        "--min-train",
        help="user, leave-k-out, temporal --per-user: entries each user keeps in train; "
        "users with no more are kept whole in train. Default 1.",
    ),
    leave_k: int | None = typer.Option(
        None,
        "-k",
        "--leave-k",
        help="leave-k-out: each user's newest k entries are test (random k without "
        "a time column). Default 1.",
    ),
    folds: int | None = typer.Option(None, "--folds", help="kfold: number of folds (default 5)."),
    fold: int | None = typer.Option(
        None, "--fold", help="kfold: write only fold_I (for array jobs; same files as a full run)."
    ),
    seed: int = typer.Option(0, "--seed", help="Random seed: same seed, same bytes."),
    threads: int | None = typer.Option(None, "--threads", help="Threads for parsing."),
    force: bool = typer.Option(False, "--force", help="Replace a non-empty output directory."),
    format: str = opt.FORMAT,
    dataset: str | None = opt.DATASET,
    sep: str | None = opt.SEP,
    header: bool | None = opt.HEADER,
    columns: str | None = opt.COLUMNS,
    json_out: bool = opt.JSON,
    quiet: bool = opt.QUIET,
    config: list[str] | None = configure.CONFIG,
    set_items: list[str] | None = configure.SET,
    print_config: bool = configure.PRINT_CONFIG,
) -> None:
    """Split a matrix file's entries into train, test and (optionally) validation files.

    \b
    random       random entries go to test (exactly round(F * n) of them)
    temporal     the newest F of all entries (or those at/after --cut-time),
                 or with --per-user the newest F of each user's entries
    user         a random F of each user's entries, each user keeping
                 --min-train entries in train
    leave-k-out  each user's newest k entries (random k without times)
    kfold        --folds K folds, each user's entries dealt over the folds;
                 writes OUTDIR/fold_0 .. fold_{K-1}, each with train and test

    \b
    Entries are data lines (stored entries for HDF5); users are the first id
    column (rows). Output files keep the input's format: CSV lines are copied
    byte for byte after the same header and leading comments; Matrix Market
    keeps its banner with the entry count rewritten; HDF5 gives CSR groups of
    the same shape and labels; .gz/.bz2 inputs give compressed outputs.
    "Newest" orders by the time column, equal times by file order. Rounding
    is half up. OUTDIR/manifest.json records the parameters, seed, counts,
    unseen users and items, and sha256 of the input and every output; the
    same seed gives byte-identical files. Time strategies exit 65 on files
    without a time column. INPUT is one file: a partitioned input (a directory
    or glob of part files) exits 2; join its parts first.
    """
    import dataclasses

    from mfcli.errors import UsageError

    if strategy is not None and strategy not in STRATEGIES:
        raise UsageError(
            f"unknown strategy {strategy!r}", hint="use one of " + "|".join(STRATEGIES)
        )
    cfg = configure.resolve_from_cli(ctx, "split", config, set_items, dict(
        input=input, output=output, strategy=strategy, test_frac=test_frac,
        validation_frac=validation_frac, cut_time=cut_time, per_user=per_user,
        min_train=min_train, leave_k=leave_k, folds=folds, fold=fold, seed=seed,
        threads=threads, force=force, format=format, dataset=dataset, sep=sep,
        header=header, columns=columns,
    ))  # fmt: skip
    cfg = dataclasses.replace(cfg, split=_explicit(cfg.split))
    if print_config:
        configure.print_config(cfg)
        return
    if not cfg.input.path:
        raise UsageError("no input file given", hint="mfcli split INPUT -o OUTDIR")
    if not cfg.output.path:
        raise UsageError("no output directory given", hint="use -o OUTDIR or output.path")
    from mfcli.evaluate.split import params_from_config

    params = params_from_config(cfg)
    _apply_threads(cfg.runtime.threads)

    from mfcli.evaluate.split_run import run_split

    i = cfg.input
    read_opts = opt.read_options(i.format, i.dataset, i.sep, i.header, i.columns)
    summary = run_split(
        i.path, read_opts, params, cfg.output.path, fold=cfg.split.fold, force=cfg.output.force
    )
    if json_out:
        from mfcli.cli import render

        render.print_json(summary)
    elif not quiet:
        _print(summary)


def _explicit(section):
    """The section with the strategy's defaults filled in (only where they apply)."""
    import dataclasses

    allowed = section.applicable()
    filled = {}
    for name, default in DEFAULTS.items():
        if name not in allowed or getattr(section, name) is not None:
            continue
        if name == "test_frac" and section.cut_time is not None:
            continue
        if name == "min_train" and section.strategy == "temporal" and not section.per_user:
            continue
        filled[name] = default
    return dataclasses.replace(section, **filled)


def _apply_threads(requested: int | None) -> None:
    from mfcli.runtime import apply_threads, resolve_threads

    apply_threads(resolve_threads(requested))


def _print(summary: dict) -> None:
    head = (
        f"split {summary['input']} ({summary['format']}, {summary['entries']} entries) "
        f"into {summary['outdir']}: {summary['strategy']}, seed {summary['seed']}, "
        f"{summary['seconds']:.2f} s"
    )
    typer.echo(head)
    if "folds" in summary:
        for f in summary["folds"]:
            typer.echo(f"fold_{f['fold']}:")
            _print_parts(f["parts"], f["unseen_in_train"], indent="  ")
    else:
        _print_parts(summary["parts"], summary["unseen_in_train"])
    for note in summary.get("notes", []):
        typer.echo(f"note: {note}")


def _print_parts(parts: dict, unseen: dict, indent: str = "") -> None:
    for name, p in parts.items():
        typer.echo(
            f"{indent}  {name:<10} {p['entries']:>10} entries {p['users']:>8} users "
            f"{p['items']:>8} items  {p['file']}"
        )
    for name, u in unseen.items():
        typer.echo(f"{indent}  {name}: {u['users']} users and {u['items']} items unseen in train")
