"""The bundled sample data, reproducible anywhere.

``COMMANDS`` are the ``mfcli generate`` lines of ``sample_data/make.sh`` (a test
keeps the two equal), so ``mfcli demo`` can rebuild the files when it runs
outside a checkout, e.g. from a wheel.
"""

from __future__ import annotations

from pathlib import Path

COMMANDS: tuple[tuple[str, ...], ...] = (
    ("generate", "ratings", "--users", "943", "--items", "1682", "--ratings", "35000",
     "--seed", "42", "-o", "ratings.csv"),
    ("generate", "ratings", "--users", "943", "--items", "1682", "--ratings", "35000",
     "--seed", "42", "-o", "ratings.mtx"),
    ("generate", "implicit", "--users", "500", "--items", "800", "--nnz", "6000",
     "--seed", "42", "-o", "implicit.tsv"),
    ("generate", "lowrank", "--rows", "200", "--cols", "50", "--rank", "5", "--decimals", "4",
     "--seed", "42", "-o", "lowrank_dense.csv"),
    ("generate", "lowrank", "--rows", "200", "--cols", "50", "--rank", "5", "--decimals", "4",
     "--seed", "42", "-o", "lowrank_dense.h5"),
    ("generate", "lowrank-sparse", "--rows", "600", "--cols", "300", "--nnz", "6000",
     "--rank", "5", "--decimals", "4", "--seed", "42", "-o", "lowrank_csr.h5"),
    ("generate", "docterm", "--rows", "300", "--rank", "6", "--doc-length", "50",
     "--seed", "42", "-o", "docterm.mtx"),
)  # fmt: skip


# The demo experiment, also committed as sample_data/experiment.yaml (a test keeps
# the two equal): `mfcli demo` runs it, and so does `mfcli run` by hand.
EXPERIMENT_NAME = "experiment.yaml"
EXPERIMENT = """\
# The experiment behind `mfcli demo`; by hand:
#   mfcli run sample_data/experiment.yaml -o runs/demo
# Paths are relative to this file. See docs/experiments.md for every key.
name: demo
data: ratings.csv
split: {strategy: random, test_frac: 0.2, validation_frac: 0.1, seed: 1}
eval:
  metrics: [rmse, mae, precision@10, ndcg@10]
  relevance_threshold: 4   # ratings of 4 and 5 count as relevant for the @10 metrics
select: rmse               # each method's parameter sets are compared on validation rmse
methods:
  svd:                     # soft-impute: a truncated SVD that fits the observed ratings only
    params: {rank: 10, missing: true}
    grid: {shrink: [1.0, 5.0, 10.0]}
  nmf:
    params: {rank: 5, mask: observed, max_iter: 100}
    grid: {l2_w: [2.0, 5.0], l2_h: [2.0, 5.0]}
  als:
    params: {rank: 10}
    grid: {reg: [0.05, 0.1, 0.5]}
  sgd:
    params: {rank: 20, schedule: adagrad, lr: 0.1, epochs: 30}
    random: {trials: 4, seed: 0, space: {reg: {loguniform: [0.02, 0.5]}}}
"""


def make_sample_data(folder: str | Path) -> list[Path]:
    """Write the sample files (and the demo experiment) into ``folder``; returns their paths."""
    from mfcli.cli.main import app
    from mfcli.errors import MfcliError

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for command in COMMANDS:
        args = list(command)
        out = args.index("-o") + 1
        args[out] = str(folder / args[out])
        code = app(args + ["--force", "-q"], standalone_mode=False)
        if code:
            raise MfcliError(f"could not generate sample data ({' '.join(command)})")
        written.append(Path(args[out]))
    (folder / EXPERIMENT_NAME).write_text(EXPERIMENT, encoding="utf-8")
    written.append(folder / EXPERIMENT_NAME)
    return written
