"""Every DNS record a customer must publish for their mail server, as typed data.

mail_records() is the one place that knows these records: `provision dns records` prints them,
`provision dns push` applies them, and the health checks compare them with what DNS serves.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from provision.inventory.model import Inventory, TlsMode
from provision.inventory.secrets import dkim_record

TTL = 3600
CERTIFICATE_TTL = 300  # TLSA follows the certificate's key: short, so a key change spreads fast
MTA_STS_MAX_AGE = 604800  # one week, the value RFC 8461 §3.2 suggests
SPF = "v=spf1 mx -all"
DAV_PATH = "/"  # Radicale serves its principals from the root of the host


class Purpose(StrEnum):
    """Why a record exists; the zone file groups records by it and says this in a comment."""

    HOST = "mail-host"
    MX = "mx"
    SPF = "spf"
    DKIM = "dkim"
    DMARC = "dmarc"
    DMARC_REPORTS = "dmarc-report-authorization"
    MTA_STS = "mta-sts"
    TLS_RPT = "tls-rpt"
    MAIL_SERVICES = "mail-services"
    DAV_SERVICES = "dav-services"
    AUTOCONFIG = "autoconfig"
    CAA = "caa"
    DANE = "dane"


class MtaStsMode(StrEnum):
    TESTING = "testing"
    ENFORCE = "enforce"


@dataclass(frozen=True)
class Record:
    """One resource record. name is absolute (A-labels, trailing dot); value is the rdata in
    zone-file form, except for TXT, where it is the text itself, unquoted and unsplit."""

    name: str
    type: str
    ttl: int
    value: str
    purpose: Purpose


@dataclass(frozen=True)
class MailRecords:
    """The records, the MTA-STS policy file the web server must serve, and notes for people."""

    records: tuple[Record, ...]
    mta_sts_policy: str
    notes: tuple[str, ...]


# ACME directory host -> the CA's domain for CAA "issue" (RFC 8659), for CAs whose domain is known.
CAA_DOMAINS = {
    "acme-v02.api.letsencrypt.org": "letsencrypt.org",
    "acme-staging-v02.api.letsencrypt.org": "letsencrypt.org",
    "acme.zerossl.com": "sectigo.com",
    "api.buypass.com": "buypass.com",
    "api.test4.buypass.no": "buypass.com",
    "dv.acme-v02.api.pki.goog": "pki.goog",
    "dv.acme-v02.test-api.pki.goog": "pki.goog",
    "acme.ssl.com": "ssl.com",
}

# (service label, port) by RFC 6186 / RFC 8314; port 0 is "not offered" with target ".".
MAIL_SERVICES = (("_submissions", 465), ("_submission", 587), ("_imaps", 993),
                 ("_imap", 0), ("_pop3s", 0), ("_pop3", 0))
DAV_SERVICES = (("_caldavs", 443), ("_carddavs", 443), ("_caldav", 0), ("_carddav", 0))


def mail_records(inventory: Inventory, dkim_keys: Mapping[str, str], *, dnssec: bool = False,
                 tls_certificate: bytes | None = None,
                 mta_sts_mode: MtaStsMode = MtaStsMode.TESTING) -> MailRecords:
    """The records for every domain of the inventory.

    dkim_keys maps each domain to its DKIM private key in PEM (the vault's vault_dkim_private_keys);
    dnssec says the zones are signed, so a TLSA record is meaningful; tls_certificate is the
    server's certificate in PEM, from which the TLSA record is computed.
    """
    settings = inventory.settings
    host = absolute(settings.hostname)
    policy = mta_sts_policy(settings.hostname, mta_sts_mode)
    records = [Record(host, "A", TTL, str(settings.public_ipv4), Purpose.HOST)]
    if settings.public_ipv6:
        records.append(Record(host, "AAAA", TTL, str(settings.public_ipv6), Purpose.HOST))
    notes = [_ptr_note(inventory)]
    for domain in settings.domains:
        records += _domain_records(domain, host, settings.admin_email, settings.dkim_selector,
                                   dkim_keys[domain], policy)
        records += _caa(domain, settings.tls_mode, settings.acme_directory)
    records += _report_authorizations(settings.domains, settings.admin_email)
    notes += _caa_notes(settings.tls_mode, settings.acme_directory)
    tlsa, tlsa_notes = _tlsa(host, dnssec, tls_certificate)
    records += tlsa
    notes += tlsa_notes
    notes.append(_mta_sts_note(mta_sts_mode))
    if settings.smarthost:
        notes.append(f"mail leaves through the smarthost {settings.smarthost.host}: add the SPF mechanism "
                     "its provider documents (usually include:…) to each SPF record")
    return MailRecords(tuple(records), policy, tuple(notes))


def _domain_records(domain: str, host: str, admin_email: str, selector: str, dkim_pem: str,
                    policy: str) -> list[Record]:
    apex = absolute(domain)
    rua = mailto(admin_email)
    records = [
        Record(apex, "MX", TTL, f"10 {host}", Purpose.MX),
        # "mx" rather than ip4:/ip6: the record stays right when the server's addresses change,
        # and it costs one of SPF's ten lookups.
        Record(apex, "TXT", TTL, SPF, Purpose.SPF),
        Record(f"{selector}._domainkey.{apex}", "TXT", TTL, dkim_record(dkim_pem), Purpose.DKIM),
        Record(f"_dmarc.{apex}", "TXT", TTL, f"v=DMARC1; p=quarantine; rua={rua}", Purpose.DMARC),
        Record(f"_mta-sts.{apex}", "TXT", TTL, f"v=STSv1; id={policy_id(policy)}", Purpose.MTA_STS),
        Record(f"mta-sts.{apex}", "CNAME", TTL, host, Purpose.MTA_STS),
        Record(f"_smtp._tls.{apex}", "TXT", TTL, f"v=TLSRPTv1; rua={rua}", Purpose.TLS_RPT),
    ]
    records += [_srv(service, apex, port, host, Purpose.MAIL_SERVICES) for service, port in MAIL_SERVICES]
    records += [_srv(service, apex, port, host, Purpose.DAV_SERVICES) for service, port in DAV_SERVICES]
    records += [Record(f"{service}._tcp.{apex}", "TXT", TTL, f"path={DAV_PATH}", Purpose.DAV_SERVICES)
                for service, port in DAV_SERVICES if port]
    # Thunderbird's autoconfig name only: nothing serves Outlook's autodiscover, and a name pointing
    # at the server would send Outlook to a certificate that does not cover it.
    records.append(Record(f"autoconfig.{apex}", "CNAME", TTL, host, Purpose.AUTOCONFIG))
    return records


def mailto(address: str) -> str:
    """A report URI for DMARC and TLS-RPT, where "!" starts a size limit and "," or ";" end the URI."""
    return "mailto:" + address.translate({ord(char): f"%{ord(char):02X}" for char in "%!,;"})


def _srv(service: str, apex: str, port: int, host: str, purpose: Purpose) -> Record:
    value = f"0 1 {port} {host}" if port else "0 0 0 ."
    return Record(f"{service}._tcp.{apex}", "SRV", TTL, value, purpose)


def _report_authorizations(domains: tuple[str, ...], admin_email: str) -> list[Record]:
    """RFC 7489 §7.1: a report address outside the domain must be authorized by its own domain."""
    admin_domain = admin_email.rpartition("@")[2].lower()
    return [Record(f"{domain}._report._dmarc.{absolute(admin_domain)}", "TXT", TTL, "v=DMARC1",
                   Purpose.DMARC_REPORTS)
            for domain in domains if not is_within(admin_domain, domain)]


def _caa(domain: str, tls_mode: TlsMode, acme_directory: str) -> list[Record]:
    issuer = caa_domain(acme_directory) if tls_mode is TlsMode.ACME else None
    return [Record(absolute(domain), "CAA", TTL, f'0 issue "{issuer}"', Purpose.CAA)] if issuer else []


def caa_domain(acme_directory: str) -> str | None:
    """The CAA issuer domain of a known ACME CA, from its directory URL."""
    return CAA_DOMAINS.get((urlsplit(acme_directory).hostname or "").lower())


def _caa_notes(tls_mode: TlsMode, acme_directory: str) -> list[str]:
    if tls_mode is not TlsMode.ACME:
        return [f"no CAA record: with TLS mode {tls_mode.value} provision does not know which CA issues "
                "the certificate"]
    issuer = caa_domain(acme_directory)
    if issuer is None:
        return [f"no CAA record: the CA of {acme_directory} is not known to provision; publish "
                "CAA 0 issue \"CA-DOMAIN\" with the domain that CA documents"]
    return [f"the CAA record allows only {issuer} to issue certificates for each domain and its "
            "subdomains: if a website under the domain uses another CA, add an issue record for it too"]


def _tlsa(host: str, dnssec: bool, certificate: bytes | None) -> tuple[list[Record], list[str]]:
    if not dnssec:
        return [], ["no TLSA record: DANE needs a DNSSEC-signed zone (give --dnssec when it is signed)"]
    if certificate is None:
        return [], ["no TLSA record: it needs the server's certificate (give --tlsa-cert FILE)"]
    record = Record(f"_25._tcp.{host}", "TLSA", CERTIFICATE_TTL, f"3 1 1 {spki_sha256(certificate)}",
                    Purpose.DANE)
    return [record], ["the TLSA record pins the certificate's key: renew with the same key (certbot "
                      "--reuse-key), or publish the next key's record before the key changes"]


def spki_sha256(certificate_pem: bytes) -> str:
    """The SHA-256 of the first certificate's SubjectPublicKeyInfo, in hex (TLSA 3 1 1)."""
    certificate = x509.load_pem_x509_certificate(certificate_pem)
    spki = certificate.public_key().public_bytes(serialization.Encoding.DER,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(spki).hexdigest()


def mta_sts_policy(hostname: str, mode: MtaStsMode) -> str:
    """The policy file served at https://mta-sts.DOMAIN/.well-known/mta-sts.txt (RFC 8461 §3.2)."""
    return f"version: STSv1\nmode: {mode.value}\nmx: {hostname}\nmax_age: {MTA_STS_MAX_AGE}\n"


def policy_id(policy: str) -> str:
    """The _mta-sts id: derived from the policy, so it changes exactly when the policy does."""
    digest = hashlib.sha256(policy.encode()).digest()
    return base64.b32encode(digest).decode().rstrip("=")[:20]


def _mta_sts_note(mode: MtaStsMode) -> str:
    where = "https://mta-sts.DOMAIN/.well-known/mta-sts.txt"
    if mode is MtaStsMode.TESTING:
        return (f"the MTA-STS policy (served at {where}) is in mode testing: senders only report "
                "failures. Switch to --mta-sts-mode enforce once the policy is served with a valid "
                "certificate and TLS-RPT reports show no failures; enforce too early makes senders hold mail")
    return f"the MTA-STS policy in mode enforce must be served at {where} with a valid certificate"


def _ptr_note(inventory: Inventory) -> str:
    settings = inventory.settings
    addresses = " and ".join(str(ip) for ip in (settings.public_ipv4, settings.public_ipv6) if ip)
    return (f"ask the provider of {addresses} to set the reverse DNS (PTR) to {settings.hostname}; "
            "it is not part of the customer's zone")


def absolute(name: str) -> str:
    return name.rstrip(".").lower() + "."


def is_within(name: str, domain: str) -> bool:
    """name is domain or a name below it."""
    name, domain = name.rstrip(".").lower(), domain.rstrip(".").lower()
    return name == domain or name.endswith("." + domain)
