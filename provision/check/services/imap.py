"""IMAP for mail clients: implicit TLS on 993 with login (RFC 8314), no login in clear on 143 (RFC 9051)."""

from __future__ import annotations

from provision.check.context import CheckModule, Context
from provision.check.model import Check, Status
from provision.check.services import each_server, failed, result
from provision.check.services.net import (
    FILTERED_SECONDS,
    IMAP,
    IMAPS,
    Connection,
    NoConnection,
    ProtocolError,
    Server,
    ServiceError,
    tls_context,
)

IMAP_TLS = "services.imap.tls"
FIX_993 = "start Dovecot (systemctl start dovecot), let it listen on 993 and open 993 in the firewall"
FIX_143 = "set ssl = required and auth_allow_cleartext = no in Dovecot, or close port 143 in the firewall"


def run(context: Context, domain: str) -> list[Check]:
    return each_server(context, IMAP_TLS, _server)


def _server(context: Context, server: Server) -> list[Check]:
    timeout = context.options.timeout
    try:
        secure = _capabilities(Connection(server, IMAPS, timeout, tls_context(verify=False)))
    except ServiceError as error:
        return [failed(IMAP_TLS, error, FIX_993)]
    logins = sorted(item for item in secure if item.startswith("AUTH="))
    if "LOGINDISABLED" in secure or not logins:
        return [result(IMAP_TLS, Status.CRIT, f"{server.at(IMAPS)} offers no login over TLS", FIX_993)]
    try:
        # 143 should be closed: a firewall's silence is decided quickly, not after the whole timeout.
        wait = min(timeout, FILTERED_SECONDS)
        plain = _capabilities(Connection(server, IMAP, timeout, connect_timeout=wait))
    except NoConnection:
        return [result(IMAP_TLS, Status.OK, f"{server.at(IMAPS)}: {' '.join(logins)}; port 143 closed")]
    except ServiceError as error:
        return [failed(IMAP_TLS, error, FIX_143)]
    if "LOGINDISABLED" not in plain or any(item.startswith("AUTH=") for item in plain):
        return [result(IMAP_TLS, Status.CRIT, f"{server.at(IMAP)} allows login without TLS: passwords may "
                       "cross the network in clear", FIX_143)]
    return [result(IMAP_TLS, Status.OK, f"{server.at(IMAPS)}: {' '.join(logins)}; port 143 refuses login "
                   "before STARTTLS")]


def _capabilities(connection: Connection) -> set[str]:
    """The CAPABILITY answer, upper case, after the greeting; then LOGOUT."""
    try:
        greeting = connection.read("for the greeting")
        if not greeting.startswith("* OK"):
            raise ProtocolError(f"{connection.where}: not an IMAP greeting: {greeting[:80]!r}")
        connection.send("c1 CAPABILITY", "after CAPABILITY")
        found: set[str] = set()
        while not (line := connection.read("after CAPABILITY")).startswith("c1 "):
            if line.upper().startswith("* CAPABILITY "):
                found.update(line.upper().split()[2:])
        if not line.startswith("c1 OK"):
            raise ProtocolError(f"{connection.where}: CAPABILITY failed: {line[:80]!r}")
        return found
    finally:
        connection.close("c2 LOGOUT")


MODULE = CheckModule("services.imap", (IMAP_TLS,), run, per_domain=False)
