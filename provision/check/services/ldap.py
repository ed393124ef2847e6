"""The directory from outside: LDAP closed by the firewall, or at least no people readable anonymously."""

from __future__ import annotations

import math
import ssl
from concurrent.futures import ThreadPoolExecutor

import ldap3
from ldap3.core.exceptions import LDAPBindError, LDAPException

from provision.check.context import CheckModule, Context
from provision.check.model import Check, Status
from provision.check.services import each_server, result
from provision.check.services.net import FILTERED_SECONDS, LDAP, LDAPS, NoConnection, Server, connect

ANONYMOUS = "services.ldap.anonymous"
PEOPLE = "(|(objectClass=person)(objectClass=inetOrgPerson))"
FIX = "close ports 389 and 636 in the firewall (provision apply does) and allow no anonymous reads in slapd"


def run(context: Context, domain: str) -> list[Check]:
    return each_server(context, ANONYMOUS, _server)


def _server(context: Context, server: Server) -> list[Check]:
    timeout = context.options.timeout
    # A firewall drops packets to closed ports: no answer within a short wait is the good result,
    # so the wait is short, and both ports are tried at once.
    wait = min(timeout, FILTERED_SECONDS)
    with ThreadPoolExecutor(max_workers=2) as pool:
        reachable = list(pool.map(lambda port: _reachable(server, port, wait), (LDAP, LDAPS)))
    open_ports = [port for port, is_open in zip((LDAP, LDAPS), reachable, strict=True) if is_open]
    if not open_ports:
        return [result(ANONYMOUS, Status.OK, f"{server.name} ({server.address}): LDAP ports 389 and 636 "
                       f"closed (refused, or no answer within {wait:g} s)")]
    return [_anonymous(server, port, timeout) for port in open_ports]


def _reachable(server: Server, port: int, wait: float) -> bool:
    try:
        connect(server, port, wait).close()
    except NoConnection:
        return False
    return True


def _anonymous(server: Server, port: int, timeout: float) -> Check:
    where = server.at(port)
    tls = ldap3.Tls(validate=ssl.CERT_NONE)  # what anyone can read matters here, not the certificate
    directory = ldap3.Server(str(server.address), port, use_ssl=port == LDAPS, tls=tls, get_info=ldap3.DSA,
                             connect_timeout=timeout)
    try:
        # ldap3 sets receive_timeout as SO_RCVTIMEO from whole seconds: a float is refused.
        with ldap3.Connection(directory, auto_bind=True, receive_timeout=math.ceil(timeout)) as connection:
            bases = list(directory.info.naming_contexts or []) if directory.info else []
            readable = [base for base in bases
                        if connection.search(base, PEOPLE, attributes=[], size_limit=1)]
    except LDAPBindError:
        return result(ANONYMOUS, Status.OK, f"{where} is open from outside but refuses anonymous binds")
    except LDAPException as error:
        return result(ANONYMOUS, Status.UNKNOWN, f"could not test: {where}: {error}", FIX)
    if readable:
        return result(ANONYMOUS, Status.CRIT, f"{where}: anyone can read people under {', '.join(readable)}",
                      FIX)
    return result(ANONYMOUS, Status.OK, f"{where} is open from outside but shows no people anonymously")


MODULE = CheckModule("services.ldap", (ANONYMOUS,), run, per_domain=False)
