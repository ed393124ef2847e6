"""The results as people and programs read them: a table, JSON, Markdown, HTML, or one Nagios line."""

from __future__ import annotations

import html
from collections.abc import Iterator
from typing import Any

from provision.check.model import Check, Status, worst
from provision.check.runner import TargetReport
from provision.console import table

STATUSES = (Status.CRIT, Status.UNKNOWN, Status.WARN, Status.OK)  # most urgent first
NAGIOS_SHOWN = 3  # problems named in the Nagios status line


def as_json(reports: list[TargetReport]) -> dict[str, Any]:
    return {"targets": [{"target": report.target, "checks": [check.as_dict() for check in report.checks]}
                        for report in reports]}


def exit_status(reports: list[TargetReport]) -> int:
    return 0 if all(report.status is Status.OK for report in reports) else 1


def text(reports: list[TargetReport]) -> str:
    lines = [table(_summary_rows(reports), _SUMMARY_COLUMNS)]
    for report in reports:
        lines += ["", f"== {report.target} =="]
        for area, checks in _by_area(report.checks):
            lines.append(f"[{area}]")
            for check in checks:
                lines.append(f"  {check.status:<7} {check.id:<20} {check.message}")
                if check.fix and check.status is not Status.OK:
                    lines.append(f"  {'':<7} {'':<20} fix: {check.fix}")
    return "\n".join(lines)


def markdown(reports: list[TargetReport]) -> str:
    lines = ["# Mail setup check", "", "## Summary", "", "| Target | Status | " + " | ".join(STATUSES) + " |",
             "|---" * (2 + len(STATUSES)) + "|"]
    lines += [f"| {_md(row['target'])} | {row['status']} | " + " | ".join(str(row[s]) for s in STATUSES)
              + " |" for row in _summary_rows(reports)]
    lines += ["", "## What to fix", ""]
    problems = [(report.target, check) for report in reports for check in _urgent_first(report.checks)
                if check.status is not Status.OK]
    lines += [f"- **{check.status}** {_md(target)} `{check.id}`: {_md(check.message)}"
              + (f"  \n  Fix: {_md(check.fix)}" if check.fix else "") for target, check in problems]
    lines += [] if problems else ["Nothing: every check passed."]
    lines += ["", "## All checks"]
    for report in reports:
        for area, checks in _by_area(report.checks):
            lines += ["", f"### {_md(report.target)}: {area}", "", "| Status | Check | Message |",
                      "|---|---|---|"]
            lines += [f"| {check.status} | `{check.id}` | {_md(check.message)} |" for check in checks]
    return "\n".join(lines) + "\n"


def html_page(reports: list[TargetReport]) -> str:
    e = html.escape
    rows = "".join(f"<tr class={row['status']}><td>{e(row['target'])}</td><td>{row['status']}</td>"
                   + "".join(f"<td>{row[s]}</td>" for s in STATUSES) + "</tr>"
                   for row in _summary_rows(reports))
    problems = "".join(
        f"<li class={check.status}><b>{check.status}</b> {e(report.target)} <code>{e(check.id)}</code>: "
        f"{e(check.message)}" + (f"<br>Fix: <code>{e(check.fix)}</code>" if check.fix else "") + "</li>"
        for report in reports for check in _urgent_first(report.checks) if check.status is not Status.OK)
    sections = "".join(
        f"<h3>{e(report.target)}: {area}</h3><table><tr><th>Status</th><th>Check</th><th>Message</th></tr>"
        + "".join(f"<tr class={check.status}><td>{check.status}</td><td><code>{e(check.id)}</code></td>"
                  f"<td>{e(check.message)}</td></tr>" for check in checks) + "</table>"
        for report in reports for area, checks in _by_area(report.checks))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Mail setup check</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:auto}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:.2em .5em;text-align:left}}.OK{{background:#e6f4e6}}
.WARN{{background:#fff4d6}}.CRIT{{background:#fbe0e0}}.UNKNOWN{{background:#eee}}</style></head><body>
<h1>Mail setup check</h1>
<h2>Summary</h2>
<table><tr><th>Target</th><th>Status</th>{"".join(f"<th>{s}</th>" for s in STATUSES)}</tr>{rows}</table>
<h2>What to fix</h2>
{f"<ul>{problems}</ul>" if problems else "<p>Nothing: every check passed.</p>"}
<h2>All checks</h2>
{sections}
</body></html>
"""


def nagios(reports: list[TargetReport]) -> tuple[str, int]:
    """One status line with perfdata, and the plugin exit code (0 OK, 1 WARN, 2 CRIT, 3 UNKNOWN)."""
    checks = [check for report in reports for check in report.checks]
    overall = worst([check.status for check in checks])
    counts = {status: sum(check.status is status for check in checks) for status in STATUSES}
    summary = ", ".join(f"{counts[status]} {status}" for status in STATUSES)
    problems = [f"{report.target} {check.id} {check.status}" for report in reports
                for check in _urgent_first(report.checks) if check.status is not Status.OK]
    shown = "; ".join(problems[:NAGIOS_SHOWN]) + (f"; {len(problems) - NAGIOS_SHOWN} more"
                                                   if len(problems) > NAGIOS_SHOWN else "")
    perfdata = " ".join(f"{status.lower()}={counts[status]};;;0" for status in reversed(STATUSES))
    words = {Status.OK: "OK", Status.WARN: "WARNING", Status.CRIT: "CRITICAL", Status.UNKNOWN: "UNKNOWN"}
    line = f"MAIL {words[overall]} - {summary}" + (f": {shown}" if shown else "")
    return f"{line.replace('|', '/')} | {perfdata}", overall.nagios_code


_SUMMARY_COLUMNS = [("target", "target"), ("status", "status"),
                    *((str(status), str(status)) for status in STATUSES)]


def _summary_rows(reports: list[TargetReport]) -> list[dict[str, Any]]:
    return [{"target": report.target, "status": str(report.status),
             **{str(status): report.count(status) for status in STATUSES}} for report in reports]


def _by_area(checks: list[Check]) -> Iterator[tuple[str, list[Check]]]:
    for area in dict.fromkeys(check.area for check in checks):
        yield area, [check for check in checks if check.area == area]


def _urgent_first(checks: list[Check]) -> list[Check]:
    return sorted(checks, key=lambda check: -check.status.rank)


def _md(value: str) -> str:
    return value.replace("|", "\\|").replace("\n", " ")
