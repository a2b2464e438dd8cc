"""BENCHMARKS.md: machine, then one table per case scenario, then its targets."""

from __future__ import annotations

import math
import time

from benchmarks.harness import Measurement, Scenario

MIB = 1024 * 1024


def _s(x: float | None) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    return f"{x:.3f}" if x < 10 else f"{x:.1f}"


def _mib(x: int | None) -> str:
    return "—" if x is None else f"{x / MIB:,.0f}"


def _ratio(a: float, b: float) -> str:
    if not (a and b) or math.isnan(a) or math.isnan(b):
        return "—"
    return f"{a / b:.2f}x"


def machine_section(machine: dict, threads: str, command: str, repeat: int, warmup: int) -> str:
    v = machine["versions"]
    mem = machine["memory_bytes"]
    rows = [
        ("command", f"`{command}`"),
        ("date (UTC)", time.strftime("%Y-%m-%d %H:%M", time.gmtime())),
        ("mfcli commit", machine.get("commit") or "unknown"),
        ("CPU", machine["cpu"]),
        ("cores", f"{machine['cores_usable']} usable of {machine['cores_total']}"),
        ("RAM", f"{mem / 2**30:.1f} GiB" if mem else "unknown"),
        ("OS", machine["platform"]),
        ("threads", threads),
        ("runs", f"{warmup} warm-up + best of {repeat}, each in a fresh process"),
    ]
    rows += [(name, version or "not installed") for name, version in v.items()]
    lines = ["| | |", "|---|---|"] + [f"| {k} | {val} |" for k, val in rows]
    return "\n".join(lines)


def scenario_section(scenario: Scenario, results: dict[str, Measurement], data: dict | None):
    lines = [f"### {scenario.label}", ""]
    if data:
        lines.append(
            f"Input: `{data['file']}`, {data['bytes'] / 1e6:,.1f} MB, "
            f"{data['shape'][0]:,} x {data['shape'][1]:,}, {data['nnz']:,} entries."
        )
        lines.append("")
    if scenario.repeat:
        lines.append(
            f"Best of {scenario.repeat} timed runs per tool here (or `--repeat`, if more): "
            "calls this short vary from run to run by more than the differences shown."
        )
        lines.append("")
    if scenario.prefault_mib:
        lines.append(
            f"Each tool's child touched and freed {scenario.prefault_mib:,} MiB of huge-page "
            "memory just before its call (its high-water mark reset after), so that the call "
            "does not pay the virtual machine's host for faulting in cold guest memory: "
            "`benchmarks/README.md`, *Memory conditioning*."
        )
        lines.append("")
    mfcli = next((m for m in results.values() if not m.tool.peer), None)
    baseline = scenario.args.get("baseline")
    commands = all(m.tool.argv is not None for m in results.values())
    if commands:
        head = "| tool | wall (s) | vs baseline | peak RSS (MiB) |"
        rule = "|---|---:|---:|---:|"
    else:
        head = (
            "| tool | time (s) | warm (s) | mfcli / peer | peak RSS (MiB) | "
            "above baseline (MiB) | spawn to result (s) | notes |"
        )
        rule = "|---|---:|---:|---:|---:|---:|---:|---|"
    lines += [head, rule]
    for m in results.values():
        if not m.ok:
            lines.append(f"| {m.tool.name} | failed: {m.error} |")
            continue
        name = f"**{m.tool.name}**" if not m.tool.peer else m.tool.name
        if commands:
            ref = results.get(baseline)
            ratio = _ratio(m.seconds, ref.seconds) if ref and ref.ok else "—"
            lines.append(f"| {name} | {_s(m.seconds)} | {ratio} | {_mib(m.peak_rss)} |")
            continue
        ratio = "—"
        if m.tool.peer and mfcli is not None and mfcli.ok:
            ratio = _ratio(mfcli.seconds, m.seconds)
            if mfcli.warm_seconds and m.warm_seconds:
                ratio += f" (warm {_ratio(mfcli.warm_seconds, m.warm_seconds)})"
        lines.append(
            f"| {name} | {_s(m.seconds)} | {_s(m.warm_seconds)} | {ratio} | {_mib(m.peak_rss)} | "
            f"{_mib(m.rss_above_base)} | {_s(m.process_seconds)} | {m.tool.note} |"
        )
    lines.append("")
    if mfcli is not None and mfcli.ok and "final_parts" in mfcli.info:
        parts = " + ".join(f"{k} {v / MIB:,.1f}" for k, v in mfcli.info["final_parts"].items())
        lines.append(
            f"mfcli's final arrays: {mfcli.info['final_bytes'] / MIB:,.1f} MiB ({parts} MiB; "
            f"dtypes {', '.join(f'{k} {v}' for k, v in mfcli.info['dtypes'].items())})."
        )
        lines.append("")
    if scenario.targets:
        lines.append("Targets:")
        lines.append("")
        for target in scenario.targets:
            passed, detail = target.check(results)
            mark = {True: "**PASS**", False: "**FAIL**", None: "n/a"}[passed]
            lines.append(f"- {mark} {target.text}: {detail}")
        lines.append("")
    for note in scenario.notes:
        lines.append(f"_{note}_")
        lines.append("")
    return "\n".join(lines)


def render(machine_md: str, sections: list[tuple[object, list[str]]]) -> str:
    out = [
        "# Benchmarks",
        "",
        "Written by the benchmark harness (`benchmarks/`); do not edit by hand. Ratios matter "
        "more than absolute times: the machine is shared and noisy. *time* is the operation "
        "itself in a fresh process, *warm* a second call in the same process, *spawn to result* "
        "the whole cold path (interpreter, imports, call); *peak RSS* is the process's "
        "high-water mark during the first call and *above baseline* subtracts the resident "
        "memory after imports, just before the call.",
        "",
        "## Machine",
        "",
        machine_md,
        "",
    ]
    for case, parts in sections:
        out += case_section(case, parts)
    return "\n".join(out).rstrip() + "\n"


def case_section(case, parts: list[str], provenance: str | None = None) -> list[str]:
    """A case's lines: title, description, an optional note of its own run, scenarios."""
    out = [f"## {case.TITLE}", "", case.ABOUT, ""]
    if provenance:
        out += [provenance, ""]
    return out + parts


def update(text: str, sections: list[tuple[object, list[str]]], provenance: str) -> str:
    """Replace the named cases' sections of a report; cases it lacks are appended.

    A section runs from its ``## TITLE`` line to the next ``## `` heading, so
    every other case keeps its figures, and the machine table stays that of
    the full run (the provenance line says which run the new sections are from).
    """
    lines = text.rstrip("\n").split("\n")
    for case, parts in sections:
        new = case_section(case, parts, provenance)
        head = f"## {case.TITLE}"
        if head in lines:
            start = lines.index(head)
            end = next(
                (i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")),
                len(lines),
            )
            lines[start:end] = new
        else:
            lines += [""] + new
    return "\n".join(lines).rstrip() + "\n"
