"""Where messages go: an IMAP account, or one user of an archive being written. A sink folder answers
"do you hold these bytes already?" and takes batches of messages."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from provision.archive.records import MessageRecord
from provision.archive.writer import UserWriter
from provision.migrate.folders import ROLES, Folder, plain_name, role_of, wire_name
from provision.migrate.identity import identify
from provision.migrate.imap import ImapAccount, Meta
from provision.migrate.spool import HashSet, TargetIndex
from provision.migrate.state import Known, State


@dataclass
class Held:
    """What a sink folder holds: counts for the report, hashes for identity."""

    messages: int = 0
    bytes: int = 0
    hashes: HashSet = field(default_factory=HashSet)


class SinkFolder(Protocol):
    held: Held

    def present(self, item: Known) -> bool: ...

    def append(self, batch: list[tuple[Meta, bytes, Known]]) -> None: ...


class Sink(Protocol):
    label: str

    def folder(self, folder: Folder, create: bool) -> SinkFolder: ...

    def reopen(self) -> None: ...

    def close(self) -> None: ...


class ImapSink:
    def __init__(self, account: ImapAccount, state: State):
        self.account = account
        self.state = state
        self.label = account.label
        self._roles: dict[str, str] | None = None
        self._wires: set[str] = set()

    def _target_wire(self, folder: Folder) -> str:
        if self._roles is None:
            listing = self.account.folders()
            self._wires = {item.wire for item in listing}
            # A target without SPECIAL-USE (a provider) keeps its special folders under their usual names
            # ("Gesendete Objekte"): a move back to it fills them instead of making a second Sent folder.
            named = {role: item.wire for item in reversed(listing)
                     if (role := role_of(plain_name(item, self.account.prefix), None)) in ROLES}
            announced = {item.special_use: item.wire for item in listing if item.special_use in ROLES}
            self._roles = named | announced
        # A special folder goes where the target keeps that role (its children keep their own path).
        if folder.special_use in self._roles and "/" not in folder.name:
            return self._roles[folder.special_use]
        return wire_name(folder.name, self.account.delimiter, self.account.prefix)

    def folder(self, folder: Folder, create: bool) -> SinkFolder:
        wire = self._target_wire(folder)
        if wire not in self._wires:
            if not create:
                return _EmptyFolder()
            self.account.create(wire)
            self._wires.add(wire)
        return ImapSinkFolder(self, wire)

    def reopen(self) -> None:
        self.account.reopen()
        self._roles = None

    def close(self) -> None:
        self.account.close()


class _EmptyFolder:
    """A target folder that does not exist yet (in a dry run)."""

    def __init__(self) -> None:
        self.held = Held()

    def present(self, item: Known) -> bool:
        return False

    def append(self, batch: list[tuple[Meta, bytes, Known]]) -> None:
        raise AssertionError("a dry run appends nothing")


class ImapSinkFolder:
    """A target folder: its UIDs known by hash from the state, the others hashed on demand."""

    def __init__(self, sink: ImapSink, wire: str):
        self.sink = sink
        self.account = sink.account
        self.wire = wire
        self.refresh()

    def refresh(self) -> None:
        """List the folder: UIDs the state knows count by their hash, the others wait in an index."""
        self.validity, _ = self.account.select(self.wire, readonly=False)
        self.held = Held()
        self._index = TargetIndex()
        self._index.add(self._counted(self.account.listing()))
        known = self.sink.state.known(self.sink.label, self.wire, self.validity)
        for rows in _chunks(known, 500):
            listed = self._index.listed([uid for uid, _ in rows])
            self.held.hashes.update(item.sha256 for uid, item in rows if uid in listed)
            self._index.forget(listed)

    def _counted(self, metas: Iterator[Meta]) -> Iterator[Meta]:
        for meta in metas:
            self.held.messages += 1
            self.held.bytes += meta.size
            yield meta

    def present(self, item: Known) -> bool:
        if item.sha256 in self.held.hashes:
            return True
        candidates = self._index.take(item.message_id, item.size)
        if not candidates and item.message_id is not None and item.loose is not None:
            # none of that size: the target may hold it with its line ends changed, so another size
            candidates = self._index.take(item.message_id, None)
        if candidates:
            self._hash(candidates)
            if item.sha256 in self.held.hashes:
                return True
        uid = self._index.loose_uid(item.loose)
        if uid is None:
            return False
        # That UID holds this message as the target stored it: remembered as such for later runs.
        self.sink.state.remember(self.sink.label, self.wire, self.validity, [(uid, item)])
        self.held.hashes.add(item.sha256)
        return True

    def _hash(self, uids: list[int]) -> None:
        if self.account.selected != self.wire:
            self.account.select(self.wire, readonly=False)
        found = [(uid, identify(data)) for uid, data in self.account.bodies(uids)]
        self.sink.state.remember(self.sink.label, self.wire, self.validity, found)
        for uid, known in found:
            self.held.hashes.add(known.sha256)
            self._index.hashed(uid, known)

    def append(self, batch: list[tuple[Meta, bytes, Known]]) -> None:
        if not batch:
            return
        uids = self.account.append(self.wire, [(meta, data) for meta, data, _ in batch])
        found = [(uid, known) for uid, (_, _, known) in zip(uids, batch, strict=True) if uid is not None]
        self.sink.state.remember(self.sink.label, self.wire, self.validity, found)
        for _, data, known in batch:
            self.held.messages += 1
            self.held.bytes += len(data)
            self.held.hashes.add(known.sha256)


def _chunks(rows: Iterator[tuple[int, Known]], size: int) -> Iterator[list[tuple[int, Known]]]:
    while chunk := list(itertools.islice(rows, size)):
        yield chunk


class ArchiveSink:
    """One user of an archive being written (export); the archive's index is its own state."""

    def __init__(self, user: UserWriter, label: str):
        self.user = user
        self.label = label

    def folder(self, folder: Folder, create: bool) -> SinkFolder:
        return ArchiveSinkFolder(self.user, folder, create)

    def reopen(self) -> None:
        pass

    def close(self) -> None:
        pass


class ArchiveSinkFolder:
    def __init__(self, user: UserWriter, folder: Folder, create: bool):
        self.user = user
        self.name = folder.name
        if create:
            self.user.add_folder(folder.name, special_use=folder.special_use, source_name=folder.wire or None)
        self.held = Held()
        for record in user.records() if user.index.exists() else []:
            if isinstance(record, MessageRecord) and record.folder == folder.name:
                self.held.messages += 1
                self.held.bytes += record.size
                self.held.hashes.add(record.sha256)

    def present(self, item: Known) -> bool:
        return item.sha256 in self.held.hashes

    def append(self, batch: list[tuple[Meta, bytes, Known]]) -> None:
        for meta, data, known in batch:
            record = self.user.add_message(self.name, [data], internaldate=meta.internaldate,
                                           flags=meta.flags, keywords=meta.keywords, source_uid=meta.uid)
            if record is not None:
                self.held.messages += 1
                self.held.bytes += record.size
            self.held.hashes.add(known.sha256)


class NullSink:
    """The target of a dry run that would create it (a new archive): holds nothing, takes nothing."""

    label = "nothing"

    def folder(self, folder: Folder, create: bool) -> SinkFolder:
        return _EmptyFolder()

    def reopen(self) -> None:
        pass

    def close(self) -> None:
        pass
