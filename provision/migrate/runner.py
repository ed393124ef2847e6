"""Runs a migration for many users: a plan first (counts, sizes, an estimate), then the copy with
parallel workers, one user per worker. A user that fails (login refused, server gone) is reported as
failed; the others complete."""

from __future__ import annotations

import imaplib
import ssl
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

from provision.console import Console
from provision.migrate import AccountError, sieve
from provision.migrate.copier import copy_folder, plan_folder
from provision.migrate.dav_collections import CollectionSide, copy_collections
from provision.migrate.folders import Folder
from provision.migrate.imap import Throttle
from provision.migrate.progress import Progress
from provision.migrate.report import CollectionReport, FolderReport, RunReport, UserReport
from provision.migrate.sinks import Sink
from provision.migrate.sources import Source

RETRIES = 3  # a folder whose connection broke is started again (what was copied is found, not re-sent)
# Planning figures for the estimate: a LAN between Dovecot servers (docs/benchmarks.md); providers are slower.
PLAN_BYTES_PER_SECOND = 10e6
PLAN_MESSAGES_PER_SECOND = 100.0
CUT = (imaplib.IMAP4.abort, OSError, EOFError, ssl.SSLError)


@dataclass
class Job:
    """One user to move: how to reach both sides (called in the worker, so connections stay in it)."""

    user: str
    target: str
    source: Callable[[Throttle], Source]
    sink: Callable[[Throttle], Sink]
    # Calendars, task lists and address books: (source side, target side), opened in the worker.
    collections: Callable[[], tuple[CollectionSide, CollectionSide]] | None = None
    # Sieve scripts: how to open each side (None from it: that side keeps none).
    sieve: tuple[sieve.Opener, sieve.Opener] | None = None


def run(command: str, source: str, target: str, jobs: list[Job], console: Console, *, dry_run: bool,
        workers: int) -> RunReport:
    report = RunReport(command, source, target, dry_run, _now())
    started = time.monotonic()
    plans = _parallel(jobs, workers, lambda job: _user(job, console, None))
    todo_messages = sum(plan.total("copied") for plan in plans)
    todo_bytes = sum(plan.total("copied_bytes") for plan in plans)
    alone = todo_bytes / PLAN_BYTES_PER_SECOND + todo_messages / PLAN_MESSAGES_PER_SECOND
    report.estimate_seconds = alone / max(1, min(workers, len(jobs)))
    if dry_run:
        report.users = plans
    else:
        failed = {plan.user: plan for plan in plans if plan.error}
        with Progress(console, todo_messages, todo_bytes) as progress:
            done = _parallel([job for job in jobs if job.user not in failed], workers,
                             lambda job: _user(job, console, progress))
        by_user = {user.user: user for user in done} | failed
        report.users = [by_user[job.user] for job in jobs]
    report.finished = _now()
    report.seconds = time.monotonic() - started
    return report


def _parallel(jobs: list[Job], workers: int, work: Callable[[Job], UserReport]) -> list[UserReport]:
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return list(pool.map(work, jobs))


def _user(job: Job, console: Console, progress: Progress | None) -> UserReport:
    """Plan (progress None) or copy one user; every failure ends up in the user's report."""
    throttle = Throttle(notify=console.warn)
    report = UserReport(job.user, job.target)
    source = sink = None
    try:
        source, sink = job.source(throttle), job.sink(throttle)
        for folder in source.folders():
            report.folders.append(_folder(source, sink, folder, progress, console))
        if job.collections is not None:
            report.collections = _collections(job.collections, progress)
        if job.sieve is not None:
            report.sieve = sieve.move(*job.sieve, dry_run=progress is None)
        if progress is not None:
            console.detail(f"{job.user}: done")
    except AccountError as error:
        report.error = error.message + (f" ({error.hint})" if error.hint else "")
        console.warn(report.error)
    except CUT as error:
        report.error = f"the connection failed {RETRIES} times: {error}"
        console.warn(f"{job.user}: {report.error}")
    finally:
        for side in (source, sink):
            if side is not None:
                side.close()
    report.throttled, report.throttled_seconds = throttle.waits, throttle.seconds
    return report


def _collections(open_sides: Callable[[], tuple[CollectionSide, CollectionSide]],
                 progress: Progress | None) -> list[CollectionReport]:
    sides: tuple[CollectionSide, ...] = ()
    try:
        sides = open_sides()
        return copy_collections(*sides, dry_run=progress is None)
    finally:
        for side in sides:
            side.close()


def _folder(source: Source, sink: Sink, folder: Folder, progress: Progress | None,
            console: Console) -> FolderReport:
    for attempt in range(RETRIES):
        try:
            if progress is None:
                return plan_folder(source, sink, folder)
            return copy_folder(source, sink, folder, progress.advance)
        except CUT as error:
            if attempt == RETRIES - 1:
                raise
            reason = str(error) or type(error).__name__
            console.warn(f"{source.label}, {folder.name}: the connection broke ({reason}); reconnecting, "
                         "what was copied is found and not sent again")
            time.sleep(2 ** attempt)
            source.reopen()
            sink.reopen()
    raise AssertionError("unreachable")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
