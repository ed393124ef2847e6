"""SSH to an inventory's server or a sandbox (paramiko): the one way provision logs in, runs a command
there, and carries a port of the server to this machine.

Only a known host key is accepted, never one on first sight: a sandbox's own (made with it), any other
server's from ~/.ssh/known_hosts. A sandbox is logged in to with its own key, any other server with the
ssh agent's or ~/.ssh's keys. Commands run as root: through `sudo -n` when the login is not root.
(Ansible logs in with OpenSSH, and so does `provision sandbox ssh`, which is a person's own terminal.)
"""

from __future__ import annotations

import logging
import select
import shlex
import socket
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import TracebackType

import paramiko

from provision.errors import ExitStatus, ProvisionError
from provision.inventory.model import Inventory
from provision.sandbox import machine

# paramiko logs a tunnel torn down mid-send ("Socket exception: Broken pipe") on stderr; what
# matters reaches the user as an error of ours.
logging.getLogger("paramiko").addHandler(logging.NullHandler())

TIMEOUT = 20.0  # seconds for each step of logging in
COMMAND_TIMEOUT = 120.0  # seconds a command may go without output
CHUNK = 1 << 16


class Unreachable(ProvisionError):
    """The server could not be logged in to, or stopped answering; the hint says what to do about it."""

    def __init__(self, message: str, hint: str, status: ExitStatus = ExitStatus.FAILURE) -> None:
        super().__init__(message, hint)
        self.status = status


class CommandFailed(ProvisionError):
    """A command on the server exited with a status other than 0."""


@dataclass(frozen=True)
class Login:
    """How to log in to one server."""

    address: str
    user: str = "root"
    sandbox: machine.Sandbox | None = None  # its own key and host key
    sandboxed: bool = False  # the inventory says the server is a sandbox (which may be missing)

    @property
    def name(self) -> str:
        return f"{self.user}@{self.address}"

    @property
    def keys(self) -> str:
        """The login keys tried, for the messages."""
        if self.sandbox:
            return f"the key {self.sandbox.directory / 'id_ed25519'}"
        return "the ssh agent's and ~/.ssh's keys"

    def shell(self, command: str) -> str:
        """How a person runs command on the server, for the fixes."""
        login = f"provision sandbox ssh {self.sandbox.name} --" if self.sandbox else f"ssh {self.name}"
        return f"{login} {shlex.quote(command)}"

    def as_root(self, argv: Sequence[str]) -> str:
        """argv as one command line that runs as root; sudo must not ask for a password."""
        return shlex.join(argv if self.user == "root" else ["sudo", "-n", "--", *argv])


def login_of(inventory: Inventory) -> Login:
    """The login to an inventory's server; a sandbox's own key and host key for a sandbox."""
    host = inventory.host
    return Login(host.address, host.user, machine.of_inventory(inventory), inventory.settings.sandbox)


def login_to_sandbox(box: machine.Sandbox) -> Login:
    return Login(box.address, "root", box, sandboxed=True)


@dataclass(frozen=True)
class Output:
    status: int
    stdout: bytes
    stderr: bytes

    @property
    def text(self) -> str:
        return self.stdout.decode(errors="replace")


class _UnknownHostKey(Exception):
    def __init__(self, key: paramiko.PKey) -> None:
        super().__init__(key.get_name())
        self.key = key


class _Refuse(paramiko.MissingHostKeyPolicy):
    """Never trust a host key on first sight: the error says how to check and add it."""

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        raise _UnknownHostKey(key)


def connect(login: Login, timeout: float = TIMEOUT) -> Connection:
    """Log in; Unreachable, naming the keys tried and the fix, when that fails."""
    if login.sandboxed and login.sandbox is None:
        raise Unreachable(f"no sandbox has the address {login.address}",
                          "start one with `provision sandbox up NAME` (`provision sandbox list` shows them), "
                          "put its address in the inventory and run `provision apply`")
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(_Refuse())
    if login.sandbox:
        client.load_host_keys(str(login.sandbox.directory / "known_hosts"))
        keys = {"key_filename": str(login.sandbox.directory / "id_ed25519"), "allow_agent": False,
                "look_for_keys": False}
    else:
        client.load_system_host_keys()  # ~/.ssh/known_hosts, if there is one
        keys = {"allow_agent": True, "look_for_keys": True}
    try:
        client.connect(login.address, username=login.user, timeout=timeout, banner_timeout=timeout,
                       auth_timeout=timeout, channel_timeout=timeout, **keys)  # type: ignore[arg-type]
    except (_UnknownHostKey, OSError, paramiko.SSHException, EOFError) as error:
        client.close()
        raise _unreachable(login, error, timeout) from None
    return Connection(login, client)


def _unreachable(login: Login, error: Exception, timeout: float) -> Unreachable:
    address = login.address
    if login.sandbox:
        recreate = f"provision sandbox down {login.sandbox.name}, then up again and apply"
        check_up = f"`provision sandbox list` shows whether {login.sandbox.name} runs; if not: {recreate}"
    else:
        check_up = f"check that the server is up and that `ssh {login.name}` logs in"
    if login.sandbox and isinstance(error, (_UnknownHostKey, paramiko.BadHostKeyException)):
        return Unreachable(f"the host key of {address} is not the one sandbox {login.sandbox.name} was made "
                           "with", recreate, ExitStatus.USAGE)
    if isinstance(error, _UnknownHostKey):
        kind = error.key.get_name()
        return Unreachable(
            f"the host key of {address} is not known ({kind} {error.key.fingerprint})",
            f"check that fingerprint with the server's provider or console (ssh-keygen -lf "
            f"/etc/ssh/ssh_host_{kind.removeprefix('ssh-')}_key.pub there), then add it: "
            f"ssh-keyscan -t {kind} {address} >> ~/.ssh/known_hosts", ExitStatus.USAGE)
    if isinstance(error, paramiko.BadHostKeyException):
        return Unreachable(f"the host key of {address} is not the one in known_hosts: a reinstalled "
                           "server, or someone in between",
                           f"if the server was reinstalled: ssh-keygen -R {address}, then check and add "
                           "its new key", ExitStatus.USAGE)
    if isinstance(error, paramiko.AuthenticationException):
        return Unreachable(f"{login.name} refused {login.keys}",
                           recreate if login.sandbox else f"let your key in: ssh-copy-id {login.name}")
    if isinstance(error, TimeoutError):
        return Unreachable(f"{address} port 22 did not answer within {timeout:g} s (tried {login.keys})",
                           check_up)
    return Unreachable(f"cannot log in to {login.name} with {login.keys}: {error}", check_up)


class Connection:
    """One logged-in SSH connection; its commands may run from several threads at once."""

    def __init__(self, login: Login, client: paramiko.SSHClient) -> None:
        self.login = login
        self._client = client

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    @property
    def active(self) -> bool:
        transport = self._client.get_transport()
        return transport is not None and transport.is_active()

    def _transport(self) -> paramiko.Transport:
        transport = self._client.get_transport()
        if transport is None or not transport.is_active():
            raise Unreachable(f"the SSH connection to {self.login.address} was closed", "run it again")
        return transport

    def start(self, argv: Sequence[str], timeout: float | None) -> paramiko.Channel:
        """argv started as root, for a caller that speaks with it over its stdin and stdout; timeout
        bounds each read and write (None: no bound)."""
        try:
            channel = self._transport().open_session(timeout=timeout or TIMEOUT)
            channel.settimeout(timeout)
            channel.exec_command(self.login.as_root(argv))
        except (OSError, paramiko.SSHException, EOFError) as error:
            raise self._broken(error) from None
        return channel

    def run(self, argv: Sequence[str], *, stdin: bytes = b"", timeout: float = COMMAND_TIMEOUT,
            check: bool = True, hint: str | None = None) -> Output:
        """Run argv as root, stdin fed to it; its status and output.

        stdout and stderr are read as they come, while stdin is fed: a command whose output fills
        the SSH window never waits on a reader that waits for its exit status. timeout bounds the
        time without any output. check: a status other than 0 raises CommandFailed, with hint.
        """
        channel = self.start(argv, timeout)
        try:
            feeder = threading.Thread(target=_feed, args=(channel, stdin), daemon=True)
            feeder.start()
            stdout, stderr = _drain(channel, timeout)
            feeder.join(timeout)
            if not channel.status_event.wait(timeout):
                raise TimeoutError
            status = channel.recv_exit_status()
        except TimeoutError:
            raise Unreachable(f"{self.login.address} sent nothing for {timeout:g} s while running {argv[0]}",
                              "run it again; if it persists, look at the server's load") from None
        except (OSError, paramiko.SSHException, EOFError) as error:
            raise self._broken(error) from None
        finally:
            channel.close()
        if check and status != 0:
            complaint = (stderr or stdout).decode(errors="replace").strip()[-300:]
            raise CommandFailed(f"on {self.login.address}: {argv[0]} failed (exit {status}): {complaint}",
                                hint)
        return Output(status, stdout, stderr)

    def _broken(self, error: Exception) -> Unreachable:
        return Unreachable(f"the SSH session to {self.login.address} failed: {error}", "run it again")

    @contextmanager
    def forward(self, port: int) -> Iterator[int]:
        """A local port (on 127.0.0.1) whose connections reach port on the server's 127.0.0.1."""
        forwarder = _Forwarder(self._transport(), port)
        forwarder.start()
        try:
            yield forwarder.port
        finally:
            forwarder.close()

    def close(self) -> None:
        self._client.close()


def _feed(channel: paramiko.Channel, data: bytes) -> None:
    try:
        if data:
            channel.sendall(data)
        channel.shutdown_write()
    except (OSError, paramiko.SSHException, EOFError):
        pass  # the command ended without reading it all: its status and output say the rest


def _drain(channel: paramiko.Channel, timeout: float) -> tuple[bytes, bytes]:
    """stdout and stderr until the command closes them; TimeoutError after timeout s without either."""
    stdout, stderr = bytearray(), bytearray()
    while True:
        # The channel's fileno is readable while either stream has data, and for good at EOF.
        ready, _, _ = select.select([channel], [], [], timeout)
        if not ready:
            raise TimeoutError
        while channel.recv_ready():
            stdout += channel.recv(CHUNK)
        while channel.recv_stderr_ready():
            stderr += channel.recv_stderr(CHUNK)
        if channel.eof_received and not channel.recv_ready() and not channel.recv_stderr_ready():
            return bytes(stdout), bytes(stderr)
        if channel.closed:
            return bytes(stdout), bytes(stderr)


@dataclass
class _Forwarder:
    """Serves 127.0.0.1:<ephemeral> locally, each connection a direct-tcpip channel to the server."""

    transport: paramiko.Transport
    remote_port: int
    listener: socket.socket = field(default_factory=lambda: socket.create_server(("127.0.0.1", 0)))
    threads: list[threading.Thread] = field(default_factory=list)
    closing: threading.Event = field(default_factory=threading.Event)

    @property
    def port(self) -> int:
        return int(self.listener.getsockname()[1])

    def start(self) -> None:
        self.listener.settimeout(0.2)  # accept() wakes up to see `closing`: close() alone does not wake it
        self._spawn(self._accept)

    def _spawn(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self.threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while not self.closing.is_set():
            try:
                client, peer = self.listener.accept()
            except TimeoutError:
                continue
            client.settimeout(None)
            channel = self.transport.open_channel("direct-tcpip", ("127.0.0.1", self.remote_port), peer)
            self._spawn(self._pump, client, channel)

    def _pump(self, client: socket.socket, channel: paramiko.Channel) -> None:
        with client, channel:
            try:
                while not self.closing.is_set():
                    ready, _, _ = select.select([client, channel], [], [], 0.2)
                    for source, sink in ((client, channel), (channel, client)):
                        if source in ready:
                            data = source.recv(CHUNK)
                            if not data:
                                return
                            sink.sendall(data)
            except (OSError, EOFError, paramiko.SSHException):
                return  # either end went away (the caller is done with the tunnel): nothing left to carry

    def close(self) -> None:
        self.closing.set()
        for thread in self.threads:
            thread.join(timeout=5)
        self.listener.close()
