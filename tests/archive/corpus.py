"""A small generated mailbox that exercises what real exports meet: odd folder names, 8-bit and broken
headers, missing and shared Message-IDs, flags and keywords, and one large message sent in pieces."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from provision.archive.writer import ArchiveWriter

USER = "anna.müller@example.com"
DATE = datetime(2023, 3, 26, 1, 59, 59, tzinfo=timezone(timedelta(hours=-5, minutes=-30)))
BIG = 5 * 1024 * 1024
CHUNK = 64 * 1024


@dataclass(frozen=True)
class Sample:
    folder: str
    data: bytes
    flags: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    date: datetime = DATE
    message_id: str | None = None
    pieces: int = 1  # how many chunks the writer gets

    def chunks(self) -> Iterator[bytes]:
        size = -(-len(self.data) // self.pieces)
        for start in range(0, len(self.data), size):
            yield self.data[start:start + size]

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def _big() -> bytes:
    header = b"Message-ID: <big@example.com>\r\nSubject: attachment\r\n\r\n"
    line = b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0123456789abcdefghijklmnopqrstu\r\n"
    return header + line * ((BIG - len(header)) // len(line))


def samples(big: bool = True) -> list[Sample]:
    found = [
        Sample("INBOX", b"Message-ID: <one@example.com>\r\nFrom: a@example.com\r\nSubject: hello\r\n\r\n"
               b"Hi\r\n",
               ("\\Seen",), message_id="<one@example.com>"),
        Sample("INBOX", "Subject: Grüße aus Köln\r\nMessage-Id:\r\n <eight@exämple.com>\r\n\r\nÄÖÜ\r\n"
               .encode("latin-1", errors="replace"), ("\\Seen", "\\Answered", "\\Flagged"),
               ("$Forwarded", "Work"), date=DATE + timedelta(days=1), message_id="<eight@ex\ufffdmple.com>"),
        Sample("Sent", b"From a@b Mon Jan  1 00:00:00 2024\nthis line has no colon\nMessage-ID:<bad@x>\n"
               b"Subject: \xff\xfe broken\n\nbody without CRLF", ("\\Seen",), message_id="<bad@x>"),
        Sample("Drafts", b"Subject: no id here\r\nTo: b@example.com\r\n\r\ndraft\r\n", ("\\Draft",)),
        Sample("Gesendete Objekte/Übersicht", b"Message-ID: <same@example.com>\r\nSubject: v1\r\n\r\n"
               b"first\r\n",
               ("\\Seen", "\\Deleted"), ("$Junk",), message_id="<same@example.com>"),
        Sample("Gesendete Objekte/Übersicht", b"Message-ID: <same@example.com>\r\nSubject: v2\r\n\r\n"
               b"second\r\n",
               ("\\Seen",), message_id="<same@example.com>"),
        Sample("Archiv.2023/Q1 & Q2/..", b"Message-ID: <dots@example.com>\r\n\r\nx\r\n",
               message_id="<dots@example.com>", date=datetime(1999, 12, 31, 23, 59, 59, tzinfo=UTC)),
    ]
    if big:
        found.append(Sample("Archiv.2023/Q1 & Q2/..", _big(), ("\\Seen",), message_id="<big@example.com>",
                            pieces=BIG // CHUNK))
    return found


ICS = (b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:1\r\nBEGIN:VALARM\r\nEND:VALARM\r\n"
       b"END:VEVENT\r\nBEGIN:VEVENT\r\nUID:2\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
TASKS = b"BEGIN:VCALENDAR\r\nBEGIN:VTODO\r\nUID:t\r\nEND:VTODO\r\nEND:VCALENDAR\r\n"
VCF = b"BEGIN:VCARD\r\nVERSION:4.0\r\nFN:B\xc3\xa4r\r\nEND:VCARD\r\nbegin:vcard\r\nFN:x\r\nend:vcard\r\n"
SIEVE = b'require "fileinto";\r\nif header :contains "subject" "x" { fileinto "Sent"; }\r\n'


@dataclass
class Built:
    root: Path
    samples: list[Sample] = field(default_factory=list)


def write_corpus(root: Path, big: bool = True) -> Built:
    """A finished archive holding the samples, two collections, an address book, Sieve and directory."""
    writer = ArchiveWriter(root, {"kind": "test", "host": "imap.example.com"})
    user = writer.user(USER, "Anna Müller")
    user.add_folder("Sent", special_use="\\Sent", uidvalidity=7, source_name="INBOX.Sent")
    built = Built(root, samples(big))
    for sample in built.samples:
        user.add_message(sample.folder, sample.chunks(), internaldate=sample.date, flags=sample.flags,
                         keywords=sample.keywords)
    user.add_collection("calendar", "Work/Team", [ICS[:20], ICS[20:]], displayname="Team", color="#ff0000")
    user.add_collection("tasks", "Aufgaben", [TASKS])
    user.add_collection("contacts", "Kontakte", [VCF])
    user.add_sieve("main", [SIEVE], active=True)
    writer.user("bob@example.com").add_message("INBOX", [b"Subject: b\r\n\r\nb\r\n"], internaldate=DATE)
    writer.write_table("users", [{"email": USER, "display_name": "Anna Müller", "enabled": "true"},
                                 {"email": "bob@example.com", "display_name": "Bob"}])
    writer.write_table("aliases", [{"alias": "info@example.com", "target": USER}])
    writer.write_ldif([b"dn: uid=anna,ou=people,dc=example,dc=com\nuid: anna\n"])
    writer.finish()
    return built
