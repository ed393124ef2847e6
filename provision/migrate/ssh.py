"""IMAP to a mailbox of our own server without its password: `doveadm exec imap -u USER` over SSH
speaks IMAP on stdin/stdout, already logged in (PREAUTH). No master user, no Dovecot config change."""

from __future__ import annotations

import imaplib
import threading
from collections.abc import Callable

from provision import remote
from provision.inventory.model import Inventory
from provision.migrate import AccountError
from provision.migrate.managesieve import TIMEOUT, ManageSieve


class ChannelImap(imaplib.IMAP4):
    """imaplib over an SSH exec channel (like imaplib.IMAP4_stream, without a local process)."""

    def __init__(self, connection: remote.Connection, argv: list[str]):
        self._connection = connection
        self._argv = argv
        super().__init__()

    def open(self, host: str = "", port: int = 0, timeout: float | None = None) -> None:
        self.host, self.port, self.sock = host, port, None
        self._channel = self._connection.start(self._argv, timeout=None)  # a mailbox may be quiet for long
        self.file = self._channel.makefile("rb", 1 << 16)

    def read(self, size: int) -> bytes:
        return self.file.read(size)

    def readline(self) -> bytes:
        return self.file.readline()

    def send(self, data: bytes) -> None:
        self._channel.sendall(data)

    def shutdown(self) -> None:
        self.file.close()
        self._channel.close()


class ServerMailboxes:
    """One SSH connection to the inventory's server, a channel per mailbox connection."""

    def __init__(self, inventory: Inventory):
        self.inventory = inventory
        self._connection: remote.Connection | None = None
        self._lock = threading.Lock()
        self.label = inventory.settings.hostname

    def _connected(self) -> remote.Connection:
        """The connection; made again when it broke (a reconnecting worker comes here)."""
        with self._lock:
            if self._connection is None or not self._connection.active:
                try:
                    self._connection = remote.connect(remote.login_of(self.inventory))
                except remote.Unreachable as bad:
                    raise AccountError(bad.message, bad.hint) from None
            return self._connection

    def connect(self, user: str) -> Callable[[], imaplib.IMAP4]:
        return lambda: ChannelImap(self._connected(), ["doveadm", "exec", "imap", "-u", user])

    def sieve(self, user: str) -> ManageSieve:
        """ManageSieve as the user, already logged in: `doveadm exec managesieve` speaks it on stdio."""
        channel = self._connected().start(["doveadm", "exec", "managesieve", "-u", user], timeout=TIMEOUT)
        return ManageSieve.preauthenticated(f"{user} on {self.label}", channel.makefile("rb"),
                                            channel.sendall, channel.close)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
