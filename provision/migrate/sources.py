"""Where messages come from: an IMAP account, or one user of a finished archive. Both list a folder
without bodies, say what they already know of each message's bytes, and hand out bodies in batches."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from provision.archive.manifest import UserSummary
from provision.archive.reader import ArchiveReader
from provision.archive.records import MessageRecord
from provision.migrate.folders import ALL, Folder, source_folders
from provision.migrate.imap import ImapAccount, Meta
from provision.migrate.spool import Listing
from provision.migrate.state import Known, State

GMAIL_ARCHIVE = Folder("Archive", "", "\\Archive")
# Gmail labels that are not folders of their own: a message carrying only these sits in All Mail alone.
GMAIL_VIEW_LABELS = {"\\important", "\\starred"}


@dataclass
class SourceFolder:
    folder: Folder
    listing: Listing  # on disk: memory does not grow with the folder


class Source(Protocol):
    label: str

    def folders(self) -> list[Folder]: ...

    def open(self, folder: Folder) -> SourceFolder: ...

    def bodies(self, folder: SourceFolder, metas: list[Meta]) -> Iterator[tuple[Meta, bytes]]: ...

    def remember(self, folder: SourceFolder, found: list[tuple[int, Known]]) -> None: ...

    def reopen(self) -> None: ...

    def close(self) -> None: ...


class ImapSource:
    def __init__(self, account: ImapAccount, state: State):
        self.account = account
        self.state = state
        self.label = account.label
        self._validity: dict[str, int] = {}
        self._all_mail: str | None = None

    def folders(self) -> list[Folder]:
        listing = self.account.folders()
        found = source_folders(listing, self.account.prefix)
        if "X-GM-EXT-1" in self.account.capabilities:
            # Gmail: archived messages with no label exist only in All Mail; they go to Archive.
            self._all_mail = next((item.wire for item in listing if item.special_use == ALL), None)
            if self._all_mail:
                found.append(Folder(GMAIL_ARCHIVE.name, self._all_mail, GMAIL_ARCHIVE.special_use))
        return found

    def open(self, folder: Folder) -> SourceFolder:
        validity, _ = self.account.select(folder.wire, readonly=True)
        self._validity[folder.wire] = validity
        gmail_all = folder.wire == self._all_mail
        metas = self.account.listing(gmail_labels=gmail_all)
        if gmail_all:
            metas = (meta for meta in metas
                     if not {label.lower() for label in meta.labels} - GMAIL_VIEW_LABELS)
        listing = Listing()
        listing.add(metas)
        listing.learn(self.state.known(self.label, folder.wire, validity))
        return SourceFolder(folder, listing)

    def bodies(self, folder: SourceFolder, metas: list[Meta]) -> Iterator[tuple[Meta, bytes]]:
        if self.account.selected != folder.folder.wire:
            self.account.select(folder.folder.wire, readonly=True)
        by_uid = {meta.uid: meta for meta in metas}
        for uid, data in self.account.bodies(list(by_uid)):
            if uid in by_uid:
                yield by_uid[uid], data

    def remember(self, folder: SourceFolder, found: list[tuple[int, Known]]) -> None:
        self.state.remember(self.label, folder.folder.wire, self._validity[folder.folder.wire], found)
        folder.listing.learn(found)

    def reopen(self) -> None:
        self.account.reopen()

    def close(self) -> None:
        self.account.close()


class ArchiveSource:
    """One user of a finished (and verified) archive; 'UIDs' are positions in the user's index."""

    def __init__(self, reader: ArchiveReader, user: UserSummary):
        self.reader = reader
        self.user = user
        self.label = f"{user.name} in {reader.store.label}"
        self._records: dict[str, dict[int, MessageRecord]] = {}
        for position, record in enumerate(reader.messages(user), start=1):
            self._records.setdefault(record.folder, {})[position] = record

    def folders(self) -> list[Folder]:
        records = self.reader.folders(self.user)
        return sorted((Folder(item.name, item.name, item.special_use) for item in records),
                      key=lambda folder: (folder.name != "INBOX", folder.name))

    def open(self, folder: Folder) -> SourceFolder:
        records = self._records.get(folder.name, {})
        return SourceFolder(folder, Listing.holding(
            (Meta(uid, record.size, tuple(record.flags), tuple(record.keywords),
                  datetime.fromisoformat(record.internaldate), record.message_id),
             Known(record.sha256, record.size, record.message_id)) for uid, record in records.items()))

    def bodies(self, folder: SourceFolder, metas: list[Meta]) -> Iterator[tuple[Meta, bytes]]:
        records = self._records[folder.folder.name]
        for meta in metas:
            data = b"".join(self.reader.message_chunks(self.user, records[meta.uid]))
            yield meta, data

    def remember(self, folder: SourceFolder, found: list[tuple[int, Known]]) -> None:
        pass  # the archive's index already holds every hash

    def reopen(self) -> None:
        pass

    def close(self) -> None:
        self.reader.close()

