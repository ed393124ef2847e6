"""An ldap3 connection to the inventory's slapd, bound as its rootDN.

By default through an SSH tunnel: the firewall keeps 389/636 closed from outside, so
LDAP travels inside SSH to 127.0.0.1:389 on the server, and StartTLS runs end to end
inside the tunnel (slapd refuses simple binds without TLS; the certificate is verified
for the server's name). `ldap_uri` (ldaps://host:636) connects directly instead.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import ldap3
from ldap3.core.exceptions import LDAPException

from provision import layout, remote
from provision.errors import ProvisionError, UsageError
from provision.inventory import vault
from provision.inventory.model import Inventory, TlsMode

LDAP_PORT = 389
TIMEOUT = 20


def base_dn(inventory: Inventory) -> str:
    """The directory role's base DN: named after the first mail domain."""
    return layout.base_dn(inventory.settings.domains[0])


def _server_certificate(connection: remote.Connection) -> str:
    return connection.run(["cat", layout.CERTIFICATE], timeout=TIMEOUT,
                          hint="has `provision apply` run on this server?").text


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
    with remote.connect(remote.login_of(inventory)) as ssh:
        # A self-signed certificate is trusted by nobody; the one the server presents is
        # read over the already authenticated SSH connection and pinned as the only CA.
        pinned = _server_certificate(ssh) if inventory.settings.tls_mode == TlsMode.SELF_SIGNED else None
        with ssh.forward(LDAP_PORT) as port:
            server = ldap3.Server("127.0.0.1", port=port, tls=_tls(inventory, pinned),
                                  connect_timeout=TIMEOUT)
            connection = _bind(server, inventory, start_tls=True)
            try:
                yield connection
            finally:
                connection.unbind()


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
