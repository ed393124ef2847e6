"""`provision groups`: distribution lists, an address whose mail reaches every member."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace

from provision.commands.users import address_in_domains, checked, directory, existing_person, target_parser
from provision.console import Console, table
from provision.directory import groups, users
from provision.directory.groups import Group, Groups
from provision.errors import ExitStatus, UsageError
from provision.inventory import values
from provision.inventory.model import Inventory

Handler = Callable[[argparse.Namespace, Console], int]
Adder = Callable[..., argparse.ArgumentParser]
COLUMNS = [("name", "name"), ("address", "address"), ("members", "members")]


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "groups", parents=[common], help="distribution lists: one address, every member gets the mail",
        description="A group has an address in one of the server's domains; mail to it reaches every "
                    "member. Reaches slapd like `provision users`.")
    actions = parser.add_subparsers(title="actions", metavar="ACTION", parser_class=type(parser))
    actions.required = True
    target = target_parser()
    named = argparse.ArgumentParser(add_help=False, parents=[target])
    named.add_argument("name", metavar="NAME", help="the group's name, e.g. sales")

    action = action_adder(actions, common)
    action("list", _list, "list the groups, their addresses and members", target)
    add = action("add", _add, "add a group with its address and first members", named)
    add.add_argument("--mail", required=True, metavar="ADDRESS", help="the group's address")
    add.add_argument("--member", action="append", required=True, metavar="UID",
                     help="a person in the group (repeat for more; at least one)")
    add.add_argument("--description", help="what the group is for")
    action("remove", _remove, "remove a group; its address receives no more mail", named)
    members_parser(action("members", _members, "show a group's members, or add and remove some", named))


def action_adder(actions: argparse._SubParsersAction, common: argparse.ArgumentParser) -> Adder:
    """A function that adds an action with its handler, help and shared options."""
    def action(name: str, handler: Handler, help: str,
               *parents: argparse.ArgumentParser) -> argparse.ArgumentParser:
        sub = actions.add_parser(name, parents=[common, *parents], help=help)
        sub.set_defaults(handler=handler)
        return sub

    return action


def members_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--add", action="append", default=[], metavar="UID", help="a person to add")
    parser.add_argument("--remove", action="append", default=[], metavar="UID", help="a person to take out")


@contextmanager
def group_directory(args: argparse.Namespace) -> Iterator[tuple[Inventory, Groups]]:
    with directory(args) as (inventory, people):
        yield inventory, Groups(people)


def free_address(inventory: Inventory, directory_groups: Groups, value: str) -> str:
    """An address in the server's domains that nobody (person, group, alias) receives yet."""
    address = address_in_domains(inventory, value)
    taken = users.owners(directory_groups.people, address)
    if taken:
        raise UsageError(f"{address} already belongs to {taken[0]}")
    return address


def known_members(directory_groups: Groups, uids: list[str]) -> tuple[str, ...]:
    for uid in uids:
        existing_person(directory_groups.people, uid)
    return tuple(sorted(set(uids)))


def existing_group(directory_groups: Groups, name: str, shared: bool) -> Group:
    group = groups.get(directory_groups, name)
    if group is None or group.shared != shared:
        what, listing = ("shared mailbox", "mailboxes shared list") if shared else ("group", "groups list")
        raise UsageError(f"no {what} {name}", f"see which there are: provision {listing} DIR")
    return group


def change_members(directory_groups: Groups, group: Group, add: list[str], remove: list[str]) -> Group:
    """The group with members added and taken out, written to the directory."""
    strangers = sorted(set(remove) - set(group.members))
    if strangers:
        raise UsageError(f"{strangers[0]} is not a member of {group.name}")
    members = (set(group.members) | set(known_members(directory_groups, add))) - set(remove)
    if not members:
        raise UsageError(f"{group.name} would have no member left",
                         "a group keeps at least one member: add another first, or remove the group")
    after = replace(group, members=tuple(sorted(members)))
    groups.set_members(directory_groups, group, after)
    return after


def shown(group: Group) -> str:
    return "\n".join(f"{key:<12} {', '.join(value) if isinstance(value, list) else value or ''}"
                     for key, value in group.row().items())


def _list(args: argparse.Namespace, console: Console) -> int:
    with group_directory(args) as (_, directory_groups):
        rows = [group.row() for group in groups.all_groups(directory_groups, shared=False)]
    console.result(rows, table([{**row, "members": ", ".join(row["members"])} for row in rows], COLUMNS))
    return ExitStatus.OK


def _add(args: argparse.Namespace, console: Console) -> int:
    name = checked(args.name, values.login)
    description = checked(args.description, values.text) if args.description else None
    with group_directory(args) as (inventory, directory_groups):
        if groups.get(directory_groups, name):
            raise UsageError(f"a group named {name} exists")
        group = Group(name=name, address=free_address(inventory, directory_groups, args.mail),
                      members=known_members(directory_groups, args.member), description=description)
        groups.add(directory_groups, group)
    console.result(group.row(), f"added {group.name} <{group.address}>: {', '.join(group.members)}")
    return ExitStatus.OK


def _remove(args: argparse.Namespace, console: Console) -> int:
    with group_directory(args) as (_, directory_groups):
        group = existing_group(directory_groups, args.name, shared=False)
        groups.remove(directory_groups, group.name)
    console.result({**group.row(), "state": "removed"},
                   f"removed {group.name}; mail to {group.address} is refused from now on")
    return ExitStatus.OK


def _members(args: argparse.Namespace, console: Console) -> int:
    with group_directory(args) as (_, directory_groups):
        group = existing_group(directory_groups, args.name, shared=False)
        if args.add or args.remove:
            group = change_members(directory_groups, group, args.add, args.remove)
    console.result(group.row(), shown(group))
    return ExitStatus.OK
