"""The results as the consultant and programs read them: a table, JSON, one Nagios line, Prometheus metrics.

The customer's report is provision.check.customer.
"""

from __future__ import annotations

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
        for area, checks in by_area(report.checks):
            lines.append(f"[{area}]")
            for check in checks:
                lines.append(f"  {check.status:<7} {check.id:<20} {check.message}")
                if check.fix and check.status is not Status.OK:
                    lines.append(f"  {'':<7} {'':<20} fix: {check.fix}")
    return "\n".join(lines)


def nagios(reports: list[TargetReport]) -> tuple[str, int]:
    """One status line with perfdata, and the plugin exit code (0 OK, 1 WARN, 2 CRIT, 3 UNKNOWN)."""
    checks = [check for report in reports for check in report.checks]
    overall = worst([check.status for check in checks])
    counts = {status: sum(check.status is status for check in checks) for status in STATUSES}
    summary = ", ".join(f"{counts[status]} {status}" for status in STATUSES)
    problems = [f"{report.target} {check.id} {check.status}" for report in reports
                for check in urgent_first(report.checks) if check.status is not Status.OK]
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


def by_area(checks: list[Check]) -> Iterator[tuple[str, list[Check]]]:
    for area in dict.fromkeys(check.area for check in checks):
        yield area, [check for check in checks if check.area == area]


def urgent_first(checks: list[Check]) -> list[Check]:
    return sorted(checks, key=lambda check: -check.status.rank)



def prometheus(reports: list[TargetReport], checked_at: float) -> str:
    """The text exposition format: per customer (its primary domain) one status series per check id,
    the worst over its domains, and the findings with their fix for what is not OK, as alert text."""
    lines = ["# HELP provision_check_status provision check's status of a check: 0 OK, 1 WARN, 2 CRIT, "
             "3 UNKNOWN, the worst over the customer's domains.", "# TYPE provision_check_status gauge"]
    findings, times = [], []
    for report in reports:
        customer = report.domains[0] if report.domains else report.target
        times.append(f"provision_check_timestamp_seconds{_labels(customer=customer)} {checked_at:.3f}")
        for check_id, area in dict.fromkeys((check.id, check.area) for check in report.checks):
            same = [check for check in report.checks if check.id == check_id]
            status = worst([check.status for check in same])
            lines.append(f"provision_check_status{_labels(customer=customer, area=area, check=check_id)} "
                         f"{status.nagios_code}")
            problems = [check for check in urgent_first(same) if check.status is not Status.OK]
            if problems:
                labels = _labels(customer=customer, check=check_id, status=str(status),
                                 message="; ".join(dict.fromkeys(check.message for check in problems)),
                                 fix="; ".join(dict.fromkeys(check.fix for check in problems if check.fix)))
                findings.append(f"provision_check_finding{labels} 1")
    lines += ["# HELP provision_check_finding What a check that is not OK found, and its fix (always 1).",
              "# TYPE provision_check_finding gauge", *findings,
              "# HELP provision_check_timestamp_seconds When provision check ran, in Unix time.",
              "# TYPE provision_check_timestamp_seconds gauge", *times]
    return "\n".join(lines) + "\n"


def _labels(**labels: str) -> str:
    def escaped(value: str) -> str:
        return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return "{" + ",".join(f'{name}="{escaped(value)}"' for name, value in labels.items()) + "}"
