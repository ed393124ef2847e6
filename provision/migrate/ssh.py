"""IMAP to a mailbox of our own server without its password: `doveadm exec imap -u USER` over SSH
speaks IMAP on stdin/stdout, already logged in (PREAUTH). No master user, no Dovecot config change."""

from __future__ import annotations

import imaplib
import shlex
import threading
from collections.abc import Callable

import paramiko

from provision.check.host import ssh
from provision.check.host.ssh import Unreachable
from provision.inventory.model import Inventory
from provision.migrate import AccountError
from provision.sandbox import machine

TIMEOUT = 20


class ChannelImap(imaplib.IMAP4):
    """imaplib over an SSH exec channel (like imaplib.IMAP4_stream, without a local process)."""

    def __init__(self, transport: paramiko.Transport, command: str):
        self._transport = transport
        self._remote = command
        super().__init__()

    def open(self, host: str = "", port: int = 0, timeout: float | None = None) -> None:
        self.host, self.port, self.sock = host, port, None
        self._channel = self._transport.open_session(timeout=60)
        self._channel.exec_command(self._remote)
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
        self._client: paramiko.SSHClient | None = None
        self._lock = threading.Lock()
        self.label = inventory.settings.hostname

    def _transport(self) -> paramiko.Transport:
        with self._lock:
            transport = self._client.get_transport() if self._client else None
            if transport is None or not transport.is_active():
                try:
                    server = ssh.Server(self.inventory, machine.of_inventory(self.inventory))
                    self._client = ssh.connect(server, TIMEOUT)
                except Unreachable as bad:
                    raise AccountError(str(bad), bad.fix) from None
                transport = self._client.get_transport()
            assert transport is not None
            return transport

    def connect(self, user: str) -> Callable[[], imaplib.IMAP4]:
        sudo = [] if self.inventory.host.user == "root" else ["sudo", "-n"]
        command = shlex.join([*sudo, "doveadm", "exec", "imap", "-u", user])
        return lambda: ChannelImap(self._transport(), command)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
