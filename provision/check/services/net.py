"""The network steps of the service checks, each bounded by the timeout: connect, TLS, SMTP and IMAP lines."""

from __future__ import annotations

import socket
import ssl
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from provision.check.model import Address

SMTP, SUBMISSIONS, SUBMISSION, IMAP, IMAPS, LDAP, LDAPS = 25, 465, 587, 143, 993, 389, 636
TLS_PORTS = (SMTP, SUBMISSIONS, IMAPS)  # where certificates and TLS versions are checked
CLIENT_NAME = "provision-check.invalid"  # the EHLO name: a name that is no one's (RFC 2606)
MAX_LINE = 4096
FILTERED_SECONDS = 1.0  # a port that should be closed: no connection within this is a dropped (closed) one


class ServiceError(Exception):
    """A step failed; the message says where and at which step."""


class NoConnection(ServiceError):
    """The port did not accept a connection: refused, filtered or no route."""


class Stalled(ServiceError):
    """The server accepted but did not answer within the timeout: nothing can be judged."""


class ProtocolError(ServiceError):
    """The server answered, but not as the protocol says, or closed the connection."""


class HandshakeFailed(ProtocolError):
    """The server refused the TLS handshake (for example an old TLS version)."""


class Untrusted(HandshakeFailed):
    """The certificate could not be verified; reason is OpenSSL's."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}")
        self.reason = reason


@dataclass(frozen=True)
class Server:
    """One address to connect to, and the name its certificate and greeting must carry."""

    name: str
    address: Address

    def at(self, port: int) -> str:
        return f"{self.name} ({self.address}) port {port}"


def tls_context(ca_file: Path | None = None, *, verify: bool = True) -> ssl.SSLContext:
    """The system CAs plus ca_file; unverified contexts are for looking, not for trusting."""
    context = ssl.create_default_context()
    if ca_file is not None:
        context.load_verify_locations(cafile=str(ca_file))
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def legacy_context() -> ssl.SSLContext:
    """Offers only TLS 1.0 and 1.1, with the weak ciphers they need, to see whether a server accepts them."""
    context = tls_context(verify=False)
    with warnings.catch_warnings():  # Python deprecates these versions; offering them is the point here
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = ssl.TLSVersion.TLSv1
        context.maximum_version = ssl.TLSVersion.TLSv1_1
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    return context


@contextmanager
def guarded(where: str, step: str, timeout: float) -> Iterator[None]:
    """Turns the socket and TLS errors of one step into ServiceErrors that say where and when."""
    try:
        yield
    except ssl.SSLCertVerificationError as error:
        raise Untrusted(where, error.verify_message or str(error)) from None
    except TimeoutError:
        raise Stalled(f"{where}: no answer within {timeout:g} s {step}") from None
    except ssl.SSLError as error:
        raise HandshakeFailed(f"{where}: TLS failed {step}: {error.reason or error}") from None
    except OSError as error:
        raise ProtocolError(f"{where}: the connection failed {step}: {error.strerror or error}") from None


def connect(server: Server, port: int, timeout: float) -> socket.socket:
    try:
        return socket.create_connection((str(server.address), port), timeout=timeout)
    except TimeoutError:
        raise NoConnection(f"{server.at(port)}: no connection within {timeout:g} s (filtered?)") from None
    except OSError as error:
        raise NoConnection(f"{server.at(port)}: {error.strerror or error}") from None


class Connection:
    """A line-based conversation over TCP, optionally TLS from the start or after a STARTTLS."""

    def __init__(self, server: Server, port: int, timeout: float, tls: ssl.SSLContext | None = None,
                 connect_timeout: float | None = None) -> None:
        self.where = server.at(port)
        self.server, self.timeout = server, timeout
        self._socket = connect(server, port, timeout if connect_timeout is None else connect_timeout)
        self._reader = self._socket.makefile("rb")
        if tls is not None:
            try:
                self.start_tls(tls)
            except ServiceError:
                self.close()
                raise

    @property
    def tls(self) -> ssl.SSLSocket | None:
        return self._socket if isinstance(self._socket, ssl.SSLSocket) else None

    def start_tls(self, context: ssl.SSLContext) -> None:
        with guarded(self.where, "in the TLS handshake", self.timeout):
            self._socket = context.wrap_socket(self._socket, server_hostname=self.server.name)
        self._reader = self._socket.makefile("rb")

    def send(self, line: str, step: str) -> None:
        with guarded(self.where, step, self.timeout):
            self._socket.sendall(line.encode() + b"\r\n")

    def read(self, step: str, timeout: float | None = None) -> str:
        wait = self.timeout if timeout is None else timeout
        self._socket.settimeout(wait)
        try:
            with guarded(self.where, step, wait):
                line = self._reader.readline(MAX_LINE)
        finally:
            self._socket.settimeout(self.timeout)
        if not line.endswith(b"\n"):  # closed, or longer than any line of these protocols
            raise ProtocolError(f"{self.where}: the connection closed {step}")
        return line.decode("utf-8", "replace").rstrip("\r\n")

    def close(self, goodbye: str = "") -> None:
        with suppress(OSError):
            if goodbye:
                self._socket.sendall(goodbye.encode() + b"\r\n")
            self._socket.close()


@dataclass(frozen=True)
class Reply:
    code: int
    lines: tuple[str, ...]

    @property
    def text(self) -> str:
        return f"{self.code} {' / '.join(self.lines)}"


# postscreen, in front of Postfix on port 25, holds a new client's greeting back for its greet wait (6 s
# by default) and sends the last line only then; RFC 5321 4.5.3.2 gives a client 5 minutes for it.
GREETING_WAIT = 15.0


@dataclass
class Smtp:
    """A minimal SMTP client (RFC 5321): it greets, asks and stops; it never sends DATA."""

    connection: Connection
    greeting: Reply = field(init=False)
    features: dict[str, str] = field(default_factory=dict)  # EHLO keyword -> its parameters

    def __post_init__(self) -> None:
        self.greeting = self._reply("for the greeting", max(self.connection.timeout, GREETING_WAIT))

    @classmethod
    def open(cls, server: Server, port: int, timeout: float, tls: ssl.SSLContext | None = None) -> Smtp:
        connection = Connection(server, port, timeout, tls)
        try:
            return cls(connection)
        except ServiceError:
            connection.close()
            raise

    def command(self, line: str) -> Reply:
        step = f"after {line.split(':')[0]}"
        self.connection.send(line, step)
        return self._reply(step)

    def ehlo(self) -> Reply:
        reply = self.command(f"EHLO {CLIENT_NAME}")
        self.features = {}
        if reply.code == 250:
            for line in reply.lines[1:]:
                keyword, _, parameters = line.replace("=", " ", 1).partition(" ")
                self.features[keyword.upper()] = parameters
        return reply

    def starttls(self, context: ssl.SSLContext) -> None:
        """STARTTLS, then EHLO again as RFC 3207 §4.2 requires: the features may change."""
        reply = self.command("STARTTLS")
        if reply.code != 220:
            raise ProtocolError(f"{self.connection.where}: STARTTLS refused: {reply.text}")
        self.connection.start_tls(context)
        self.ehlo()

    def _reply(self, step: str, timeout: float | None = None) -> Reply:
        lines = []
        while True:
            line = self.connection.read(step, timeout)
            if len(line) < 3 or not line[:3].isdigit():
                raise ProtocolError(f"{self.connection.where}: not an SMTP reply {step}: {line[:80]!r}")
            lines.append(line[4:])
            if line[3:4] != "-":
                return Reply(int(line[:3]), tuple(lines))

    def __enter__(self) -> Smtp:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.connection.close("QUIT")


@dataclass(frozen=True)
class Handshake:
    version: str
    certificate: bytes  # the server's certificate, DER
    chain: tuple[bytes, ...]  # what the server sent, its own certificate first, DER


def handshake(server: Server, port: int, context: ssl.SSLContext, timeout: float) -> Handshake:
    """One TLS handshake, after STARTTLS on the SMTP ports, and what it negotiated."""
    if port in (SMTP, SUBMISSION):
        with Smtp.open(server, port, timeout) as smtp:
            smtp.ehlo()
            smtp.starttls(context)
            return _negotiated(smtp.connection)
    connection = Connection(server, port, timeout, context)
    try:
        return _negotiated(connection)
    finally:
        connection.close()


def _negotiated(connection: Connection) -> Handshake:
    tls = connection.tls
    assert tls is not None  # start_tls() succeeded or raised
    certificate = tls.getpeercert(binary_form=True) or b""
    # SSLSocket.get_unverified_chain() is public from Python 3.13; the SSL object has it before.
    sent = tls._sslobj.get_unverified_chain() or []  # type: ignore[union-attr]
    chain = tuple(item.public_bytes(ssl._ssl.ENCODING_DER) for item in sent)  # type: ignore[attr-defined]
    return Handshake(tls.version() or "", certificate, chain or (certificate,))
