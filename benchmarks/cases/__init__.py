"""Benchmark cases: one small module per case, all with the same interface.

A case module defines

``NAME``
    its selector (``--cases NAME``);
``GROUP``
    a selector shared by related cases (``--cases read`` runs every read case);
``TITLE``, ``ABOUT``
    the heading and one paragraph for BENCHMARKS.md (what is measured, how);
``scenarios(quick: bool) -> list[benchmarks.harness.Scenario]``
    the data sizes, each with its tools (mfcli and peers) and targets;

plus the child-side functions its tools name as ``module:function``. Each
takes the scenario's ``args`` dict (``args["path"]`` is the generated input)
and returns a dict of facts for the report (nnz, bytes of the result ...).
A ``setup`` function runs before the clock starts (imports).

To add a case (say ``svd`` against scikit-learn): write ``cases/svd.py`` and
add ``"svd"`` to ``CASES``.
"""

from __future__ import annotations

import importlib
from types import ModuleType

CASES = (
    "read_mtx",
    "read_csv",
    "startup",
    "split",
    "topk_memory",
    "svd",
    "nmf",
    "recommend",
    "als",
    "sgd",
    "distributed",
)


def load(name: str) -> ModuleType:
    return importlib.import_module(f"benchmarks.cases.{name}")


def select(selectors: list[str] | None) -> list[ModuleType]:
    """Cases matching any selector (a NAME or a GROUP); all when None."""
    modules = [load(name) for name in CASES]
    if not selectors:
        return modules
    chosen = [m for m in modules if m.NAME in selectors or m.GROUP in selectors]
    unknown = set(selectors) - {m.NAME for m in modules} - {m.GROUP for m in modules}
    if unknown:
        known = sorted({m.NAME for m in modules} | {m.GROUP for m in modules})
        raise SystemExit(f"unknown case(s) {sorted(unknown)}; choose from {known}")
    return chosen
