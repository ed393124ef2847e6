"""DANE TLSA records of the MX hosts (RFC 7672): usable, DNSSEC-validated, matching the served certificate.

Senders use TLSA records only when the resolver validated them, and then refuse to deliver to a
server whose certificate matches none: a record left over from an old certificate stops all mail
from DANE senders. The certificate is fetched from port 25 (STARTTLS) of each MX host's addresses.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import dns.rdatatype
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from provision.check.context import CheckModule, Context
from provision.check.dns import result
from provision.check.dns.dnssec import validated
from provision.check.model import Check, Status
from provision.check.services.net import SMTP, Server, ServiceError, handshake, tls_context

TLSA, MATCH = "dns.dane.tlsa", "dns.dane.match"
USABLE_USAGES = {2: "DANE-TA", 3: "DANE-EE"}  # PKIX-TA (0) and PKIX-EE (1) do not apply to SMTP
DIGESTS = {1: hashlib.sha256, 2: hashlib.sha512}  # matching type 0 is the data itself


@dataclass(frozen=True)
class Published:
    host: str
    name: str  # _25._tcp.HOST
    records: list  # dnspython TLSA rdata with a usable usage


def run(context: Context, domain: str) -> list[Check]:
    published, problems = [], []
    for host in context.mx_hosts(domain):
        name = f"_25._tcp.{host}"
        records = context.answer(name, dns.rdatatype.TLSA).records
        if not records:
            continue
        usable = [record for record in records if record.usage in USABLE_USAGES]  # type: ignore[attr-defined]
        if not usable:
            problems.append(f"{name} has only PKIX usages (0, 1), which SMTP ignores")
        elif not validated(context, name, dns.rdatatype.TLSA):
            problems.append(f"{name} is not DNSSEC-validated, so senders ignore it")
        else:
            published.append(Published(host, name, usable))
    if problems:
        return [result(TLSA, Status.WARN, f"{domain}: {'; '.join(problems)}",
                       "sign the MX host's zone with DNSSEC and publish TLSA 3 1 1 (or 2 0 1) records"),
                *(_match(context, domain, entry) for entry in published)]
    if published:
        return [result(TLSA, Status.OK, f"{domain}: DANE TLSA published and validated at "
                       f"{', '.join(entry.name for entry in published)}"),
                *(_match(context, domain, entry) for entry in published)]
    return [result(TLSA, Status.OK, f"{domain}: no TLSA records: DANE is not used (optional)")]


def _match(context: Context, domain: str, entry: Published) -> Check:
    """Every address of the host must serve a certificate that one of the records matches."""
    matched, failed, errors = [], [], []
    for address in context.addresses_of(entry.host):
        server = Server(entry.host, address)
        try:
            chain = handshake(server, SMTP, tls_context(verify=False), context.options.timeout).chain
        except ServiceError as error:
            errors.append(str(error))
            continue
        (matched if any(_matches(record, chain) for record in entry.records) else failed).append(
            (server, chain[0]))
    if failed:
        server, leaf = failed[0]
        wanted = hashlib.sha256(_spki(leaf)).hexdigest()
        return result(MATCH, Status.CRIT,
                      f"{domain}: no TLSA record at {entry.name} matches the certificate {server.at(SMTP)} "
                      "serves: senders that use DANE will not deliver mail to it",
                      f"publish `{entry.name}. 3600 IN TLSA 3 1 1 {wanted}` (the served key) and remove the "
                      "stale records; when the key changes, publish the new key's record before using it")
    if errors:
        return result(MATCH, Status.UNKNOWN, f"{domain}: could not compare {entry.name} with the served "
                      f"certificate: {'; '.join(errors)}", "see the services checks of port 25")
    where = ", ".join(server.at(SMTP) for server, _ in matched)
    return result(MATCH, Status.OK, f"{domain}: {entry.name} matches the certificate served by {where}")


def _matches(record: object, chain: tuple[bytes, ...]) -> bool:
    """DANE-EE matches the server's own certificate; DANE-TA one the server sends in its chain."""
    certificates = chain[:1] if record.usage == 3 else chain  # type: ignore[attr-defined]
    return any(_association(der, record.selector, record.mtype) == record.cert  # type: ignore[attr-defined]
               for der in certificates)


def _association(der: bytes, selector: int, matching: int) -> bytes | None:
    data = der if selector == 0 else _spki(der) if selector == 1 else None
    if data is None or (matching and matching not in DIGESTS):
        return None
    return DIGESTS[matching](data).digest() if matching else data


def _spki(der: bytes) -> bytes:
    return x509.load_der_x509_certificate(der).public_key().public_bytes(
        Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


MODULE = CheckModule("dns.dane", (TLSA, MATCH), run)
