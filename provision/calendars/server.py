"""The radicale role's files on the server, over SSH: the shares file, the collections, the sync.

Paths are the radicale role's (provision.layout).
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from provision import remote
from provision.inventory.model import Inventory
from provision.layout import COLLECTIONS, DAV_SYNC, SHARES

TIMEOUT = 60


@dataclass
class Server:
    connection: remote.Connection
    host: str  # the server's name, for messages

    def run(self, argv: list[str], stdin: bytes = b"") -> str:
        """Run argv as root; its output, or CommandFailed with its complaint."""
        return self.connection.run(argv, stdin=stdin, timeout=TIMEOUT,
                                   hint="has `provision apply` run with the radicale role?").text

    def exists(self, owner: str, name: str) -> bool:
        path = shlex.quote(f"{COLLECTIONS}/{owner}/{name}/.Radicale.props")
        return self.run(["sh", "-c", f"test -f {path} && echo yes || echo no"]).strip() == "yes"

    def read_shares(self) -> str:
        return self.run(["sh", "-c", f"cat {SHARES} 2>/dev/null || true"])

    def write_shares(self, text: str) -> None:
        """Replace the file whole; Radicale (group radicale) reads it, nobody else."""
        new = f"{SHARES}.new"
        self.run(["sh", "-c", f"umask 077 && cat > {new} && chown root:radicale {new} && chmod 0640 {new} "
                              f"&& mv {new} {SHARES}"], stdin=text.encode())

    def sync(self) -> list[str]:
        """Run provision-dav-sync now; the changes it made, one per line."""
        return [line for line in self.run(["python3", DAV_SYNC]).splitlines() if line]


@contextmanager
def connect(inventory: Inventory) -> Iterator[Server]:
    with remote.connect(remote.login_of(inventory)) as connection:
        yield Server(connection, inventory.settings.hostname)
