"""`mfcli run FILE.yaml`: an experiment (split, fit, search, eval, compare), or one command."""

from __future__ import annotations

import typer

from mfcli.cli import configure
from mfcli.cli import options as opt
from mfcli.cli.main import app

HELP = """Run an experiment file: split, fit each method (with its grid or random
search), evaluate, and print the comparison table.

\b
An experiment names its data, a split, the metrics and the methods:
\b
  data: ratings.csv            # paths are relative to this file
  split: {strategy: random, test_frac: 0.2, validation_frac: 0.1, seed: 1}
  eval: {metrics: [rmse, mae, ndcg@10], relevance_threshold: 4}
  select: rmse                 # chooses among a method's parameter sets
  methods:
    svd: {params: {rank: 10, missing: true}}
    sgd: {params: {rank: 20}, grid: {reg: [0.02, 0.05]}}
    als: {params: {rank: 16}, random: {trials: 4, seed: 0,
          space: {reg: {loguniform: [0.01, 1]}}}}
  output: runs/ratings         # default runs/NAME beside the file
\b
Parameter sets are scored on the validation part (kfold: on the held-out
folds, mean over folds) by 'select'; only the chosen one is scored on
test. With a kfold split every metric is reported as mean and standard
deviation over the folds. The output folder holds the split, one result
file per fit, manifest.json (every step with its inputs' and outputs'
sha256), results.json, results.csv and trials.csv.
\b
Re-running skips every step whose inputs and config are unchanged (like
make): the split when the data and split options are the same, a fit when
its training file and resolved config are, an eval when its model and
held-out file are. Thread counts never cause a re-run. --force reruns all.
\b
A file with 'command: svd' (or nmf, als, sgd, split, eval ...) instead of
'methods' is one command's config: 'mfcli run FILE' is then
'mfcli COMMAND --config FILE'. See docs/experiments.md.
"""


@app.command(help=HELP)
def run(
    ctx: typer.Context,
    experiment: str = typer.Argument(..., help="Experiment (or command config) YAML file."),
    output: str | None = typer.Option(
        None, "-o", "--output", help="Run folder (default: the file's 'output', else runs/NAME)."
    ),
    force: bool = typer.Option(False, "--force", help="Rerun every step, unchanged or not."),
    threads: int | None = opt.THREADS,
    set_items: list[str] | None = configure.SET,
    json_out: bool = opt.JSON,
    quiet: bool = opt.QUIET,
) -> None:
    from mfcli.config import load_yaml
    from mfcli.experiment.spec import is_experiment

    data = load_yaml(experiment)
    if not is_experiment(data):
        _run_command(ctx, experiment, output, force, threads, set_items, json_out, quiet)
        return
    if set_items:
        from mfcli.errors import UsageError

        raise UsageError(
            "--set applies to command configs, not to experiments",
            hint="edit the experiment file (its steps are re-run only where they change)",
        )
    from mfcli.experiment.runner import run_experiment
    from mfcli.experiment.spec import load_experiment

    exp = load_experiment(experiment, output=output, threads=threads)
    progress = None if quiet or json_out else _stderr
    results = run_experiment(exp, force=force, progress=progress)
    from mfcli.cli import render

    if json_out:
        render.print_json(results)
    elif not quiet:
        render.print_comparison(results)


def _stderr(line: str) -> None:
    typer.echo(line, err=True)


def _run_command(ctx, path, output, force, threads, set_items, json_out, quiet) -> None:
    """A single command's config: hand it to that command as --config."""
    from mfcli.config import command_of
    from mfcli.errors import ConfigError

    command = command_of([path])  # a non-string command is an error at its line
    group = ctx.parent.command
    sub = group.get_command(ctx.parent, command) if isinstance(command, str) else None
    if sub is None or command in ("run", "demo"):
        raise ConfigError(
            "neither an experiment ('methods:') nor a command config ('command:')",
            path=path,
            hint="see 'mfcli run --help' and docs/experiments.md",
        )
    args = ["--config", path]
    for item in set_items or []:
        args += ["--set", item]
    if output is not None:
        args += ["--output", output]
    if threads is not None:
        args += ["--threads", str(threads)]
    args += [flag for flag, on in (("--force", force), ("--json", json_out),
                                   ("--quiet", quiet)) if on]  # fmt: skip
    with sub.make_context(command, args, parent=ctx.parent) as sub_ctx:
        sub.invoke(sub_ctx)
