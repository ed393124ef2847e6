"""manifest.json: what the archive holds, counted per user and folder, and the size and SHA-256 of
every other file. Written last, so its presence means the export finished."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from provision.archive import FORMAT, FORMAT_VERSION, ArchiveError, NotAnArchive
from provision.archive.records import RecordError, from_dict

MANIFEST = "manifest.json"


class ManifestError(ArchiveError):
    """manifest.json is unreadable, malformed or of a format version this reader does not know."""


class UnsupportedVersion(ManifestError):
    pass


@dataclass(frozen=True)
class FileEntry:
    path: str
    size: int
    sha256: str


@dataclass(frozen=True)
class FolderSummary:
    name: str
    path: str
    messages: int
    bytes: int


@dataclass(frozen=True)
class CollectionSummary:
    collection: str  # calendar, tasks or contacts
    name: str
    path: str
    items: int


@dataclass(frozen=True)
class UserSummary:
    name: str
    path: str
    messages: int
    bytes: int
    folders: list[FolderSummary] = field(default_factory=list)
    collections: list[CollectionSummary] = field(default_factory=list)
    sieve_scripts: int = 0

    def items(self, *kinds: str) -> int:
        return sum(item.items for item in self.collections if item.collection in kinds)


@dataclass(frozen=True)
class Manifest:
    format: str
    version: str
    generator: str
    started: str
    finished: str
    source: dict[str, str]
    messages: int
    bytes: int
    users: list[UserSummary]
    directory: list[str]
    files: list[FileEntry]


def parse_manifest(data: bytes) -> Manifest:
    try:
        raw = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as bad:
        raise ManifestError(f"{MANIFEST} is not JSON: {bad}") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise NotAnArchive(f"{MANIFEST} is not a {FORMAT} manifest")
    if raw.get("version") != FORMAT_VERSION:
        raise UnsupportedVersion(f"archive format version {raw.get('version')!r} is not supported "
                                 f"(this provision reads version {FORMAT_VERSION})")
    try:
        return from_dict(Manifest, raw)
    except RecordError as bad:
        raise ManifestError(f"{MANIFEST}: {bad}") from None


def save_manifest(root: Path, manifest: Manifest) -> None:
    """Write atomically: a reader sees no manifest or a whole one, never half of one."""
    temporary = root / f".{MANIFEST}.tmp"
    with open(temporary, "w", encoding="utf-8") as out:
        json.dump(asdict(manifest), out, ensure_ascii=False, indent=1)
        out.write("\n")
        out.flush()
        os.fsync(out.fileno())
    os.rename(temporary, root / MANIFEST)
