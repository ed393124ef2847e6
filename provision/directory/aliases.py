"""Aliases in the directory (cn=<address>,ou=aliases,<base>): an address that forwards elsewhere.

nisMailAlias (nis schema) holds the targets as rfc822MailMember; inetLocalMailRecipient adds
the address as mailLocalAddress, where Postfix and the address checks look for every address.
A person's own further addresses are not aliases: they live on the person (users set --add-alias).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import ldap3
from ldap3.utils.conv import escape_filter_chars

from provision.directory.users import Branch

OBJECT_CLASSES = ["nisMailAlias", "inetLocalMailRecipient"]
ATTRIBUTES = ["cn", "mailLocalAddress", "rfc822MailMember"]


@dataclass(frozen=True)
class Alias:
    address: str
    targets: tuple[str, ...]

    def row(self) -> dict[str, Any]:
        return {"address": self.address, "targets": list(self.targets)}


@dataclass(frozen=True)
class Aliases(Branch):
    ou: ClassVar[str] = "aliases"


def _search(aliases: Aliases, search_filter: str) -> list[Alias]:
    aliases.connection.search(aliases.container, f"(&(objectClass=nisMailAlias){search_filter})",
                              ldap3.LEVEL, attributes=ATTRIBUTES)
    return [Alias(address=entry.entry_attributes_as_dict["mailLocalAddress"][0],
                  targets=tuple(sorted(entry.entry_attributes_as_dict.get("rfc822MailMember", []))))
            for entry in aliases.connection.entries]


def all_aliases(aliases: Aliases) -> list[Alias]:
    return sorted(_search(aliases, ""), key=lambda alias: alias.address)


def get(aliases: Aliases, address: str) -> Alias | None:
    found = _search(aliases, f"(mailLocalAddress={escape_filter_chars(address)})")
    return found[0] if found else None


def add(aliases: Aliases, alias: Alias) -> None:
    aliases.connection.add(aliases.dn(alias.address), OBJECT_CLASSES,
                           {"cn": alias.address, "mailLocalAddress": alias.address,
                            "rfc822MailMember": list(alias.targets)})


def remove(aliases: Aliases, address: str) -> None:
    aliases.connection.delete(aliases.dn(address))
