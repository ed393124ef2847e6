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


def wait_for_ban(server: MailServer, address: str, jail: str, timeout: float = 20) -> list[dict[str, str]]:
    """Every ban once jail has banned address. Another jail may ban it too: Dovecot checks the passwords
    of SMTP AUTH as well, so its jail counts those failures with the IMAP ones of earlier tests."""
    deadline = time.monotonic() + timeout
    while {"address": address, "jail": jail} not in (listed := banned(server)):
        assert time.monotonic() < deadline, f"{address} was not banned by {jail}: {listed}"
        time.sleep(1)
    return listed


def lift_every_ban(server: MailServer) -> None:
    for address in sorted({ban["address"] for ban in banned(server)}):  # one remove lifts every jail's
        done = provision("bans", "remove", str(server.inventory), address, env=server.env)
        assert done.returncode == 0, done.stderr


def reaches(outside: SandboxHost, server: MailServer, port: int) -> bool:
    """Whether a TCP connection from the outside sandbox to the server's port is answered."""
    probe = (f"import socket\ntry:\n    socket.create_connection(({server.host.address!r}, {port}), 3)\n"
             "    print('open')\nexcept OSError:\n    print('refused')\n")
    return outside.ssh(shlex.join(["python3", "-c", probe])).stdout.strip() == "open"
