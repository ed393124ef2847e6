"""A ManageSieve client (RFC 5804): list, read, check, store and activate a person's Sieve scripts.

It speaks over any byte stream: a TCP connection to port 4190 upgraded with STARTTLS and logged in with
AUTHENTICATE (PLAIN, or XOAUTH2 with a token: the credentials the IMAP side uses), or an SSH channel to
`doveadm exec managesieve -u USER` on our own server, already logged in as IMAP over SSH is."""

from __future__ import annotations

import base64
import re
import socket
import ssl
from collections.abc import Callable
from typing import Protocol

from provision.migrate import AccountError
from provision.migrate.imap import Credentials

PORT = 4190
TIMEOUT = 30
_ATOM = re.compile(rb"[^\s()\"{}]+")
_LITERAL = re.compile(rb"\{(\d+)\+?\}\r?\n")
_TEMPORARY = re.compile(r"^\S+\.tmp: ")

Token = bytes | str  # a string (quoted or literal) is bytes; an atom, "(" and ")" are str


class Reader(Protocol):
    """A buffered binary stream: a socket's or an SSH channel's makefile("rb")."""

    def readline(self) -> bytes: ...

    def read(self, size: int) -> bytes: ...


class Refused(Exception):
    """The server answered NO: the reason is its own words."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class Broken(AccountError):
    """The connection failed or the server spoke something else than ManageSieve."""


class ManageSieve:
    """One logged-in ManageSieve session."""

    def __init__(self, label: str, stream: Reader, send: Callable[[bytes], None],
                 close: Callable[[], None]):
        self.label = label
        self._stream, self._send, self._close = stream, send, close
        self.capabilities: dict[str, str] = {}

    # -- opening --------------------------------------------------------------------------------------
    @classmethod
    def tcp(cls, label: str, host: str, port: int, context: ssl.SSLContext,
            credentials: Callable[[], Credentials]) -> ManageSieve:
        """STARTTLS (required: a password never goes in the clear), then AUTHENTICATE. OSError when
        nothing listens: the caller decides whether that means "no ManageSieve here"."""
        raw = socket.create_connection((host, port), timeout=TIMEOUT)
        client = cls(label, raw.makefile("rb"), raw.sendall, raw.close)
        try:
            client._greeting()
            if "STARTTLS" not in client.capabilities:
                raise Broken(f"{label}: the ManageSieve server offers no STARTTLS; the password is not sent")
            client._expect(client._command(b"STARTTLS"))
            try:
                secure = context.wrap_socket(raw, server_hostname=host)
            except ssl.SSLCertVerificationError as bad:
                raise AccountError(f"{label}: the server's certificate is not trusted: {bad.verify_message}",
                                   "trust a private CA with --ca-file; only --insecure skips the check"
                                   ) from None
            client._stream, client._send, client._close = secure.makefile("rb"), secure.sendall, secure.close
            client._greeting()  # capabilities again, now protected (RFC 5804 2.2)
            client._authenticate(credentials())
        except BaseException:
            client.close()
            raise
        return client

    @classmethod
    def preauthenticated(cls, label: str, stream: Reader, send: Callable[[bytes], None],
                         close: Callable[[], None]) -> ManageSieve:
        """A session that starts logged in (`doveadm exec managesieve`), which sends no greeting: CAPABILITY
        asks for what a greeting would tell."""
        client = cls(label, stream, send, close)
        try:
            client._write(b"CAPABILITY\r\n")
            client._greeting()
        except BaseException:
            client.close()
            raise
        return client

    def _greeting(self) -> None:
        lines, (status, reason) = self._response()
        if status != "OK":
            raise Broken(f"{self.label}: the ManageSieve server refused the session: {reason}")
        self.capabilities = {_text(line[0]).upper(): _text(line[1]) if len(line) > 1 else ""
                             for line in lines if line and isinstance(line[0], bytes)}

    def _authenticate(self, credentials: Credentials) -> None:
        if credentials.token:
            mechanism = "XOAUTH2"
            answer = f"user={credentials.user}\x01auth=Bearer {credentials.token}\x01\x01"
        else:
            mechanism, answer = "PLAIN", f"\x00{credentials.user}\x00{credentials.password or ''}"
        offered = self.capabilities.get("SASL", "").upper().split()
        if mechanism not in offered:
            raise AccountError(f"{self.label}: the ManageSieve server does not offer {mechanism} logins")
        self._write(b"AUTHENTICATE " + _quoted(mechanism.encode()) + b" "
                    + _quoted(base64.b64encode(answer.encode())) + b"\r\n")
        while True:
            line = self._line()
            if line and isinstance(line[0], str) and line[0].upper() in ("OK", "NO", "BYE"):
                status = line[0].upper()
                reason = " ".join(_text(token) for token in line[1:] if isinstance(token, bytes))
                break
            self._write(b'""\r\n')  # a challenge after the answer is XOAUTH2's error: answered empty
        if status != "OK":
            raise AccountError(f"{self.label}: ManageSieve login refused: {reason}",
                               "renew the OAuth2 token in its file" if credentials.token
                               else "check the user name and password for this account")

    # -- commands -------------------------------------------------------------------------------------
    def scripts(self) -> dict[str, bool]:
        """Every script's name and whether it is the active one."""
        self._write(b"LISTSCRIPTS\r\n")
        lines, done = self._response()
        self._expect(done)
        return {_text(line[0]): len(line) > 1 and str(line[1]).upper() == "ACTIVE"
                for line in lines if line and isinstance(line[0], bytes)}

    def get(self, name: str) -> bytes:
        self._write(b"GETSCRIPT " + _quoted(name.encode()) + b"\r\n")
        lines, done = self._response()
        self._expect(done)
        if not lines or not isinstance(lines[0][0], bytes):
            raise Broken(f"{self.label}: GETSCRIPT {name} returned no script")
        return lines[0][0]

    def check(self, script: bytes) -> None:
        """Refused with the server's reason if it would not run the script (an unknown extension, say)."""
        self._expect(self._command(b"CHECKSCRIPT", _literal(script)), refusal=True)

    def put(self, name: str, script: bytes) -> None:
        self._expect(self._command(b"PUTSCRIPT", _quoted(name.encode()), _literal(script)), refusal=True)

    def activate(self, name: str) -> None:
        self._expect(self._command(b"SETACTIVE", _quoted(name.encode())), refusal=True)

    def close(self) -> None:
        try:
            self._write(b"LOGOUT\r\n")
            self._response()
        except (OSError, AccountError, ValueError):
            pass  # closing anyway
        finally:
            self._close()

    # -- the wire -------------------------------------------------------------------------------------
    def _command(self, name: bytes, *arguments: bytes) -> tuple[str, str]:
        self._write(b" ".join((name, *arguments)) + b"\r\n")
        return self._response()[1]

    def _expect(self, done: tuple[str, str], refusal: bool = False) -> None:
        status, reason = done
        if status == "OK":
            return
        if status == "NO" and refusal:
            raise Refused(_one_line(reason))
        raise Broken(f"{self.label}: the ManageSieve server answered {status} {reason}".rstrip())

    def _write(self, data: bytes) -> None:
        try:
            self._send(data)
        except OSError as bad:
            raise Broken(f"{self.label}: the ManageSieve connection broke: {bad}") from None

    def _response(self) -> tuple[list[list[Token]], tuple[str, str]]:
        """Data lines up to the OK, NO or BYE line, and that line's status and human-readable reason."""
        lines: list[list[Token]] = []
        while True:
            line = self._line()
            if line and isinstance(line[0], str) and line[0].upper() in ("OK", "NO", "BYE"):
                words = [_text(token) for token in line[1:] if isinstance(token, bytes)]
                return lines, (line[0].upper(), " ".join(words))
            lines.append(line)

    def _line(self) -> list[Token]:
        """One response line as tokens; a literal's bytes may span lines and continue it."""
        tokens: list[Token] = []
        try:
            raw = self._stream.readline()
            while True:
                if not raw:
                    raise Broken(f"{self.label}: the ManageSieve server closed the connection")
                rest = raw.rstrip(b"\r\n")
                literal = _LITERAL.search(raw)
                if literal and raw.endswith(literal.group(0)):
                    tokens += _tokens(raw[:literal.start()])
                    tokens.append(self._read(int(literal.group(1))))
                    raw = self._stream.readline()
                    continue
                return tokens + _tokens(rest)
        except OSError as bad:
            raise Broken(f"{self.label}: the ManageSieve connection broke: {bad}") from None

    def _read(self, size: int) -> bytes:
        data = self._stream.read(size)
        if len(data) != size:
            raise Broken(f"{self.label}: the ManageSieve server closed the connection")
        return data


def _tokens(data: bytes) -> list[Token]:
    tokens: list[Token] = []
    at = 0
    while at < len(data):
        char = data[at:at + 1]
        if char.isspace():
            at += 1
        elif char in (b"(", b")"):
            tokens.append(char.decode())
            at += 1
        elif char == b'"':
            value, at = _quoted_string(data, at + 1)
            tokens.append(value)
        else:
            atom = _ATOM.match(data, at)
            if atom is None:
                raise ValueError(f"unexpected {char!r} in a ManageSieve response")
            tokens.append(atom.group(0).decode("utf-8", "replace"))
            at = atom.end()
    return tokens


def _quoted_string(data: bytes, at: int) -> tuple[bytes, int]:
    value = bytearray()
    while at < len(data):
        char = data[at]
        if char == ord("\\") and at + 1 < len(data):
            value.append(data[at + 1])
            at += 2
        elif char == ord('"'):
            return bytes(value), at + 1
        else:
            value.append(char)
            at += 1
    raise ValueError("an unterminated string in a ManageSieve response")


def _quoted(value: bytes) -> bytes:
    return b'"' + value.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def _literal(value: bytes) -> bytes:
    return b"{%d+}\r\n" % len(value) + value  # non-synchronising: no wait for the server's go-ahead


def _one_line(reason: str) -> str:
    """A refusal's lines joined, without the temporary file name Dovecot puts before each."""
    lines = (_TEMPORARY.sub("", line.strip()) for line in reason.splitlines())
    return "; ".join(line for line in lines if line)


def _text(token: Token) -> str:
    return token.decode("utf-8", "replace") if isinstance(token, bytes) else token
