"""`provision apply`: configure a customer's server from its inventory."""

from __future__ import annotations

import argparse
import shutil
from ipaddress import IPv4Address
from pathlib import Path

from provision.ansible.run import Playbook, run
from provision.commands.fleet import fleet_options, run_fleet
from provision.console import Console, table
from provision.errors import ExitStatus, UsageError
from provision.inventory import HOSTS_FILE, SETTINGS_FILE
from provision.inventory.create import create
from provision.inventory.fleet import is_fleet, load_fleet
from provision.inventory.load import load
from provision.inventory.model import FirstAdmin, Host, Inventory, Settings, TlsMode
from provision.sandbox import machine
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
                        help="the customer's inventory directory, or a consultant's fleet directory (one "
                             "run over all its customers' servers); without it, the built-in default: "
                             f"a local sandbox server named {DEMO} with its inventory in {DEMO_INVENTORY}")
    parser.add_argument("--check", action="store_true", help="show what would change; change nothing")
    parser.add_argument("--diff", action="store_true", help="show the changes made to files")
    parser.add_argument("--limit", metavar="HOST", help="only these hosts (Ansible pattern)")
    parser.add_argument("--tags", metavar="TAGS", help="only these parts, e.g. base,tls")
    fleet_options(parser)
    parser.set_defaults(handler=_apply)


def _apply(args: argparse.Namespace, console: Console) -> int:
    if args.dir is None:
        args.dir = _demo_inventory(console)
    if is_fleet(args.dir):
        return run_fleet(load_fleet(args.dir, args.customers), "site.yml", args, console)
    inventory = load(args.dir)  # a bad inventory stops here, before any connection
    connection = machine.connection_vars(inventory)
    outcome = run(Playbook.for_inventory(
        "site.yml", inventory, {**inventory.ansible_vars(), **connection},
        check=args.check, diff=args.diff, limit=args.limit, tags=args.tags, forks=args.forks,
    ), console)
    unreachable = any(counts["unreachable"] for counts in outcome.stats.values())
    hint = _login_hint(inventory, connection) if unreachable else None
    rows = [{"host": host, **counts} for host, counts in outcome.stats.items()]
    changed = sum(row["changed"] for row in rows)
    verdict = ("FAILED" if outcome.failed else
               f"{changed} change(s){' would be made' if args.check else ''}" if changed else
               "nothing to change") + (f"\nhint: {hint}" if hint else "")
    connect = _how_to_connect(inventory) if not outcome.failed else {}
    console.result(
        {"status": "failed" if outcome.failed else "ok", "check": args.check, "hosts": outcome.stats,
         "changed_tasks": outcome.changed_tasks, "failures": outcome.failures, "connect": connect,
         "hint": hint},
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
    """The built-in default: the sandbox demo, and an inventory for it made on first use.

    Safe to run again after any interruption: a demo sandbox left stopped or half booted is booted
    anew, and an inventory that does not load (or was made for an earlier demo at another address)
    is made anew. create() renames the inventory into place only once it is complete.
    """
    box = machine.up(DEMO, release="trixie", hostname=f"mail.{DEMO_DOMAIN}", cidr=DEFAULT_NETWORK,
                     console=console, renew=True)
    if _made_for(box, console):
        return DEMO_INVENTORY
    shutil.rmtree(DEMO_INVENTORY, ignore_errors=True)
    admin = FirstAdmin(uid="admin", name="Administrator", email=f"admin@{DEMO_DOMAIN}")
    console.info(f"writing the demo inventory {DEMO_INVENTORY}")
    create(DEMO_INVENTORY, Host(name="mail", address=box.address),
           Settings(domains=(DEMO_DOMAIN,), hostname=box.hostname, public_ipv4=IPv4Address(box.address),
                    admin_email=admin.email, first_admin=admin, tls_mode=TlsMode.SELF_SIGNED, sandbox=True))
    return DEMO_INVENTORY


def _made_for(box: machine.Sandbox, console: Console) -> bool:
    if not DEMO_INVENTORY.exists():
        return False
    try:
        return load(DEMO_INVENTORY).host.address == box.address
    except UsageError as unusable:  # half made by an older provision, or its vault password lost
        console.info(f"the demo inventory cannot be used ({unusable.message}): making it anew")
        return False


def _login_hint(inventory: Inventory, connection: dict[str, str]) -> str:
    """Which key ssh tried for the unreachable server, and what makes it let us in."""
    host, target = inventory.host, f"{inventory.host.user}@{inventory.host.address}"
    settings_file = inventory.directory / SETTINGS_FILE
    if "ansible_ssh_private_key_file" in connection:
        return (f"ssh tried the sandbox's key {connection['ansible_ssh_private_key_file']} on {target}; "
                f"`provision sandbox list` shows whether it runs")
    if inventory.settings.sandbox:
        return (f"no sandbox runs at {host.address}, so ssh had no sandbox key to try; start it "
                "(`provision sandbox up NAME`) and give its address in "
                f"{inventory.directory / HOSTS_FILE}")
    box = machine.at(host.address)
    if box is not None:
        return (f"{host.address} is the sandbox {box.name}, whose key ssh did not try: set "
                f"provision_sandbox: true in {settings_file}")
    keys = [str(key) for key in sorted((Path.home() / ".ssh").glob("id_*")) if key.suffix != ".pub"]
    tried = (f"your keys ({', '.join(keys)}) and ssh-agent's" if keys else
             f"ssh-agent's keys (there is no {Path.home()}/.ssh/id_*)")
    return (f"ssh tried {tried} on {target}: put your public key in {host.user}'s "
            f"~/.ssh/authorized_keys on the server (ssh-copy-id {target}), or name the key as "
            f"ansible_ssh_private_key_file in {inventory.directory / HOSTS_FILE}")
