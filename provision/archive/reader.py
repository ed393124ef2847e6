"""ArchiveReader: the users, folders, messages, collections, scripts and directory tables of a finished
archive, from a directory or a tar file. Message bytes are streamed and checked against their SHA-256."""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from provision.archive import ArchiveError, NotAnArchive, layout
from provision.archive.manifest import MANIFEST, Manifest, UserSummary, parse_manifest
from provision.archive.records import (
    CollectionRecord,
    FolderRecord,
    MessageRecord,
    Record,
    SieveRecord,
    read_records,
)
from provision.archive.store import open_store

CHUNK = 64 * 1024
R = TypeVar("R", FolderRecord, CollectionRecord, SieveRecord)


class ArchiveReader:
    def __init__(self, path: Path | str):
        self.store = open_store(path)
        if not self.store.exists(MANIFEST):
            self.store.close()
            raise NotAnArchive(f"{path} has no {MANIFEST}: not an archive, or its export did not finish")
        with self.store.open(MANIFEST) as stream:
            self.manifest: Manifest = parse_manifest(stream.read())

    def __enter__(self) -> ArchiveReader:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self.store.close()

    @property
    def users(self) -> list[UserSummary]:
        return self.manifest.users

    def user(self, name: str) -> UserSummary:
        for user in self.manifest.users:
            if user.name == name:
                return user
        raise ArchiveError(f"the archive holds no user {name!r}")

    def records(self, user: UserSummary) -> Iterator[Record]:
        path = f"{user.path}/{layout.INDEX}"
        with self.store.open(path) as stream:
            yield from read_records(stream, path)

    def folders(self, user: UserSummary) -> list[FolderRecord]:
        return self._latest(user, FolderRecord, lambda record: record.name)

    def collections(self, user: UserSummary) -> list[CollectionRecord]:
        return self._latest(user, CollectionRecord, lambda record: (record.collection, record.name))

    def sieve_scripts(self, user: UserSummary) -> list[SieveRecord]:
        return self._latest(user, SieveRecord, lambda record: record.name)

    def messages(self, user: UserSummary, folder: str | None = None) -> Iterator[MessageRecord]:
        for record in self.records(user):
            if isinstance(record, MessageRecord) and folder in (None, record.folder):
                yield record

    def message_path(self, user: UserSummary, message: MessageRecord) -> str:
        return f"{layout.folder_path(user.path, message.folder)}/cur/{message.file}"

    def message_chunks(self, user: UserSummary, message: MessageRecord) -> Iterator[bytes]:
        """The message's exact bytes; ArchiveError at the end if they are not the bytes recorded."""
        return self.chunks(self.message_path(user, message), message.size, message.sha256)

    def chunks(self, path: str, size: int | None = None, sha256: str | None = None) -> Iterator[bytes]:
        """A file's bytes in pieces, checked against size and sha256 when given."""
        digest = hashlib.sha256()
        seen = 0
        with self.store.open(path) as stream:
            while chunk := stream.read(CHUNK):
                digest.update(chunk)
                seen += len(chunk)
                yield chunk
        if (size is not None and seen != size) or (sha256 is not None and digest.hexdigest() != sha256):
            raise ArchiveError(f"{path}: the bytes differ from those recorded")

    def table(self, kind: str) -> list[dict[str, str]]:
        """A directory table (users, groups, aliases, shared-mailboxes); empty if not exported."""
        path = layout.table_path(kind)
        if path not in self.manifest.directory:
            return []
        text = b"".join(self.chunks(path)).decode("utf-8")
        return list(csv.DictReader(io.StringIO(text, newline="")))

    def _latest(self, user: UserSummary, kind: type[R], key: Callable[[R], object]) -> list[R]:
        """Records of one kind, the last one for each key winning (a re-export replaces)."""
        latest = {key(record): record for record in self.records(user) if isinstance(record, kind)}
        return list(latest.values())
