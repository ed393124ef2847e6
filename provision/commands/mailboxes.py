"""`provision mailboxes shared`: generic mailboxes such as info@ that several people work from.

Mail to the address lands in the shared mailbox; its members open it from their own IMAP
login as shared/ADDRESS/. Membership lives in the directory, read at every login: a member
taken out loses the folder at once (their open sessions are ended), with nothing to re-apply.
"""

from __future__ import annotations

import argparse

from provision.commands.groups import (
    action_adder,
    change_members,
    existing_group,
    free_address,
    group_directory,
    known_members,
    members_parser,
    shown,
)
from provision.commands.users import checked, existing_person, target_parser
from provision.console import Console, table
from provision.directory import groups, mailstore
from provision.directory.groups import Group
from provision.errors import ExitStatus, UsageError
from provision.inventory import values


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "mailboxes", parents=[common], help="shared mailboxes such as info@",
        description="Mailboxes that belong to no one person. Reaches slapd like `provision users`, "
                    "and the server over SSH for the mailbox's files.")
    kinds = parser.add_subparsers(title="kinds", metavar="KIND", parser_class=type(parser))
    kinds.required = True
    shared = kinds.add_parser("shared", parents=[common], help="mailboxes several people work from")
    actions = shared.add_subparsers(title="actions", metavar="ACTION", parser_class=type(parser))
    actions.required = True
    target = target_parser()
    addressed = argparse.ArgumentParser(add_help=False, parents=[target])
    addressed.add_argument("address", metavar="ADDRESS", help="the mailbox's address, e.g. info@example.com")

    action = action_adder(actions, common)
    action("list", _list, "list the shared mailboxes and their members", target)
    add = action("add", _add, "add a shared mailbox and its first members", addressed)
    add.add_argument("--member", action="append", required=True, metavar="UID",
                     help="a person who works from it (repeat for more; at least one)")
    add.add_argument("--description", help="what the mailbox is for")
    remove = action("remove", _remove,
                    f"remove a shared mailbox; its mail is archived in {mailstore.ARCHIVE}", addressed)
    remove.add_argument("--purge", action="store_true", help="delete its mail instead of archiving it")
    members_parser(action("members", _members, "show the members, or add and remove some", addressed))


def _address(value: str) -> str:
    # The address names the group (cn), which Dovecot's ACL matches as written: the local part
    # keeps to characters a DN takes unescaped.
    address = checked(value, values.email).lower()
    checked(address.rpartition("@")[0], values.login)
    return address


def _list(args: argparse.Namespace, console: Console) -> int:
    with group_directory(args) as (_, directory_groups):
        rows = [group.row() for group in groups.all_groups(directory_groups, shared=True)]
    console.result(rows, table([{**row, "members": ", ".join(row["members"])} for row in rows],
                               [("address", "address"), ("members", "members")]))
    return ExitStatus.OK


def _add(args: argparse.Namespace, console: Console) -> int:
    address = _address(args.address)
    description = checked(args.description, values.text) if args.description else None
    with group_directory(args) as (inventory, directory_groups):
        if groups.get(directory_groups, address):
            raise UsageError(f"a shared mailbox {address} exists")
        group = Group(name=address, address=free_address(inventory, directory_groups, address),
                      members=known_members(directory_groups, args.member), shared=True,
                      description=description)
        with mailstore.mailstore(inventory) as store:
            groups.add(directory_groups, group)
            try:
                store.share(address, group.name)
            except BaseException:
                groups.remove(directory_groups, group.name)  # nothing half made
                raise
    console.result(group.row(), f"added the shared mailbox {address}; its members "
                                f"({', '.join(group.members)}) find it as shared/{address}/")
    return ExitStatus.OK


def _remove(args: argparse.Namespace, console: Console) -> int:
    address = _address(args.address)
    with group_directory(args) as (inventory, directory_groups):
        group = existing_group(directory_groups, address, shared=True)
        with mailstore.mailstore(inventory) as store:
            groups.remove(directory_groups, group.name)
            kept = None if args.purge else store.archive(address)
            purged = store.purge(address) if args.purge else None
    text = f"removed the shared mailbox {address}; mail to it is refused from now on."
    if kept:
        text += f"\nIts mail is archived on the server in {kept}."
    elif purged:
        text += f"\nIts mail ({purged}) is deleted."
    console.result({**group.row(), "state": "removed", "archive": kept, "purged": purged}, text)
    return ExitStatus.OK


def _members(args: argparse.Namespace, console: Console) -> int:
    address = _address(args.address)
    with group_directory(args) as (inventory, directory_groups):
        group = existing_group(directory_groups, address, shared=True)
        if args.add or args.remove:
            group = change_members(directory_groups, group, args.add, args.remove)
        if args.remove:
            with mailstore.mailstore(inventory) as store:
                for uid in args.remove:
                    store.kick(existing_person(directory_groups.people, uid).mail)
    console.result(group.row(), shown(group))
    return ExitStatus.OK
