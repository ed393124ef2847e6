"""host.disk and host.inodes: room left on / and /var (mail, queue, directory and logs live in /var)."""

from __future__ import annotations

from provision.check.context import CheckModule, Context
from provision.check.host import facts, level, result
from provision.check.model import Check, Status

DISK, INODES = "host.disk", "host.inodes"
WARN_PERCENT, CRIT_PERCENT = 80, 90  # Postfix defers mail when the queue's file system fills: act before


def run_disk(context: Context, domain: str) -> list[Check]:
    return _run(context, DISK, "space", "du -xh -d 2 {path} | sort -h | tail -n 15")


def run_inodes(context: Context, domain: str) -> list[Check]:
    return _run(context, INODES, "inodes", "du -x --inodes -d 2 {path} | sort -n | tail -n 15")


def _run(context: Context, check_id: str, what: str, biggest: str) -> list[Check]:
    gathered = facts.gather(context, check_id)
    if isinstance(gathered, list):
        return gathered
    server, found = gathered.server, gathered.facts
    usages = found.disk if check_id == DISK else found.inodes
    if usages is None:
        return [result(check_id, Status.UNKNOWN, found.problems[check_id.removeprefix("host.")])]
    measured = [usage for usage in usages if usage.percent is not None]
    shown = ", ".join(f"{usage.path} {usage.percent} %" if usage.percent is not None
                      else f"{usage.path} unlimited" for usage in usages)
    full = max(measured, key=lambda usage: usage.percent or 0, default=None)
    status = level(full.percent or 0, WARN_PERCENT, CRIT_PERCENT) if full else Status.OK
    if status is Status.OK:
        return [result(check_id, status, f"{what} used: {shown}")]
    assert full is not None
    return [result(check_id, status, f"{what} used: {shown} (warn at {WARN_PERCENT} %, critical at "
                   f"{CRIT_PERCENT} %)",
                   f"find what fills {full.path}: {server.shell(biggest.format(path=full.path))}; "
                   "then remove old logs or backups there, or grow the disk")]


MODULES = (CheckModule(DISK, (DISK,), run_disk, per_domain=False),
           CheckModule(INODES, (INODES,), run_inodes, per_domain=False))
