"""host.backup.age and host.backup.drill: the last nightly backup is recent and succeeded, and a
restore drill proved lately that the archives rebuild the server.

The age comes from the status file the backup role's program writes at the end of every run; the
drills from the inventory's record of them (provision restore-drill). An inventory without
backup_host asked for no backups: neither check reports anything for it.
"""

from __future__ import annotations

import datetime
import json

from provision.backup import drill
from provision.backup.server import STATUS
from provision.check.context import CheckModule, Context
from provision.check.host import facts, result
from provision.check.model import Check, Status

AGE, DRILL = "host.backup.age", "host.backup.drill"
WARN_HOURS, CRIT_HOURS = 26, 72
DRILL_DAYS = 30  # backup_drill_interval_days in the inventory overrides it


def run_age(context: Context, domain: str) -> list[Check]:
    gathered = facts.gather(context, AGE)
    if isinstance(gathered, list):
        return gathered
    server = gathered.server
    directory = server.inventory.directory
    if not server.inventory.role_vars.get("backup_host"):
        return []  # no backups were asked for (backup_host unset): nothing to judge
    sections = facts.parse_sections(gathered.session.run(facts.PRELUDE + f"run status cat {STATUS}\n"))
    try:
        status = json.loads(sections["status"].text) if sections["status"].status == 0 else None
    except (KeyError, ValueError):
        status = None
    if not isinstance(status, dict):
        return [result(AGE, Status.CRIT, "no backup has run yet",
                       f"run one: provision backup {directory} now")]
    last = status.get("last_success")
    age = ((gathered.facts.now - datetime.datetime.fromisoformat(last).timestamp()) / 3600) if last else None
    since = (f"the last good backup, {status.get('last_archive')}, is {age:.0f} h old" if age is not None
             else "none has succeeded yet")
    see = f"see why: {server.shell('journalctl -u provision-backup -n 50')}"
    if status.get("state") == "failed":
        return [result(AGE, Status.CRIT, f"the last backup failed: {status.get('last_line')}; {since}", see)]
    if age is None:
        return [result(AGE, Status.CRIT, "no backup has succeeded yet", see)]
    level = Status.CRIT if age > CRIT_HOURS else Status.WARN if age > WARN_HOURS else Status.OK
    if level is Status.OK:
        return [result(AGE, Status.OK, since)]
    return [result(AGE, level, f"{since} (warn over {WARN_HOURS} h, critical over {CRIT_HOURS} h)", see)]


def run_drill(context: Context, domain: str) -> list[Check]:
    gathered = facts.gather(context, DRILL)
    if isinstance(gathered, list):
        return gathered
    inventory = gathered.server.inventory
    if not inventory.role_vars.get("backup_host"):
        return []
    days = float(inventory.role_vars.get("backup_drill_interval_days") or DRILL_DAYS)
    last = drill.last_success(inventory.directory)
    fix = f"run one: provision restore-drill {inventory.directory} --report drill.html"
    if last is None:
        return [result(DRILL, Status.WARN, "no restore drill has passed yet", fix)]
    age = (gathered.facts.now - last) / 86400
    if age > days:
        return [result(DRILL, Status.WARN, f"the last passed restore drill is {age:.0f} days old "
                       f"(warn over {days:g})", fix)]
    return [result(DRILL, Status.OK, f"the last restore drill passed {age:.1f} days ago")]


MODULES = (CheckModule(AGE, (AGE,), run_age, per_domain=False),
           CheckModule(DRILL, (DRILL,), run_drill, per_domain=False))
