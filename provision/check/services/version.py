"""TLS 1.2 or later only: a TLS 1.0/1.1 handshake on 25 (STARTTLS), 465 and 993 must be refused."""

from __future__ import annotations

from provision.check.context import CheckModule, Context
from provision.check.model import Check, Status
from provision.check.services import each_server, failed, no_tls_port, result
from provision.check.services.net import (
    TLS_PORTS,
    HandshakeFailed,
    NoConnection,
    Server,
    ServiceError,
    handshake,
    legacy_context,
)

VERSION = "services.tls.version"
FIX = ("allow only TLS 1.2 and later: smtpd_tls_protocols and smtpd_tls_mandatory_protocols = >=TLSv1.2 in "
       "Postfix, ssl_min_protocol = TLSv1.2 in Dovecot (provision apply sets them)")


def run(context: Context, domain: str) -> list[Check]:
    return each_server(context, VERSION, _server)


def _server(context: Context, server: Server) -> list[Check]:
    accepted, refused = [], []
    for port in TLS_PORTS:
        try:
            done = handshake(server, port, legacy_context(), context.options.timeout)
        except NoConnection:  # the other checks' finding
            continue
        except HandshakeFailed:
            refused.append(str(port))
            continue
        except ServiceError as error:
            return [failed(VERSION, error, FIX)]
        accepted.append(f"port {port} ({done.version})")
    if accepted:
        return [result(VERSION, Status.CRIT, f"{server.name} ({server.address}) accepts TLS older than 1.2 "
                       f"on {', '.join(accepted)}", FIX)]
    if not refused:
        return [no_tls_port(VERSION, server)]
    return [result(VERSION, Status.OK, f"{server.name} ({server.address}) refuses TLS 1.0 and 1.1 on ports "
                   f"{', '.join(refused)}")]


MODULE = CheckModule("services.tls.version", (VERSION,), run, per_domain=False)
