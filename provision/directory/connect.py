"""An ldap3 connection to the inventory's slapd, bound as its rootDN.

By default through an SSH tunnel: the firewall keeps 389/636 closed from outside, so
LDAP travels inside SSH to 127.0.0.1:389 on the server, and StartTLS runs end to end
inside the tunnel (slapd refuses simple binds without TLS; the certificate is verified
for the server's name). `ldap_uri` (ldaps://host:636) connects directly instead.
"""

from __future__ import annotations

import logging
import select
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import ldap3
import paramiko
from ldap3.core.exceptions import LDAPException

from provision import layout
from provision.errors import ProvisionError, UsageError
from provision.inventory import vault
from provision.inventory.model import Inventory, TlsMode
from provision.sandbox import machine

# paramiko logs a tunnel torn down mid-send ("Socket exception: Broken pipe") on stderr; what
# matters reaches the user as an error of ours.
logging.getLogger("paramiko").addHandler(logging.NullHandler())

LDAP_PORT = 389
TIMEOUT = 20


def base_dn(inventory: Inventory) -> str:
    """The directory role's base DN: named after the first mail domain."""
    return layout.base_dn(inventory.settings.domains[0])


@dataclass
class _Forwarder:
    """Serves 127.0.0.1:<ephemeral> locally, each connection a direct-tcpip channel to the server."""

    transport: paramiko.Transport
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
            channel = self.transport.open_channel("direct-tcpip", ("127.0.0.1", LDAP_PORT), peer)
            self._spawn(self._pump, client, channel)

    def _pump(self, client: socket.socket, channel: paramiko.Channel) -> None:
        with client, channel:
            try:
                while not self.closing.is_set():
                    ready, _, _ = select.select([client, channel], [], [], 0.2)
                    for source, sink in ((client, channel), (channel, client)):
                        if source in ready:
                            data = source.recv(65536)
                            if not data:
                                return
                            sink.sendall(data)
            except (OSError, EOFError, paramiko.SSHException):
                return  # either end went away (the command is done with the tunnel): nothing left to carry

    def close(self) -> None:
        self.closing.set()
        for thread in self.threads:
            thread.join(timeout=5)
        self.listener.close()


def _ssh(inventory: Inventory) -> paramiko.SSHClient:
    client = paramiko.SSHClient()
    # Only a known host key is accepted: a sandbox's own, or the user's known_hosts.
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    host = inventory.host
    key_file: str | None = None
    if inventory.settings.sandbox:
        boxes = [box for box in machine.all_sandboxes() if box.address == host.address]
        if not boxes:
            raise ProvisionError(f"no running sandbox has the address {host.address}",
                                 "start it with `provision sandbox up` and apply the inventory")
        client.load_host_keys(str(boxes[0].directory / "known_hosts"))
        key_file = str(boxes[0].directory / "id_ed25519")
    else:
        known = Path.home() / ".ssh/known_hosts"
        if known.exists():
            client.load_host_keys(str(known))
    try:
        client.connect(host.address, username=host.user, key_filename=key_file, timeout=TIMEOUT,
                       look_for_keys=key_file is None, allow_agent=key_file is None)
    except paramiko.SSHException as error:
        client.close()
        if "not found in known_hosts" in str(error):
            raise UsageError(f"the host key of {host.address} is not known",
                             f"log in once with `ssh {host.user}@{host.address}`, compare the key's "
                             "fingerprint with the server's, and accept it") from None
        raise ProvisionError(f"cannot log in to {host.address} over SSH: {error}") from None
    except OSError as error:
        client.close()
        raise ProvisionError(f"cannot reach {host.address} over SSH: {error}") from None
    return client


def _server_certificate(client: paramiko.SSHClient) -> str:
    with client.open_sftp() as sftp, sftp.open(layout.CERTIFICATE) as pem:
        return pem.read().decode()


def _tls(inventory: Inventory, pinned: str | None) -> ldap3.Tls:
    settings = inventory.settings
    ca_file = str(settings.acme_ca_file) if settings.acme_ca_file else None
    return ldap3.Tls(validate=ssl.CERT_REQUIRED, version=ssl.PROTOCOL_TLS_CLIENT, ca_certs_file=ca_file,
                     ca_certs_data=pinned, valid_names=[settings.hostname], sni=settings.hostname)


def _bind(server: ldap3.Server, inventory: Inventory, start_tls: bool) -> ldap3.Connection:
    password = vault.read(inventory.directory)["vault_ldap_admin_password"]
    connection = ldap3.Connection(server, user=f"cn=admin,{base_dn(inventory)}", password=password,
                                  receive_timeout=TIMEOUT, raise_exceptions=True)
    try:
        connection.open()
        if start_tls:
            connection.start_tls()
        connection.bind()
    except LDAPException as error:
        raise ProvisionError(f"cannot bind to the directory of {inventory.settings.hostname}: {error}",
                             "check that `provision apply` ran and the vault matches the server") from None
    return connection


@contextmanager
def connect(inventory: Inventory, ldap_uri: str | None = None) -> Iterator[ldap3.Connection]:
    """A connection bound as the rootDN; the tunnel, if any, is torn down on leaving."""
    if ldap_uri:
        yield from _direct(inventory, ldap_uri)
        return
    client = _ssh(inventory)
    forwarder = _Forwarder(client.get_transport())  # type: ignore[arg-type]
    try:
        # A self-signed certificate is trusted by nobody; the one the server presents is
        # read over the already authenticated SSH connection and pinned as the only CA.
        pinned = _server_certificate(client) if inventory.settings.tls_mode == TlsMode.SELF_SIGNED else None
        forwarder.start()
        server = ldap3.Server("127.0.0.1", port=forwarder.port, tls=_tls(inventory, pinned),
                              connect_timeout=TIMEOUT)
        connection = _bind(server, inventory, start_tls=True)
        try:
            yield connection
        finally:
            connection.unbind()
    finally:
        forwarder.close()
        client.close()


def _direct(inventory: Inventory, ldap_uri: str) -> Iterator[ldap3.Connection]:
    parts = urlsplit(ldap_uri)
    if parts.scheme != "ldaps" or not parts.hostname:
        raise UsageError(f"{ldap_uri} is not an ldaps:// URI", "write it as ldaps://HOST:636")
    if inventory.settings.tls_mode == TlsMode.SELF_SIGNED:
        raise UsageError("a self-signed certificate cannot be verified over a direct connection",
                         "leave out --ldap-uri: the SSH tunnel pins the server's certificate")
    server = ldap3.Server(parts.hostname, port=parts.port or 636, use_ssl=True,
                          tls=_tls(inventory, None), connect_timeout=TIMEOUT)
    connection = _bind(server, inventory, start_tls=False)
    try:
        yield connection
    finally:
        connection.unbind()
