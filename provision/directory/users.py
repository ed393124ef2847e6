"""People in the directory (uid=<uid>,ou=people,<base>) as typed records, and the LDAP operations on them.

The connection is the rootDN's: it may read and write userPassword, which nobody else can.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import ldap3
from ldap3.utils.conv import escape_filter_chars
from ldap3.utils.dn import escape_rdn

# A disabled person's password values carry this prefix: slapd knows no such scheme, so
# every bind as the person fails, and Dovecot (which authenticates by binding) refuses
# IMAP, SMTP AUTH and everything else it authenticates at once. Enabling strips it,
# and the person's own password works again.
LOCKED = "{DISABLED}"
OBJECT_CLASSES = ["inetOrgPerson", "inetLocalMailRecipient"]
ATTRIBUTES = ["uid", "cn", "mail", "mailLocalAddress", "telephoneNumber", "userPassword"]


@dataclass(frozen=True)
class User:
    uid: str
    name: str
    mail: str
    aliases: tuple[str, ...] = ()
    phone: str | None = None
    disabled: bool = False

    def row(self) -> dict[str, Any]:
        return {"uid": self.uid, "name": self.name, "mail": self.mail, "aliases": list(self.aliases),
                "phone": self.phone, "state": "disabled" if self.disabled else "enabled"}


@dataclass(frozen=True)
class People:
    """Where the people are: the container under the base DN."""

    connection: ldap3.Connection
    base: str
    container: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "container", f"ou=people,{self.base}")

    def dn(self, uid: str) -> str:
        return f"uid={escape_rdn(uid)},{self.container}"


@dataclass(frozen=True)
class Branch:
    """A container of cn=<name> entries beside the people (groups, aliases), on the people's connection."""

    people: People
    container: str = field(init=False)
    ou: ClassVar[str]

    def __post_init__(self) -> None:
        object.__setattr__(self, "container", f"ou={self.ou},{self.people.base}")

    @property
    def connection(self) -> ldap3.Connection:
        return self.people.connection

    def dn(self, name: str) -> str:
        return f"cn={escape_rdn(name)},{self.container}"


def _names(name: str) -> dict[str, list[str]]:
    # As the directory role writes the first administrator: sn the last word, givenName the rest.
    words = name.split()
    given = {"givenName": [" ".join(words[:-1])]} if len(words) > 1 else {"givenName": []}
    return {"cn": [name], "sn": [words[-1]], "displayName": [name], **given}


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _user(entry: ldap3.Entry) -> User:
    values = entry.entry_attributes_as_dict
    passwords = [_text(value) for value in values.get("userPassword", [])]
    return User(uid=values["uid"][0], name=values["cn"][0], mail=values["mail"][0],
                aliases=tuple(sorted(values.get("mailLocalAddress", []))),
                phone=(values.get("telephoneNumber") or [None])[0],
                disabled=any(value.startswith(LOCKED) for value in passwords))


def _search(people: People, search_filter: str, base: str | None = None) -> list[ldap3.Entry]:
    people.connection.search(base or people.container, search_filter, attributes=ATTRIBUTES)
    return list(people.connection.entries)


def get(people: People, uid: str) -> User | None:
    found = _search(people, f"(&(objectClass=inetOrgPerson)(uid={escape_filter_chars(uid)}))")
    return _user(found[0]) if found else None


def all_users(people: People) -> list[User]:
    return sorted((_user(entry) for entry in _search(people, "(objectClass=inetOrgPerson)")),
                  key=lambda user: user.uid)


def owners(people: People, address: str) -> list[str]:
    """The DNs anywhere under the base (people, groups, aliases) that receive this address."""
    escaped = escape_filter_chars(address)
    people.connection.search(people.base, f"(|(mail={escaped})(mailLocalAddress={escaped}))",
                             attributes=[])
    return [entry.entry_dn for entry in people.connection.entries]


def add(people: People, user: User) -> None:
    attributes: dict[str, Any] = {"uid": user.uid, "mail": user.mail, **_names(user.name)}
    attributes = {key: value for key, value in attributes.items() if value}
    if user.aliases:
        attributes["mailLocalAddress"] = list(user.aliases)
    if user.phone:
        attributes["telephoneNumber"] = user.phone
    people.connection.add(people.dn(user.uid), OBJECT_CLASSES, attributes)


def update(people: People, before: User, after: User) -> None:
    """Write what differs between two states of one person."""
    changes: dict[str, list[tuple[str, list[str]]]] = {}
    if after.name != before.name:
        changes |= {key: [(ldap3.MODIFY_REPLACE, value)] for key, value in _names(after.name).items()}
    if after.mail != before.mail:
        changes["mail"] = [(ldap3.MODIFY_REPLACE, [after.mail])]
    if after.aliases != before.aliases:
        changes["mailLocalAddress"] = [(ldap3.MODIFY_REPLACE, list(after.aliases))]
    if after.phone != before.phone:
        changes["telephoneNumber"] = [(ldap3.MODIFY_REPLACE, [after.phone] if after.phone else [])]
    if changes:
        people.connection.modify(people.dn(after.uid), changes)


def remove(people: People, uid: str) -> None:
    people.connection.delete(people.dn(uid))


def set_password(people: People, uid: str, password: str) -> None:
    """The LDAP Password Modify operation: slapd hashes the password (olcPasswordHash, ARGON2).

    The clear text travels only inside the connection's TLS. A disabled person stays disabled.
    """
    disabled = get(people, uid)
    people.connection.extend.standard.modify_password(people.dn(uid), new_password=password)
    if disabled and disabled.disabled:
        set_disabled(people, uid, True)


def set_disabled(people: People, uid: str, disabled: bool) -> None:
    dn = people.dn(uid)
    people.connection.search(dn, "(objectClass=*)", ldap3.BASE, attributes=["userPassword"])
    found = people.connection.entries[0].entry_attributes_as_dict
    current = [_text(value) for value in found.get("userPassword", [])]
    if disabled:
        wanted = [value if value.startswith(LOCKED) else LOCKED + value for value in current] or [LOCKED]
    else:
        wanted = [value.removeprefix(LOCKED) for value in current if value != LOCKED]
    if wanted != current:
        people.connection.modify(dn, {"userPassword": [(ldap3.MODIFY_REPLACE, wanted)]})
