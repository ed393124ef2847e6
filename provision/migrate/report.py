"""What a run did and found, per user and folder: counts and bytes at source and target, what was
copied, skipped and missing. Rendered for the terminal, as JSON, and as Markdown or HTML for the customer."""

from __future__ import annotations

import html
from dataclasses import asdict, dataclass, field

from provision.console import table
from provision.files import Output

MISSING_SHOWN = 20  # per folder in the terminal; JSON and the customer report name all of them


@dataclass
class FolderReport:
    folder: str
    source_messages: int = 0
    source_bytes: int = 0
    target_messages: int = 0
    target_bytes: int = 0
    copied: int = 0  # in a dry run: to copy
    copied_bytes: int = 0
    skipped: int = 0  # already at the target
    duplicates: int = 0  # the same bytes twice in the source folder: kept once
    missing: list[str] = field(default_factory=list)  # Message-IDs (or a description) not at the target


@dataclass
class CollectionReport:
    """A calendar, task list or address book: items are UIDs (a recurring event with its exceptions is
    one item), components are what the archive counts (each exception one)."""

    kind: str  # calendar, tasks or contacts
    name: str
    source_items: int = 0
    source_components: int = 0
    target_items: int = 0
    copied: int = 0
    skipped: int = 0
    missing: list[str] = field(default_factory=list)  # UIDs not at the target with the same content


@dataclass
class SieveReport:
    """One person's Sieve scripts: refused ones by name with the target's reason."""

    offered: bool = False  # the source has ManageSieve
    source_scripts: int = 0
    target_scripts: int = 0
    copied: int = 0  # in a dry run: to copy
    skipped: int = 0  # already at the target with the same bytes
    active: str | None = None
    refused: dict[str, str] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)  # taken, yet not at the target as at the source

    @property
    def lost(self) -> int:
        """The scripts that did not arrive: refused by the target or not there as at the source."""
        return len(self.refused) + len(self.missing)


@dataclass
class UserReport:
    user: str
    target: str
    folders: list[FolderReport] = field(default_factory=list)
    collections: list[CollectionReport] = field(default_factory=list)
    sieve: SieveReport | None = None
    error: str | None = None
    throttled: int = 0  # waits the servers imposed
    throttled_seconds: float = 0.0

    @property
    def missing(self) -> int:
        return (sum(len(folder.missing) for folder in self.folders)
                + sum(len(collection.missing) for collection in self.collections)
                + (self.sieve.lost if self.sieve else 0))

    def total(self, name: str) -> int:
        return sum(getattr(folder, name) for folder in self.folders)


@dataclass
class RunReport:
    command: str
    source: str
    target: str
    dry_run: bool
    started: str
    finished: str = ""
    seconds: float = 0.0
    estimate_seconds: float | None = None
    users: list[UserReport] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return all(user.error is None and not user.missing for user in self.users)

    def data(self) -> dict[str, object]:
        return {**asdict(self), "complete": self.complete,
                "missing": sum(user.missing for user in self.users),
                "failed_users": [user.user for user in self.users if user.error]}


COLUMNS = [("user", "user"), ("folder", "folder"), ("source", "source msgs"),
           ("source_bytes", "source bytes"), ("target", "target msgs"), ("target_bytes", "target bytes"),
           ("copied", "copied"), ("skipped", "already there"), ("missing", "missing")]
PLAN_COLUMNS = [("user", "user"), ("folder", "folder"), ("source", "messages"), ("source_bytes", "bytes"),
                ("target", "at target"), ("copied", "to copy"), ("copied_bytes", "bytes to copy")]


def _rows(report: RunReport) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for user in report.users:
        if user.error:
            rows.append({"user": user.user, "folder": f"FAILED: {user.error}"})
        for folder in user.folders:
            rows.append({"user": user.user, "folder": folder.folder, "source": folder.source_messages,
                         "source_bytes": folder.source_bytes, "target": folder.target_messages,
                         "target_bytes": folder.target_bytes, "copied": folder.copied,
                         "copied_bytes": folder.copied_bytes, "skipped": folder.skipped,
                         "missing": len(folder.missing)})
        for collection in user.collections:
            rows.append({"user": user.user, "folder": f"{collection.kind}: {collection.name}",
                         "source": collection.source_items, "target": collection.target_items,
                         "copied": collection.copied, "skipped": collection.skipped,
                         "missing": len(collection.missing)})
        if user.sieve is not None and user.sieve.offered:
            sieve = user.sieve
            rows.append({"user": user.user, "folder": "Sieve scripts", "source": sieve.source_scripts,
                         "target": sieve.target_scripts, "copied": sieve.copied, "skipped": sieve.skipped,
                         "missing": sieve.lost})
    return rows


def sieve_problems(user: UserReport) -> list[str]:
    """Each Sieve script that did not arrive, by name, with the target's reason."""
    if user.sieve is None:
        return []
    refused = user.sieve.refused.items()
    return ([f"Sieve script {name} refused by the target: {reason}" for name, reason in refused]
            + [f"Sieve script {name} is not at the target as at the source" for name in user.sieve.missing])


def text(report: RunReport) -> str:
    lines = [table(_rows(report), PLAN_COLUMNS if report.dry_run else COLUMNS)]
    for user in report.users:
        for folder in user.folders:
            for message_id in folder.missing[:MISSING_SHOWN]:
                lines.append(f"missing: {user.user} {folder.folder}: {message_id}")
            if len(folder.missing) > MISSING_SHOWN:
                more = len(folder.missing) - MISSING_SHOWN
                lines.append(f"missing: {user.user} {folder.folder}: … and {more} more")
        for collection in user.collections:
            lines += [f"missing: {user.user} {collection.kind} {collection.name}: UID {uid}"
                      for uid in collection.missing[:MISSING_SHOWN]]
        lines += [f"missing: {user.user}: {problem}" for problem in sieve_problems(user)]
        if user.throttled:
            lines.append(f"{user.user}: the servers throttled {user.throttled} times "
                         f"({user.throttled_seconds:.0f} s of waiting)")
    lines.append(summary(report))
    return "\n".join(lines)


def summary(report: RunReport) -> str:
    users = len(report.users)
    failed = [user.user for user in report.users if user.error]
    if report.dry_run:
        count = sum(user.total("copied") for user in report.users)
        size = sum(user.total("copied_bytes") for user in report.users)
        estimate = "" if report.estimate_seconds is None else f", about {_duration(report.estimate_seconds)}"
        return (f"plan: {count} messages ({_mb(size)}) to copy for {users - len(failed)} of {users} users"
                f"{estimate}; nothing was changed")
    copied = sum(user.total("copied") for user in report.users)
    size = sum(user.total("copied_bytes") for user in report.users)
    scripts = sum(user.sieve.lost for user in report.users if user.sieve)
    missing = sum(user.missing for user in report.users) - scripts
    lost = [f"{missing} messages missing"] if missing or not scripts else []
    lost += [f"{scripts} Sieve scripts not moved"] if scripts else []
    verdict = "complete: every source message is at the target" if report.complete else (
        f"INCOMPLETE: {', '.join(lost)}"
        + (f", users failed: {', '.join(failed)}" if failed else ""))
    took = _duration(report.seconds)
    items = sum(collection.copied for user in report.users for collection in user.collections)
    dav = any(user.collections for user in report.users)
    also = f" and {items} calendar and contact items" if dav else ""
    if any(user.sieve and user.sieve.offered for user in report.users):
        also += f", {sum(user.sieve.copied for user in report.users if user.sieve)} Sieve scripts"
    return f"{report.command}: copied {copied} messages ({_mb(size)}){also} in {took}; {verdict}"


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def markdown(report: RunReport) -> str:
    columns = PLAN_COLUMNS if report.dry_run else COLUMNS
    lines = [f"# Mail migration report: {report.source} → {report.target}", "",
             f"Run: `provision {report.command}`, {report.started} to {report.finished}.", "",
             f"**{summary(report)}**", "",
             "| " + " | ".join(heading for _, heading in columns) + " |",
             "|" + "---|" * len(columns)]
    for row in _rows(report):
        cells = (str(row.get(key, "")).replace("|", "\\|") for key, _ in columns)
        lines.append("| " + " | ".join(cells) + " |")
    missing = [(user.user, folder.folder, item) for user in report.users for folder in user.folders
               for item in folder.missing]
    missing += [(user.user, f"{collection.kind}: {collection.name}", f"UID {uid}") for user in report.users
                for collection in user.collections for uid in collection.missing]
    missing += [(user.user, "Sieve scripts", problem) for user in report.users
                for problem in sieve_problems(user)]
    if missing:
        lines += ["", "## Missing messages", "", "| user | folder | Message-ID |", "|---|---|---|"]
        lines += [f"| {user} | {folder} | `{item}` |" for user, folder, item in missing]
    return "\n".join(lines) + "\n"


def html_page(report: RunReport) -> str:
    columns = PLAN_COLUMNS if report.dry_run else COLUMNS
    head = "".join(f"<th>{html.escape(heading)}</th>" for _, heading in columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(row.get(key, '')))}</td>" for key, _ in columns)
                   + "</tr>\n" for row in _rows(report))
    missing = "".join(f"<tr><td>{html.escape(user.user)}</td><td>{html.escape(folder.folder)}</td>"
                      f"<td><code>{html.escape(item)}</code></td></tr>\n"
                      for user in report.users for folder in user.folders for item in folder.missing)
    missing += "".join(f"<tr><td>{html.escape(user.user)}</td><td>Sieve scripts</td>"
                       f"<td>{html.escape(problem)}</td></tr>\n"
                       for user in report.users for problem in sieve_problems(user))
    title = html.escape(f"Mail migration report: {report.source} → {report.target}")
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title>"
            "<style>body{font-family:sans-serif}table{border-collapse:collapse}"
            "td,th{border:1px solid #999;padding:2px 6px;text-align:right}</style></head><body>\n"
            f"<h1>{title}</h1>\n<p>Run: provision {html.escape(report.command)}, "
            f"{html.escape(report.started)} to {html.escape(report.finished)}.</p>\n"
            f"<p><strong>{html.escape(summary(report))}</strong></p>\n"
            f"<table><tr>{head}</tr>\n{body}</table>\n"
            + (f"<h2>Missing messages</h2>\n<table><tr><th>user</th><th>folder</th><th>Message-ID</th></tr>\n"
               f"{missing}</table>\n" if missing else "")
            + "</body></html>\n")


def write(report: RunReport, out: Output) -> None:
    """The customer's report: HTML for .html/.htm, Markdown otherwise."""
    out.write(html_page(report) if out.path.suffix.lower() in (".html", ".htm") else markdown(report))
