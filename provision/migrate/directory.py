"""The directory moves too: people, groups, aliases and shared mailboxes.

Out of our server (an inventory) they go into an archive as LDIF (with the people's password hashes,
so that they keep their passwords) and as the archive's CSV tables. Into our server they come from an
archive (hashes kept where the LDIF has them) or from a provider's user list (CSV with the archive's
users.csv columns): people without a hash get a temporary password, written to a new 0600 file for
the consultant. Entries are made with provision.directory, as `provision users/groups/aliases` do."""

from __future__ import annotations

import argparse
import base64
import csv
from dataclasses import dataclass, field
from pathlib import Path

import ldap3
from ldap3.core.exceptions import LDAPException

from provision import files
from provision.archive.layout import TABLES
from provision.archive.reader import ArchiveReader
from provision.archive.writer import ArchiveWriter
from provision.calendars.server import connect as dav_server
from provision.console import Console
from provision.directory import aliases, groups, ldif, users
from provision.directory.aliases import Alias, Aliases
from provision.directory.connect import base_dn, connect
from provision.directory.groups import Group, Groups
from provision.directory.mailstore import mailstore
from provision.directory.users import People, User
from provision.errors import ProvisionError, UsageError
from provision.inventory import secrets, values
from provision.inventory.load import load as load_inventory
from provision.inventory.model import Inventory
from provision.migrate.endpoints import kind_of, parse_maps

SAFE = set(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 '()+,-./:=?@_")


@dataclass
class Directory:
    """Everything the directory holds about the people and their addresses, in the archive's terms."""

    users: list[dict[str, str]] = field(default_factory=list)  # users.csv rows
    groups: list[dict[str, str]] = field(default_factory=list)
    aliases: list[dict[str, str]] = field(default_factory=list)
    shared: list[dict[str, str]] = field(default_factory=list)
    hashes: dict[str, list[str]] = field(default_factory=dict)  # email -> userPassword values
    ldif: bytes = b""


@dataclass
class Outcome:
    """What an import into the directory did, for the report."""

    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    temporary_passwords: int = 0

    def data(self) -> dict[str, object]:
        return {"created": self.created, "existing": self.existing, "failed": self.failed,
                "temporary_passwords": self.temporary_passwords}


# -- out of our server

def read_directory(inventory: Inventory) -> Directory:
    with connect(inventory) as connection:
        people = People(connection, base_dn(inventory))
        persons = users.all_users(people)
        hashes = _hashes(people)
        found = Directory(hashes={person.mail: hashes.get(person.uid, []) for person in persons})
        mail_of = {person.uid: person.mail for person in persons}
        ldif = []
        for person in persons:
            found.users.append(_user_row(person))
            found.aliases += [{"alias": alias, "target": person.mail} for alias in person.aliases]
            ldif.append(_entry(people.dn(person.uid), _person_attributes(person, hashes.get(person.uid, []))))
        directory_groups = Groups(people)
        for shared in (False, True):
            for group in groups.all_groups(directory_groups, shared):
                row = {"email": group.address, "display_name": group.description or group.name,
                       "members": " ".join(mail_of.get(uid, uid) for uid in group.members)}
                (found.shared if shared else found.groups).append(row)
                ldif.append(_entry(directory_groups.dn(group.name),
                                   _group_attributes(directory_groups, group)))
        directory_aliases = Aliases(people)
        for alias in aliases.all_aliases(directory_aliases):
            found.aliases += [{"alias": alias.address, "target": target} for target in alias.targets]
            ldif.append(_entry(directory_aliases.dn(alias.address),
                               {"objectClass": aliases.OBJECT_CLASSES, "cn": [alias.address],
                                "mailLocalAddress": [alias.address],
                                "rfc822MailMember": list(alias.targets)}))
    found.ldif = b"".join(ldif)
    return found


def _hashes(people: People) -> dict[str, list[str]]:
    """uid -> userPassword values as stored (the rootDN may read them; they leave as hashes)."""
    people.connection.search(people.container, "(objectClass=inetOrgPerson)", ldap3.LEVEL,
                             attributes=["uid", "userPassword"])
    return {entry.entry_attributes_as_dict["uid"][0]:
            [users._text(value) for value in entry.entry_attributes_as_dict.get("userPassword", [])]
            for entry in people.connection.entries}


def _user_row(person: User) -> dict[str, str]:
    words = person.name.split()
    return {"email": person.mail, "display_name": person.name, "given_name": " ".join(words[:-1]),
            "surname": words[-1] if words else "", "quota_bytes": "",
            "enabled": "false" if person.disabled else "true"}


def _person_attributes(person: User, hashes: list[str]) -> dict[str, list[str]]:
    attributes = {"objectClass": users.OBJECT_CLASSES, "uid": [person.uid], "mail": [person.mail],
                  **{key: value for key, value in users._names(person.name).items() if value},
                  "mailLocalAddress": list(person.aliases), "userPassword": hashes}
    if person.phone:
        attributes["telephoneNumber"] = [person.phone]
    return {key: value for key, value in attributes.items() if value}


def _group_attributes(directory_groups: Groups, group: Group) -> dict[str, list[str]]:
    attributes = {"objectClass": groups.OBJECT_CLASSES, "cn": [group.name],
                  "mailLocalAddress": [group.address],
                  "member": [directory_groups.people.dn(uid) for uid in group.members]}
    if group.shared:
        attributes["mailRoutingAddress"] = [group.address]
    if group.description:
        attributes["description"] = [group.description]
    return attributes


def _entry(dn: str, attributes: dict[str, list[str]]) -> bytes:
    lines = [_line("dn", dn)]
    lines += [_line(name, value) for name, values in attributes.items() for value in values]
    return b"".join(lines) + b"\n"


def _line(name: str, value: str) -> bytes:
    """One LDIF attribute line (RFC 2849): base64 for values that are not safe strings, folded at 76."""
    raw = value.encode()
    if raw and set(raw) <= SAFE and raw[0] not in b" :<" and not raw.endswith(b" "):
        text = f"{name}: {value}"
    else:
        text = f"{name}:: {base64.b64encode(raw).decode()}"
    return ("\n ".join(text[i:i + 76] for i in range(0, len(text), 76)) + "\n").encode()


def write_directory(writer: ArchiveWriter, found: Directory) -> None:
    writer.write_ldif([found.ldif])
    for kind, rows in (("users", found.users), ("groups", found.groups), ("aliases", found.aliases),
                       ("shared-mailboxes", found.shared)):
        writer.write_table(kind, rows)


# -- into our server

def archive_directory(reader: ArchiveReader) -> Directory:
    """The directory an archive carries, with the hashes its LDIF holds."""
    found = Directory(users=reader.table("users"), groups=reader.table("groups"),
                      aliases=reader.table("aliases"), shared=reader.table("shared-mailboxes"))
    if "directory/directory.ldif" in reader.manifest.directory:
        try:
            found_entries = ldif.entries(b"".join(reader.chunks("directory/directory.ldif")))
        except ValueError as bad:
            raise ProvisionError(f"the archive's directory/directory.ldif cannot be read: {bad}") from None
        for entry in found_entries:
            if entry.get("mail") and entry.get("userPassword"):
                found.hashes[entry["mail"][0]] = entry["userPassword"]
    return found


def provider_users(path: Path) -> Directory:
    """A provider's user list: a CSV with the archive's users.csv columns (email required)."""
    try:
        with files.open_text(path, "utf-8-sig") as stream:
            rows = list(csv.DictReader(stream))
    except (OSError, UnicodeDecodeError, csv.Error) as bad:
        raise UsageError(f"cannot read the user list {path}: {bad}") from None
    if rows and "email" not in rows[0]:
        raise UsageError(f"{path} has no column email", f"the columns are {', '.join(TABLES['users'])}")
    return Directory(users=[{column: (row.get(column) or "").strip() for column in TABLES["users"]}
                            for row in rows if (row.get("email") or "").strip()])


def apply_directory(inventory: Inventory, found: Directory, maps: dict[str, str], password_out: Path | None,
                    ) -> Outcome:
    """Create at our server what it lacks: people first (with their hashes, or temporary passwords),
    then shared mailboxes, groups and aliases. Existing entries are left as they are."""
    needs_password = [row for row in found.users if not found.hashes.get(row["email"])]
    if needs_password and password_out is None:
        raise UsageError(f"{len(needs_password)} people have no password to keep",
                         "give --password-out FILE: their temporary passwords are written there (mode 0600)")
    outcome = Outcome()
    # Opened before anyone is made: a bad name fails first, and no made person's password is lost.
    out = files.Output(password_out, secret=True) if password_out is not None else None
    try:
        with connect(inventory) as connection:
            people = People(connection, base_dn(inventory))
            for row in found.users:
                hashes = found.hashes.get(row["email"], [])
                _person(people, row, maps, hashes, outcome, out)
            uid_of = {person.mail: person.uid for person in users.all_users(people)}
            _groups(inventory, people, found, maps, uid_of, outcome)
            _aliases(people, found, maps, uid_of, outcome)
    except LDAPException as error:
        raise ProvisionError(f"the directory refused: {error}") from None
    finally:
        if out is not None:
            out.close()
    return outcome


def _mapped(maps: dict[str, str], address: str) -> str:
    return maps.get(address, address)


def _person(people: People, row: dict[str, str], maps: dict[str, str], hashes: list[str], outcome: Outcome,
            out: files.Output | None) -> None:
    mail = _mapped(maps, row["email"])
    uid = mail.split("@")[0].lower()  # logins are lowercase, as `provision users add` makes them
    given = " ".join(filter(None, [row.get("given_name"), row.get("surname")]))
    try:  # a provider's list or a customer's archive: checked as `provision users add` checks
        person = User(uid=values.person_uid(uid), name=values.text(row.get("display_name") or given or uid),
                      mail=values.email(mail))
    except values.Invalid as bad:
        outcome.failed.append(f"{mail}: {bad.what}")
        return
    if users.get(people, uid) or users.owners(people, mail):
        outcome.existing.append(mail)
        return
    try:
        users.add(people, person)
        if hashes:
            # The hashes as they were: slapd checks binds against them, so the old password still works.
            people.connection.modify(people.dn(uid), {"userPassword": [(ldap3.MODIFY_REPLACE, hashes)]})
        else:
            password = secrets.password()
            users.set_password(people, uid, password)
            assert out is not None
            if not out.written:
                csv.writer(out).writerow(["uid", "mail", "temporary_password"])
            csv.writer(out).writerow([uid, mail, password])
            outcome.temporary_passwords += 1
        if row.get("enabled") == "false":
            users.set_disabled(people, uid, True)
    except LDAPException as error:
        outcome.failed.append(f"{mail}: {error}")
        return
    outcome.created.append(mail)


def _members(row: dict[str, str], maps: dict[str, str], uid_of: dict[str, str]) -> tuple[str, ...]:
    return tuple(sorted(uid_of[_mapped(maps, address)] for address in row.get("members", "").split()
                        if _mapped(maps, address) in uid_of))


def _groups(inventory: Inventory, people: People, found: Directory, maps: dict[str, str],
            uid_of: dict[str, str], outcome: Outcome) -> None:
    directory_groups = Groups(people)
    for rows, shared in ((found.groups, False), (found.shared, True)):
        for row in rows:
            address = _mapped(maps, row["email"])
            members = _members(row, maps, uid_of)
            name = address if shared else address.split("@")[0]
            if groups.get(directory_groups, name) or users.owners(people, address):
                outcome.existing.append(address)
            elif not members:
                outcome.failed.append(f"{address}: none of its members is a person here")
            else:
                groups.add(directory_groups, Group(name, address, members, shared,
                                                   row.get("display_name") or None))
                if shared:  # as `provision mailboxes shared add`: the members' access to its INBOX
                    with mailstore(inventory) as store:
                        store.share(address, name)
                outcome.created.append(address)


def _aliases(people: People, found: Directory, maps: dict[str, str], uid_of: dict[str, str],
             outcome: Outcome) -> None:
    """An alias of one person becomes that person's further address; others become alias entries."""
    targets: dict[str, list[str]] = {}
    for row in found.aliases:
        targets.setdefault(_mapped(maps, row["alias"]), []).append(_mapped(maps, row["target"]))
    directory_aliases = Aliases(people)
    for address, to in targets.items():
        if users.owners(people, address):
            outcome.existing.append(address)
        elif len(to) == 1 and to[0] in uid_of:
            person = users.get(people, uid_of[to[0]])
            assert person is not None
            users.update(people, person, User(person.uid, person.name, person.mail,
                                              tuple(sorted({*person.aliases, address})), person.phone))
            outcome.created.append(address)
        else:
            aliases.add(directory_aliases, Alias(address, tuple(to)))
            outcome.created.append(address)


# -- the commands' options

def add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--directory", action="store_true",
                        help="also move the directory (people with their password hashes, groups, aliases, "
                             "shared mailboxes): out of an inventory, into an inventory")
    parser.add_argument("--users-csv", metavar="FILE", type=Path,
                        help="a provider's user list (columns email, display_name, given_name, surname, "
                             "quota_bytes, enabled): create these people at the target inventory")
    parser.add_argument("--password-out", metavar="FILE", type=Path,
                        help="new file (mode 0600) for the temporary passwords of people created without one")


def export(args: argparse.Namespace, console: Console, source: str, writer: ArchiveWriter) -> None:
    """export --directory: our server's directory into the archive."""
    if not args.directory:
        return
    if kind_of(source) != "inventory":
        raise UsageError("--directory exports our own server's directory: the source must be an inventory")
    found = read_directory(load_inventory(Path(source)))
    write_directory(writer, found)
    console.info(f"directory: {len(found.users)} people, {len(found.groups)} groups, "
                 f"{len(found.shared)} shared mailboxes, {len(found.aliases)} alias addresses")


def move(args: argparse.Namespace, console: Console, source: str, target: str) -> None:
    """import/migrate --directory or --users-csv: people (and the rest) made at our server first, so
    that their mail and calendars have somewhere to go."""
    if not (args.directory or args.users_csv):
        return
    if kind_of(target) != "inventory":
        raise UsageError("people can only be created at our own server: the target must be an inventory")
    found = Directory()
    if args.users_csv:
        found = provider_users(args.users_csv)
    if args.directory:
        kind = kind_of(source)
        if kind == "archive":
            with ArchiveReader(Path(source)) as reader:
                found = _merged(found, archive_directory(reader))
        elif kind == "inventory":
            found = _merged(found, read_directory(load_inventory(Path(source))))
        else:
            raise UsageError("--directory needs an archive or an inventory as the source",
                             "a provider's people come with --users-csv FILE")
    if args.dry_run:
        console.info(f"directory: {len(found.users)} people, {len(found.groups) + len(found.shared)} groups "
                     "and shared mailboxes would be created where missing")
        return
    inventory = load_inventory(Path(target))
    outcome = apply_directory(inventory, found, parse_maps(args.map), args.password_out)
    if outcome.created:
        with dav_server(inventory) as server:
            server.sync()  # the login map, so that the new people's calendars can be written
    console.info(f"directory: {len(outcome.created)} created, {len(outcome.existing)} already there, "
                 f"{len(outcome.failed)} failed"
                 + (f"; temporary passwords in {args.password_out}" if outcome.temporary_passwords else ""))
    for failure in outcome.failed:
        console.warn(f"directory: {failure}")
    if outcome.failed:
        raise ProvisionError(f"{len(outcome.failed)} directory entries could not be created; nothing else "
                             "was moved", "fix them and run the same command again")


def _merged(first: Directory, second: Directory) -> Directory:
    return Directory(first.users + second.users, first.groups + second.groups, first.aliases + second.aliases,
                     first.shared + second.shared, {**first.hashes, **second.hashes})
