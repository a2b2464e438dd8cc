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


def make_sample_data(folder: str | Path) -> list[Path]:
    """Write the sample files into ``folder``; returns their paths."""
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
    return written
