"""The server of a check target, reached over SSH with provision.remote; a timeout on every step."""

from __future__ import annotations

from dataclasses import dataclass

from provision import remote
from provision.check.model import Target
from provision.inventory.model import Inventory


@dataclass(frozen=True)
class Server:
    """An inventory's server and how to log in to it."""

    inventory: Inventory
    ssh: remote.Login

    @property
    def login(self) -> str:
        return self.ssh.name

    def shell(self, command: str) -> str:
        """How a person runs command on the server, for the fixes."""
        return self.ssh.shell(command)


def server_of(target: Target) -> Server | None:
    """The server of an inventory target; None for a bare domain, which has no SSH login."""
    if target.inventory is None:
        return None
    return Server(target.inventory, remote.login_of(target.inventory))


def execute(connection: remote.Connection, script: str, timeout: float) -> str:
    """Run a shell script on the server, fed on stdin (no command-line length limit); its stdout."""
    return connection.run(["sh", "-s"], stdin=script.encode(), timeout=timeout, check=False).text
