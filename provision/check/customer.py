"""The report a customer reads (`check --report FILE.html|.md`), in English or German.

It names the customer's domains and the date of the check (never the inventory's path on the
consultant's machine), opens with a summary in plain words, then lists what to fix, most urgent
first, then every check. The findings themselves (messages and fixes) are the checks' English texts.
"""

from __future__ import annotations

import datetime
import html
from collections.abc import Iterator
from dataclasses import dataclass

from provision.check.model import Check, Status
from provision.check.page import page
from provision.check.report import by_area, urgent_first
from provision.check.runner import TargetReport

LANGUAGES = ("en", "de")
SHOWN = (Status.CRIT, Status.UNKNOWN, Status.WARN, Status.OK)  # most urgent first


@dataclass(frozen=True)
class Texts:
    title: str
    checked: str  # {date}, {count}
    summary: str
    to_fix: str
    all_checks: str
    nothing: str
    fix: str
    domain: str
    result: str
    check: str
    message: str
    findings_note: str
    made_by: str
    ok: str
    crit: str  # {crit} {total} {domains}
    crit_warn: str  # {warn}
    warn: str  # {warn} {total} {domains}
    unknown: str  # {unknown}
    statuses: dict[Status, str]
    areas: dict[str, str]
    months: tuple[str, ...]
    date: str  # {day} {month} {year} {time}


TEXTS = {
    "en": Texts(
        title="Mail check", checked="Checked on {date} · {count} checks", summary="Summary",
        to_fix="What to fix", all_checks="All checks", nothing="Nothing: every check passed.", fix="Fix",
        domain="Domain", result="Result", check="Check", message="Finding", findings_note="",
        made_by="Made with provision check.",
        ok="All {total} checks passed: mail for {domains} is set up as it should be. "
           "Nothing needs to be done.",
        crit="{crit} of {total} checks found a problem that can stop mail for {domains} from arriving or "
             "send it to spam. These come first under “What to fix”, each with the change that solves it.",
        crit_warn=" {warn} more should be improved but do not stop mail.",
        warn="Mail for {domains} works. {warn} of {total} checks found something that should be improved; "
             "“What to fix” says what to change.",
        unknown=" {unknown} checks could not be completed because a server did not answer in time; the next "
                "check runs them again.",
        statuses={Status.OK: "OK", Status.WARN: "Warning", Status.CRIT: "Problem", Status.UNKNOWN: "Unknown"},
        areas={"dns": "DNS records", "services": "Services, seen from the internet",
               "host": "The server itself"},
        months=("January", "February", "March", "April", "May", "June", "July", "August", "September",
                "October", "November", "December"),
        date="{day} {month} {year}, {time} UTC"),
    "de": Texts(
        title="E-Mail-Prüfung", checked="Geprüft am {date} · {count} Prüfungen", summary="Zusammenfassung",
        to_fix="Was zu tun ist", all_checks="Alle Prüfungen", nothing="Nichts: Alle Prüfungen bestanden.",
        fix="Abhilfe", domain="Domain", result="Ergebnis", check="Prüfung", message="Befund",
        findings_note="Die Befunde und Abhilfen selbst sind auf Englisch formuliert.",
        made_by="Erstellt mit provision check.",
        ok="Alle {total} Prüfungen bestanden: Die E-Mail für {domains} ist eingerichtet, wie sie sein soll. "
           "Es ist nichts zu tun.",
        crit="{crit} von {total} Prüfungen haben ein Problem gefunden, durch das E-Mail für {domains} nicht "
             "ankommen oder im Spam landen kann. Diese stehen unter „Was zu tun ist“ zuerst, jeweils mit "
             "der Änderung, die es behebt.",
        crit_warn=" {warn} weitere sollten verbessert werden, halten aber keine E-Mail auf.",
        warn="Die E-Mail für {domains} funktioniert. {warn} von {total} Prüfungen haben etwas gefunden, das "
             "verbessert werden sollte; „Was zu tun ist“ nennt die Änderung.",
        unknown=" {unknown} Prüfungen konnten nicht abgeschlossen werden, weil ein Server nicht rechtzeitig "
                "antwortete; die nächste Prüfung wiederholt sie.",
        statuses={Status.OK: "OK", Status.WARN: "Warnung", Status.CRIT: "Problem",
                  Status.UNKNOWN: "Unbekannt"},
        areas={"dns": "DNS-Einträge", "services": "Dienste, von außen gesehen", "host": "Der Server selbst"},
        months=("Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September",
                "Oktober", "November", "Dezember"),
        date="{day}. {month} {year}, {time} UTC"),
}


def html_page(reports: list[TargetReport], language: str, checked_at: datetime.datetime) -> str:
    t, e = TEXTS[language], html.escape
    checks = [check for report in reports for check in report.checks]
    rows = "".join(
        f"<tr class={report.status}><td>{e(_name(report))}</td><td>{t.statuses[report.status]}</td>"
        + "".join(f"<td>{report.count(status)}</td>" for status in SHOWN) + "</tr>" for report in reports)
    findings = "".join(
        f"<li class={check.status}><b>{t.statuses[check.status]}</b> · {e(_name(report))} · "
        f"<code>{e(check.id)}</code><br>{e(check.message)}"
        + (f'<div class=fix>{t.fix}: <code>{e(check.fix)}</code></div>' if check.fix else "") + "</li>"
        for report, check in _problems(reports))
    header = f"<tr><th>{t.result}</th><th>{t.check}</th><th>{t.message}</th></tr>"
    sections = "".join(
        f"<h3>{e(_name(report))}: {e(t.areas.get(area, area))}</h3>"
        f"<table><colgroup><col class=status><col class=id><col></colgroup><thead>{header}</thead><tbody>"
        + "".join(f"<tr class={check.status}><td>{t.statuses[check.status]}</td><td><code>{e(check.id)}"
                  f"</code></td><td>{e(check.message)}</td></tr>" for check in area_checks)
        + "</tbody></table>"
        for report in reports for area, area_checks in by_area(report.checks))
    overall = max((report.status for report in reports), key=lambda status: status.rank, default=Status.OK)
    columns = "".join(f"<th>{t.statuses[status]}</th>" for status in SHOWN)
    note = f"<p class=meta>{e(t.findings_note)}</p>" if t.findings_note else ""
    body = f"""<header><h1>{e(t.title)}: {e(_domains(reports))}</h1>
<p class=meta>{e(t.checked.format(date=_date(checked_at, t), count=len(checks)))}</p></header>
<h2>{t.summary}</h2>
<p class="verdict {overall}">{e(summary(reports, language))}</p>
<table><thead><tr><th>{t.domain}</th><th>{t.result}</th>{columns}</tr></thead><tbody>{rows}</tbody></table>
<h2>{t.to_fix}</h2>
{f"<ul class=findings>{findings}</ul>" if findings else f"<p>{e(t.nothing)}</p>"}
<h2>{t.all_checks}</h2>
{note}{sections}
<footer>{e(t.made_by)}</footer>"""
    return page(f"{t.title}: {_domains(reports)}", language, body)


def markdown(reports: list[TargetReport], language: str, checked_at: datetime.datetime) -> str:
    t = TEXTS[language]
    checks = [check for report in reports for check in report.checks]
    lines = [f"# {t.title}: {_domains(reports)}", "",
             t.checked.format(date=_date(checked_at, t), count=len(checks)), "", f"## {t.summary}", "",
             summary(reports, language), "",
             f"| {t.domain} | {t.result} | " + " | ".join(t.statuses[s] for s in SHOWN) + " |",
             "|---" * (2 + len(SHOWN)) + "|"]
    lines += [f"| {_md(_name(report))} | {t.statuses[report.status]} | "
              + " | ".join(str(report.count(s)) for s in SHOWN) + " |" for report in reports]
    lines += ["", f"## {t.to_fix}", ""]
    problems = list(_problems(reports))
    lines += [f"- **{t.statuses[check.status]}** {_md(_name(report))} `{check.id}`: {_md(check.message)}"
              + (f"  \n  {t.fix}: {_md(check.fix)}" if check.fix else "") for report, check in problems]
    lines += [] if problems else [t.nothing]
    lines += ["", f"## {t.all_checks}"] + (["", t.findings_note] if t.findings_note else [])
    for report in reports:
        for area, area_checks in by_area(report.checks):
            lines += ["", f"### {_md(_name(report))}: {t.areas.get(area, area)}", "",
                      f"| {t.result} | {t.check} | {t.message} |", "|---|---|---|"]
            lines += [f"| {t.statuses[check.status]} | `{check.id}` | {_md(check.message)} |"
                      for check in area_checks]
    return "\n".join(lines) + "\n"


def summary(reports: list[TargetReport], language: str) -> str:
    """The verdict in plain words: does mail work, how much is to do."""
    t = TEXTS[language]
    counts = {status: sum(report.count(status) for report in reports) for status in Status}
    words = {"total": sum(counts.values()), "domains": _domains(reports), "crit": counts[Status.CRIT],
             "warn": counts[Status.WARN], "unknown": counts[Status.UNKNOWN]}
    if counts[Status.CRIT]:
        text = t.crit.format(**words) + (t.crit_warn.format(**words) if counts[Status.WARN] else "")
    elif counts[Status.WARN]:
        text = t.warn.format(**words)
    elif not counts[Status.UNKNOWN]:
        return t.ok.format(**words)
    else:
        text = ""
    return (text + (t.unknown.format(**words) if counts[Status.UNKNOWN] else "")).strip()


def _name(report: TargetReport) -> str:
    return ", ".join(report.domains) or report.target


def _domains(reports: list[TargetReport]) -> str:
    names = (domain for report in reports for domain in (report.domains or (report.target,)))
    return ", ".join(dict.fromkeys(names))


def _date(moment: datetime.datetime, t: Texts) -> str:
    moment = moment.astimezone(datetime.UTC)
    return t.date.format(day=moment.day, month=t.months[moment.month - 1], year=moment.year,
                         time=moment.strftime("%H:%M"))


def _problems(reports: list[TargetReport]) -> Iterator[tuple[TargetReport, Check]]:
    for report in reports:
        for check in urgent_first(report.checks):
            if check.status is not Status.OK:
                yield report, check


def _md(value: str) -> str:
    return value.replace("|", "\\|").replace("\n", " ")
