"""Local sources: a Google Takeout folder (mbox with X-Gmail-Labels, .ics calendars, .vcf address books),
a plain mbox file, a Maildir. One user each: the address they belong to comes from --users.

Takeout writes every message once, with its labels in X-Gmail-Labels: each label becomes a folder (the
message lands once in each, as Gmail's IMAP shows it), "Opened", "Starred" and "Unread" become flags,
Gmail's views (Important, categories) are not folders, and a message with no folder label goes to
Archive. The same bytes twice in a folder (a message in two Takeout files) are kept once."""

from __future__ import annotations

import email.utils
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from provision import mutf7
from provision.migrate.dav import Collection
from provision.migrate.folders import ROLES, Folder, role_of
from provision.migrate.identity import identify
from provision.migrate.imap import Meta
from provision.migrate.items import Item, split
from provision.migrate.sources import SourceFolder
from provision.migrate.spool import Listing
from provision.migrate.state import Known

FROM_LINE = re.compile(rb"^>*From ")
BARE_LF = re.compile(rb"(?<!\r)\n")
# Takeout labels that name a special folder, that are flags, or that are only views.
LABEL_FOLDERS = {"inbox": Folder("INBOX", "INBOX"), "sent": Folder("Sent", "Sent", "\\Sent"),
                 "drafts": Folder("Drafts", "Drafts", "\\Drafts"), "spam": Folder("Junk", "Spam", "\\Junk"),
                 "trash": Folder("Trash", "Trash", "\\Trash")}
LABEL_FLAGS = {"opened": "\\Seen", "starred": "\\Flagged"}
VIEWS = {"important", "unread", "archived", "chat"}
ARCHIVE = Folder("Archive", "Archive", "\\Archive")
MAILDIR_FLAGS = {"D": "\\Draft", "F": "\\Flagged", "R": "\\Answered", "S": "\\Seen", "T": "\\Deleted"}


@dataclass(frozen=True)
class Stored:
    """Where one message's bytes are: a whole file (Maildir) or a span of an mbox (escaped From lines)."""

    path: Path
    start: int = 0
    end: int = -1
    mbox: bool = False


def is_local(path: Path) -> bool:
    if path.is_file():
        with open(path, "rb") as stream:
            return stream.read(5) == b"From "
    return path.is_dir() and ((path / "cur").is_dir() or bool(_takeout_mboxes(path)))


def _takeout_mboxes(path: Path) -> list[Path]:
    return sorted(path.rglob("*.mbox"))


def _mbox_spans(path: Path) -> Iterator[tuple[int, int, bytes]]:
    """(start, end, the From line) of each message of an mbox (mboxo or mboxrd)."""
    start, separator = -1, b""
    position, previous_blank = 0, False
    with open(path, "rb") as stream:
        for line in stream:
            if line.startswith(b"From ") and (position == 0 or previous_blank):
                if start >= 0:
                    yield start, position, separator
                start, separator = position + len(line), line
            previous_blank = line in (b"\n", b"\r\n")
            position += len(line)
    if start >= 0:
        yield start, position, separator


def _mbox_bytes(stored: Stored) -> bytes:
    with open(stored.path, "rb") as stream:
        stream.seek(stored.start)
        data = stream.read(stored.end - stored.start)
    lines = data.splitlines(keepends=True)
    if lines and lines[-1] in (b"\n", b"\r\n"):
        lines.pop()  # the blank line mbox puts before the next From line
    # mboxrd and mboxo both escape "From " lines with one more ">": take one away
    return b"".join(line[1:] if FROM_LINE.match(line) and line.startswith(b">") else line for line in lines)


def _read(stored: Stored) -> bytes:
    """A message as IMAP carries it: local files end lines with LF, IMAP with CRLF (RFC 3501), and a
    server hands back CRLF whatever it was given; converted here, the hash is that of what arrives."""
    data = _mbox_bytes(stored) if stored.mbox else stored.path.read_bytes()
    return BARE_LF.sub(b"\r\n", data)


def _header(data: bytes, name: bytes) -> str | None:
    head = data.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    found = re.search(rb"^" + name + rb":[ \t]*(.*(?:\r?\n[ \t].*)*)", head, re.M | re.I)
    return re.sub(r"\s+", " ", found.group(1).decode("utf-8", "replace")).strip() if found else None


def _date(data: bytes, separator: bytes) -> datetime:
    """INTERNALDATE: the mbox From line's date, else the Date header, else now."""
    parts = separator.decode("ascii", "replace").split(None, 2)
    if len(parts) == 3:
        try:
            return datetime.strptime(parts[2].strip(), "%a %b %d %H:%M:%S %z %Y")
        except ValueError:
            try:
                return datetime.strptime(parts[2].strip(), "%a %b %d %H:%M:%S %Y").replace(tzinfo=UTC)
            except ValueError:
                pass
    header = _header(data, b"Date")
    if header:
        try:
            parsed = email.utils.parsedate_to_datetime(header)
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        except (TypeError, ValueError):
            pass
    return datetime.now(UTC)


class LocalMail:
    """A Source over local files: every message scanned (and hashed) once when the source is opened."""

    def __init__(self, path: Path, user: str):
        self.label = f"{user} from {path}"
        self._folders: dict[str, Folder] = {}
        self._messages: dict[str, list[tuple[Meta, Known, Stored]]] = {}
        if path.is_file():
            self._scan_mbox(path, gmail=False)
        elif (path / "cur").is_dir():
            self._scan_maildir(path)
        else:
            for mbox in _takeout_mboxes(path):
                self._scan_mbox(mbox, gmail=True)

    def _add(self, folder: Folder, data: bytes, stored: Stored, flags: tuple[str, ...],
             internaldate: datetime) -> None:
        self._folders.setdefault(folder.name, folder)
        listing = self._messages.setdefault(folder.name, [])
        known = identify(data)
        meta = Meta(len(listing) + 1, len(data), tuple(sorted(set(flags))), (), internaldate,
                    known.message_id)
        listing.append((meta, known, stored))

    def _scan_mbox(self, path: Path, gmail: bool) -> None:
        for start, end, separator in _mbox_spans(path):
            stored = Stored(path, start, end, mbox=True)
            data = _read(stored)
            when = _date(data, separator)
            if not gmail:
                self._add(Folder("INBOX", "INBOX"), data, stored, (), when)
                continue
            folders, flags = _labels(_header(data, b"X-Gmail-Labels") or "")
            for folder in folders:
                self._add(folder, data, stored, flags, when)

    def _scan_maildir(self, root: Path) -> None:
        for directory in [root, *sorted(item for item in root.iterdir() if item.name.startswith(".")
                                        and item.is_dir())]:
            name = "INBOX" if directory == root else "/".join(
                mutf7.decode(part) for part in directory.name[1:].split("."))
            role = role_of(name, None) if name != "INBOX" else None
            # a localized special folder (Gesendete Objekte) arrives as the target's own (Sent)
            folder = Folder(ROLES.get(role or "", name), directory.name, role)
            name = folder.name
            self._folders[name] = folder  # an empty folder moves too
            for sub in ("cur", "new"):
                for file in sorted((directory / sub).iterdir()) if (directory / sub).is_dir() else []:
                    info = file.name.partition(":2,")[2]
                    flags = tuple(MAILDIR_FLAGS[letter] for letter in info if letter in MAILDIR_FLAGS)
                    data = _read(Stored(file))
                    when = datetime.fromtimestamp(file.stat().st_mtime, UTC)
                    self._add(folder, data, Stored(file), flags, when)

    def folders(self) -> list[Folder]:
        return sorted(self._folders.values(), key=lambda folder: (folder.name != "INBOX", folder.name))

    def open(self, folder: Folder) -> SourceFolder:
        messages = self._messages.get(folder.name, [])
        return SourceFolder(folder, Listing.holding((meta, known) for meta, known, _ in messages))

    def bodies(self, folder: SourceFolder, metas: list[Meta]) -> Iterator[tuple[Meta, bytes]]:
        stored = {meta.uid: where for meta, _, where in self._messages[folder.folder.name]}
        for meta in metas:
            yield meta, _read(stored[meta.uid])

    def remember(self, folder: SourceFolder, found: list[tuple[int, Known]]) -> None:
        pass  # the files are hashed at every scan

    def reopen(self) -> None:
        pass

    def close(self) -> None:
        pass


def _labels(header: str) -> tuple[list[Folder], tuple[str, ...]]:
    """Folders and flags of a Takeout message from its X-Gmail-Labels."""
    folders: dict[str, Folder] = {}
    flags = []
    for label in (part.strip() for part in header.split(",")):
        key = label.lower()
        if not label or key in VIEWS or key.startswith("category "):
            continue
        if key in LABEL_FLAGS:
            flags.append(LABEL_FLAGS[key])
        elif key in LABEL_FOLDERS:
            folder = LABEL_FOLDERS[key]
            folders[folder.name] = folder
        else:
            folders[label] = Folder(label, label)
    return list(folders.values()) or [ARCHIVE], tuple(flags)


class LocalCollections:
    """The calendars (.ics) and address books (.vcf) of a Takeout folder; read only."""

    label = "local files"

    def __init__(self, path: Path):
        self._files: dict[tuple[str, str], list[Path]] = {}
        if path.is_dir():
            for file in sorted(path.rglob("*.ics")):
                self._files.setdefault(("calendar", file.stem), []).append(file)
            for file in sorted(path.rglob("*.vcf")):
                # Takeout keeps one folder per contact group; a lone file names its own book
                name = file.parent.name if file.parent != path else file.stem
                self._files.setdefault(("contacts", name), []).append(file)

    def collections(self) -> list[Collection]:
        return [Collection(kind, name) for kind, name in sorted(self._files)]

    def items(self, collection: Collection) -> list[Item]:
        return [item for file in self._files.get((collection.kind, collection.name), [])
                for item in split(file.read_bytes(), collection.kind)]

    def put(self, collection: Collection, items: list[Item]) -> None:
        raise AssertionError("local files are a source only")

    def close(self) -> None:
        pass

