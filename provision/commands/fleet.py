"""`provision apply|render FLEET`: one ansible-playbook over every customer of a consultant's fleet.

Ansible's own forks run the customers' servers side by side; each host carries its customer's variables
and is in a group customer_NAME. A customer whose inventory does not load is refused alone,
and one whose server fails does not stop the others: the summary says, per customer, what happened.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from provision.ansible import placeholders
from provision.ansible.run import Outcome, Playbook, Target, run
from provision.commands.arguments import count
from provision.console import Console, table
from provision.errors import ExitStatus, UsageError
from provision.inventory import vault
from provision.inventory.fleet import Fleet, customer_list
from provision.sandbox import machine


def fleet_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--customers", metavar="A,B", type=customer_list,
                        help="with a fleet directory: only these customers")
    parser.add_argument("--forks", metavar="N", type=count(),
                        help="servers worked on at once (Ansible's forks; default: ansible.cfg's 10)")


def run_fleet(fleet: Fleet, playbook: str, args: argparse.Namespace, console: Console,
              out: Path | None = None) -> int:
    """Run playbook over the fleet (render: into out/CUSTOMER) and report per customer."""
    targets = fleet_targets(fleet, console, secrets=out is None)
    check = getattr(args, "check", False)
    outcome = run(Playbook(
        playbook, targets, extravars={"provision_render_dir": str(out)} if out is not None else {},
        check=check, diff=getattr(args, "diff", False), limit=getattr(args, "limit", None),
        tags=getattr(args, "tags", None), forks=args.forks), console)
    customers = per_customer(fleet, outcome)
    failed = [name for name, result in customers.items() if result["status"] != "ok"]
    console.result(
        {"status": "failed" if failed else "ok", "check": check, "customers": customers, "failed": failed},
        table([{"customer": name, **result} for name, result in customers.items()],
              [("customer", "customer"), ("status", "status"), ("ok", "ok"), ("changed", "changed"),
               ("failed", "failed"), ("unreachable", "unreachable")])
        + "".join(f"\n{line}" for result in customers.values() for line in result["failures"])
        + (f"\nFAILED: {', '.join(failed)}" if failed else
           f"\n{len(customers)} customer(s) {'checked' if check else 'done'}"),
    )
    return ExitStatus.FAILURE if failed else ExitStatus.OK


def fleet_targets(fleet: Fleet, console: Console, secrets: bool = True) -> list[Target]:
    """Each customer's server with its variables; without secrets, placeholders stand for the vault's.
    The refused customers are named on stderr; if every one is refused, nothing runs."""
    for name, problems in fleet.refused.items():
        for line in problems:
            console.warn(f"{name}: {line}")
    if not fleet.customers:
        raise UsageError(f"{fleet.directory}: every customer's inventory has problems; nothing was run")
    targets = []
    for name, inventory in fleet.customers.items():
        hostvars = {**inventory.ansible_vars(), **machine.connection_vars(inventory)}
        if not secrets:
            hostvars.update(placeholders.for_secrets(vault.read(inventory.directory)))
        targets.append(Target.of(inventory, hostvars, customer=name, secrets=secrets))
    return targets


def per_customer(fleet: Fleet, outcome: Outcome) -> dict[str, dict[str, Any]]:
    """Each customer's counts and failures; refused customers with their problems."""
    customers: dict[str, dict[str, Any]] = {}
    for name in fleet.names:
        if name in fleet.refused:
            customers[name] = {"status": "refused", "failures": [f"{name}: {line}" for line in
                                                                  fleet.refused[name]]}
            continue
        counts = outcome.stats.get(name)
        failures = [line for line in outcome.failures if line.startswith(f"{name}: ")]
        bad = counts is None or counts["failed"] or counts["unreachable"] or failures
        customers[name] = {"status": "failed" if bad else "ok", **(counts or {}),
                           "failures": failures or ([] if counts else [f"{name}: did not run"])}
    return customers
