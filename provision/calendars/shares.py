"""Delegations: who, besides its owner, may read or write a person's collection.

The radicale role's plugin reads them from a JSON file on the server, on every request
after it changes: {"OWNER/COLLECTION": {"UID": "r" | "rw"}}. Radicale's rights letters:
"r" reads the items of a collection, "rw" also writes them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import StrEnum

from provision.errors import UsageError
from provision.inventory.values import LOGIN_PATTERN

# A person's collection: OWNER/NAME, as in https://HOST/OWNER/NAME/ (uids are provision's logins).
_COLLECTION = re.compile(rf"(?P<owner>{LOGIN_PATTERN})/(?P<name>[A-Za-z0-9][A-Za-z0-9._-]{{0,127}})")


class Access(StrEnum):
    READ = "r"
    WRITE = "rw"


@dataclass(frozen=True)
class Share:
    collection: str  # OWNER/NAME
    user: str
    access: Access

    def row(self) -> dict[str, str]:
        return {"collection": self.collection, "user": self.user,
                "access": "read" if self.access is Access.READ else "read and write"}


def collection(value: str) -> tuple[str, str]:
    """(owner, name) of OWNER/COLLECTION; UsageError when it is not one."""
    found = _COLLECTION.fullmatch(value.strip("/"))
    if not found:
        raise UsageError(f"{value} is not OWNER/COLLECTION",
                         "name a person's collection, e.g. anna/calendar or anna/tasks")
    return found["owner"], found["name"]


Table = dict[str, dict[str, str]]


def parse(text: str) -> Table:
    """The file's table; an empty or missing file is no delegation at all."""
    if not text.strip():
        return {}
    table = json.loads(text)
    if not isinstance(table, dict) or not all(isinstance(users, dict) for users in table.values()):
        raise ValueError("not a mapping of collections to {user: access}")
    return table


def render(table: Table) -> str:
    return json.dumps({key: dict(sorted(users.items())) for key, users in sorted(table.items()) if users},
                      indent=1) + "\n"


def grant(table: Table, share: Share) -> Table:
    users = {**table.get(share.collection, {}), share.user: share.access.value}
    return {**table, share.collection: users}


def revoke(table: Table, collection_path: str, user: str) -> Table:
    users = {name: access for name, access in table.get(collection_path, {}).items() if name != user}
    return {**table, collection_path: users}


def listed(table: Table) -> list[Share]:
    return [Share(path, user, Access(access)) for path, users in sorted(table.items())
            for user, access in sorted(users.items()) if access in ("r", "rw")]
