"""The records of the JSON-lines index files (`index.jsonl`), and how they are parsed and appended.

An index only grows: each record is appended and fsynced after the file it describes is durable, so an
interrupted export leaves an index that is true up to its last complete line.
"""

from __future__ import annotations

import fcntl
import json
import os
import types
import typing
from dataclasses import MISSING, asdict, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any, BinaryIO, ClassVar

from provision.archive import ArchiveError


@dataclass(frozen=True)
class ArchiveRecord:
    """First line of the archive index: who started the export, when, from where."""

    kind: ClassVar[str] = "archive"
    version: str
    started: str
    generator: str
    source: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class UserRecord:
    kind: ClassVar[str] = "user"
    name: str
    path: str
    display_name: str | None = None


@dataclass(frozen=True)
class FolderRecord:
    kind: ClassVar[str] = "folder"
    name: str
    path: str
    special_use: str | None = None
    subscribed: bool = True
    uidvalidity: int | None = None
    source_name: str | None = None


@dataclass(frozen=True)
class MessageRecord:
    kind: ClassVar[str] = "message"
    folder: str
    file: str
    flags: list[str]
    keywords: list[str]
    internaldate: str
    size: int
    sha256: str
    message_id: str | None = None
    source_uid: int | None = None

    @property
    def key(self) -> tuple[str, str, str | None]:
        """What makes a message already held: same folder, same bytes, same Message-ID."""
        return (self.folder, self.sha256, self.message_id)


@dataclass(frozen=True)
class CollectionRecord:
    kind: ClassVar[str] = "collection"
    collection: str  # calendar, tasks or contacts
    name: str
    path: str
    items: int
    size: int
    sha256: str
    displayname: str | None = None
    color: str | None = None


@dataclass(frozen=True)
class SieveRecord:
    kind: ClassVar[str] = "sieve"
    name: str
    path: str
    size: int
    sha256: str
    active: bool = False


Record = ArchiveRecord | UserRecord | FolderRecord | MessageRecord | CollectionRecord | SieveRecord
RECORD_TYPES: dict[str, type[Record]] = {
    cls.kind: cls
    for cls in (ArchiveRecord, UserRecord, FolderRecord, MessageRecord, CollectionRecord, SieveRecord)
}
COLLECTION_KINDS = ("calendar", "tasks", "contacts")


class RecordError(ValueError):
    """One index line that is not a valid record."""


def dump(record: Record) -> bytes:
    return (json.dumps({"type": record.kind, **asdict(record)}, ensure_ascii=False, sort_keys=True)
            + "\n").encode()


def parse(line: bytes) -> Record | None:
    """The record on one index line; None for a record type this version does not know (a compatible
    addition by a newer writer), which readers skip."""
    try:
        data = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError) as bad:
        raise RecordError(f"not JSON: {bad}") from None
    if not isinstance(data, dict):
        raise RecordError("not a JSON object")
    kind = data.pop("type", None)
    if not isinstance(kind, str):
        raise RecordError("the record has no type")
    return from_dict(RECORD_TYPES[kind], data) if kind in RECORD_TYPES else None


def from_dict(cls: type, data: dict[str, Any]) -> Any:
    """Build dataclass cls (nested ones too) from JSON data, checking every field's type; unknown
    fields are ignored so that compatible additions do not break older readers."""
    hints = typing.get_type_hints(cls)
    values = {}
    for item in fields(cls):
        if item.name in data:
            values[item.name] = _convert(data[item.name], hints[item.name], item.name)
        elif item.default is MISSING and item.default_factory is MISSING:
            raise RecordError(f"field {item.name!r} is missing")
    return cls(**values)


def _convert(value: Any, hint: Any, name: str) -> Any:
    origin = typing.get_origin(hint)
    arms = typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        if value is None and type(None) in arms:
            return None
        hint = next(arm for arm in arms if arm is not type(None))
        origin, arms = typing.get_origin(hint), typing.get_args(hint)
    if origin is list and isinstance(value, list):
        return [_convert(item, arms[0], name) for item in value]
    if origin is dict and isinstance(value, dict) and all(isinstance(item, str) for item in value.values()):
        return value
    if is_dataclass(hint) and isinstance(value, dict):
        return from_dict(hint, value)
    if hint is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if hint in (str, bool) and isinstance(value, hint) and not (hint is str and "\x00" in value):
        return value
    raise RecordError(f"field {name!r} has the wrong type")


def read_lines(stream: BinaryIO) -> typing.Iterator[tuple[int, bytes]]:
    """Numbered lines of an index, without the newline; a last line without one is yielded too."""
    for number, line in enumerate(stream, start=1):
        yield number, line.rstrip(b"\n")


def read_records(stream: BinaryIO, source: str) -> typing.Iterator[Record]:
    """The records of an index; a malformed line stops the reading with its place."""
    for number, line in read_lines(stream):
        try:
            record = parse(line)
        except RecordError as bad:
            raise ArchiveError(f"{source} line {number}: {bad}") from None
        if record:
            yield record


class Journal:
    """An index file opened for appending; every record reaches the disk before append returns."""

    def __init__(self, path: Path):
        self.path = path
        self._file = open(path, "ab")  # noqa: SIM115 - held open for the writer's lifetime

    def lock(self) -> None:
        """Hold the index for this process alone: a second writer would delete the first one's partial
        files as debris. The lock goes with the file, also when a crashed process dies."""
        try:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ArchiveError(f"another export is writing {self.path.parent}") from None

    def append(self, record: Record) -> None:
        self._file.write(dump(record))
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()


def repair_tail(path: Path) -> None:
    """Cut a half-written last line left by an interrupted writer."""
    with open(path, "rb+") as stream:
        end = size = stream.seek(0, os.SEEK_END)
        while end > 0:
            start = max(0, end - 65536)
            stream.seek(start)
            cut = stream.read(end - start).rfind(b"\n")
            if cut >= 0:
                if start + cut + 1 < size:
                    stream.truncate(start + cut + 1)
                return
            end = start
        stream.truncate(0)
