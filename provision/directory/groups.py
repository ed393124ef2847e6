"""Groups in the directory (cn=<name>,ou=groups,<base>): distribution lists and shared mailboxes.

Both are groupOfNames (core schema) with inetLocalMailRecipient (misc schema, which the
directory role loads): member holds the people's DNs, mailLocalAddress the group's address.
A shared mailbox also has mailRoutingAddress, its own address: mail to it lands in its own
mailbox (Postfix stops expanding there), and it is named after that address, so that its
Dovecot ACL identifier is group=cn=<address>. slapd's memberof overlay keeps each person's
memberOf in step, which Dovecot reads as their ACL groups.

groupOfNames needs at least one member: a group cannot lose its last one (remove it instead).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import ldap3
from ldap3.utils.conv import escape_filter_chars
from ldap3.utils.dn import parse_dn

from provision.directory.users import Branch

OBJECT_CLASSES = ["groupOfNames", "inetLocalMailRecipient"]
ATTRIBUTES = ["cn", "mailLocalAddress", "mailRoutingAddress", "member", "description"]


@dataclass(frozen=True)
class Group:
    name: str
    address: str
    members: tuple[str, ...]  # uids, sorted
    shared: bool = False  # a shared mailbox rather than a distribution list
    description: str | None = None

    def row(self) -> dict[str, Any]:
        return {"name": self.name, "address": self.address, "members": list(self.members),
                "kind": "shared mailbox" if self.shared else "list", "description": self.description}


@dataclass(frozen=True)
class Groups(Branch):
    ou: ClassVar[str] = "groups"


def _uid(dn: str) -> str:
    """The uid of a person's DN (uid=<uid>,ou=people,...)."""
    return str(parse_dn(dn)[0][1])


def _group(entry: ldap3.Entry) -> Group:
    values = entry.entry_attributes_as_dict
    routing = values.get("mailRoutingAddress") or []
    return Group(name=values["cn"][0], address=(routing or values.get("mailLocalAddress") or [""])[0],
                 members=tuple(sorted(_uid(dn) for dn in values.get("member", []))),
                 shared=bool(routing), description=(values.get("description") or [None])[0])


def _search(groups: Groups, search_filter: str) -> list[Group]:
    groups.connection.search(groups.container, f"(&(objectClass=groupOfNames){search_filter})",
                             ldap3.LEVEL, attributes=ATTRIBUTES)
    return [_group(entry) for entry in groups.connection.entries]


def all_groups(groups: Groups, shared: bool) -> list[Group]:
    kind = "(mailRoutingAddress=*)" if shared else "(!(mailRoutingAddress=*))"
    return sorted(_search(groups, kind), key=lambda group: group.name)


def get(groups: Groups, name: str) -> Group | None:
    found = _search(groups, f"(cn={escape_filter_chars(name)})")
    return found[0] if found else None


def of_member(groups: Groups, uid: str) -> list[Group]:
    """Every group and shared mailbox the person is in."""
    return _search(groups, f"(member={escape_filter_chars(groups.people.dn(uid))})")


def add(groups: Groups, group: Group) -> None:
    attributes: dict[str, Any] = {"cn": group.name, "mailLocalAddress": [group.address],
                                  "member": [groups.people.dn(uid) for uid in group.members]}
    if group.shared:
        attributes["mailRoutingAddress"] = group.address
    if group.description:
        attributes["description"] = group.description
    groups.connection.add(groups.dn(group.name), OBJECT_CLASSES, attributes)


def set_members(groups: Groups, before: Group, after: Group) -> None:
    """Add and remove member values so that the group has after's members."""
    changes = []
    added, removed = set(after.members) - set(before.members), set(before.members) - set(after.members)
    if added:
        changes.append((ldap3.MODIFY_ADD, [groups.people.dn(uid) for uid in sorted(added)]))
    if removed:
        changes.append((ldap3.MODIFY_DELETE, [groups.people.dn(uid) for uid in sorted(removed)]))
    if changes:
        groups.connection.modify(groups.dn(after.name), {"member": changes})


def remove(groups: Groups, name: str) -> None:
    groups.connection.delete(groups.dn(name))
