"""fail2ban's bans as the tests see them: `provision bans`, and whether the outside sandbox still gets in."""

from __future__ import annotations

import json
import shlex
import time

from tests.conftest import MailServer, SandboxHost, provision


def banned(server: MailServer) -> list[dict[str, str]]:
    done = provision("--json", "bans", "list", str(server.inventory), env=server.env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def wait_for_ban(server: MailServer, address: str, timeout: float = 20) -> list[dict[str, str]]:
    deadline = time.monotonic() + timeout
    while not (listed := banned(server)):
        assert time.monotonic() < deadline, f"{address} was not banned"
        time.sleep(1)
    return listed


def lift_every_ban(server: MailServer) -> None:
    for ban in banned(server):
        done = provision("bans", "remove", str(server.inventory), ban["address"], env=server.env)
        assert done.returncode == 0, done.stderr


def reaches(outside: SandboxHost, server: MailServer, port: int) -> bool:
    """Whether a TCP connection from the outside sandbox to the server's port is answered."""
    probe = (f"import socket\ntry:\n    socket.create_connection(({server.host.address!r}, {port}), 3)\n"
             "    print('open')\nexcept OSError:\n    print('refused')\n")
    return outside.ssh(shlex.join(["python3", "-c", probe])).stdout.strip() == "open"
