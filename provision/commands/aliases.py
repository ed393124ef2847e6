"""`provision aliases`: addresses that forward to other addresses, here or elsewhere."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager

from provision.commands.groups import action_adder, free_address
from provision.commands.users import checked, directory, target_parser
from provision.console import Console, table
from provision.directory import aliases
from provision.directory.aliases import Alias, Aliases
from provision.directory.groups import Groups
from provision.errors import ExitStatus, UsageError
from provision.inventory import values
from provision.inventory.model import Inventory


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "aliases", parents=[common], help="addresses that forward elsewhere",
        description="An alias is an address in one of the server's domains whose mail goes on to one "
                    "or more other addresses. A person's own extra addresses are set with "
                    "`provision users set --add-alias`. Reaches slapd like `provision users`.")
    actions = parser.add_subparsers(title="actions", metavar="ACTION", parser_class=type(parser))
    actions.required = True
    target = target_parser()
    addressed = argparse.ArgumentParser(add_help=False, parents=[target])
    addressed.add_argument("address", metavar="ADDRESS", help="the alias, e.g. webmaster@example.com")

    action = action_adder(actions, common)
    action("list", _list, "list the aliases and where they lead", target)
    add = action("add", _add, "add an alias", addressed)
    add.add_argument("--to", action="append", required=True, metavar="ADDRESS",
                     help="where its mail goes (repeat for more)")
    action("remove", _remove, "remove an alias; mail to it is refused from then on", addressed)


@contextmanager
def _aliases(args: argparse.Namespace) -> Iterator[tuple[Inventory, Aliases]]:
    with directory(args) as (inventory, people):
        yield inventory, Aliases(people)


def _list(args: argparse.Namespace, console: Console) -> int:
    with _aliases(args) as (_, directory_aliases):
        rows = [alias.row() for alias in aliases.all_aliases(directory_aliases)]
    console.result(rows, table([{**row, "targets": ", ".join(row["targets"])} for row in rows],
                               [("address", "address"), ("targets", "leads to")]))
    return ExitStatus.OK


def _add(args: argparse.Namespace, console: Console) -> int:
    targets = tuple(sorted({checked(target, values.email) for target in args.to}))
    with _aliases(args) as (inventory, directory_aliases):
        address = free_address(inventory, Groups(directory_aliases.people), args.address)
        if address in targets:
            raise UsageError(f"{address} cannot lead to itself")
        alias = Alias(address=address, targets=targets)
        aliases.add(directory_aliases, alias)
    console.result(alias.row(), f"added {alias.address} -> {', '.join(alias.targets)}")
    return ExitStatus.OK


def _remove(args: argparse.Namespace, console: Console) -> int:
    address = checked(args.address, values.email)
    with _aliases(args) as (_, directory_aliases):
        alias = aliases.get(directory_aliases, address)
        if alias is None:
            raise UsageError(f"no alias {address}", "see which there are: provision aliases list DIR")
        aliases.remove(directory_aliases, alias.address)
    console.result({**alias.row(), "state": "removed"}, f"removed {alias.address}")
    return ExitStatus.OK
