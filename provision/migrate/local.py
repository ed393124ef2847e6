"""Local sources: a Google Takeout folder (mbox with X-Gmail-Labels, .ics calendars, .vcf address books),
a plain mbox file, a Maildir. One user each: the address they belong to comes from --users.

Takeout writes every message once, with its labels in X-Gmail-Labels: each label becomes a folder (the
message lands once in each, as Gmail's IMAP shows it), "Opened", "Starred" and "Unread" become flags,
Gmail's views (Important, categories) are not folders, and a message with no folder label goes to
Archive. The same bytes twice in a folder (a message in two Takeout files) are kept once."""

from __future__ import annotations

import email.utils
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from provision import files, mutf7
from provision.errors import ProblemsError
from provision.migrate import AccountError
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
    """Where one message's bytes are: a whole file (Maildir) or a span of an mbox (escaped From lines);
    a file beneath the source's root (relative), or the root itself (an mbox named on the command line)."""

    root: Path
    relative: Path | None = None
    start: int = 0
    end: int = -1
    mbox: bool = False

    def open(self) -> BinaryIO:
        """The file, reached without following a link even if one was put there after the scan."""
        try:
            descriptor = (files.open_input(self.root) if self.relative is None
                          else files.open_beneath(self.root, self.relative))
        except files.Refused as refused:
            raise AccountError(refused.message, "the source changed while it was read: nothing more "
                                                "is read from it") from None
        return os.fdopen(descriptor, "rb")


def is_local(path: Path) -> bool:
    if path.is_file():
        with os.fdopen(files.open_input(path), "rb") as stream:
            return stream.read(5) == b"From "
    return path.is_dir() and ((path / "cur").is_dir() or any(file.suffix == ".mbox"
                                                             for file in files.walk(path)[0]))


def refuse_links(path: Path) -> None:
    """A source tree with a symbolic link or a special file in it is refused whole, before anything is
    copied: a link in a customer's export could point at any file the controller can read."""
    if files.not_a_link(path).is_dir():
        problems = files.walk(path)[1]
        if problems:
            raise ProblemsError(f"{path}: {len(problems)} links or special files; nothing was copied "
                                "(remove them, or copy the export without them)", problems)
    else:
        os.close(files.open_input(path))


def _mbox_spans(stored: Stored) -> Iterator[tuple[int, int, bytes]]:
    """(start, end, the From line) of each message of an mbox (mboxo or mboxrd)."""
    start, separator = -1, b""
    position, previous_blank = 0, False
    with stored.open() as stream:
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
    with stored.open() as stream:
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
    data = _mbox_bytes(stored) if stored.mbox else _whole(stored)
    return BARE_LF.sub(b"\r\n", data)


def _whole(stored: Stored) -> bytes:
    with stored.open() as stream:
        return stream.read()


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
        if not path.is_dir():
            self._scan_mbox(Stored(path), gmail=False)
            return
        found, problems = files.walk(path)
        if problems:  # refused before the run (refuse_links); here if the tree changed since
            raise AccountError(problems[0], "the source changed while it was read: nothing is copied")
        if (path / "cur").is_dir():
            self._scan_maildir(path, found)
        else:
            for mbox in (file for file in found if file.suffix == ".mbox"):
                self._scan_mbox(Stored(path, mbox), gmail=True)

    def _add(self, folder: Folder, data: bytes, stored: Stored, flags: tuple[str, ...],
             internaldate: datetime) -> None:
        self._folders.setdefault(folder.name, folder)
        listing = self._messages.setdefault(folder.name, [])
        known = identify(data)
        meta = Meta(len(listing) + 1, len(data), tuple(sorted(set(flags))), (), internaldate,
                    known.message_id)
        listing.append((meta, known, stored))

    def _scan_mbox(self, file: Stored, gmail: bool) -> None:
        for start, end, separator in _mbox_spans(file):
            stored = Stored(file.root, file.relative, start, end, mbox=True)
            data = _read(stored)
            when = _date(data, separator)
            if not gmail:
                self._add(Folder("INBOX", "INBOX"), data, stored, (), when)
                continue
            folders, flags = _labels(_header(data, b"X-Gmail-Labels") or "")
            for folder in folders:
                self._add(folder, data, stored, flags, when)

    def _scan_maildir(self, root: Path, found: list[Path]) -> None:
        """found: the regular files beneath root (files.walk), so nothing here follows a link."""
        folders = sorted(item.name for item in root.iterdir() if item.name.startswith(".")
                         and item.is_dir() and not item.is_symlink())
        for directory in ["", *folders]:
            name = "INBOX" if not directory else "/".join(
                mutf7.decode(part) for part in directory[1:].split("."))
            role = role_of(name, None) if name != "INBOX" else None
            # a localized special folder (Gesendete Objekte) arrives as the target's own (Sent)
            folder = Folder(ROLES.get(role or "", name), directory or root.name, role)
            name = folder.name
            self._folders[name] = folder  # an empty folder moves too
            for file in found:
                if file.parent not in (Path(directory, "cur"), Path(directory, "new")):
                    continue
                info = file.name.partition(":2,")[2]
                flags = tuple(MAILDIR_FLAGS[letter] for letter in info if letter in MAILDIR_FLAGS)
                stored = Stored(root, file)
                with stored.open() as stream:
                    when = datetime.fromtimestamp(os.fstat(stream.fileno()).st_mtime, UTC)
                self._add(folder, _read(stored), stored, flags, when)

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
        self._files: dict[tuple[str, str], list[Stored]] = {}
        found = files.walk(path)[0] if path.is_dir() and not path.is_symlink() else []
        for file in found:
            if file.suffix == ".ics":
                self._files.setdefault(("calendar", file.stem), []).append(Stored(path, file))
        for file in found:
            if file.suffix == ".vcf":
                # Takeout keeps one folder per contact group; a lone file names its own book
                name = file.parent.name if file.parent != Path() else file.stem
                self._files.setdefault(("contacts", name), []).append(Stored(path, file))

    def collections(self) -> list[Collection]:
        return [Collection(kind, name) for kind, name in sorted(self._files)]

    def items(self, collection: Collection) -> list[Item]:
        return [item for file in self._files.get((collection.kind, collection.name), [])
                for item in split(_whole(file), collection.kind)]

    def put(self, collection: Collection, items: list[Item]) -> None:
        raise AssertionError("local files are a source only")

    def close(self) -> None:
        pass

