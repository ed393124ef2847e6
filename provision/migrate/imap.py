"""An IMAP account as the copier needs it, on top of imaplib: log in (password or XOAUTH2), list folders
with their roles, list a folder's messages cheaply, fetch bodies in batches, append in batches
(MULTIAPPEND with LITERAL+ where offered), and ride out throttling by waiting instead of failing."""

from __future__ import annotations

import contextlib
import imaplib
import re
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from provision.archive import maildir
from provision.migrate import AccountError, wire
from provision.migrate.folders import Listed

TIMEOUT = 60
LISTING_BATCH = 2000  # UIDs per listing FETCH: bounded answers for folders of any size
THROTTLE_WORDS = re.compile(rb"throttl|suggested backoff|\[LIMIT\]|\[UNAVAILABLE\]|too many|try again", re.I)
BACKOFF = re.compile(rb"Suggested Backoff Time:\s*(\d+)", re.I)
MAX_WAIT = 600.0
_ATOM = re.compile(r"[^\x00-\x20\x7f()\\{%*\"\]]+")  # an IMAP keyword (RFC 3501 flag-keyword)
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class Credentials:
    user: str
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)  # an OAuth2 access token, sent with XOAUTH2


@dataclass(frozen=True)
class Meta:
    """What a listing tells of one message, before its bytes are fetched."""

    uid: int
    size: int
    flags: tuple[str, ...]
    keywords: tuple[str, ...]
    internaldate: datetime
    message_id: str | None
    labels: tuple[str, ...] = ()  # Gmail's X-GM-LABELS


@dataclass
class Throttle:
    """How often and how long a server made us wait; reported, never a failure."""

    waits: int = 0
    seconds: float = 0.0
    notify: Callable[[str], None] = lambda _: None

    def wait(self, label: str, answer: bytes) -> None:
        found = BACKOFF.search(answer)
        delay = min(MAX_WAIT, int(found.group(1)) / 1000 if found else 2.0 * 2 ** min(self.waits, 6))
        self.waits += 1
        self.seconds += delay
        self.notify(f"{label}: the server throttles; waiting {delay:.0f} s")
        time.sleep(delay)


def tls_context(ca_file: str | None, insecure: bool) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=ca_file)
    if insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class ImapAccount:
    """One logged-in connection; `connect` makes a fresh imaplib object (TLS socket or SSH channel)."""

    def __init__(self, label: str, connect: Callable[[], imaplib.IMAP4],
                 credentials: Callable[[], Credentials] | None, throttle: Throttle):
        self.label = label
        self._connect = connect
        self.credentials = credentials
        self.throttle = throttle
        self.conn: imaplib.IMAP4 | None = None
        self.capabilities: frozenset[str] = frozenset()
        self.selected: str | None = None
        self.delimiter = "/"
        self.prefix = ""

    # -- connection ---------------------------------------------------------------------------------
    def open(self) -> ImapAccount:
        try:
            self.conn = self._connect()
        except ssl.SSLCertVerificationError as bad:
            raise AccountError(f"{self.label}: the server's certificate is not trusted: {bad.verify_message}",
                               "trust a private CA with --ca-file; only --insecure skips the check") from None
        except (OSError, imaplib.IMAP4.error) as bad:
            raise AccountError(f"{self.label}: cannot connect: {bad}") from None
        if self.conn.state == "NONAUTH":
            self._login()
        self.capabilities = self._refresh_capabilities()  # they change once logged in
        self._namespace()
        self.selected = None
        return self

    def _login(self) -> None:
        assert self.conn is not None and self.credentials is not None
        credentials = self.credentials()  # read again at every login: a token file may have been renewed
        user, token = credentials.user, credentials.token
        try:
            if token:
                # The token is sent once: a refusal comes as an error challenge, which XOAUTH2 wants
                # answered with an empty line, not with the token again.
                answers = iter([f"user={user}\x01auth=Bearer {token}\x01\x01".encode()])
                self.conn.authenticate("XOAUTH2", lambda _: next(answers, b""))
            else:
                self.conn.login(user, credentials.password or "")
        except imaplib.IMAP4.error as bad:
            self.close()
            reason = str(bad).replace(credentials.password or "\x00", "***")
            hint = ("renew the OAuth2 token in its file: it may have expired or be another user's" if token
                    else "check the user name and password for this account")
            raise AccountError(f"{self.label}: login refused: {reason}", hint) from None

    def _refresh_capabilities(self) -> frozenset[str]:
        assert self.conn is not None
        typ, data = self.conn.capability()
        return frozenset(str(data[-1], "ascii").upper().split()) if typ == "OK" else frozenset()

    def _namespace(self) -> None:
        assert self.conn is not None
        if "NAMESPACE" in self.capabilities:
            typ, data = self.conn.namespace()
            found = wire.values(data) if typ == "OK" else []
            if found and isinstance(found[0], list) and found[0] and isinstance(found[0][0], list):
                self.prefix, self.delimiter = str(found[0][0][0] or ""), str(found[0][0][1] or "/")
                return
        typ, data = self.conn.list('""', '""')
        found = wire.values(data) if typ == "OK" else []
        if len(found) >= 2 and found[1]:
            self.delimiter = str(found[1])

    def close(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(OSError, imaplib.IMAP4.error, EOFError):
                self.conn.logout()
            self.conn = None

    def reopen(self) -> None:
        """After a cut connection: log in again, with the credentials (or refreshed token) given."""
        self.close()
        self.open()

    # -- commands, throttling ridden out ------------------------------------------------------------
    def _run(self, name: str, *args: Any) -> tuple[str, list[Any]]:
        assert self.conn is not None
        return self._retry(lambda: getattr(self.conn, name)(*args))

    def _retry(self, command: Callable[[], tuple[str, list[Any]]]) -> tuple[str, list[Any]]:
        while True:
            typ, data = command()
            answer = _bytes(data)
            if typ == "NO" and THROTTLE_WORDS.search(answer):
                self.throttle.wait(self.label, answer)
                continue
            return typ, data

    def _uid(self, command: str, *args: str) -> list[Any]:
        typ, data = self._run("uid", command, *args)
        if typ != "OK":
            raise AccountError(f"{self.label}: UID {command} failed: {_text(data)}")
        return data

    # -- folders ------------------------------------------------------------------------------------
    def folders(self) -> list[Listed]:
        extended = {"LIST-EXTENDED", "SPECIAL-USE"} <= self.capabilities
        args = ('""', '"*" RETURN (SPECIAL-USE)') if extended else ('""', '"*"')
        typ, data = self._run("list", *args)
        if typ != "OK":
            raise AccountError(f"{self.label}: LIST failed: {_text(data)}")
        found = wire.values([item for item in data if item is not None])
        listed = []
        for position in range(0, len(found) - 2, 3):
            attributes, delimiter, name = found[position:position + 3]
            name = name.decode("utf-8", "replace") if isinstance(name, bytes) else str(name)
            listed.append(Listed(name, delimiter, frozenset(map(str, attributes))))
        return listed

    def select(self, wire_name: str, readonly: bool) -> tuple[int, int]:
        """(UIDVALIDITY, messages) of the folder, now selected."""
        assert self.conn is not None
        typ, data = self._run("select", wire.quote(wire_name), readonly)
        if typ != "OK":
            raise AccountError(f"{self.label}: cannot open folder {wire_name}: {_text(data)}")
        validity = self.conn.untagged_responses.get("UIDVALIDITY", [b"0"])[-1]
        self.selected = wire_name
        return int(validity), int(data[-1] or 0)

    def create(self, wire_name: str) -> None:
        typ, data = self._run("create", wire.quote(wire_name))
        # Some servers say NO without the ALREADYEXISTS code when it exists: look before failing.
        exists = typ != "OK" and (b"ALREADYEXISTS" in _bytes(data)
                                  or wire_name in {listed.wire for listed in self.folders()})
        if typ != "OK" and not exists:
            raise AccountError(f"{self.label}: cannot create folder {wire_name}: {_text(data)}")
        self._run("subscribe", wire.quote(wire_name))

    # -- messages -----------------------------------------------------------------------------------
    def uids(self) -> list[int]:
        data = self._uid("SEARCH", "ALL")
        return sorted(int(uid) for uid in b" ".join(item for item in data if item).split())

    def listing(self, gmail_labels: bool = False) -> Iterator[Meta]:
        """Every message of the selected folder: UID, size, flags, date, Message-ID, no bodies."""
        items = "(UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]" + (
            " X-GM-LABELS)" if gmail_labels else ")")
        everything = self.uids()
        for start in range(0, len(everything), LISTING_BATCH):
            batch = everything[start:start + LISTING_BATCH]
            for item in wire.fetch_items(self._uid("FETCH", uid_set(batch), items)):
                yield _meta(item)

    def bodies(self, uids: list[int]) -> Iterator[tuple[int, bytes]]:
        """The exact bytes of these messages (one batch, bounded by the caller)."""
        if not uids:
            return
        for item in wire.fetch_items(self._uid("FETCH", uid_set(uids), "(UID BODY.PEEK[])")):
            body = item.get("BODY[]")
            if "UID" in item and isinstance(body, bytes):
                yield int(item["UID"]), body

    def append(self, wire_name: str, messages: list[tuple[Meta, bytes]]) -> list[int | None]:
        """Append messages to a folder, their bytes exactly as given; returns the new UIDs where the
        server tells them (UIDPLUS). imaplib's own append is not used: it rewrites bare CR and LF."""
        if "LITERAL+" not in self.capabilities:
            return [uid for message in messages for uid in self._append_one(wire_name, *message)]
        if "MULTIAPPEND" in self.capabilities and len(messages) > 1:
            try:
                return self._append_literals(wire_name, messages)
            except AccountError:
                pass  # one message refused fails the whole command: find it by appending one by one
        return [uid for message in messages for uid in self._append_literals(wire_name, [message])]

    def _append_one(self, wire_name: str, meta: Meta, data: bytes) -> list[int | None]:
        """APPEND with a synchronizing literal, for servers without LITERAL+."""
        conn = self.conn
        assert conn is not None

        def command() -> tuple[str, list[Any]]:
            conn.literal = data  # sent by imaplib after the server's go-ahead, as it is
            return conn._simple_command("APPEND", wire.quote(wire_name), _flag_list(meta), _date(meta))

        typ, answer = self._retry(command)
        if typ != "OK":
            raise AccountError(f"{self.label}: the server refused message {meta.message_id or meta.uid} "
                               f"in {wire_name}: {_text(answer)}")
        return _appended_uids(answer, 1)

    def _append_literals(self, wire_name: str, messages: list[tuple[Meta, bytes]]) -> list[int | None]:
        """One APPEND command carrying every message as a LITERAL+ literal: one round trip per batch."""
        conn = self.conn
        assert conn is not None

        def command() -> tuple[str, list[Any]]:
            tag = conn._new_tag()  # imaplib has no MULTIAPPEND; its own tag bookkeeping is reused
            parts = [tag, b" APPEND ", wire.quote(wire_name).encode()]
            for meta, data in messages:
                parts += [f" {_flag_list(meta)} {_date(meta)} {{{len(data)}+}}\r\n".encode(), data]
            parts.append(b"\r\n")
            conn.tagged_commands[tag] = None
            conn.send(b"".join(parts))
            return conn._command_complete("APPEND", tag)

        typ, answer = self._retry(command)
        if typ != "OK":
            what = f"message {messages[0][0].message_id or messages[0][0].uid}" if len(messages) == 1 else \
                f"{len(messages)} messages"
            raise AccountError(f"{self.label}: the server refused {what} in {wire_name}: {_text(answer)}")
        return _appended_uids(answer, len(messages))


def uid_set(uids: list[int]) -> str:
    """A compact UID set: runs written as first:last."""
    runs: list[str] = []
    start = previous = None
    for uid in sorted(uids):
        if previous is not None and uid == previous + 1:
            previous = uid
            continue
        if start is not None:
            runs.append(str(start) if start == previous else f"{start}:{previous}")
        start = previous = uid
    if start is not None:
        runs.append(str(start) if start == previous else f"{start}:{previous}")
    return ",".join(runs)


def _appended_uids(answer: list[Any], count: int) -> list[int | None]:
    found = re.search(rb"\[APPENDUID \d+ ([\d:,]+)\]", _bytes(answer))
    if not found:
        return [None] * count
    uids: list[int | None] = []
    for run in found.group(1).decode().split(","):
        first, _, last = run.partition(":")
        uids += list(range(int(first), int(last or first) + 1))
    return uids if len(uids) == count else [None] * count


def _meta(item: dict[str, Any]) -> Meta:
    flags = [str(flag) for flag in item.get("FLAGS") or []]
    system = [flag for flag in flags if flag.startswith("\\")]
    keywords = [flag for flag in flags if not flag.startswith("\\") and _ATOM.fullmatch(flag)]
    header = next((value for key, value in item.items() if key.startswith("BODY[HEADER")), None)
    return Meta(
        uid=int(item["UID"]), size=int(item.get("RFC822.SIZE") or 0),
        flags=tuple(maildir.normalise_flags(flag for flag in system if flag.lower() in _SYSTEM)),
        keywords=tuple(sorted(set(keywords))), internaldate=parse_date(str(item.get("INTERNALDATE"))),
        message_id=maildir.message_id(header) if isinstance(header, bytes) else None,
        labels=tuple(str(label) for label in item.get("X-GM-LABELS") or []),
    )


_SYSTEM = {flag.lower() for flag in maildir.FLAG_LETTERS}


def parse_date(text: str) -> datetime:
    """An IMAP INTERNALDATE ("26-Mar-2023 01:59:59 -0530"), offset kept; month names are English."""
    day, month, rest = text.strip().split("-", 2)
    number = _MONTHS.index(month.title()) + 1
    return datetime.strptime(f"{day.zfill(2)}-{number:02d}-{rest}", "%d-%m-%Y %H:%M:%S %z")


def _date(meta: Meta) -> str:
    value = meta.internaldate
    return f'"{value.day:02d}-{_MONTHS[value.month - 1]}-{value.strftime("%Y %H:%M:%S %z")}"'


def _flag_list(meta: Meta) -> str:
    return "(" + " ".join([*meta.flags, *meta.keywords]) + ")"


def _bytes(data: list[Any]) -> bytes:
    return b" ".join(item for item in data if isinstance(item, bytes))


def _text(data: list[Any]) -> str:
    return " ".join(item.decode("utf-8", "replace") for item in data if isinstance(item, bytes))[:300]


def tcp_ssl(host: str, port: int, context: ssl.SSLContext) -> Callable[[], imaplib.IMAP4]:
    def connect() -> imaplib.IMAP4:
        return imaplib.IMAP4_SSL(host, port, ssl_context=context, timeout=TIMEOUT)
    return connect

