"""`mfcli recommend`: top-N items per user, or similar items (options only; see mfcli.api)."""

from __future__ import annotations

import typer

from mfcli.cli import configure
from mfcli.cli import options as opt
from mfcli.cli.main import app

HELP = """Top-N items per user, or similar items, from a fitted MODEL.h5.

\b
Whose lists (one of):
  --user ID       a user id (repeatable; or --user 7,9)
  --users FILE    one user id per line
  --all           every user of the model
  --from FILE     interactions (user,item,value triplets or any matrix file)
                  of users the model has not seen: their factors are folded
                  in without refitting (svd: projection or soft-impute's
                  ridge; nmf: non-negative fit, H fixed; als: one
                  least-squares half-step; sgd: the ridge solution for the
                  user's factors and bias, items fixed). Alone, every user
                  in FILE gets a list; with --user/--users, the ids are
                  looked up in FILE first, then in the model; with --all,
                  FILE's users follow the model's (a user in both takes
                  FILE's interactions).
  --similar-items ID
                  items most similar to item ID (repeatable): cosine
                  similarity of the item factors (svd: of V diag(s), i.e. of
                  the rank-k reconstruction's columns; biases are ignored);
                  the item itself is never listed

\b
Scores are the model's reconstruction: row @ diag(s) @ col.T (svd) or
row @ col.T (nmf, als, sgd), plus the stored biases, computed for a chunk of
users at a time (memory stays bounded with --all). Models that predict
ratings in the training range (sgd; nmf --mask observed) rank by that score
and print it clipped to the range, as eval predicts.

\b
--exclude-seen (default when the model has /train): a user's training items
(the model's /train; for --from users, their items in FILE) are never
recommended. Without /train the default goes ahead with a note on stderr,
and an explicit --exclude-seen is an error (exit 65). --include-seen keeps them.

\b
Ids are the model's labels (the original ids of the file it was fitted on);
a model without labels uses 1-based positions, as in Matrix Market files.
Unknown ids are an error (exit 65) that names the id.

\b
Output: without -o, CSV with a header on stdout (user,rank,item,score; for
--similar-items item,rank,neighbour,score), or JSON with --json. -o FILE.csv
or .tsv (.gz/.bz2 compress) writes the same table, -o FILE.h5 one dataset
per column; files are written atomically and never replaced without --force.
Lists shorter than N (fewer candidate items) are written as they are.
"""


@app.command(help=HELP)
def recommend(
    ctx: typer.Context,
    model_path: str | None = typer.Argument(None, metavar="MODEL", help="Result file (.h5)."),
    user: list[str] | None = typer.Option(
        None, "--user", help="User id (repeatable; commas separate several)."
    ),
    users_file: str | None = typer.Option(None, "--users", help="File of user ids, one a line."),
    all_users: bool = typer.Option(False, "--all", help="Every user of the model."),
    from_file: str | None = typer.Option(
        None, "--from", help="Interactions of new users, folded in ('-' = stdin)."
    ),
    similar_items: list[str] | None = typer.Option(
        None, "--similar-items", help="Item id: its nearest items by cosine (repeatable)."
    ),
    n: int | None = typer.Option(None, "-n", help="Items per list (default 10)."),
    exclude_seen: bool | None = typer.Option(
        None,
        "--exclude-seen/--include-seen",
        help="Leave out the users' known items (default: when the model has /train).",
    ),
    output: str | None = typer.Option(
        None, "-o", "--output", help="Write .csv, .tsv or .h5 instead of stdout."
    ),
    force: bool = opt.FORCE,
    threads: int | None = opt.THREADS,
    format: str = opt.FORMAT,
    dataset: str | None = opt.DATASET,
    sep: str | None = opt.SEP,
    header: bool | None = opt.HEADER,
    columns: str | None = opt.COLUMNS,
    duplicates: str | None = opt.DUPLICATES,
    json_out: bool = opt.JSON,
    quiet: bool = typer.Option(
        False, "-q", "--quiet", help="No summary or notes (the lists are still printed)."
    ),
    config: list[str] | None = configure.CONFIG,
    set_items: list[str] | None = configure.SET,
    print_config: bool = configure.PRINT_CONFIG,
) -> None:
    import sys

    from mfcli.api.recommend import as_json, recommendations, write_text
    from mfcli.cli import render

    cfg = configure.resolve_from_cli(ctx, "recommend", config, set_items, dict(
        model_path=model_path, user=",".join(user) if user else None, users_file=users_file,
        all_users=all_users, from_file=from_file,
        similar_items=",".join(similar_items) if similar_items else None, n=n,
        exclude_seen=exclude_seen, output=output, force=force, threads=threads, format=format,
        dataset=dataset, sep=sep, header=header, columns=columns, duplicates=duplicates,
    ))  # fmt: skip
    if print_config:
        configure.print_config(cfg)
        return
    recs = recommendations(cfg)
    summary = recs.summary
    if not quiet:
        for note in summary.get("notes", []):
            sys.stderr.write(f"note: {note}\n")
    try:
        if summary["path"]:
            if json_out:
                render.print_json(summary)
            elif not quiet:
                what = "users" if summary["kind"] == "users" else "items"
                typer.echo(
                    f"wrote {summary['path']}: {summary['lines']} lines, top {summary['n']} "
                    f"for {summary['lists']} {what}"
                )
        elif json_out:
            render.print_json(as_json(recs))
        else:
            out = sys.stdout.buffer
            write_text(recs, out)
            out.flush()
    except BrokenPipeError:
        # `mfcli recommend ... | head`: the reader has what it wanted.
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise typer.Exit(0) from None
