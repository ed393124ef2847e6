"""Calendars, task lists and address books of one user, copied between any two of: a DAV account at a
provider, our server's Radicale storage, an archive. An item is identified by its UID plus the hash of
its content (items.digest): a re-run copies only items that are new or changed, never one twice."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol

from provision.archive.manifest import UserSummary
from provision.archive.reader import ArchiveReader
from provision.archive.writer import UserWriter
from provision.migrate.dav import Collection
from provision.migrate.folders import Folder
from provision.migrate.imap import Meta
from provision.migrate.items import Item, join, split
from provision.migrate.report import CollectionReport
from provision.migrate.sources import SourceFolder
from provision.migrate.state import Known


class CollectionSide(Protocol):
    label: str

    def collections(self) -> list[Collection]: ...

    def items(self, collection: Collection) -> list[Item]: ...

    def put(self, collection: Collection, items: list[Item]) -> None: ...

    def close(self) -> None: ...


class ArchiveCollections:
    """One user's collections in a finished archive (read only)."""

    def __init__(self, reader: ArchiveReader, user: UserSummary):
        self.reader, self.user = reader, user
        self.label = f"{user.name} in {reader.store.label}"
        self._records = {(record.collection, record.name): record for record in reader.collections(user)}

    def collections(self) -> list[Collection]:
        return [Collection(record.collection, record.name, record.displayname, record.color)
                for record in self._records.values()]

    def items(self, collection: Collection) -> list[Item]:
        record = self._records.get((collection.kind, collection.name))
        if record is None:
            return []
        return split(b"".join(self.reader.chunks(record.path, record.size, record.sha256)), collection.kind)

    def put(self, collection: Collection, items: list[Item]) -> None:
        raise AssertionError("an archive being imported is not written to")

    def close(self) -> None:
        self.reader.close()


class ArchiveWriterCollections:
    """One user's collections in an archive being exported: a collection is written whole, so new items
    are joined to those it holds already."""

    def __init__(self, user: UserWriter, label: str):
        self.user, self.label = user, label

    def collections(self) -> list[Collection]:
        return [Collection(record.collection, record.name, record.displayname, record.color)
                for record in self.user.collections.values()]

    def items(self, collection: Collection) -> list[Item]:
        record = self.user.collections.get((collection.kind, collection.name))
        if record is None:
            return []
        return split((self.user.root / record.path).read_bytes(), collection.kind)

    def put(self, collection: Collection, items: list[Item]) -> None:
        by_uid = {item.uid: item for item in self.items(collection)} | {item.uid: item for item in items}
        data = join(list(by_uid.values()), collection.kind)
        self.user.add_collection(collection.kind, collection.name, [data], displayname=collection.displayname,
                                 color=collection.color)

    def close(self) -> None:
        pass


class NoCollections:
    """A side without calendars or contacts (an IMAP account, a dry run's new archive)."""

    label = "nothing"

    def collections(self) -> list[Collection]:
        return []

    def items(self, collection: Collection) -> list[Item]:
        return []

    def put(self, collection: Collection, items: list[Item]) -> None:
        raise AssertionError("nothing can be written here")

    def close(self) -> None:
        pass


def copy_collections(source: CollectionSide, target: CollectionSide, dry_run: bool,
                     advance: Callable[[int, int], None] | None = None) -> list[CollectionReport]:
    """Copy what the target lacks, then compare again: the report of every source collection."""
    reports = []
    for collection in source.collections():
        items = _unique(source.items(collection))
        present = target.items(collection)
        held = {item.uid: item.digest for item in present}
        hrefs = {item.uid: item.href for item in present}  # a changed item replaces the target's own
        todo = [item for item in items if held.get(item.uid) != item.digest]
        report = CollectionReport(collection.kind, collection.name, len(items), sum(i.count for i in items))
        report.copied = len(todo)
        report.skipped = len(items) - len(todo)
        if dry_run:
            report.target_items = len(held)
        else:
            if todo:
                target.put(collection, [Item(item.uid, item.data, hrefs.get(item.uid)) for item in todo])
                if advance is not None:
                    advance(0, sum(len(item.data) for item in todo))
            after = {item.uid: item.digest for item in target.items(collection)}
            report.target_items = len(after)
            report.missing = [item.uid for item in items if after.get(item.uid) != item.digest]
        reports.append(report)
    return reports


def _unique(items: list[Item]) -> list[Item]:
    """One item per UID (a collection that holds one UID twice keeps the last)."""
    return list({item.uid: item for item in items}.values())


class NoMail:
    """The mail side of a move that carries only calendars and contacts (a DAV account)."""

    def __init__(self, label: str):
        self.label = label

    def folders(self) -> list[Folder]:
        return []

    def open(self, folder: Folder) -> SourceFolder:
        raise AssertionError("a DAV account has no mail folders")

    def bodies(self, folder: SourceFolder, metas: list[Meta]) -> Iterator[tuple[Meta, bytes]]:
        raise AssertionError("a DAV account has no mail folders")

    def remember(self, folder: SourceFolder, found: list[tuple[int, Known]]) -> None:
        pass

    def reopen(self) -> None:
        pass

    def close(self) -> None:
        pass
