"""host.updates.security and host.reboot: security updates not installed yet, a reboot they need.

The pending updates are those `apt-get -s upgrade` would install from a -security suite, as of the
server's last `apt-get update` (unattended-upgrades refreshes the lists daily): the check changes
nothing on the server.
"""

from __future__ import annotations

from provision.check.context import CheckModule, Context
from provision.check.host import facts, result
from provision.check.model import Check, Status

SECURITY, REBOOT = "host.updates.security", "host.reboot"
SHOWN = 8  # packages named in the message


def run_security(context: Context, domain: str) -> list[Check]:
    gathered = facts.gather(context, SECURITY)
    if isinstance(gathered, list):
        return gathered
    server, found = gathered.server, gathered.facts
    packages = found.security_updates
    if packages is None:
        return [result(SECURITY, Status.UNKNOWN, found.problems["updates"],
                       f"see what apt says: {server.shell('apt-get -s upgrade')}")]
    if not packages:
        return [result(SECURITY, Status.OK, "no security update pending")]
    more = f" and {len(packages) - SHOWN} more" if len(packages) > SHOWN else ""
    return [result(SECURITY, Status.WARN,
                   f"{len(packages)} security update(s) pending: {', '.join(packages[:SHOWN])}{more}",
                   f"install them: {server.shell('apt-get update && apt-get -y upgrade')}")]


def run_reboot(context: Context, domain: str) -> list[Check]:
    gathered = facts.gather(context, REBOOT)
    if isinstance(gathered, list):
        return gathered
    server, found = gathered.server, gathered.facts
    if not found.reboot_required:
        return [result(REBOOT, Status.OK, "no reboot needed")]
    return [result(REBOOT, Status.WARN, "updates installed need a reboot (/var/run/reboot-required)",
                   f"reboot at a quiet hour: {server.shell('systemctl reboot')}")]


MODULES = (CheckModule(SECURITY, (SECURITY,), run_security, per_domain=False),
           CheckModule(REBOOT, (REBOOT,), run_reboot, per_domain=False))
