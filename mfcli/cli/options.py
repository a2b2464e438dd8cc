"""Option declarations shared by commands, so every command spells them alike."""

from __future__ import annotations

import typer

FORMAT = typer.Option(
    "auto", "--format", help="Input format: auto|mtx|csv|h5 (auto: by suffix, then by content)."
)
DATASET = typer.Option(None, "--dataset", help="HDF5 object to read (same as FILE.h5:/path).")
SEP = typer.Option(
    None, "--sep", help="CSV separator (default: sniffed among , tab ; | :: whitespace)."
)
HEADER = typer.Option(
    None, "--header/--no-header", help="CSV has a header line (default: detected)."
)
COLUMNS = typer.Option(
    None, "--columns", help="CSV columns user,item[,value[,time]] by name or 0-based index."
)
DUPLICATES = typer.Option(
    None,
    "--duplicates",
    help=(
        "Repeated (row, col) entries: sum|last|error. Default: sum for Matrix Market, "
        "HDF5 and logs without a value column; last (latest in the file) for rating triplets."
    ),
)
DTYPE = typer.Option("float64", "--dtype", help="Value dtype: float32|float64.")
ROW_LABELS = typer.Option(None, "--row-labels", help="File with one row label per line.")
COL_LABELS = typer.Option(None, "--col-labels", help="File with one column label per line.")
JSON = typer.Option(False, "--json", help="Machine-readable JSON on stdout.")
QUIET = typer.Option(False, "-q", "--quiet", help="Print nothing but errors.")
VERBOSE = typer.Option(False, "-v", "--verbose", help="Print more detail.")


def read_options(
    format: str = "auto",
    dataset: str | None = None,
    sep: str | None = None,
    header: bool | None = None,
    columns: str | None = None,
    duplicates: str | None = None,
    dtype: str = "float64",
    row_labels: str | None = None,
    col_labels: str | None = None,
):
    """Build and validate ReadOptions from command-line values."""
    from mfcli.data import DUPLICATE_POLICIES
    from mfcli.errors import UsageError
    from mfcli.io.options import FORMATS, ReadOptions

    if format not in FORMATS:
        raise UsageError(f"invalid --format {format!r}", hint="use one of " + "|".join(FORMATS))
    if duplicates is not None and duplicates not in DUPLICATE_POLICIES:
        raise UsageError(
            f"invalid --duplicates {duplicates!r}",
            hint="use one of " + "|".join(DUPLICATE_POLICIES),
        )
    if dtype not in ("float32", "float64"):
        raise UsageError(f"invalid --dtype {dtype!r}", hint="use float32 or float64")
    return ReadOptions(
        format=format,
        dataset=dataset,
        sep=sep,
        header=header,
        columns=columns,
        duplicates=duplicates,
        dtype=dtype,
        row_labels=row_labels,
        col_labels=col_labels,
    )


# Options of every fit command (svd, nmf, als, sgd).
OUTPUT = typer.Option(None, "-o", "--output", help="Result file (.h5).")
RANK = typer.Option(None, "-k", "--rank", help="Number of factors K.")
SEED = typer.Option(None, "--seed", help="Random seed (default 0).")
THREADS = typer.Option(None, "--threads", help="Threads (default: see 'mfcli info --env').")
FIT_DTYPE = typer.Option(None, "--dtype", help="float32 (default) or float64.")
FORCE = typer.Option(False, "--force", help="Replace an existing output file.")
SCHEDULER = typer.Option(
    None,
    "--scheduler",
    help="Fit on a Dask cluster: tcp://HOST:PORT, a scheduler .json file, or local:N "
    "(N worker processes here). Default $MFCLI_SCHEDULER, else this process. Same "
    "factors either way; --threads is then per worker. See docs/hpc.md.",
)
CHECKPOINT = typer.Option(
    None,
    "--checkpoint",
    help="Keep the fit's state in this .h5 (a model file plus /checkpoint), rewritten every "
    "--checkpoint-every iterations and when SIGTERM or SIGINT arrives (then exit 143 or 130); "
    "removed when the fit completes.",
)
CHECKPOINT_EVERY = typer.Option(
    None, "--checkpoint-every", help="Iterations between checkpoints (default 1)."
)
RESUME_CHECKPOINT = typer.Option(
    None,
    "--resume",
    help="Continue the fit that wrote this checkpoint: its stored config (as --config), "
    "from the iteration it reached; the final factors equal an uninterrupted run's.",
)
