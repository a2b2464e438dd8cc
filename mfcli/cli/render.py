"""Rendering for humans (rich) and scripts (JSON). No numerics here."""

from __future__ import annotations

import json
import sys
from typing import Any


def print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, default=str) + "\n")


def error_line(exc) -> None:
    sys.stderr.write(exc.one_line() + "\n")


def _console():
    from rich.console import Console

    return Console(highlight=False, soft_wrap=False)


def _fmt(value: Any, key: str = "") -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_fmt(v, k)}" for k, v in value.items())
    if isinstance(value, list):
        # a shape reads "943 x 1682"; any other list (labels, names) is comma-separated
        if "shape" in key:
            return " x ".join(map(str, value)) if value else "scalar"
        return ", ".join(map(str, value))
    return str(value)


def print_report(report: dict) -> None:
    """A titled two-column table; nested dicts become indented rows."""
    from rich.table import Table

    kind = report.get("kind", "")
    title = {
        "environment": "mfcli environment",
        "matrix": report.get("path", ""),
        "result": f"{report.get('path', '')} (mfcli result)",
        "labels": f"{report.get('path', '')} (label list)",
        "table": f"{report.get('path', '')} (delimited table, layout unclear)",
        "container": f"{report.get('path', '')} (several matrices)",
        "error": report.get("path", ""),
    }.get(kind, str(report.get("path", kind)))
    table = Table(title=title, title_justify="left", show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    for key, value in report.items():
        if key in ("path", "kind") or value is None:
            continue
        if isinstance(value, dict) and key in (
            "details",
            "versions",
            "provenance",
            "metrics",
            "numba",
            "history",
            "factors",
            "blas_env",
            "threads",
        ):
            table.add_row(key, "")
            for sub, subvalue in value.items():
                if subvalue is not None:
                    table.add_row(f"  {sub}", _fmt(subvalue, sub))
        elif key == "columns" and isinstance(value, list):
            for col in value:
                table.add_row(
                    f"  column {col['index']}",
                    f"{col['name'] or '-'}: {col['kind']}, e.g. {col['example']!r}",
                )
        elif key == "objects" and isinstance(value, list):
            for obj in value:
                table.add_row("  object", obj)
        elif key == "config" and isinstance(value, str):
            table.add_row(key, value.rstrip())
        else:
            table.add_row(key, _fmt(value, key))
    _console().print(table)
    _console().print()


def print_demo(report: dict) -> None:
    from rich.table import Table

    console = _console()
    console.print(f"[bold]mfcli demo[/bold] on {report['sample_data']} ({report['origin']})\n")
    table = Table(title="1. read every sample file", title_justify="left")
    table.add_column("file", no_wrap=True)
    table.add_column("format", no_wrap=True)
    table.add_column("shape", no_wrap=True)
    table.add_column("nnz", justify="right", no_wrap=True)
    table.add_column("labels")
    table.add_column("times")
    table.add_column("read s", justify="right", no_wrap=True)
    for row in report["files"]:
        storage = "sparse" if row["storage"].startswith("sparse") else "dense"
        table.add_row(
            row["file"],
            f"{row['format']} {storage}",
            _fmt(row["shape"], "shape"),
            f"{row['nnz']:,}",
            "yes" if row["labels"] else "-",
            "yes" if row["timestamps"] else "-",
            f"{row['read_s']:.3f}",
        )
    console.print(table)
    if any(row["read_s"] > 5 for row in report["files"]):
        console.print("(the first run compiles mfcli's kernels; they are cached for next time)")
    console.print("\n[bold]2. the demo experiment[/bold] (sample_data/experiment.yaml)\n")
    print_comparison(report["experiment"])
    where = report["kept"] or "runs/demo"
    console.print(
        "\nBy hand:\n"
        f"  mfcli run sample_data/experiment.yaml -o {where}\n"
        f"  mfcli plot {where} -o comparison.png\n"
        f"  mfcli recommend {where}/models/sgd/00/model.h5 --user 1,2,3\n"
        "  mfcli info sample_data/ratings.csv  |  mfcli run --help  |  mfcli --help",
        markup=False,
        highlight=False,
    )


def print_eval(summary: dict) -> None:
    """Metric values first, then the counts behind them and the gates."""
    from rich.table import Table

    console = _console()
    table = Table(title=summary["path"], title_justify="left", show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column(justify="right")
    for name, value in summary["values"].items():
        table.add_row(name, "nan" if value is None else f"{value:.6g}")
    console.print(table)
    counts = [
        ("test entries", summary["test_entries"]),
        ("entries scored", summary["entries"]),
        ("users / items", f"{summary['users']:,} / {summary['items']:,}"),
        ("unseen in training", f"{summary['unseen_users']:,} users, "
         f"{summary['unseen_items']:,} items ({summary['cold_start']})"),
        ("ranked users", summary["ranking_users"]),
        ("training items excluded", "yes" if summary["excluded_training"] else "no (no train)"),
    ]  # fmt: skip
    for name, value in counts:
        if value is not None:
            shown = f"{value:,}" if isinstance(value, int) else value
            console.print(f"  {name}: {shown}")
    for gate, state in summary.get("gates", {}).items():
        console.print(f"  --fail-if {gate}: {state}")


def print_fit(summary: dict) -> None:
    """What a fit wrote: shape, rank, time, and the method's headline numbers."""
    console = _console()
    shape = " x ".join(f"{n:,}" for n in summary["shape"])
    on_cluster = any(n.startswith("ran on a Dask cluster") for n in summary.get("notes", []))
    where = "a Dask cluster" if on_cluster else f"{summary['threads']} threads"
    console.print(
        f"wrote {summary['path']}: {summary['method']}, k={summary['k']} of a {shape} matrix "
        f"({summary['nnz']:,} stored), read {summary['read_s']:.2f} s, "
        f"fit {summary['fit_s']:.2f} s on {where}"
    )
    values = summary.get("singular_values")
    if values:
        shown = ", ".join(f"{v:.4g}" for v in values[:8]) + (" ..." if len(values) > 8 else "")
        console.print(f"  singular values: {shown}")
    if summary.get("explained_variance_ratio") is not None:
        console.print(f"  explained variance: {summary['explained_variance_ratio']:.1%}")
    if summary.get("objective") is not None:
        state = "converged" if summary.get("converged") else "stopped at the limit"
        console.print(
            f"  objective {summary['objective']:.6g}, relative error "
            f"{summary['relative_error']:.4g} after {summary['iterations']} iterations ({state})"
        )
    for line in summary.get("lines", []):
        console.print(f"  {line}", markup=False, highlight=False)
    _print_top(console, summary.get("top") or {})
    for note in summary.get("notes", []):
        console.print(f"  note: {note}")


def _print_top(console, top: dict) -> None:
    """Each component's strongest labels, one line per component and side."""
    from rich.markup import escape

    for side, rows in top.items():
        console.print(f"  top {'rows' if side == 'row' else 'columns'} per component:")
        for c, names in enumerate(rows):
            shown = ", ".join(escape(str(v)) for v in names if v != "")
            console.print(f"    {c + 1:>3}  {shown}", overflow="ellipsis", no_wrap=True)


def print_comparison(results: dict) -> None:
    """The comparison table of a `mfcli run`: one row per method, the best value in bold."""
    from rich.table import Table

    from mfcli.experiment.table import params_text

    metrics, kfold = results["metrics"], results["folds"] > 1
    lower = set(results["lower_is_better"])
    title = (
        f"{results['experiment']}: {results['split']} split"
        + (
            f", {results['folds']} folds, held-out metrics as mean ± std"
            if kfold
            else ", test metrics"
        )
        + f"; parameter sets chosen on {results['select']}"
    )
    table = Table()
    table.add_column("method")
    table.add_column("sets", justify="right")
    for m in metrics:
        table.add_column(m + (" ↓" if m in lower else " ↑"), justify="right")
    table.add_column("fit s", justify="right")
    rows_text = []
    best = {}
    for m in metrics:
        values = [r["metrics"][m]["mean"] for r in results["rows"]]
        known = [v for v in values if v is not None]
        if len(known) > 1:
            best[m] = min(known) if m in lower else max(known)
    for r in results["rows"]:
        cells = [r["name"], str(r["trials"])]
        for m in metrics:
            v = r["metrics"][m]
            text = "nan" if v["mean"] is None else f"{v['mean']:.4f}"
            if kfold and v["std"] is not None:
                text += f" ± {v['std']:.4f}"
            cells.append(f"[bold]{text}[/bold]" if best.get(m) == v["mean"] else text)
        cells.append("" if r["fit_seconds"] is None else f"{r['fit_seconds']:.2f}")
        table.add_row(*cells)
        rows_text.append([r["name"], str(r["trials"]), *cells[2:]])
    heads = ["method", "sets", *(m + " ?" for m in metrics), "fit s"]
    widths = [max(len(h), *(len(row[i].replace("[bold]", "").replace("[/bold]", ""))
                            for row in rows_text)) for i, h in enumerate(heads)]  # fmt: skip
    console = _console()
    # never squeeze the numbers: a pipe or a CI log gets the full table
    console.width = max(console.width, sum(widths) + 3 * len(widths) + 1)
    console.print(title, soft_wrap=True)
    console.print(table)
    for r in results["rows"]:
        chosen = f" (set {r['chosen']} of {r['trials']})" if r["trials"] > 1 else ""
        console.print(
            f"  {r['name']}: {r['method']} {params_text(r['params'])}{chosen}", soft_wrap=True
        )
    steps = results.get("steps", {})
    console.print(
        f"{steps.get('ran', 0)} steps ran, {steps.get('skipped', 0)} unchanged and skipped, "
        f"{results['seconds']:.1f} s; results.csv, results.json, trials.csv and "
        f"manifest.json in {results['output']}",
        soft_wrap=True,
    )
