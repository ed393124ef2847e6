"""`provision dns records`: the records of the example inventory, checked by Knot, kzonecheck and SPF."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
from ipaddress import ip_address
from pathlib import Path

import dns.rdata
import dns.rdataclass
import dns.rdatatype
import pytest

from provision.cli import main
from provision.dns import zonefile
from provision.dns.records import (
    MailRecords,
    MtaStsMode,
    Purpose,
    mail_records,
    mailto,
    mta_sts_policy,
    policy_id,
)
from provision.dns.spf import check_host
from provision.inventory import vault
from provision.inventory.model import Inventory, TlsMode
from provision.inventory.secrets import dkim_record
from tests.dns.records.conftest import EXAMPLE, ZONES, edit_settings, run, zone_sections
from tests.dnsserver import SOA, AuthoritativeServer

IPV4, IPV6 = "203.0.113.25", "2001:db8::25"


def test_records_decrypt_the_vault_once(monkeypatch, capsys):
    """Each ansible-vault run costs half a second: the loader's checks and the DKIM keys share one."""
    decrypted = []
    real = vault.run
    monkeypatch.setattr(vault, "_decrypted", {}, raising=False)
    monkeypatch.setattr(vault, "run", lambda argv, **options: decrypted.append(argv) or real(argv, **options))
    assert main(["dns", "records", str(EXAMPLE)]) == 0
    assert "_domainkey" in capsys.readouterr().out
    assert [argv[:2] for argv in decrypted] == [["ansible-vault", "decrypt"]]


@pytest.fixture(scope="module")
def snippet() -> str:
    done = run("dns", "records", "inventory.example")
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_snippet_holds_each_record_as_a_zone_file_line(snippet: str) -> None:
    lines = snippet.splitlines()
    for expected in (
        "mail.example.org. 3600 IN A 203.0.113.25",
        "mail.example.org. 3600 IN AAAA 2001:db8::25",
        "example.org. 3600 IN MX 10 mail.example.org.",
        "xn--bcher-kva.example. 3600 IN MX 10 mail.example.org.",
        'example.org. 3600 IN TXT "v=spf1 mx -all"',
        '_dmarc.example.org. 3600 IN TXT "v=DMARC1; p=quarantine; rua=mailto:admin@example.org"',
        '_smtp._tls.example.org. 3600 IN TXT "v=TLSRPTv1; rua=mailto:admin@example.org"',
        "mta-sts.example.org. 3600 IN CNAME mail.example.org.",
        "_submissions._tcp.example.org. 3600 IN SRV 0 1 465 mail.example.org.",
        "_submission._tcp.example.org. 3600 IN SRV 0 1 587 mail.example.org.",
        "_imaps._tcp.example.org. 3600 IN SRV 0 1 993 mail.example.org.",
        "_imap._tcp.example.org. 3600 IN SRV 0 0 0 .",
        "_pop3._tcp.example.org. 3600 IN SRV 0 0 0 .",
        "_caldavs._tcp.xn--bcher-kva.example. 3600 IN SRV 0 1 443 mail.example.org.",
        "_carddav._tcp.xn--bcher-kva.example. 3600 IN SRV 0 0 0 .",
        '_carddavs._tcp.example.org. 3600 IN TXT "path=/"',
        "autoconfig.xn--bcher-kva.example. 3600 IN CNAME mail.example.org.",
        'example.org. 3600 IN CAA 0 issue "letsencrypt.org"',
    ):
        assert expected in lines
    policy_id_line = next(line for line in lines if line.startswith("_mta-sts.example.org. "))
    assert policy_id_line.startswith('_mta-sts.example.org. 3600 IN TXT "v=STSv1; id=')
    assert ";   mode: testing" in lines and ";   mx: mail.example.org" in lines
    assert not any(line.startswith("autodiscover.") for line in lines)
    assert not any("TLSA" in line for line in lines if not line.startswith(";"))


def test_an_external_report_address_is_authorized_by_its_domain(snippet: str, inventory_copy: Path) -> None:
    # the example's admin address is at example.org: only bücher.example's reports leave the domain
    sections = zone_sections(snippet)
    authorization = 'xn--bcher-kva.example._report._dmarc.example.org. 3600 IN TXT "v=DMARC1"'
    assert authorization in sections["example.org."]
    assert not any("._report._dmarc." in line for line in sections["xn--bcher-kva.example."])
    assert sum("._report._dmarc." in line for line in snippet.splitlines()) == 1

    edit_settings(inventory_copy, "provision_admin_email: admin@example.org",
                  "provision_admin_email: postmaster@reports.example.net")
    done = run("--json", "dns", "records", str(inventory_copy))
    assert done.returncode == 0, done.stderr
    records = json.loads(done.stdout)["records"]
    assert [(r["name"], r["value"]) for r in records if r["purpose"] == "dmarc-report-authorization"] == [
        ("example.org._report._dmarc.reports.example.net.", "v=DMARC1"),
        ("xn--bcher-kva.example._report._dmarc.reports.example.net.", "v=DMARC1"),
    ]
    text = run("dns", "records", str(inventory_copy)).stdout
    outside = text.split(";; ---- outside these zones")[1]
    assert 'example.org._report._dmarc.reports.example.net. 3600 IN TXT "v=DMARC1"' in outside


def test_json_lists_typed_records_the_policy_and_notes(example: Inventory) -> None:
    done = run("--json", "dns", "records", "inventory.example")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert set(data) == {"records", "mta_sts_policy", "notes"}
    assert data["mta_sts_policy"] == (
        "version: STSv1\nmode: testing\nmx: mail.example.org\nmax_age: 604800\n")
    for record in data["records"]:
        assert set(record) == {"name", "type", "ttl", "value", "purpose"}
        assert record["name"].endswith(".") and record["ttl"] == 3600
        assert record["purpose"] in {purpose.value for purpose in Purpose}
    types = {(r["name"], r["type"]) for r in data["records"]}
    assert ("example.org.", "MX") in types and ("mail.example.org.", "AAAA") in types
    # a TXT value is the text itself, ready for a provider's web form
    assert {"name": "_dmarc.xn--bcher-kva.example.", "type": "TXT", "ttl": 3600, "purpose": "dmarc",
            "value": "v=DMARC1; p=quarantine; rua=mailto:admin@example.org"} in data["records"]
    assert any("PTR" in note for note in data["notes"])


def test_the_2048_bit_dkim_key_is_split_into_255_octet_strings(snippet: str,
                                                                dkim_keys: dict[str, str]) -> None:
    for domain in ("example.org", "xn--bcher-kva.example"):
        line = next(line for line in snippet.splitlines() if line.startswith(f"mail._domainkey.{domain}. "))
        rdata = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.TXT, line.split(" TXT ", 1)[1])
        strings = rdata.strings  # type: ignore[attr-defined]
        assert len(strings) == 2 and len(strings[0]) == 255
        assert b"".join(strings).decode() == dkim_record(dkim_keys[domain])


def test_the_spf_record_passes_the_servers_addresses(snippet: str, tmp_path: Path) -> None:
    with AuthoritativeServer(tmp_path / "knot") as server:
        server.load(zone_sections(snippet))
        resolver = server.resolver()
        for domain in ("example.org", "xn--bcher-kva.example"):
            for ip in (IPV4, IPV6):
                verdict = check_host(ip_address(ip), domain, f"a@{domain}", "mail.example.org", resolver)
                assert verdict.result == "pass", (domain, ip, verdict)
            stranger = check_host(ip_address("198.51.100.7"), domain, f"x@{domain}", "x.example", resolver)
            assert stranger.result == "fail"


@pytest.mark.skipif(shutil.which("kzonecheck") is None, reason="needs kzonecheck (Debian knot-dnssecutils)")
def test_kzonecheck_accepts_each_zone(snippet: str, tmp_path: Path) -> None:
    sections = zone_sections(snippet)
    assert set(sections) == set(ZONES)
    for zone, lines in sections.items():
        path = tmp_path / f"{zone}zone"
        header = [f"{zone} 3600 IN {SOA.format(serial=1)}", f"{zone} 3600 IN NS ns.invalid."]
        path.write_text("\n".join(header + lines) + "\n")
        done = subprocess.run(["kzonecheck", "-v", "-o", zone, str(path)], capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr


def test_the_policy_id_changes_exactly_with_the_policy() -> None:
    testing = mta_sts_policy("mail.example.org", MtaStsMode.TESTING)
    assert policy_id(testing) == policy_id(mta_sts_policy("mail.example.org", MtaStsMode.TESTING))
    assert policy_id(testing) != policy_id(mta_sts_policy("mail.example.org", MtaStsMode.ENFORCE))
    assert policy_id(testing) != policy_id(mta_sts_policy("mx.example.org", MtaStsMode.TESTING))
    assert policy_id(testing).isalnum() and 1 <= len(policy_id(testing)) <= 32


def _with(example: Inventory, **settings: object) -> Inventory:
    return dataclasses.replace(example, settings=dataclasses.replace(example.settings, **settings))


def _types(found: MailRecords) -> set[str]:
    return {record.type for record in found.records}


def test_caa_only_for_a_known_acme_ca(example: Inventory, dkim_keys: dict[str, str]) -> None:
    zerossl = mail_records(_with(example, acme_directory="https://acme.zerossl.com/v2/DV90"), dkim_keys)
    assert [r.value for r in zerossl.records if r.type == "CAA"] == ['0 issue "sectigo.com"'] * 2
    for settings in ({"tls_mode": TlsMode.SELF_SIGNED},
                     {"acme_directory": "https://acme.internal.example/directory"}):
        found = mail_records(_with(example, **settings), dkim_keys)
        assert "CAA" not in _types(found)
        assert any(note.startswith("no CAA record") for note in found.notes)


def test_tlsa_needs_dnssec_and_the_certificate(inventory_copy: Path, tmp_path: Path) -> None:
    key, certificate = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", key, "-out", certificate, "-subj", "/CN=mail.example.org",
                    "-days", "2"], check=True, capture_output=True)
    spki = subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-outform", "DER"],
                          check=True, capture_output=True).stdout
    digest = subprocess.run(["openssl", "dgst", "-sha256", "-r"], input=spki, check=True,
                            capture_output=True).stdout.split()[0].decode()

    signed = run("dns", "records", "inventory.example", "--dnssec", "--tlsa-cert", str(certificate))
    assert signed.returncode == 0, signed.stderr
    assert f"_25._tcp.mail.example.org. 300 IN TLSA 3 1 1 {digest}" in signed.stdout.splitlines()
    unsigned = run("dns", "records", "inventory.example", "--tlsa-cert", str(certificate))
    assert " IN TLSA " not in unsigned.stdout and "needs a DNSSEC-signed zone" in unsigned.stdout
    no_certificate = run("dns", "records", "inventory.example", "--dnssec")
    assert " IN TLSA " not in no_certificate.stdout and "--tlsa-cert" in no_certificate.stdout
    not_pem = run("dns", "records", "inventory.example", "--dnssec", "--tlsa-cert", str(key))
    assert not_pem.returncode == 2 and "is not a PEM certificate" in not_pem.stderr


def test_zone_file_text_escapes_and_splits() -> None:
    assert zonefile.txt('a "quoted" \\ text') == '"a \\034quoted\\034 \\092 text"'
    assert zonefile.txt("x" * 300) == f'"{"x" * 255}" "{"x" * 45}"'
    assert zonefile.txt("") == '""'


def test_report_addresses_escape_what_dmarc_reads_as_syntax() -> None:
    assert mailto("dmarc+reports@example.org") == "mailto:dmarc+reports@example.org"
    assert mailto("a!b%c@example.org") == "mailto:a%21b%25c@example.org"
