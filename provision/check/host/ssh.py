"""One SSH connection to an inventory's server (paramiko): known host keys only, a timeout on every step."""

from __future__ import annotations

import shlex
from dataclasses import dataclass

import paramiko

from provision.check.model import Target
from provision.inventory.model import Inventory
from provision.sandbox import machine


class Unreachable(Exception):
    """The server could not be logged in to or did not answer; fix says what to do about it."""

    def __init__(self, reason: str, fix: str) -> None:
        super().__init__(reason)
        self.fix = fix


@dataclass(frozen=True)
class Server:
    """An inventory's server and the credentials to log in with.

    A sandbox is reached with its own key and known host key; any other server with the ssh agent's
    or ~/.ssh's default keys, its host key known from ~/.ssh/known_hosts.
    """

    inventory: Inventory
    sandbox: machine.Sandbox | None

    @property
    def login(self) -> str:
        return f"{self.inventory.host.user}@{self.inventory.host.address}"

    def shell(self, command: str) -> str:
        """How a person runs command on the server, for the fixes."""
        login = f"provision sandbox ssh {self.sandbox.name} --" if self.sandbox else f"ssh {self.login}"
        return f"{login} {shlex.quote(command)}"


def server_of(target: Target) -> Server | None:
    """The server of an inventory target; None for a bare domain, which has no SSH login."""
    if target.inventory is None:
        return None
    return Server(target.inventory, machine.of_inventory(target.inventory))


class _UnknownHostKey(Exception):
    def __init__(self, key: paramiko.PKey) -> None:
        super().__init__(key.get_name())
        self.key = key


class _Refuse(paramiko.MissingHostKeyPolicy):
    """Never trust a host key on first sight: the caller says how to add it once checked."""

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        raise _UnknownHostKey(key)


def connect(server: Server, timeout: float) -> paramiko.SSHClient:
    host = server.inventory.host
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(_Refuse())
    if server.sandbox:
        client.load_host_keys(str(server.sandbox.directory / "known_hosts"))
        keys = {"key_filename": str(server.sandbox.directory / "id_ed25519"), "allow_agent": False,
                "look_for_keys": False}
    else:
        client.load_system_host_keys()  # ~/.ssh/known_hosts, if there is one
        keys = {"allow_agent": True, "look_for_keys": True}
    try:
        client.connect(host.address, username=host.user, timeout=timeout, banner_timeout=timeout,
                       auth_timeout=timeout, channel_timeout=timeout, **keys)  # type: ignore[arg-type]
    except _UnknownHostKey as error:
        client.close()
        kind = error.key.get_name()
        raise Unreachable(
            f"the host key of {host.address} is not known ({kind} {error.key.fingerprint})",
            f"check that fingerprint with the server's provider or console (ssh-keygen -lf "
            f"/etc/ssh/ssh_host_{kind.removeprefix('ssh-')}_key.pub there), then add it: "
            f"ssh-keyscan -t {kind} {host.address} >> ~/.ssh/known_hosts") from None
    except paramiko.BadHostKeyException:
        client.close()
        raise Unreachable(f"the host key of {host.address} is not the one in known_hosts: a reinstalled "
                          "server, or someone in between",
                          f"if the server was reinstalled: ssh-keygen -R {host.address}, then check and add "
                          "its new key") from None
    except paramiko.AuthenticationException:
        client.close()
        raise Unreachable(f"{server.login} refused the login key",
                          f"let the key in: ssh-copy-id {server.login}") from None
    except TimeoutError:
        client.close()
        raise Unreachable(f"{host.address} port 22 did not answer within {timeout:g} s",
                          f"check that the server is up and reachable: ssh {server.login}") from None
    except (OSError, paramiko.SSHException) as error:
        client.close()
        raise Unreachable(f"cannot log in to {server.login}: {error}",
                          f"check that the server is up and reachable: ssh {server.login}") from None
    return client


def execute(client: paramiko.SSHClient, script: str, timeout: float) -> str:
    """Run a shell script on the server, fed on stdin (no command-line length limit); its stdout."""
    try:
        stdin, stdout, _ = client.exec_command("sh -s", timeout=timeout)
        stdin.write(script.encode())
        stdin.channel.shutdown_write()
        return stdout.read().decode(errors="replace")
    except TimeoutError:
        raise Unreachable(f"the server sent nothing for {timeout:g} s while gathering facts",
                          "run the check again; if it persists, look at the server's load") from None
    except (OSError, paramiko.SSHException) as error:
        raise Unreachable(f"the SSH session failed: {error}", "run the check again") from None
