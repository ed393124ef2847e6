"""The radicale role's files on the server, over SSH: the shares file, the collections, the sync.

Paths are the radicale role's (provision.layout).
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import paramiko

# The SSH login the directory commands use: a sandbox's key, or the user's known hosts.
from provision.directory.connect import _ssh as ssh_login
from provision.errors import ProvisionError
from provision.inventory.model import Inventory
from provision.layout import COLLECTIONS, DAV_SYNC, SHARES

TIMEOUT = 60


@dataclass
class Server:
    client: paramiko.SSHClient
    host: str

    def run(self, command: str) -> str:
        """Run a command as the SSH user (root); its output, or ProvisionError with its complaint."""
        _, stdout, stderr = self.client.exec_command(command, timeout=TIMEOUT)
        status = stdout.channel.recv_exit_status()
        out, err = stdout.read().decode(), stderr.read().decode()
        if status != 0:
            complaint = (err or out).strip()[-300:]
            raise ProvisionError(f"on {self.host}: {command.split()[0]} failed: {complaint}",
                                 "has `provision apply` run with the radicale role?")
        return out

    def exists(self, owner: str, name: str) -> bool:
        path = shlex.quote(f"{COLLECTIONS}/{owner}/{name}/.Radicale.props")
        return self.run(f"test -f {path} && echo yes || echo no").strip() == "yes"

    def read_shares(self) -> str:
        return self.run(f"cat {SHARES} 2>/dev/null || true")

    def write_shares(self, text: str) -> None:
        """Replace the file whole; Radicale (group radicale) reads it, nobody else."""
        new = f"{SHARES}.new"
        with self.client.open_sftp() as sftp, sftp.open(new, "w") as file:
            file.write(text)
        self.run(f"chown root:radicale {new} && chmod 0640 {new} && mv {new} {SHARES}")

    def sync(self) -> list[str]:
        """Run provision-dav-sync now; the changes it made, one per line."""
        return [line for line in self.run(f"python3 {DAV_SYNC}").splitlines() if line]


@contextmanager
def connect(inventory: Inventory) -> Iterator[Server]:
    client = ssh_login(inventory)
    try:
        yield Server(client, inventory.settings.hostname)
    finally:
        client.close()
