"""DNSSEC and DANE against zones Knot signs itself, through a validating resolver (Unbound).

The MX hosts of the signed zones point at the provisioned sandbox, so dns.dane.match compares the
TLSA records with the certificate its Postfix really serves on port 25.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from provision.check import runner
from provision.check.model import Check, Options, Status, Target
from tests.check.conftest import find, status
from tests.conftest import MailServer
from tests.dnsserver import AuthoritativeServer, ValidatingResolver

SIGNED = ("good.dnssec.test", "mismatch.dnssec.test", "ta.dnssec.test", "bogus.dnssec.test")
WRONG = "ab" * 32


def zone(domain: str, address: str, tlsa: str | None) -> list[str]:
    host = f"mail.{domain}."
    lines = [f"{domain}. 3600 MX 10 {host}", f"{host} 3600 A {address}"]
    return lines + ([f"_25._tcp.{host} 3600 TLSA {tlsa}"] if tlsa else [])


@pytest.fixture(scope="module")
def served(mail_server: MailServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, str]]:
    """Unbound's port, validating the signed zones, and the TLSA 3 1 1 data of the sandbox's certificate."""
    pem = mail_server.host.ssh("cat /etc/ssl/provision/fullchain.pem").stdout.encode()
    leaf = x509.load_pem_x509_certificates(pem)[0]
    spki = hashlib.sha256(leaf.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo))
    whole = hashlib.sha256(leaf.public_bytes(Encoding.DER)).hexdigest()  # self-signed: its own anchor
    address = mail_server.host.address
    zones = {
        "good.dnssec.test": zone("good.dnssec.test", address, f"3 1 1 {spki.hexdigest()}"),
        "mismatch.dnssec.test": zone("mismatch.dnssec.test", address, f"3 1 1 {WRONG}"),
        "ta.dnssec.test": zone("ta.dnssec.test", address, f"2 0 1 {whole}"),
        "bogus.dnssec.test": zone("bogus.dnssec.test", address, None),
        "unsigned.dnssec.test": zone("unsigned.dnssec.test", address, f"3 1 1 {spki.hexdigest()}"),
    }
    directory = tmp_path_factory.mktemp("dnssec")
    with AuthoritativeServer(directory / "knot") as server:
        server.load(zones, signed=SIGNED)
        anchors = [key for domain in SIGNED[:-1] for key in server.keys(domain)]
        # bogus.dnssec.test is anchored to another zone's key: its signatures cannot validate.
        anchors += [key.replace("good.dnssec.test.", "bogus.dnssec.test.", 1)
                    for key in server.keys("good.dnssec.test")]
        with ValidatingResolver(directory / "unbound", server, anchors) as resolver:
            yield resolver.port, spki.hexdigest()


def checks(served: tuple[int, str], domain: str) -> list[Check]:
    options = Options(nameservers=(("127.0.0.1", served[0]),), timeout=3.0, check_timeout=20.0)
    selection = runner.Selection(("dns.dnssec", "dns.dane"))
    return runner.run([Target(domain, (domain,))], options, selection)[0].checks


def test_a_signed_zone_with_matching_tlsa_is_ok(served: tuple[int, str], mail_server: MailServer) -> None:
    found = checks(served, "good.dnssec.test")
    assert {check.id: check.status for check in found} == {
        "dns.dnssec.signed": Status.OK, "dns.dane.tlsa": Status.OK, "dns.dane.match": Status.OK}, found
    assert "signed, and the resolver validates it" in find(found, "dns.dnssec.signed").message
    assert f"({mail_server.host.address}) port 25" in find(found, "dns.dane.match").message


def test_a_trust_anchor_record_matches_the_chain(served: tuple[int, str]) -> None:
    assert status(checks(served, "ta.dnssec.test"), "dns.dane.match") is Status.OK


def test_tlsa_that_matches_no_served_certificate_is_crit(served: tuple[int, str]) -> None:
    found = checks(served, "mismatch.dnssec.test")
    match = find(found, "dns.dane.match")
    assert match.status is Status.CRIT
    assert "no TLSA record at _25._tcp.mail.mismatch.dnssec.test matches" in match.message
    # The fix is the record of the key the server really uses.
    assert f"_25._tcp.mail.mismatch.dnssec.test. 3600 IN TLSA 3 1 1 {served[1]}" in match.fix
    assert status(found, "dns.dnssec.signed") is Status.OK


def test_a_bogus_zone_is_crit_not_unknown(served: tuple[int, str]) -> None:
    signed = find(checks(served, "bogus.dnssec.test"), "dns.dnssec.signed")
    assert signed.status is Status.CRIT, signed
    assert "bogus" in signed.message and "DS records" in signed.fix


def test_tlsa_in_an_unsigned_zone_warns_and_is_not_compared(served: tuple[int, str]) -> None:
    found = checks(served, "unsigned.dnssec.test")
    assert status(found, "dns.dnssec.signed") is Status.OK
    assert "not signed" in find(found, "dns.dnssec.signed").message
    assert status(found, "dns.dane.tlsa") is Status.WARN
    assert "not DNSSEC-validated" in find(found, "dns.dane.tlsa").message
    assert not [check for check in found if check.id == "dns.dane.match"]
