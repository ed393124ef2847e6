"""Messages as Maildir files: streamed into tmp/, hashed on the way, then renamed into cur/.

File names are `<INTERNALDATE as Unix time>.<first 32 hex digits of SHA-256>.archive,S=<size>:2,<flags>`:
unique within a folder because a folder holds given bytes once, and readable by Dovecot, which takes the
flags from the letters after ':2,' and the size from ',S='.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from provision.archive import ArchiveError

# IMAP system flag -> Maildir info letter (the cr.yp.to Maildir specification; T is "trashed").
FLAG_LETTERS = {"\\Answered": "R", "\\Deleted": "T", "\\Draft": "D", "\\Flagged": "F", "\\Seen": "S"}
_CANONICAL = {flag.lower(): flag for flag in FLAG_LETTERS}
HEADER_LIMIT = 256 * 1024  # look for Message-ID no further than this into a message
_MESSAGE_ID = re.compile(rb"^message-id:[ \t]*(.*(?:\r?\n[ \t].*)*)", re.IGNORECASE | re.MULTILINE)
_KEYWORD = re.compile(r"[^\x00-\x20\x7f()\\{%*\"\]]+")  # an IMAP atom (RFC 3501 flag-keyword)
SUBDIRS = ("cur", "new", "tmp")


def normalise_flags(flags: Iterable[str]) -> list[str]:
    """System flags in canonical spelling, sorted; \\Recent is per session and not kept."""
    result = set()
    for flag in flags:
        if flag.lower() == "\\recent":
            continue
        if flag.lower() not in _CANONICAL:
            raise ArchiveError(f"unknown system flag {flag!r}")
        result.add(_CANONICAL[flag.lower()])
    return sorted(result)


def normalise_keywords(keywords: Iterable[str]) -> list[str]:
    result = set()
    for keyword in keywords:
        if not _KEYWORD.fullmatch(keyword):
            raise ArchiveError(f"keyword {keyword!r} is not an IMAP atom")
        result.add(keyword)
    return sorted(result)


def info_letters(flags: Iterable[str]) -> str:
    return "".join(sorted(FLAG_LETTERS[flag] for flag in flags))


def letters_in(file_name: str) -> str:
    """The standard flag letters of a Maildir file name (keyword letters a-z are not flags)."""
    _, separator, info = file_name.partition(":2,")
    return "".join(sorted(letter for letter in info if letter.isupper())) if separator else ""


def file_name(internaldate: datetime, sha256: str, size: int, flags: Iterable[str]) -> str:
    return f"{int(internaldate.timestamp())}.{sha256[:32]}.archive,S={size}:2,{info_letters(flags)}"


def make_maildir(path: Path) -> None:
    for sub in SUBDIRS:
        (path / sub).mkdir(parents=True, exist_ok=True)


@dataclass(frozen=True)
class Pending:
    """A message written to tmp/ and hashed, not yet in the folder."""

    tmp: Path
    size: int
    sha256: str
    message_id: str | None


def receive(maildir: Path, chunks: Iterable[bytes]) -> Pending:
    """Stream chunks into a new file in maildir/tmp, hashing as they pass; never holds the message."""
    digest = hashlib.sha256()
    header = _HeaderScan()
    size = 0
    handle, name = tempfile.mkstemp(dir=maildir / "tmp", prefix=f"{os.getpid()}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out:
            for chunk in chunks:
                out.write(chunk)
                digest.update(chunk)
                header.feed(chunk)
                size += len(chunk)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        os.unlink(name)
        raise
    return Pending(Path(name), size, digest.hexdigest(), header.message_id())


def commit(pending: Pending, maildir: Path, name: str, internaldate: datetime) -> None:
    """Move a received message into cur/ under its final name, its mtime being the INTERNALDATE."""
    stamp = internaldate.timestamp()
    os.utime(pending.tmp, (stamp, stamp))
    os.rename(pending.tmp, maildir / "cur" / name)
    sync_directory(maildir / "cur")


def sync_directory(path: Path) -> None:
    """Make a rename in path durable before the index claims the file exists."""
    handle = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


class _HeaderScan:
    """Keeps the start of a message until its header ends, to read the Message-ID from it."""

    def __init__(self) -> None:
        self.head = b""
        self.done = False

    def feed(self, chunk: bytes) -> None:
        if self.done:
            return
        self.head += chunk[: HEADER_LIMIT - len(self.head)]
        end = re.search(rb"\r?\n\r?\n", self.head)
        if end:
            self.head = self.head[: end.start() + 1]
        self.done = bool(end) or len(self.head) >= HEADER_LIMIT

    def message_id(self) -> str | None:
        return message_id(self.head)


def message_id(head: bytes) -> str | None:
    """The first Message-ID of a message's header (given the header or the whole message), unfolded,
    whitespace runs made one space, invalid UTF-8 as U+FFFD; None when there is none."""
    end = re.search(rb"\r?\n\r?\n", head[:HEADER_LIMIT])
    head = head[: end.start() + 1] if end else head[:HEADER_LIMIT]
    if head.startswith((b"\n", b"\r\n")):  # no header at all
        return None
    found = _MESSAGE_ID.search(head)
    if not found:
        return None
    value = b" ".join(found.group(1).split()).decode("utf-8", errors="replace")
    return value or None
