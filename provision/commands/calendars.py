"""`provision calendars`: delegating a person's calendar, task list or address book, and the directory sync.

Collections live on the server in Radicale (the radicale role): each person's at
https://HOST/UID/{calendar,tasks,contacts}/, each group's at https://HOST/groups/GROUP/...,
the company address book at https://HOST/company/contacts/.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ldap3.core.exceptions import LDAPException

from provision.calendars import shares
from provision.calendars.server import SHARES, Server, connect
from provision.console import Console, table
from provision.directory import users
from provision.directory.connect import base_dn
from provision.directory.connect import connect as connect_directory
from provision.directory.users import People
from provision.errors import ExitStatus, ProvisionError, UsageError
from provision.inventory import values
from provision.inventory.load import load
from provision.inventory.model import Inventory


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "calendars", parents=[common], help="share calendars, task lists and address books",
        description="Let another person read or write someone's calendar, task list or address book, "
                    "and bring the company address book and group calendars in step with the directory. "
                    "Reaches the server over SSH.",
    )
    actions = parser.add_subparsers(title="actions", metavar="ACTION", parser_class=type(parser))
    actions.required = True
    target = argparse.ArgumentParser(add_help=False)
    target.add_argument("dir", metavar="DIR", type=Path, help="the customer's inventory directory")
    collection = argparse.ArgumentParser(add_help=False, parents=[target])
    collection.add_argument("collection", metavar="OWNER/COLLECTION",
                            help="a person's collection, e.g. anna/calendar, anna/tasks, anna/contacts")
    collection.add_argument("--with", dest="user", required=True, metavar="USER",
                            help="the uid of the person who gets (or loses) access")

    def action(name: str, handler: Callable[[argparse.Namespace, Console], int], help: str,
               parent: argparse.ArgumentParser) -> argparse.ArgumentParser:
        sub = actions.add_parser(name, parents=[common, parent], help=help)
        sub.set_defaults(handler=handler)
        return sub

    share = action("share", _share, "let USER read (--read) or read and write (--write) a collection",
                   collection)
    access = share.add_mutually_exclusive_group(required=True)
    access.add_argument("--read", dest="access", action="store_const", const=shares.Access.READ)
    access.add_argument("--write", dest="access", action="store_const", const=shares.Access.WRITE)
    action("unshare", _unshare, "take USER's access to a collection away", collection)
    action("shares", _list, "list every delegation", target)
    action("sync", _sync, "bring the company address book, group calendars and Apple profiles in step "
                          "with the directory now (a timer on the server does it every minute)", target)


@contextmanager
def _server(args: argparse.Namespace) -> Iterator[tuple[Inventory, Server]]:
    inventory = load(args.dir)  # a bad inventory stops here, before any connection
    with connect(inventory) as server:
        yield inventory, server


def _table(server: Server) -> shares.Table:
    try:
        return shares.parse(server.read_shares())
    except ValueError as error:
        raise ProvisionError(f"{server.host}: {SHARES} is damaged: {error}",
                             "repair or remove it, then share again") from None


def _person_exists(inventory: Inventory, uid: str) -> bool:
    with connect_directory(inventory) as connection:
        try:
            return users.get(People(connection, base_dn(inventory)), uid) is not None
        except LDAPException as error:
            raise ProvisionError(f"the directory refused: {error}") from None


def _share(args: argparse.Namespace, console: Console) -> int:
    owner, name = shares.collection(args.collection)
    if owner in values.DAV_RESERVED:
        raise UsageError(f"{owner}/ holds shared collections, not a person's",
                         "group collections follow group membership: provision groups members")
    if args.user == owner:
        raise UsageError(f"{owner} owns {owner}/{name} already")
    with _server(args) as (inventory, server):
        if not server.exists(owner, name):
            raise UsageError(f"{server.host} has no collection {owner}/{name}",
                             f"{owner} makes it by logging in once (calendar, tasks and contacts are "
                             "made then)")
        if not _person_exists(inventory, args.user):
            raise UsageError(f"no person with the uid {args.user}",
                             "see who there is: provision users list DIR")
        share = shares.Share(f"{owner}/{name}", args.user, args.access)
        server.write_shares(shares.render(shares.grant(_table(server), share)))
    row = share.row()
    console.result(row, f"{args.user} may now {row['access']} {share.collection}")
    return ExitStatus.OK


def _unshare(args: argparse.Namespace, console: Console) -> int:
    owner, name = shares.collection(args.collection)
    path = f"{owner}/{name}"
    with _server(args) as (_, server):
        before = _table(server)
        if args.user not in before.get(path, {}):
            raise UsageError(f"{path} is not shared with {args.user}", "see every delegation: provision "
                                                                        "calendars shares DIR")
        server.write_shares(shares.render(shares.revoke(before, path, args.user)))
    console.result({"collection": path, "user": args.user, "access": "none"},
                   f"{args.user} no longer has access to {path}")
    return ExitStatus.OK


def _list(args: argparse.Namespace, console: Console) -> int:
    with _server(args) as (_, server):
        rows = [share.row() for share in shares.listed(_table(server))]
    console.result(rows, table(rows, [("collection", "collection"), ("user", "shared with"),
                                      ("access", "access")]) if rows else "no collection is shared")
    return ExitStatus.OK


def _sync(args: argparse.Namespace, console: Console) -> int:
    with _server(args) as (_, server):
        changes = server.sync()
    console.result({"changes": changes}, "\n".join(changes) or "everything was in step already")
    return ExitStatus.OK
