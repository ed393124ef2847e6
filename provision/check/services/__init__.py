"""The services area: the server's ports as the outside world sees them.

An inventory is checked at its server's public addresses under its host name; a domain at each
address of each of its MX hosts, under the MX host's name.
"""

from __future__ import annotations

from collections.abc import Callable

from provision.check.context import Context
from provision.check.model import Check, Status
from provision.check.services.net import Server, ServiceError, Stalled

AREA = "services"
RETRY = "make sure the service runs and is not overloaded, then run the check again"


def result(check_id: str, status: Status, message: str, fix: str = "") -> Check:
    return Check(check_id, AREA, status, message, fix)


def servers(context: Context) -> list[Server]:
    target = context.target
    if target.helo and target.addresses:
        return [Server(target.helo, address) for address in target.addresses]
    return list(dict.fromkeys(Server(host, address) for domain in target.domains
                              for host in context.mx_hosts(domain) for address in context.addresses_of(host)))


def each_server(context: Context, first_id: str,
                check: Callable[[Context, Server], list[Check]]) -> list[Check]:
    """check() for every server, or one UNKNOWN when there is no server to check.

    What a server answers does not depend on the target: targets sharing a server share the result.
    """
    found = servers(context)
    if not found:
        return [result(first_id, Status.UNKNOWN, "no mail server to connect to (no MX host with an address)",
                       "publish an MX record and the MX host's A record")]
    return [finding for server in found for finding in
            context.shared.once((first_id, server), lambda server=server: check(context, server))]


def failed(check_id: str, error: ServiceError, fix: str) -> Check:
    """A step that went wrong: UNKNOWN when the server stalled (nothing could be judged), else CRIT."""
    if isinstance(error, Stalled):
        return result(check_id, Status.UNKNOWN, f"could not test: {error}", RETRY)
    return result(check_id, Status.CRIT, str(error), fix)


def no_tls_port(check_id: str, server: Server) -> Check:
    """Nothing to judge: 25, 465 and 993 are all closed, which the port's own checks report."""
    return result(check_id, Status.UNKNOWN, f"{server.name} ({server.address}): no TLS port reachable",
                  "see services.smtp.starttls, services.submissions.tls and services.imap.tls")
