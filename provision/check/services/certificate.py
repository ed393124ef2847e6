"""The certificate served on 25 (STARTTLS), 465 and 993: trusted, for the server's name, not expiring soon."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from cryptography import x509

from provision.check.context import CheckModule, Context
from provision.check.model import Check, Options, Status
from provision.check.services import each_server, failed, no_tls_port, result
from provision.check.services.net import (
    TLS_PORTS,
    NoConnection,
    Server,
    ServiceError,
    Untrusted,
    handshake,
    tls_context,
)

CERTIFICATE, EXPIRY = "services.tls.certificate", "services.tls.expiry"
WARN_DAYS, CRIT_DAYS = 21, 7
FIX_TRUST = ("set provision_tls_mode: acme (or files, with a certificate from a public CA) and run provision "
             "apply; to trust a test server's own certificate, give it with --ca-file")
FIX_RENEW = ("renew the certificate: with tls mode acme run provision apply and check that renewal works "
             "(journalctl -u certbot); with tls mode files install a new one")


@dataclass(frozen=True)
class Served:
    """What one port presented: its certificate, and why it is not trusted ("" when it is)."""

    port: int
    certificate: x509.Certificate
    problem: str


def run(context: Context, domain: str) -> list[Check]:
    return each_server(context, CERTIFICATE, _server)


def _server(context: Context, server: Server) -> list[Check]:
    served: list[Served] = []
    for port in TLS_PORTS:
        try:
            served.append(_fetch(server, port, context.options))
        except NoConnection:  # the other checks' finding
            continue
        except ServiceError as error:
            return [failed(CERTIFICATE, error, FIX_TRUST)]
    if not served:
        return [no_tls_port(CERTIFICATE, server)]
    return [_trust(server, served), _expiry(server, served)]


def _fetch(server: Server, port: int, options: Options) -> Served:
    """The port's certificate, verified; when that fails, looked at unverified to say why."""
    try:
        done, problem = handshake(server, port, tls_context(options.ca_file), options.timeout), ""
    except Untrusted as error:
        done, problem = handshake(server, port, tls_context(verify=False), options.timeout), error.reason
    return Served(port, x509.load_der_x509_certificate(done.certificate), problem)


def _trust(server: Server, served: list[Served]) -> Check:
    problems = [f"port {one.port}: {_explain(one, server)}" for one in served if one.problem]
    if problems:
        return result(CERTIFICATE, Status.CRIT, f"{server.name} ({server.address}): the certificate is not "
                      f"valid: {'; '.join(problems)}", FIX_TRUST)
    ports = ", ".join(str(one.port) for one in served)
    return result(CERTIFICATE, Status.OK, f"{server.name} ({server.address}) ports {ports}: a valid "
                  f"certificate for {server.name}, issued by {served[0].certificate.issuer.rfc4514_string()}")


def _explain(served: Served, server: Server) -> str:
    """OpenSSL's reason, with what it means for mail."""
    certificate = served.certificate
    if certificate.issuer == certificate.subject and "self" in served.problem:
        return "self-signed: senders and mail clients cannot verify it"
    if "mismatch" in served.problem.lower():
        return f"issued for {', '.join(_names(certificate)) or 'no name'}, not {server.name}"
    return served.problem


def _names(certificate: x509.Certificate) -> list[str]:
    try:
        extension = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return [str(attribute.value) for attribute in certificate.subject]
    return extension.value.get_values_for_type(x509.DNSName)


def _expiry(server: Server, served: list[Served]) -> Check:
    soonest = min(served, key=lambda one: one.certificate.not_valid_after_utc)
    end = soonest.certificate.not_valid_after_utc
    days = (end - datetime.datetime.now(datetime.UTC)).total_seconds() / 86400
    where = f"{server.at(soonest.port)}: the certificate"
    if days < 0:
        return result(EXPIRY, Status.CRIT, f"{where} expired on {end:%Y-%m-%d}", FIX_RENEW)
    message = f"{where} expires on {end:%Y-%m-%d}, in {int(days)} days"
    if days < CRIT_DAYS:
        return result(EXPIRY, Status.CRIT, message, FIX_RENEW)
    if days < WARN_DAYS:
        return result(EXPIRY, Status.WARN, message, FIX_RENEW)
    return result(EXPIRY, Status.OK, message)


MODULE = CheckModule("services.tls", (CERTIFICATE, EXPIRY), run, per_domain=False)
