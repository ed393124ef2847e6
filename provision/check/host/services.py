"""host.services: every service the inventory's roles set up is running."""

from __future__ import annotations

from provision.check.context import CheckModule, Context
from provision.check.host import facts, result
from provision.check.model import Check, Status

SERVICES = "host.services"


def run(context: Context, domain: str) -> list[Check]:
    gathered = facts.gather(context, SERVICES)
    if isinstance(gathered, list):
        return gathered
    server, found = gathered.server, gathered.facts
    down = {unit: state for unit, state in found.services.items() if state != "active"}
    if not down:
        return [result(SERVICES, Status.OK, f"running: {', '.join(found.services)}")]
    names = " ".join(down)
    return [result(SERVICES, Status.CRIT,
                   "not running: " + ", ".join(f"{unit} ({state})" for unit, state in down.items()),
                   f"start them: {server.shell(f'systemctl start {names}')}; if they stop again, "
                   f"see why: {server.shell(f'journalctl -n 50 -u {names}')}")]


MODULE = CheckModule(SERVICES, (SERVICES,), run, per_domain=False)
