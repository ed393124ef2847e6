"""`provision apply`: configure a customer's server from its inventory."""

from __future__ import annotations

import argparse
from pathlib import Path

from provision.ansible.run import Playbook, run
from provision.console import Console, table
from provision.errors import ExitStatus
from provision.inventory import vault
from provision.inventory.load import load
from provision.inventory.model import Inventory
from provision.sandbox import access, machine


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "apply", parents=[common], help="configure the customer's server from its inventory",
        description="Validate the inventory, then run playbooks/site.yml against its server. "
                    "Safe to repeat: a second run changes nothing. Templates in DIR/templates/ "
                    "(same paths as provision's templates/) replace provision's own.",
    )
    parser.add_argument("dir", metavar="DIR", type=Path, help="the customer's inventory directory")
    parser.add_argument("--check", action="store_true", help="show what would change; change nothing")
    parser.add_argument("--diff", action="store_true", help="show the changes made to files")
    parser.add_argument("--limit", metavar="HOST", help="only these hosts (Ansible pattern)")
    parser.add_argument("--tags", metavar="TAGS", help="only these parts, e.g. base,tls")
    parser.set_defaults(handler=_apply)


def _apply(args: argparse.Namespace, console: Console) -> int:
    inventory = load(args.dir)  # a bad inventory stops here, before any connection
    outcome = run(Playbook(
        name="site.yml",
        inventories=[args.dir],
        extravars={**inventory.settings.ansible_vars(), **_connection_vars(inventory)},
        vault_password_file=vault.password_file(args.dir),
        check=args.check, diff=args.diff, limit=args.limit, tags=args.tags,
        template_overrides=args.dir / "templates",
    ), console)
    rows = [{"host": host, **counts} for host, counts in outcome.stats.items()]
    changed = sum(row["changed"] for row in rows)
    verdict = ("FAILED" if outcome.failed else
               f"{changed} change(s){' would be made' if args.check else ''}" if changed else
               "nothing to change")
    console.result(
        {"status": "failed" if outcome.failed else "ok", "check": args.check, "hosts": outcome.stats,
         "changed_tasks": outcome.changed_tasks, "failures": outcome.failures},
        table(rows, [("host", "host"), ("ok", "ok"), ("changed", "changed"), ("failed", "failed"),
                     ("unreachable", "unreachable"), ("skipped", "skipped")])
        + f"\n{verdict}",
    )
    return ExitStatus.FAILURE if outcome.failed else ExitStatus.OK


def _connection_vars(inventory: Inventory) -> dict[str, str]:
    """A sandbox's server is reached with the sandbox's own key and known host key."""
    if not inventory.settings.sandbox:
        return {}
    boxes = [box for box in machine.all_sandboxes() if box.address == inventory.host.address]
    return access.ansible_connection_vars(boxes[0]) if boxes else {}
