"""`provision bans`: the addresses fail2ban has banned on the server, and lifting a ban."""

from __future__ import annotations

import argparse
from ipaddress import ip_address
from pathlib import Path

from provision import bans, remote
from provision.commands.groups import action_adder
from provision.console import Console, table
from provision.errors import ExitStatus, UsageError
from provision.inventory.load import load


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "bans", parents=[common], help="addresses banned for failed logins",
        description="fail2ban bans an address for a while when it keeps failing to log in (IMAP, "
                    "ManageSieve, SMTP AUTH, ssh); an address banned again and again, for a week. "
                    "Addresses in fail2ban_ignore_addresses are never banned. Connects over SSH.")
    actions = parser.add_subparsers(title="actions", metavar="ACTION", parser_class=type(parser))
    actions.required = True
    target = argparse.ArgumentParser(add_help=False)
    target.add_argument("dir", metavar="DIR", type=Path, help="the customer's inventory directory")
    action = action_adder(actions, common)
    action("list", _list, "list the banned addresses and the jail that banned each", target)
    remove = action("remove", _remove, "lift every ban of an address", target)
    remove.add_argument("address", metavar="ADDRESS", help="the banned IPv4 or IPv6 address")


def _list(args: argparse.Namespace, console: Console) -> int:
    inventory = load(args.dir)
    with remote.connect(remote.login_of(inventory)) as connection:
        rows = [ban.row() for ban in bans.listed(connection)]
    console.result(rows, table(rows, [("address", "address"), ("jail", "banned by")]) if rows
                   else "no address is banned")
    return ExitStatus.OK


def _remove(args: argparse.Namespace, console: Console) -> int:
    try:
        address = str(ip_address(args.address))
    except ValueError:
        raise UsageError(f"{args.address} is not an IP address",
                         "give it as shown by: provision bans list DIR") from None
    inventory = load(args.dir)
    with remote.connect(remote.login_of(inventory)) as connection:
        jails = [ban.jail for ban in bans.listed(connection) if ban.address == address]
        if not jails:
            raise UsageError(f"{address} is not banned", "see which are: provision bans list DIR")
        bans.lift(connection, address)
    console.result({"address": address, "jails": jails, "state": "lifted"},
                   f"lifted the ban of {address} ({', '.join(jails)})")
    return ExitStatus.OK
