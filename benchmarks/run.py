"""Run the benchmarks and write BENCHMARKS.md.

    python -m benchmarks.run                 # every case, full scale -> BENCHMARKS.md
    python -m benchmarks.run --quick         # small data -> benchmarks/_work/BENCHMARKS.quick.md
    python -m benchmarks.run --cases read    # a group or case names, comma-separated
    python -m benchmarks.run --list

Data is generated once into benchmarks/_data/ (cached by its parameters).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # `python benchmarks/run.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import cases as case_registry  # noqa: E402
from benchmarks import data, machine, report  # noqa: E402
from benchmarks.harness import REPO, child_env, measure  # noqa: E402

WORK = REPO / "benchmarks" / "_work"


def parse(argv):
    p = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="small data, for trying the harness")
    p.add_argument("--cases", help="comma-separated case names or groups (default: all)")
    p.add_argument("--repeat", type=int, default=3, help="timed runs per tool (best is kept)")
    p.add_argument(
        "--warmup", type=int, default=1, help="untimed runs first (JIT cache, page cache)"
    )
    p.add_argument("--threads", type=int, help="thread count for every tool (default: machine's)")
    p.add_argument(
        "--timeout", type=float, default=1800, help="seconds per run before it is killed"
    )
    p.add_argument("--out", help="report path (default: BENCHMARKS.md for a full run of all cases)")
    p.add_argument(
        "--update",
        metavar="REPORT",
        help="replace the sections of the cases run in REPORT (e.g. BENCHMARKS.md), each marked "
        "with this run's command, date and commit; the other sections stay as they are",
    )
    p.add_argument("--list", action="store_true", help="list cases and exit")
    return p.parse_args(argv)


def log(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def main(argv=None) -> int:
    opts = parse(argv)
    selectors = [s.strip() for s in opts.cases.split(",")] if opts.cases else None
    chosen = case_registry.select(selectors)
    if opts.list:
        for case in chosen:
            print(f"{case.NAME:12} group {case.GROUP:6} {case.TITLE}")
        return 0
    full = not opts.quick and selectors is None
    out = (
        Path(opts.out)
        if opts.out
        else (
            REPO / "BENCHMARKS.md"
            if full
            else WORK / ("BENCHMARKS.quick.md" if opts.quick else "BENCHMARKS.partial.md")
        )
    )
    env = child_env(opts.threads)
    usable, _ = machine.cores()
    threads = (
        f"{opts.threads} (NUMBA/OMP/OPENBLAS/MKL_NUM_THREADS)"
        if opts.threads
        else f"machine default for every tool ({usable} cores usable)"
    )
    command = (
        "python -m benchmarks.run"
        + (" " + " ".join(argv if argv is not None else sys.argv[1:])).rstrip()
    )
    sections, raw = [], []
    started = time.perf_counter()
    for case in chosen:
        log(f"== {case.NAME}")
        parts = []
        for scenario in case.scenarios(opts.quick):
            log(f"-- {scenario.label}")
            args = dict(scenario.args)
            facts = None
            if scenario.data:
                path = data.ensure(scenario.data, log=log)
                args["path"] = str(path)
                facts = {**data.describe(scenario.data), "file": f"benchmarks/_data/{path.name}"}
            results = {}
            for tool in scenario.tools:
                m = measure(
                    tool,
                    args,
                    repeat=max(opts.repeat, scenario.repeat),
                    warmup=opts.warmup,
                    env=env,
                    timeout=opts.timeout,
                    prefault_mib=scenario.prefault_mib,
                )
                results[tool.name] = m
                shown = m.error or f"{m.seconds:.3f} s, peak {m.peak_rss / 2**20:,.0f} MiB"
                log(f"   {tool.name}: {shown}")
            parts.append(report.scenario_section(scenario, results, facts))
            raw.append({
                "case": case.NAME, "scenario": scenario.label, "data": facts,
                "results": {k: {"seconds": v.seconds, "warm_seconds": v.warm_seconds,
                                "process_seconds": v.process_seconds, "peak_rss": v.peak_rss,
                                "base_rss": v.base_rss, "runs": v.runs, "info": v.info,
                                "error": v.error} for k, v in results.items()},
            })  # fmt: skip
        sections.append((case, parts))
    info = machine.describe(REPO)
    text = report.render(
        report.machine_section(info, threads, command, opts.repeat, opts.warmup), sections
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    if opts.update:
        target = Path(opts.update)
        note = (
            f"This section comes from its own harness run, not the full run named in the machine "
            f"table: `{command}`, {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC, mfcli "
            f"commit {info.get('commit') or 'unknown'}, the same machine ({opts.warmup} warm-up "
            f"+ best of {opts.repeat}, each in a fresh process)."
        )
        target.write_text(report.update(target.read_text(), sections, note))
        log(f"updated {os.path.relpath(target)}")
    WORK.mkdir(parents=True, exist_ok=True)
    (WORK / "results.json").write_text(json.dumps({"machine": info, "runs": raw}, indent=1))
    log(f"wrote {os.path.relpath(out)} in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
