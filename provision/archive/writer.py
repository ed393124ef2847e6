"""ArchiveWriter: builds an archive piece by piece, durable after every piece, resumable after a crash.

Order of work for each file: write under a temporary name, fsync, rename, then append its record to the
index and fsync that. Whatever an interruption leaves behind that no index line names is deleted when
the archive is reopened, so a resumed export neither loses nor doubles anything.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path

from provision import __version__
from provision.archive import FORMAT, FORMAT_VERSION, ArchiveError, layout, maildir
from provision.archive.manifest import (
    MANIFEST,
    CollectionSummary,
    FileEntry,
    FolderSummary,
    Manifest,
    UserSummary,
    save_manifest,
)
from provision.archive.names import normalise_folder
from provision.archive.records import (
    COLLECTION_KINDS,
    ArchiveRecord,
    CollectionRecord,
    FolderRecord,
    Journal,
    MessageRecord,
    Record,
    SieveRecord,
    UserRecord,
    read_records,
    repair_tail,
)

GENERATOR = f"provision {__version__}"
# The lines that begin one item of a collection (manifest "items").
CALENDAR_ITEMS = (b"BEGIN:VEVENT", b"BEGIN:VTODO", b"BEGIN:VJOURNAL")
ITEM_LINES = {"calendar": CALENDAR_ITEMS, "tasks": CALENDAR_ITEMS, "contacts": (b"BEGIN:VCARD",)}


class ArchiveWriter:
    """Creates the archive at root, or reopens it there if an earlier export did not finish."""

    def __init__(self, root: Path | str, source: Mapping[str, str] | None = None):
        self.root = Path(root)
        if (self.root / MANIFEST).exists():
            raise ArchiveError(f"{self.root} is a finished archive; write a new one")
        self.resumed = (self.root / layout.INDEX).exists()
        if not self.resumed and self.root.exists() and any(self.root.iterdir()):
            raise ArchiveError(f"{self.root} exists and is not empty")
        (self.root / layout.USERS).mkdir(parents=True, exist_ok=True)
        self._journal = Journal(self.root / layout.INDEX)
        self._journal.lock()  # before anything is read or deleted
        self.users: dict[str, UserWriter] = {}
        if self.resumed:
            self.header = self._resume()
        else:
            self.header = ArchiveRecord(FORMAT_VERSION, _now(), GENERATOR, dict(source or {}))
            self._journal.append(self.header)

    def _resume(self) -> ArchiveRecord:
        repair_tail(self.root / layout.INDEX)
        records = list(_journal_records(self.root / layout.INDEX))
        if not records or not isinstance(records[0], ArchiveRecord):
            raise ArchiveError(f"{self.root / layout.INDEX} does not start with an archive record")
        for record in records[1:]:
            if isinstance(record, UserRecord):
                self.users[record.name] = UserWriter(self.root, record)
        _remove_temporaries(self.root / layout.DIRECTORY)
        return records[0]

    def user(self, name: str, display_name: str | None = None) -> UserWriter:
        """The writer for one user's data, created on first use."""
        if name not in self.users:
            record = UserRecord(name, layout.user_path(name), display_name)
            self._journal.append(record)  # first, so no crash can leave a user directory nothing names
            self.users[name] = UserWriter(self.root, record)
        return self.users[name]

    def write_table(self, kind: str, rows: Iterable[Mapping[str, str]]) -> None:
        """A directory table (users, groups, aliases, shared-mailboxes) as CSV; replaces an earlier one."""
        columns = layout.TABLES.get(kind)
        if columns is None:
            raise ArchiveError(f"unknown directory table {kind!r}")
        text = io.StringIO()
        table = csv.DictWriter(text, fieldnames=columns, lineterminator="\r\n", extrasaction="raise")
        table.writeheader()
        try:
            table.writerows(rows)
        except ValueError as bad:
            raise ArchiveError(f"directory table {kind}: {bad}") from None
        _write_file(self.root / layout.table_path(kind), [text.getvalue().encode()])

    def write_ldif(self, chunks: Iterable[bytes]) -> None:
        _write_file(self.root / layout.LDIF, chunks)

    def close(self) -> None:
        """Let go of the files without finishing; reopening the archive later resumes it."""
        self._journal.close()
        for user in self.users.values():
            user.close()

    def finish(self) -> Manifest:
        """Write manifest.json, listing and counting everything; the archive is then complete."""
        self.close()
        files = [_hashed(self.root, layout.INDEX)]
        users = []
        for user in self.users.values():
            summary, user_files = user.summary()
            users.append(summary)
            files += [_hashed(self.root, f"{user.record.path}/{layout.INDEX}"), *user_files]
        directory = sorted(path.relative_to(self.root).as_posix()
                           for path in (self.root / layout.DIRECTORY).glob("*") if path.is_file())
        files += [_hashed(self.root, path) for path in directory]
        files.sort(key=lambda entry: entry.path)
        _check_nothing_else(self.root, {entry.path for entry in files})
        manifest = Manifest(
            FORMAT, FORMAT_VERSION, GENERATOR, self.header.started, _now(), self.header.source,
            sum(user.messages for user in users), sum(user.bytes for user in users), users, directory, files,
        )
        save_manifest(self.root, manifest)
        return manifest


class UserWriter:
    """One user's mail, collections and Sieve scripts, with the user's own index."""

    def __init__(self, root: Path, record: UserRecord):
        self.root = root
        self.record = record
        self.home = root / record.path
        self.index = self.home / layout.INDEX
        self.folders: dict[str, FolderRecord] = {}
        self.held: set[tuple[str, str, str | None]] = set()  # keys only: a mailbox may be huge
        self.collections: dict[tuple[str, str], CollectionRecord] = {}
        self.scripts: dict[str, SieveRecord] = {}
        if self.index.exists():
            repair_tail(self.index)
            for item in self.records():
                self._remember(item)
            self._remove_unindexed()
        else:
            self.home.mkdir(parents=True, exist_ok=True)
        self._journal = Journal(self.index)

    def records(self) -> Iterator[Record]:
        """The user's index as written so far, read back from disk."""
        return _journal_records(self.index)

    def add_folder(self, name: str, *, special_use: str | None = None, subscribed: bool = True,
                   uidvalidity: int | None = None, source_name: str | None = None) -> FolderRecord:
        """Declare a folder (name '/'-separated); declaring it again with other details updates them."""
        name = normalise_folder(name)
        record = FolderRecord(name, layout.folder_path(self.record.path, name), special_use, subscribed,
                              uidvalidity, source_name)
        if self.folders.get(name) != record:
            maildir.make_maildir(self.root / record.path)
            self._append(record)
        return record

    def add_message(self, folder: str, chunks: Iterable[bytes], *, internaldate: datetime,
                    flags: Iterable[str] = (), keywords: Iterable[str] = (),
                    source_uid: int | None = None) -> MessageRecord | None:
        """Stream one message into folder; returns its record, or None if the folder already held these
        bytes with this Message-ID (as when a resumed export hands over a message again)."""
        if internaldate.tzinfo is None:
            raise ArchiveError("INTERNALDATE needs a time zone offset")
        folder = normalise_folder(folder)
        if folder not in self.folders:
            self.add_folder(folder)
        flags, keywords = maildir.normalise_flags(flags), maildir.normalise_keywords(keywords)
        directory = self.root / self.folders[folder].path
        pending = maildir.receive(directory, chunks)
        if (folder, pending.sha256, pending.message_id) in self.held:
            pending.tmp.unlink()
            return None
        name = maildir.file_name(internaldate, pending.sha256, pending.size, flags)
        if (directory / "cur" / name).exists():
            pending.tmp.unlink()
            raise ArchiveError(f"{folder}: two messages would share the file name {name}")
        maildir.commit(pending, directory, name, internaldate)
        record = MessageRecord(folder, name, flags, keywords, internaldate.isoformat(), pending.size,
                               pending.sha256, pending.message_id, source_uid)
        self._append(record)
        return record

    def holds(self, folder: str, sha256: str, message_id: str | None) -> bool:
        return (normalise_folder(folder), sha256, message_id) in self.held

    def add_collection(self, collection: str, name: str, chunks: Iterable[bytes], *,
                       displayname: str | None = None, color: str | None = None) -> CollectionRecord:
        """A whole calendar, task list (.ics) or address book (.vcf); replaces one of the same name."""
        if collection not in COLLECTION_KINDS:
            raise ArchiveError(f"unknown collection kind {collection!r}")
        path = layout.collection_path(self.record.path, collection, name)
        counter = _ItemCounter(ITEM_LINES[collection])
        size, sha256 = _write_file(self.root / path, counter.through(chunks))
        record = CollectionRecord(collection, name, path, counter.items, size, sha256, displayname, color)
        self._append(record)
        return record

    def add_sieve(self, name: str, chunks: Iterable[bytes], *, active: bool = False) -> SieveRecord:
        """A Sieve script; at most one is active, so activating one deactivates the others."""
        path = layout.sieve_path(self.record.path, name)
        size, sha256 = _write_file(self.root / path, chunks)
        if active:
            for other in list(self.scripts.values()):
                if other.active and other.name != name:
                    self._append(SieveRecord(other.name, other.path, other.size, other.sha256, False))
        record = SieveRecord(name, path, size, sha256, active)
        self._append(record)
        return record

    def close(self) -> None:
        self._journal.close()

    def summary(self) -> tuple[UserSummary, list[FileEntry]]:
        counts = {name: [0, 0] for name in self.folders}
        files = []
        for message in self.records():
            if not isinstance(message, MessageRecord):
                continue
            counts[message.folder][0] += 1
            counts[message.folder][1] += message.size
            files.append(FileEntry(self.message_path(message), message.size, message.sha256))
        files += [FileEntry(item.path, item.size, item.sha256)
                  for item in [*self.collections.values(), *self.scripts.values()]]
        folders = [FolderSummary(name, record.path, *counts[name])
                   for name, record in sorted(self.folders.items())]
        collections = [CollectionSummary(item.collection, item.name, item.path, item.items)
                       for _, item in sorted(self.collections.items())]
        summary = UserSummary(self.record.name, self.record.path, sum(f.messages for f in folders),
                              sum(f.bytes for f in folders), folders, collections, len(self.scripts))
        return summary, files

    def message_path(self, message: MessageRecord) -> str:
        return f"{self.folders[message.folder].path}/cur/{message.file}"

    def _append(self, record: Record) -> None:
        self._journal.append(record)
        self._remember(record)

    def _remember(self, record: Record) -> None:
        if isinstance(record, FolderRecord):
            self.folders[record.name] = record
        elif isinstance(record, MessageRecord):
            self.held.add(record.key)
        elif isinstance(record, CollectionRecord):
            self.collections[(record.collection, record.name)] = record
        elif isinstance(record, SieveRecord):
            self.scripts[record.name] = record

    def _remove_unindexed(self) -> None:
        """Delete what an interrupted export wrote but did not record (partial or unindexed files)."""
        known = {self.message_path(record) for record in self.records() if isinstance(record, MessageRecord)}
        known |= {item.path for item in [*self.collections.values(), *self.scripts.values()]}
        known.add(f"{self.record.path}/{layout.INDEX}")
        for path in _files_under(self.home):
            if path.relative_to(self.root).as_posix() not in known:
                path.unlink()


class _ItemCounter:
    """Counts lines that begin an item (BEGIN:VEVENT, BEGIN:VCARD, ...) while the bytes stream past."""

    def __init__(self, starts: tuple[bytes, ...]):
        self.starts = starts
        self.items = 0
        self._tail = b""

    def through(self, chunks: Iterable[bytes]) -> Iterable[bytes]:
        for chunk in chunks:
            lines = (self._tail + chunk).split(b"\n")
            self._tail = lines.pop()[-64:]  # an item line is short; a long tail cannot be one
            self.items += sum(self._starts_item(line) for line in lines)
            yield chunk
        self.items += self._starts_item(self._tail)

    def _starts_item(self, line: bytes) -> bool:
        return line.rstrip(b"\r").upper() in self.starts


def _journal_records(path: Path) -> Iterator[Record]:
    with open(path, "rb") as stream:
        yield from read_records(stream, str(path))


def _write_file(path: Path, chunks: Iterable[bytes]) -> tuple[int, str]:
    """Write atomically (temporary name, fsync, rename); returns size and SHA-256."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    digest = hashlib.sha256()
    size = 0
    with open(temporary, "wb") as out:
        for chunk in chunks:
            out.write(chunk)
            digest.update(chunk)
            size += len(chunk)
        out.flush()
        os.fsync(out.fileno())
    os.rename(temporary, path)
    maildir.sync_directory(path.parent)
    return size, digest.hexdigest()


def _hashed(root: Path, path: str) -> FileEntry:
    digest = hashlib.sha256()
    with open(root / path, "rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return FileEntry(path, (root / path).stat().st_size, digest.hexdigest())


def _files_under(directory: Path) -> list[Path]:
    return [Path(top) / name for top, _, names in os.walk(directory) for name in names]


def _remove_temporaries(directory: Path) -> None:
    for path in directory.glob(".*.tmp"):
        path.unlink()


def _check_nothing_else(root: Path, listed: set[str]) -> None:
    strays = sorted(path.relative_to(root).as_posix() for path in _files_under(root))
    strays = [path for path in strays if path not in listed and path != MANIFEST]
    if strays:
        raise ArchiveError(f"files no index names: {', '.join(strays[:5])}")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
