"""Calendars, task lists and address books of our own server, read and written in Radicale's storage
over SSH (the radicale role's collection-root), under Radicale's own storage lock.

Why the storage and not CalDAV: Radicale checks logins against the directory, and the consultant does
not know the people's passwords; a temporary credential would mean changing the server's
authentication during the move. Over SSH, as the radicale user, nothing is changed but the items, and
they land byte for byte (Radicale's PUT would re-serialise them)."""

from __future__ import annotations

import base64
import functools
import json
import threading

from provision import remote
from provision.archive import ArchiveError
from provision.archive.names import safe_name
from provision.inventory.model import Inventory
from provision.layout import LOGINS, RADICALE_STORAGE, RADICALE_STORAGE_PROGRAM
from provision.migrate import AccountError
from provision.migrate.dav import Collection, item_href
from provision.migrate.items import Item, split

TIMEOUT = 300
TAGS = {"contacts": "VADDRESSBOOK", "calendar": "VCALENDAR", "tasks": "VCALENDAR"}

class ServerCollections:
    """One SSH connection to our server, shared by the workers (one command at a time)."""

    def __init__(self, inventory: Inventory):
        self.inventory = inventory
        self.label = inventory.settings.hostname
        self._connection: remote.Connection | None = None
        self._logins: dict[str, str] | None = None
        self._lock = threading.Lock()

    def _remote(self, argv: list[str], stdin: bytes = b"") -> remote.Output:
        """argv run over the connection, made by the first command (the caller holds the lock)."""
        try:
            if self._connection is None:
                self._connection = remote.connect(remote.login_of(self.inventory))
            return self._connection.run(argv, stdin=stdin, timeout=TIMEOUT, check=False)
        except remote.Unreachable as bad:
            raise AccountError(bad.message, bad.hint) from None

    def _run(self, arguments: list[str], stdin: bytes = b"") -> bytes:
        with self._lock:
            # The radicale role's program, as the radicale user holding Radicale's lock on the storage.
            done = self._remote(["runuser", "-u", "radicale", "--", "flock",
                                 f"{RADICALE_STORAGE}/.Radicale.lock",
                                 "python3", RADICALE_STORAGE_PROGRAM, *arguments], stdin)
            if done.status != 0:
                complaint = done.stderr.decode("utf-8", "replace").strip()[-300:]
                raise AccountError(f"{self.label}: Radicale's storage refused {arguments[0]}: {complaint}",
                                   "has `provision apply` run with the radicale role?")
            return done.stdout

    def login(self, address: str, required: bool) -> str | None:
        """The uid whose collections belong to address (the login map of provision-dav-sync); None for
        a source person the map does not know yet (who then has no collections)."""
        with self._lock:
            if self._logins is None:
                self._logins = json.loads(self._remote(["cat", LOGINS]).stdout or b"{}")
        uid = self._logins.get(address.lower())
        if uid is None and "@" not in address:
            return address
        if uid is None and required:
            raise AccountError(f"{address} is not a person on {self.label}",
                               "add the person first (provision users add or import), then run "
                               "provision calendars sync DIR")
        return uid

    def account(self, address: str, target: bool) -> ServerAccount:
        return ServerAccount(self, address, target)

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None


class ServerAccount:
    """One person's collections in the storage."""

    def __init__(self, server: ServerCollections, address: str, target: bool):
        self.server, self.address, self.target = server, address, target
        self.label = f"{address} on {server.label}"
        self._found: dict[tuple[str, str], list[Item]] | None = None
        self._collections: list[Collection] = []

    @functools.cached_property
    def uid(self) -> str | None:
        """Looked up when first needed: a target without collections to receive needs no login."""
        return self.server.login(self.address, required=self.target)

    def _read(self) -> None:
        listing = self.server._run(["read", RADICALE_STORAGE, self.uid]) if self.uid else b""
        found = json.loads(listing or b"[]")
        self._found, self._collections = {}, []
        for entry in found:
            collection = _collection(entry["name"], entry["props"])
            if collection is None:
                continue
            self._collections.append(collection)
            self._found[(collection.kind, collection.name)] = [
                item for href, data in entry["items"].items()
                for item in _items(base64.b64decode(data), collection.kind, href)]

    def collections(self) -> list[Collection]:
        if self._found is None:
            self._read()
        return list(self._collections)

    def items(self, collection: Collection) -> list[Item]:
        if self._found is None:
            self._read()
        assert self._found is not None
        return list(self._found.get((collection.kind, _directory(collection.name)), []))

    def put(self, collection: Collection, items: list[Item]) -> None:
        props: dict[str, str] = {"tag": TAGS[collection.kind],
                                 "D:displayname": collection.displayname or collection.name}
        if collection.kind != "contacts":
            props["C:supported-calendar-component-set"] = "VTODO" if collection.kind == "tasks" else "VEVENT"
            if collection.color:
                props["ICAL:calendar-color"] = collection.color
        job = {"name": _directory(collection.name), "props": props,
               "items": {item.href or item_href(item.uid, collection.kind):
                         base64.b64encode(item.data).decode() for item in items}}
        assert self.uid is not None  # a target's login is required
        self.server._run(["write", RADICALE_STORAGE, self.uid], json.dumps(job).encode())
        self._found = None  # read again for the verification

    def close(self) -> None:
        pass


def _collection(name: str, props: dict[str, str]) -> Collection | None:
    tag = props.get("tag")
    if tag == "VADDRESSBOOK":
        kind = "contacts"
    elif tag == "VCALENDAR":
        components = props.get("C:supported-calendar-component-set", "VEVENT")
        kind = "tasks" if "VTODO" in components and "VEVENT" not in components else "calendar"
    else:
        return None
    return Collection(kind, name, props.get("D:displayname"), props.get("ICAL:calendar-color"))


def _directory(name: str) -> str:
    """A source's collection name as one safe path part (no '/', no leading '.')."""
    try:
        return safe_name(name)
    except ArchiveError as bad:
        raise AccountError(f"cannot store the collection {name!r}: {bad}") from None


def _items(data: bytes, kind: str, href: str) -> list[Item]:
    return [Item(item.uid, item.data, href) for item in split(data, kind)]

