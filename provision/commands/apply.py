"""`provision apply`: configure a customer's server from its inventory."""

from __future__ import annotations

import argparse
import shutil
from ipaddress import IPv4Address
from pathlib import Path

from provision.ansible.run import Playbook, run
from provision.console import Console, table
from provision.errors import ExitStatus
from provision.inventory import HOSTS_FILE
from provision.inventory.create import create
from provision.inventory.load import load
from provision.inventory.model import FirstAdmin, Host, Inventory, Settings, TlsMode
from provision.sandbox import access, machine
from provision.sandbox.network import DEFAULT_NETWORK

DEMO = "demo"
DEMO_DOMAIN = "example.test"
DEMO_INVENTORY = Path("/var/lib/provision/demo")


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "apply", parents=[common], help="configure the customer's server from its inventory",
        description="Validate the inventory, then run playbooks/site.yml against its server. "
                    "Safe to repeat: a second run changes nothing. Templates in DIR/templates/ "
                    "(same paths as provision's templates/) replace provision's own.",
    )
    parser.add_argument("dir", metavar="DIR", type=Path, nargs="?",
                        help="the customer's inventory directory; without it, the built-in default: "
                             f"a local sandbox server named {DEMO} with its inventory in {DEMO_INVENTORY}")
    parser.add_argument("--check", action="store_true", help="show what would change; change nothing")
    parser.add_argument("--diff", action="store_true", help="show the changes made to files")
    parser.add_argument("--limit", metavar="HOST", help="only these hosts (Ansible pattern)")
    parser.add_argument("--tags", metavar="TAGS", help="only these parts, e.g. base,tls")
    parser.set_defaults(handler=_apply)


def _apply(args: argparse.Namespace, console: Console) -> int:
    if args.dir is None:
        args.dir = _demo_inventory(console)
    inventory = load(args.dir)  # a bad inventory stops here, before any connection
    outcome = run(Playbook.for_inventory(
        "site.yml", inventory, {**inventory.settings.ansible_vars(), **_connection_vars(inventory)},
        check=args.check, diff=args.diff, limit=args.limit, tags=args.tags,
    ), console)
    rows = [{"host": host, **counts} for host, counts in outcome.stats.items()]
    changed = sum(row["changed"] for row in rows)
    verdict = ("FAILED" if outcome.failed else
               f"{changed} change(s){' would be made' if args.check else ''}" if changed else
               "nothing to change")
    connect = _how_to_connect(inventory) if not outcome.failed else {}
    console.result(
        {"status": "failed" if outcome.failed else "ok", "check": args.check, "hosts": outcome.stats,
         "changed_tasks": outcome.changed_tasks, "failures": outcome.failures, "connect": connect},
        table(rows, [("host", "host"), ("ok", "ok"), ("changed", "changed"), ("failed", "failed"),
                     ("unreachable", "unreachable"), ("skipped", "skipped")])
        + f"\n{verdict}" + "".join(f"\n{key:<10} {value}" for key, value in connect.items()),
    )
    return ExitStatus.FAILURE if outcome.failed else ExitStatus.OK


def _how_to_connect(inventory: Inventory) -> dict[str, str]:
    # A sandbox's name resolves nowhere: people reach it by address.
    settings = inventory.settings
    host = inventory.host.address if settings.sandbox else settings.hostname
    admin = settings.first_admin
    return {
        "imap": f"{host}:993 (TLS)",
        "smtp": f"{host}:587 (STARTTLS) or {host}:465 (TLS), with the account's password",
        "account": admin.email,
        "password": f"provision secret {inventory.directory} vault_first_admin_password",
    }


def _demo_inventory(console: Console) -> Path:
    """The built-in default: the sandbox demo, and an inventory for it made on first use."""
    box = machine.up(DEMO, release="trixie", hostname=f"mail.{DEMO_DOMAIN}", cidr=DEFAULT_NETWORK,
                     console=console)
    if (DEMO_INVENTORY / HOSTS_FILE).exists() and load(DEMO_INVENTORY).host.address == box.address:
        return DEMO_INVENTORY
    shutil.rmtree(DEMO_INVENTORY, ignore_errors=True)  # made for an earlier demo at another address
    admin = FirstAdmin(uid="admin", name="Administrator", email=f"admin@{DEMO_DOMAIN}")
    console.info(f"writing the demo inventory {DEMO_INVENTORY}")
    create(DEMO_INVENTORY, Host(name="mail", address=box.address),
           Settings(domains=(DEMO_DOMAIN,), hostname=box.hostname, public_ipv4=IPv4Address(box.address),
                    admin_email=admin.email, first_admin=admin, tls_mode=TlsMode.SELF_SIGNED, sandbox=True))
    return DEMO_INVENTORY


def _connection_vars(inventory: Inventory) -> dict[str, str]:
    """A sandbox's server is reached with the sandbox's own key and known host key."""
    box = machine.of_inventory(inventory)
    return access.ansible_connection_vars(box) if box else {}
