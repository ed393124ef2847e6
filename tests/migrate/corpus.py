"""A generated mail corpus for migration tests and the benchmark, seeded into an IMAP account with plain
imaplib (not the code under test): nested and non-ASCII folders, a localized Sent folder, flags and
keywords, sizes from 1 KB to a few MB, 8-bit and malformed headers, messages without Message-ID, the same
Message-ID with different bytes, and the same bytes twice in one folder."""

from __future__ import annotations

import hashlib
import imaplib
import random
import re
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from provision import mutf7

# Archive-form name -> the provider's wire name (Dovecot with prefix "INBOX." and separator ".")
FOLDERS = {
    "INBOX": "INBOX",
    "Sent": "INBOX.Gesendete Objekte",  # no SPECIAL-USE at the provider: mapped by its German name
    "Drafts": "INBOX.Entwürfe",
    "Projekte/Übersicht 2024": "INBOX.Projekte.Übersicht 2024",
    "Projekte/Kunden & Partner/Ärger": "INBOX.Projekte.Kunden & Partner.Ärger",
}
KEYWORDS = ("$Forwarded", "$Label1", "Work", "NonJunk")
FLAG_SETS = ((), ("\\Seen",), ("\\Seen", "\\Answered"), ("\\Seen", "\\Flagged"), ("\\Draft",))


@dataclass(frozen=True)
class Message:
    folder: str  # archive-form name
    data: bytes
    flags: tuple[str, ...]
    keywords: tuple[str, ...]
    date: datetime

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def _body(rng: random.Random, size: int) -> bytes:
    line = b"".join(rng.choice([b"lorem ", b"ipsum ", b"dolor ", b"sit ", b"amet ", b"\xc3\xa4rger "])
                    for _ in range(12)).rstrip() + b"\r\n"
    return (line * (size // len(line) + 1))[:size]


def messages(user: str, count: int, seed: int = 1, max_size: int = 2 * 1024 * 1024) -> list[Message]:
    """count generated messages for user, plus the odd ones every mailbox has."""
    rng = random.Random(f"{user}/{seed}")
    names = list(FOLDERS)
    start = datetime(2021, 1, 1, tzinfo=UTC)
    found = []
    for number in range(count):
        folder = names[number % len(names)]
        size = 1024 if number % 7 else int(rng.uniform(1024, max_size))
        date = (start + timedelta(minutes=rng.randrange(2_000_000))).astimezone(
            timezone(timedelta(hours=rng.choice([-5, 0, 1, 2]))))
        tag = hashlib.md5(user.encode()).hexdigest()[:8]
        header = (f"Message-ID: <{number}.{seed}.{tag}@provider.test>\r\n"
                  f"From: Kollege {number} <k{number}@example.org>\r\nTo: {user}\r\n"
                  f"Subject: Nachricht {number}\r\nDate: {date.strftime('%a, %d %b %Y %H:%M:%S %z')}\r\n"
                  "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                  "Content-Transfer-Encoding: 8bit\r\n\r\n").encode()
        flags = rng.choice(FLAG_SETS) if folder != "Drafts" else ("\\Draft",)
        keywords = tuple(sorted(rng.sample(KEYWORDS, rng.randrange(3))))
        found.append(Message(folder, header + _body(rng, size), flags, keywords, date))
    return found + odd_ones(user)


def big_one(user: str, size: int = 25 * 1024 * 1024) -> Message:
    """A message of the size a provider still accepts (25 MB, as Gmail's and Microsoft 365's limits)."""
    header = (f"Message-ID: <big.{hashlib.md5(user.encode()).hexdigest()[:8]}@provider.test>\r\n"
              f"To: {user}\r\nSubject: Pläne, groß\r\n\r\n").encode()
    date = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
    return Message("INBOX", header + _body(random.Random(user), size), ("\\Seen",), (), date)


def odd_ones(user: str) -> list[Message]:
    date = datetime(2023, 3, 26, 1, 59, 59, tzinfo=timezone(timedelta(hours=-5, minutes=-30)))
    same = b"Message-ID: <same@provider.test>\r\nSubject: v%d\r\n\r\nversion %d\r\n"
    twice = Message("INBOX", b"Message-ID: <twice@provider.test>\r\nSubject: twice\r\n\r\nsame bytes\r\n",
                    ("\\Seen",), (), date)
    return [
        Message("INBOX", "Subject: Grüße aus Köln\r\nMessage-Id:\r\n <eight@exämple.com>\r\n\r\nÄÖÜ\r\n"
                .encode("latin-1"), ("\\Seen", "\\Answered"), ("$Forwarded",), date),
        Message("Sent", b"this line has no colon\r\nMessage-ID:<bad@x>\r\nSubject: \xff\xfe broken\r\n\r\n"
                b"body\r\n", ("\\Seen",), (), date),
        Message("Drafts", f"Subject: no id here\r\nTo: {user}\r\n\r\ndraft\r\n".encode(), ("\\Draft",), (),
                date),
        Message("Projekte/Übersicht 2024", same % (1, 1), ("\\Seen", "\\Deleted"), ("Work",), date),
        Message("Projekte/Übersicht 2024", same % (2, 2), (), (), date + timedelta(days=1)),
        twice, twice,
    ]


def imap_date(value: datetime) -> str:
    months = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    return f'"{value.day:02d}-{months[value.month - 1]}-{value.strftime("%Y %H:%M:%S %z")}"'


def connect(address: str, user: str, password: str, ca_file: str) -> imaplib.IMAP4_SSL:
    conn = imaplib.IMAP4_SSL(address, 993, ssl_context=ssl.create_default_context(cafile=ca_file), timeout=60)
    conn.login(user, password)
    return conn


def seed(conn: imaplib.IMAP4, corpus: list[Message], wires: dict[str, str] = FOLDERS) -> None:
    """Append the corpus with plain imaplib, one APPEND at a time."""
    for wire in {wires[message.folder] for message in corpus}:
        if wire != "INBOX":
            conn.create(quoted(wire))
    for message in corpus:
        flags = "(" + " ".join(message.flags + message.keywords) + ")"
        typ, data = conn.append(quoted(wires[message.folder]), flags, imap_date(message.date), message.data)
        assert typ == "OK", data


def quoted(name: str) -> str:
    return '"' + mutf7.encode(name).replace("\\", "\\\\").replace('"', '\\"') + '"'


def snapshot(conn: imaplib.IMAP4) -> dict[str, list[tuple[str, tuple[str, ...], float]]]:
    """Every folder's messages as sorted (sha256, flags and keywords, INTERNALDATE), read with imaplib."""
    typ, listing = conn.list('""', '"*"')
    assert typ == "OK"
    found: dict[str, list[tuple[str, tuple[str, ...], float]]] = {}
    for line in listing:
        text = line[0] + b'"' + line[1] + b'"' if isinstance(line, tuple) else line
        attributes, name = re.fullmatch(rb'\((.*?)\) (?:NIL|"(?:[^"\\]|\\.)*") "?(.*?)"?', text).groups()
        if b"\\Noselect" in attributes:
            continue
        name = name.decode()
        typ, _ = conn.select(f'"{name}"', readonly=True)
        assert typ == "OK", name
        typ, data = conn.uid("FETCH", "1:*", "(FLAGS INTERNALDATE BODY.PEEK[])")
        items: list[tuple[str, tuple[str, ...], float]] = []
        for entry in data:
            if isinstance(entry, tuple):
                meta = entry[0].decode()
                flags = tuple(sorted(meta.split("FLAGS (")[1].split(")")[0].split()))
                stamp = time.mktime(imaplib.Internaldate2tuple(meta.encode()))
                kept = tuple(flag for flag in flags if flag != "\\Recent")
                items.append((hashlib.sha256(entry[1]).hexdigest(), kept, stamp))
        found[mutf7.decode(name)] = sorted(items)
    return found


def iter_sizes(corpus: list[Message]) -> Iterator[int]:
    return (len(message.data) for message in corpus)
