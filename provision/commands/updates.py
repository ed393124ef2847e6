"""`provision updates status`: each customer's pending updates, security ones apart, and reboot flag.

One ansible-playbook (playbooks/updates-status.yml) over the fleet, or over one inventory: apt only
simulates, so nothing on the servers changes.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

from provision.ansible.run import Playbook, run
from provision.commands.fleet import fleet_options, fleet_targets, per_customer
from provision.console import Console, table
from provision.errors import ExitStatus
from provision.inventory.fleet import Fleet, is_fleet, load_fleet
from provision.inventory.load import load

# apt-get --simulate: "Inst NAME [OLD] (NEW ORIGIN:VERSION/SUITE [ARCH])", OLD missing for a new package.
_INST = re.compile(r"^Inst (\S+) (?:\[[^]]*\] )?\((\S+) ([^)]*)\)")


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = commands.add_parser("updates", parents=[common], help="the servers' pending updates")
    actions = parser.add_subparsers(title="actions", metavar="ACTION", parser_class=type(parser))
    actions.required = True
    status = actions.add_parser(
        "status", parents=[common], help="pending security and other updates, and the reboot flag",
        description="Ask each server (a fleet's customers, or one inventory's) which updates apt would "
                    "install now, security updates apart, and whether it waits for a reboot. Nothing is "
                    "changed; --refresh fetches the package lists first.")
    status.add_argument("dir", metavar="DIR", type=Path, help="a fleet directory or a customer's inventory")
    status.add_argument("--refresh", action="store_true", help="fetch the package lists first (apt update)")
    fleet_options(status)
    status.set_defaults(handler=_status)


def _status(args: argparse.Namespace, console: Console) -> int:
    if is_fleet(args.dir):
        fleet = load_fleet(args.dir, args.customers)
    else:
        inventory = load(args.dir)
        fleet = Fleet(args.dir, {args.dir.absolute().name: inventory})
    outcome = run(Playbook("updates-status.yml", fleet_targets(fleet, console, secrets=False),
                           extravars={"provision_updates_refresh": args.refresh}, forks=args.forks,
                           collect=True), console)
    customers = per_customer(fleet, outcome)
    for name, result in customers.items():
        if result["status"] == "ok":
            result.update(pending(outcome.results.get(name, {})))
    rows = [{"customer": name, "status": result["status"],
             "security": len(result.get("security", [])), "other": len(result.get("other", [])),
             "reboot": {True: "yes", False: "no"}.get(result.get("reboot"))}
            for name, result in customers.items()]
    failed = [name for name, result in customers.items() if result["status"] != "ok"]
    console.result({"customers": customers, "failed": failed},
                   table(rows, [("customer", "customer"), ("status", "status"), ("security", "security"),
                                ("other", "other"), ("reboot", "reboot")])
                   + "".join(f"\n{line}" for result in customers.values() for line in result["failures"]))
    return ExitStatus.FAILURE if failed else ExitStatus.OK


def pending(results: dict[str, Any]) -> dict[str, Any]:
    """The updates apt would install, as 'NAME VERSION', security ones apart, and the reboot flag."""
    security, other = [], []
    for line in str(results.get("List the pending updates", {}).get("stdout", "")).splitlines():
        found = _INST.match(line)
        if found:
            name, version, origins = found.groups()
            (security if "-security" in origins.lower() else other).append(f"{name} {version}")
    flag = results.get("Look for the reboot flag", {}).get("stat", {})
    return {"security": security, "other": other, "reboot": bool(flag.get("exists"))}
