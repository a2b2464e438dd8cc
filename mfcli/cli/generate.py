"""`mfcli generate`: seeded synthetic matrices written in any output format.

Only option parsing lives here; the data comes from :mod:`mfcli.synth` and the
files from :mod:`mfcli.io.write`.
"""

from __future__ import annotations

import typer

from mfcli.cli import configure
from mfcli.cli import options as opt
from mfcli.cli.main import app

KINDS = ("ratings", "implicit", "lowrank", "lowrank-sparse", "docterm")

# Per kind: defaults of the shared options, and which options apply at all.
DEFAULTS = {
    "ratings": {
        "rows": 943,
        "cols": 1682,
        "nnz": 100_000,
        "rank": 10,
        "noise": 0.5,
        "timestamps": True,
    },
    "implicit": {"rows": 1000, "cols": 2000, "nnz": 50_000, "rank": 10, "timestamps": False},
    "lowrank": {"rows": 300, "cols": 80, "rank": 5, "noise": 0.01},
    "lowrank-sparse": {"rows": 1000, "cols": 500, "nnz": 20_000, "rank": 5, "noise": 0.0},
    "docterm": {"rows": 400, "rank": 6},
}
EXTRAS = {
    "ratings": {"scale", "step", "user_zipf", "item_zipf"},
    "implicit": {"user_zipf", "item_zipf", "counts"},
    "lowrank": {"decimals", "spectrum"},
    "lowrank-sparse": {"decimals", "spectrum", "user_zipf", "item_zipf"},
    "docterm": {"doc_length"},
}
FLAGS = {
    "rows": "--rows",
    "cols": "--cols",
    "nnz": "--nnz",
    "rank": "--rank",
    "noise": "--noise",
    "timestamps": "--timestamps",
    "scale": "--scale",
    "step": "--step",
    "user_zipf": "--user-zipf",
    "item_zipf": "--item-zipf",
    "counts": "--counts",
    "decimals": "--decimals",
    "spectrum": "--spectrum",
    "doc_length": "--doc-length",
}
CSV_NAMES = {
    "ratings": ("user", "item", "rating", "timestamp"),
    "implicit": ("user", "item", "count", "timestamp"),
    "lowrank-sparse": ("row", "col", "value"),
    "docterm": ("doc", "term", "count"),
}


@app.command()
def generate(
    ctx: typer.Context,
    kind: str | None = typer.Argument(None, help="What to generate: " + " | ".join(KINDS) + "."),
    output: str | None = typer.Option(
        None, "-o", "--output", help="Output file; the suffix picks the format (.gz/.bz2 ok)."
    ),
    rows: int | None = typer.Option(
        None, "--rows", "--users", help="Rows: users, or documents for docterm."
    ),
    cols: int | None = typer.Option(None, "--cols", "--items", help="Columns: items."),
    nnz: int | None = typer.Option(
        None, "--nnz", "--ratings", help="Stored entries (distinct row-column pairs)."
    ),
    rank: int | None = typer.Option(
        None, "-k", "--rank", help="Rank of the planted structure; topics for docterm."
    ),
    noise: float | None = typer.Option(
        None, "--noise", help="Standard deviation of the Gaussian noise added to each entry."
    ),
    seed: int = typer.Option(0, "--seed", help="Random seed: same seed, same bytes."),
    format: str = typer.Option(
        "auto", "--format", help="Output format: auto|csv|tsv|mtx|h5 (auto: by suffix)."
    ),
    timestamps: bool | None = typer.Option(
        None,
        "--timestamps/--no-timestamps",
        help="Unix timestamps column (ratings: on; implicit: off).",
    ),
    sep: str | None = typer.Option(None, "--sep", help="CSV separator (default , or tab)."),
    header: bool = typer.Option(True, "--header/--no-header", help="CSV header line."),
    scale: str | None = typer.Option(None, "--scale", help="ratings: LOW,HIGH (default 1,5)."),
    step: float | None = typer.Option(None, "--step", help="ratings: granularity (default 1)."),
    user_zipf: float | None = typer.Option(
        None, "--user-zipf", help="Power-law exponent of row activity (0 = uniform)."
    ),
    item_zipf: float | None = typer.Option(
        None, "--item-zipf", help="Power-law exponent of column popularity (0 = uniform)."
    ),
    counts: str | None = typer.Option(
        None, "--counts", help="implicit: count distribution poisson|geometric."
    ),
    decimals: int | None = typer.Option(
        None, "--decimals", help="lowrank kinds: round values to this many decimals."
    ),
    spectrum: str | None = typer.Option(
        None, "--spectrum", help="lowrank kinds: singular values S1,S2,... (rank of them)."
    ),
    doc_length: float | None = typer.Option(
        None, "--doc-length", help="docterm: mean words per document (default 60)."
    ),
    force: bool = typer.Option(False, "--force", help="Replace existing output files."),
    json_out: bool = opt.JSON,
    quiet: bool = opt.QUIET,
    config: list[str] | None = configure.CONFIG,
    set_items: list[str] | None = configure.SET,
    print_config: bool = configure.PRINT_CONFIG,
) -> None:
    """Write a seeded synthetic matrix with known structure.

    \b
    ratings         users x items ratings: biases + low-rank + noise, power-law
                    activity, timestamps (CSV: user,item,rating,timestamp)
    implicit        users x items interaction counts (CSV: user,item,count)
    lowrank         dense U diag(s) V^T + noise with a known spectrum
    lowrank-sparse  random sparse pattern with values from a low-rank matrix
    docterm         documents x terms word counts from themed topics; with .mtx
                    the vocabulary goes to OUT.terms (one term per line)

    The same options and seed always give byte-identical files, and
    --print-config gives the YAML that reproduces the file with --config.
    """
    import dataclasses
    import time

    from mfcli.cli import render
    from mfcli.errors import UsageError

    if kind is not None and kind not in KINDS:
        raise UsageError(f"unknown kind {kind!r}", hint="use one of " + "|".join(KINDS))
    cfg = configure.resolve_from_cli(ctx, "generate", config, set_items, dict(
        kind=kind, output=output, rows=rows, cols=cols, nnz=nnz, rank=rank, noise=noise,
        seed=seed, format=format, timestamps=timestamps, sep=sep, header=header, scale=scale,
        step=step, user_zipf=user_zipf, item_zipf=item_zipf, counts=counts, decimals=decimals,
        spectrum=spectrum, doc_length=doc_length, force=force,
    ))  # fmt: skip
    g = cfg.generate
    if g.kind is None:
        raise UsageError("no kind given", hint="name one of " + "|".join(KINDS))
    kind = g.kind
    given = {name: getattr(g, name) for name in FLAGS}
    params = _resolve(kind, given)
    # The printed and stored config is explicit: kind defaults filled in.
    explicit = {k: (",".join(f"{x:g}" for x in v) if isinstance(v, list) else v)
                for k, v in params.items()}  # fmt: skip
    cfg = dataclasses.replace(cfg, generate=dataclasses.replace(g, **explicit))
    if print_config:
        configure.print_config(cfg)
        return
    output, seed, force = cfg.output.path, cfg.runtime.seed, cfg.output.force
    format, sep, header = g.format, g.sep, g.header
    if not output:
        raise UsageError("no output file given", hint="use -o FILE or output.path in the config")
    start = time.perf_counter()
    outputs = _write(kind, params, output, format, sep, header, seed, force)
    seconds = time.perf_counter() - start
    summary = {
        "kind": kind,
        "path": output,
        "format": outputs["format"],
        "shape": list(outputs["matrix"].shape),
        "nnz": outputs["matrix"].nnz,
        "seed": seed,
        "seconds": round(seconds, 3),
        "files": outputs["files"],
        "parameters": params,
    }
    if "singular_values" in outputs["truth"]:
        summary["singular_values"] = [float(s) for s in outputs["truth"]["singular_values"]]
    if json_out:
        render.print_json(summary)
    elif not quiet:
        shape = " x ".join(map(str, summary["shape"]))
        typer.echo(
            f"wrote {', '.join(outputs['files'])}: {kind} {shape}, {summary['nnz']} entries "
            f"({summary['format']}, seed {seed}) in {seconds:.2f} s"
        )


def _resolve(kind: str, given: dict) -> dict:
    """Kind defaults filled in; options that do not apply to ``kind`` are refused."""
    from mfcli.errors import UsageError

    allowed = set(DEFAULTS[kind]) | EXTRAS[kind]
    for name, value in given.items():
        if value is not None and name not in allowed:
            raise UsageError(
                f"{FLAGS[name]} does not apply to {kind}",
                hint=f"see 'mfcli generate --help' for the options of {kind}",
            )
    params = dict(DEFAULTS[kind])
    params.update({k: v for k, v in given.items() if v is not None})
    if "scale" in params:
        params["scale"] = _floats("--scale", params["scale"], count=2)
    if "spectrum" in params:
        params["spectrum"] = _floats("--spectrum", params["spectrum"])
    return params


def _floats(flag: str, text: str, count: int | None = None) -> list[float]:
    from mfcli.errors import UsageError

    try:
        values = [float(x) for x in text.replace(" ", "").split(",")]
    except ValueError:
        raise UsageError(f"{flag} needs comma-separated numbers, got {text!r}") from None
    if count is not None and len(values) != count:
        raise UsageError(f"{flag} needs {count} comma-separated numbers, got {text!r}")
    return values


def _make(kind: str, p: dict, seed: int):
    from mfcli import synth

    zipf = {}
    if "user_zipf" in p:
        zipf["user_exponent" if kind != "lowrank-sparse" else "row_exponent"] = p["user_zipf"]
    if "item_zipf" in p:
        zipf["item_exponent" if kind != "lowrank-sparse" else "col_exponent"] = p["item_zipf"]
    if kind == "ratings":
        scale = p.get("scale", (1.0, 5.0))
        return synth.ratings(
            p["rows"], p["cols"], p["nnz"], rank=p["rank"], noise=p["noise"],
            scale=(scale[0], scale[1]), step=p.get("step", 1.0),
            timestamps=p["timestamps"], seed=seed, **zipf,
        )  # fmt: skip
    if kind == "implicit":
        return synth.implicit(
            p["rows"], p["cols"], p["nnz"], rank=p["rank"], timestamps=p["timestamps"],
            distribution=p.get("counts", "poisson"), seed=seed, **zipf,
        )  # fmt: skip
    if kind == "lowrank":
        return synth.lowrank_dense(
            p["rows"], p["cols"], p["rank"], singular_values=p.get("spectrum"),
            noise=p["noise"], decimals=p.get("decimals"), seed=seed,
        )  # fmt: skip
    if kind == "lowrank-sparse":
        return synth.lowrank_sparse(
            p["rows"], p["cols"], p["nnz"], p["rank"], singular_values=p.get("spectrum"),
            noise=p["noise"], decimals=p.get("decimals"), seed=seed, **zipf,
        )  # fmt: skip
    return synth.docterm(p["rows"], p["rank"], doc_length=p.get("doc_length", 60.0), seed=seed)


def _terms_path(output: str) -> str:
    """``docs.mtx`` / ``docs.mtx.gz`` -> ``docs.terms`` (where readers look for it)."""
    import os

    from mfcli.io.source import strip_compression

    return os.path.splitext(strip_compression(output))[0] + ".terms"


def _write(kind, params, output, format, sep, header, seed, force) -> dict:
    from mfcli.io import write

    fmt = write.output_format(output, format)
    files = [output]
    if kind == "docterm" and fmt == "mtx":
        files.append(_terms_path(output))
    for path in files:  # fail before generating anything
        write.check_output(path, force=force)
    matrix, truth = _make(kind, params, seed)
    comment = " ".join(
        ["mfcli generate", kind, f"seed={seed}"]
        + [f"{k}={_show(v)}" for k, v in sorted(params.items())]
    )
    write.write_matrix(
        output,
        matrix,
        format=fmt,
        sep=sep,
        header=header,
        names=CSV_NAMES.get(kind),
        comments=[comment],
        force=force,
    )
    if len(files) > 1:
        write.write_labels(files[1], truth["terms"], force=force)
    return {"format": fmt, "files": files, "matrix": matrix, "truth": truth}


def _show(value) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(f"{v:g}" for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
