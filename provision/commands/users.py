"""`provision users`: the people in a customer's directory, and their passwords.

Passwords never appear on a command line or in a log: they are prompted without echo,
read from stdin or a file, or generated and shown once (or written to a new 0600 file).
"""

from __future__ import annotations

import argparse
import csv
import getpass
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from ldap3.core.exceptions import LDAPException

from provision import files, secretfile
from provision.console import Console, table
from provision.directory import groups, mailstore, users
from provision.directory.connect import base_dn, connect
from provision.directory.groups import Groups
from provision.directory.users import People, User
from provision.errors import ExitStatus, ProblemsError, ProvisionError, UsageError
from provision.inventory import secrets, values
from provision.inventory.load import load
from provision.inventory.model import Inventory

COLUMNS = ("uid", "name", "mail", "aliases", "phone")  # of import and export; aliases space-separated


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "users", parents=[common], help="the people in the customer's directory",
        description="List, add, change, disable and remove the people who log in to the mail server. "
                    "Reaches slapd through an SSH tunnel to the server (or --ldap-uri ldaps://HOST:636).",
    )
    actions = parser.add_subparsers(title="actions", metavar="ACTION", parser_class=type(parser))
    actions.required = True
    target = target_parser()
    person = argparse.ArgumentParser(add_help=False, parents=[target])
    person.add_argument("uid", metavar="UID", help="the person's login name")
    source = argparse.ArgumentParser(add_help=False)
    given = source.add_mutually_exclusive_group()
    given.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    given.add_argument("--password-file", metavar="FILE", type=Path, help="read the password from FILE")

    def action(name: str, handler: Callable[[argparse.Namespace, Console], int], help: str,
               *parents: argparse.ArgumentParser) -> argparse.ArgumentParser:
        sub = actions.add_parser(name, parents=[common, *parents], help=help)
        sub.set_defaults(handler=handler)
        return sub

    action("list", _list, "list everyone: uid, name, mail, aliases, state", target)
    action("show", _show, "show one person", person)
    add = action("add", _add, "add a person; the password is generated unless given", person, source)
    add.add_argument("--name", required=True, help="full name, e.g. 'Anna Berg'")
    add.add_argument("--mail", required=True, help="primary address, in one of the inventory's domains")
    add.add_argument("--alias", action="append", default=[], metavar="ADDRESS", help="another address")
    add.add_argument("--phone", help="telephone number")
    add.add_argument("--password-out", metavar="FILE", type=Path,
                     help="write a generated password to this new file (mode 0600) instead of showing it")
    change = action("set", _set, "change a person's name, addresses or phone", person)
    change.add_argument("--name")
    change.add_argument("--mail", help="new primary address")
    change.add_argument("--add-alias", action="append", default=[], metavar="ADDRESS")
    change.add_argument("--remove-alias", action="append", default=[], metavar="ADDRESS")
    change.add_argument("--phone", help="new telephone number ('' removes it)")
    action("passwd", _passwd, "set a person's password (prompted twice without echo on a terminal)",
           person, source)
    action("disable", _disable, "block every login of a person at once (mail keeps arriving)", person)
    action("enable", _enable, "let a disabled person log in again", person)
    remove = action("remove", _remove, f"remove a person; their mailbox is archived in {mailstore.ARCHIVE}",
                    person)
    remove.add_argument("--purge", action="store_true", help="delete the mailbox instead of archiving it")
    onboard = action("import", _import, "add everyone listed in a CSV file who is not there yet", target)
    onboard.add_argument("file", metavar="CSV", type=Path, help=f"columns: {','.join(COLUMNS)}")
    onboard.add_argument("--password-out", metavar="FILE", type=Path, required=True,
                         help="new file (mode 0600) for the generated passwords: uid,mail,password")
    export = action("export", _export, "print everyone as CSV or JSON (the columns import reads)", target)
    export.add_argument("--format", choices=("csv", "json"), help="default: csv, or json with --json")


def target_parser() -> argparse.ArgumentParser:
    """DIR and --ldap-uri: where the directory commands work."""
    target = argparse.ArgumentParser(add_help=False)
    target.add_argument("dir", metavar="DIR", type=Path, help="the customer's inventory directory")
    target.add_argument("--ldap-uri", metavar="URI",
                        help="connect directly to ldaps://HOST:636 instead of through SSH")
    return target


@contextmanager
def directory(args: argparse.Namespace) -> Iterator[tuple[Inventory, People]]:
    inventory = load(args.dir)  # a bad inventory stops here, before any connection
    with connect(inventory, args.ldap_uri) as connection:
        try:
            yield inventory, People(connection, base_dn(inventory))
        except LDAPException as error:
            raise ProvisionError(f"the directory refused: {error}") from None


def existing_person(people: People, uid: str) -> User:
    user = users.get(people, uid)
    if user is None:
        raise UsageError(f"no person with the uid {uid}", "see who there is: provision users list DIR")
    return user


def checked(value: str, check: Callable[[str], object]) -> str:
    try:
        return str(check(value))
    except values.Invalid as bad:
        raise UsageError(bad.what, bad.hint) from None


def address_in_domains(inventory: Inventory, value: str) -> str:
    address = checked(value, values.email)
    domains = inventory.settings.domains
    if address.rpartition("@")[2] not in domains:
        raise UsageError(f"{value} is not in the server's domains", f"use an address at {', '.join(domains)}")
    return address


def _clean(user: User) -> User:
    """The values that need no directory to check, checked before one is reached."""
    return replace(user, uid=checked(user.uid, values.person_uid), name=checked(user.name, values.text),
                   mail=checked(user.mail, values.email),
                   aliases=tuple(checked(alias, values.email) for alias in user.aliases),
                   phone=checked(user.phone, values.phone) if user.phone else None)


def _valid(inventory: Inventory, people: People, user: User, before: User | None = None) -> User:
    """The user with clean values; UsageError when an address is taken or outside the domains."""
    user = _clean(user)
    user = replace(user, mail=address_in_domains(inventory, user.mail),
                   aliases=tuple(sorted({address_in_domains(inventory, alias) for alias in user.aliases})))
    addresses = [user.mail, *user.aliases]
    if len(set(addresses)) != len(addresses):
        raise UsageError(f"{user.mail} is both the primary address and an alias")
    own = people.dn(user.uid)
    known = {before.mail, *before.aliases} if before else set()
    for address in set(addresses) - known:
        taken = [dn for dn in users.owners(people, address) if dn.lower() != own.lower()]
        if taken:
            raise UsageError(f"{address} already belongs to {taken[0]}")
    return user


def _given_password(args: argparse.Namespace) -> str | None:
    if args.password_stdin:
        return secretfile.secret(sys.stdin.read(), "standard input", "password")
    if args.password_file:
        return secretfile.read(args.password_file, "password")
    return None


def _list(args: argparse.Namespace, console: Console) -> int:
    with directory(args) as (_, people):
        rows = [user.row() for user in users.all_users(people)]
    console.result(rows, table([{**row, "aliases": ", ".join(row["aliases"])} for row in rows],
                               [("uid", "uid"), ("name", "name"), ("mail", "mail"), ("aliases", "aliases"),
                                ("state", "state")]))
    return ExitStatus.OK


def _show(args: argparse.Namespace, console: Console) -> int:
    with directory(args) as (_, people):
        row = existing_person(people, args.uid).row()
    console.result(row, "\n".join(f"{key:<8} {', '.join(value) if isinstance(value, list) else value or ''}"
                                  for key, value in row.items()))
    return ExitStatus.OK


def _add(args: argparse.Namespace, console: Console) -> int:
    password = _given_password(args)
    if password is not None and args.password_out:
        raise UsageError("--password-out is for a generated password")
    _clean(User(uid=args.uid, name=args.name, mail=args.mail, aliases=tuple(args.alias),
                phone=args.phone or None))
    # Made before anything else: a bad file name changes nothing, and a made person's password is kept.
    out = files.Output(args.password_out, secret=True) if args.password_out else None
    try:
        with directory(args) as (inventory, people):
            if users.get(people, args.uid):
                raise UsageError(f"a person with the uid {args.uid} exists")
            user = _valid(inventory, people, User(uid=args.uid, name=args.name, mail=args.mail,
                                                  aliases=tuple(args.alias), phone=args.phone or None))
            generated = password is None
            password = password or secrets.password()
            _create(people, user, password)
        if out is not None:
            out.write(password + "\n")
    finally:
        if out is not None:
            out.close()
    data, text = user.row(), f"added {user.uid} <{user.mail}>"
    if out is not None:
        data["password_file"] = str(args.password_out)
        text += f"\nits password is in {args.password_out}"
    elif generated:
        data["password"] = password
        text += f"\npassword (shown once): {password}"
    console.result(data, text)
    return ExitStatus.OK


def _create(people: People, user: User, password: str) -> None:
    """The entry with its password, or nothing."""
    users.add(people, user)
    try:
        users.set_password(people, user.uid, password)
    except BaseException:
        users.remove(people, user.uid)
        raise


def _set(args: argparse.Namespace, console: Console) -> int:
    for value, check in ((args.name, values.text), (args.phone, values.phone), (args.mail, values.email)):
        if value:
            checked(value, check)
    for alias in args.add_alias:
        checked(alias, values.email)
    with directory(args) as (inventory, people):
        before = existing_person(people, args.uid)
        addresses = {address_in_domains(inventory, alias) for alias in args.remove_alias}
        missing = addresses - set(before.aliases)
        if missing:
            raise UsageError(f"{sorted(missing)[0]} is not an alias of {before.uid}")
        aliases = (set(before.aliases) - addresses) | set(args.add_alias)
        after = replace(before, name=args.name or before.name, mail=args.mail or before.mail,
                        aliases=tuple(aliases),
                        phone=before.phone if args.phone is None else args.phone or None)
        after = _valid(inventory, people, after, before)
        users.update(people, before, after)
    console.result(after.row(),
                   f"changed {after.uid}" if after != before else f"{after.uid}: nothing to change")
    return ExitStatus.OK


def _passwd(args: argparse.Namespace, console: Console) -> int:
    password = _given_password(args)
    if password is None:
        if not sys.stdin.isatty():
            raise UsageError("no terminal to ask for the password",
                             "give --password-stdin or --password-file")
        password = getpass.getpass(f"new password for {args.uid}: ")
        if not password or getpass.getpass("again: ") != password:
            raise UsageError("the passwords are empty or differ; nothing changed")
    with directory(args) as (_, people):
        existing_person(people, args.uid)
        users.set_password(people, args.uid, password)
    console.result({"uid": args.uid, "password": "changed"}, f"changed the password of {args.uid}")
    return ExitStatus.OK


def _set_disabled(args: argparse.Namespace, console: Console, disabled: bool) -> int:
    with directory(args) as (inventory, people):
        existing_person(people, args.uid)
        users.set_disabled(people, args.uid, disabled)
        user = existing_person(people, args.uid)
        if disabled:  # a session opened before goes too
            with mailstore.mailstore(inventory) as store:
                store.kick(user.mail)
    console.result(user.row(), f"{user.uid} is {user.row()['state']}")
    return ExitStatus.OK


def _disable(args: argparse.Namespace, console: Console) -> int:
    return _set_disabled(args, console, True)


def _enable(args: argparse.Namespace, console: Console) -> int:
    return _set_disabled(args, console, False)


def _remove(args: argparse.Namespace, console: Console) -> int:
    with directory(args) as (inventory, people):
        user = existing_person(people, args.uid)
        # groupOfNames needs a member: the last one cannot go (slapd would keep a dangling one).
        alone = [group.name for group in groups.of_member(Groups(people), user.uid)
                 if len(group.members) == 1]
        if alone:
            raise UsageError(f"{user.uid} is the only member of {', '.join(alone)}",
                             "give it another member first (groups members / mailboxes shared members), "
                             "or remove it")
        with mailstore.mailstore(inventory) as store:
            # slapd's memberof overlay takes the person out of their groups with the entry.
            users.remove(people, user.uid)
            store.kick(user.mail)  # before their mailbox moves away under an open session
            kept = None if args.purge else store.archive(user.mail)
            purged = store.purge(user.mail) if args.purge else None
    text = f"removed {user.uid}; mail to {user.mail} is refused from now on."
    if kept:
        text += f"\nThe mailbox is archived on the server in {kept}."
    elif purged:
        text += f"\nThe mailbox {purged} is deleted."
    console.result({**user.row(), "state": "removed", "archive": kept, "purged": purged}, text)
    return ExitStatus.OK


def _read_rows(path: Path) -> list[dict[str, str]]:
    try:
        with files.open_text(path, "utf-8-sig") as file:  # -sig: spreadsheets write a BOM
            reader = csv.DictReader(file, strict=True)
            missing = [column for column in COLUMNS if column not in (reader.fieldnames or [])]
            if missing:
                raise UsageError(f"{path} has no column {', '.join(missing)}",
                                 f"its first line names the columns: {','.join(COLUMNS)}")
            rows, problems = [], []
            while True:
                start = reader.line_num + 1
                try:
                    row = next(reader)
                except StopIteration:
                    break
                except csv.Error:  # strict: only an unclosed quote gets this far
                    problems.append(f"{path} line {start}: a quote opened on this line is never closed")
                    break
                if None in row:  # DictReader's key for the cells past the header's columns
                    problems.append(f"{path} line {start}: {len(row[None])} more cells than the header "
                                    f"has columns ({','.join(reader.fieldnames or [])})")
                rows.append({column: (row.get(column) or "").strip() for column in COLUMNS})
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise UsageError(f"cannot read {path}: {error}") from None
    if problems:
        raise ProblemsError(f"{path}: nothing was imported", problems)
    return rows


def _import_row(inventory: Inventory, people: People, row: dict[str, str]) -> tuple[str, str, str | None]:
    """(status, note, generated password): one row, created whole or not at all."""
    if row["uid"] and users.get(people, row["uid"]):
        return "exists", "already in the directory", None
    try:
        user = _valid(inventory, people, User(uid=row["uid"], name=row["name"], mail=row["mail"],
                                              aliases=tuple(row["aliases"].split()),
                                              phone=row["phone"] or None))
        password = secrets.password()
        _create(people, user, password)
    except UsageError as bad:
        return "failed", bad.message, None
    except LDAPException as error:
        return "failed", f"the directory refused: {error}", None
    return "created", user.mail, password


def _import(args: argparse.Namespace, console: Console) -> int:
    rows = _read_rows(args.file)
    report: list[dict[str, object]] = []
    # Opened before the first person is made (a bad name fails with nobody made); removed again if
    # nobody is made.
    with files.Output(args.password_out, secret=True) as out, directory(args) as (inventory, people):
        for line, row in enumerate(rows, start=2):
            status, note, password = _import_row(inventory, people, row)
            report.append({"line": line, "uid": row["uid"], "status": status, "note": note})
            if password is not None:
                csv.writer(out).writerow([row["uid"], note, password])
            console.detail(f"line {line}: {row['uid']} {status} {note}")
    counts = {status: sum(entry["status"] == status for entry in report)
              for status in ("created", "exists", "failed")}
    console.result({"rows": report, **counts},
                   table(report, [("line", "line"), ("uid", "uid"), ("status", "status"), ("note", "note")])
                   + f"\n{counts['created']} created, {counts['exists']} already there, "
                     f"{counts['failed']} failed"
                   + (f"; passwords in {args.password_out}" if out.written else ""))
    return ExitStatus.FAILURE if counts["failed"] else ExitStatus.OK


def _export(args: argparse.Namespace, console: Console) -> int:
    if console.json and args.format == "csv":
        raise UsageError("--json and --format csv ask for two different outputs: give one")
    with directory(args) as (_, people):
        rows = [user.row() for user in users.all_users(people)]
    if (args.format or ("json" if console.json else "csv")) == "json":
        json.dump(rows, console.out, indent=2, sort_keys=True)
        console.out.write("\n")
    else:
        writer = csv.writer(console.out)
        writer.writerow([*COLUMNS, "state"])
        writer.writerows([[*(" ".join(row[column]) if column == "aliases" else row[column] or ""
                             for column in COLUMNS), row["state"]] for row in rows])
    console.out.flush()
    return ExitStatus.OK
