"""Each dns check against a correct zone and the broken ones it must flag, through a real Knot server."""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from provision.check.model import Check, Status, Target
from tests.check.conftest import find, settle, status
from tests.check.zones import SERVER, SILENT
from tests.dnsserver import AuthoritativeServer

Run = Callable[..., list[Check]]


def test_a_healthy_domain_passes_every_check(run_checks: Run) -> None:
    checks = run_checks("good.test", "dns")
    assert [check for check in checks if check.status is not Status.OK] == []
    assert {check.id for check in checks} >= {
        "dns.mx.present", "dns.spf.pass", "dns.dkim.size", "dns.dmarc.policy", "dns.mta_sts.mx",
        "dns.tlsrpt.record", "dns.ptr.fcrdns", "dns.ptr.helo", "dns.caa.issuer", "dns.dnsbl.address"}


@pytest.mark.parametrize(("domain", "check_id", "expected", "fix"), [
    ("nomx.test", "dns.mx.present", Status.CRIT, "nomx.test. 3600 IN MX 10 mail.nomx.test."),
    ("dupmx.test", "dns.mx.duplicates", Status.WARN, "one MX record per host"),
    ("softspf.test", "dns.spf.all", Status.WARN, "-all"),
    ("voidspf.test", "dns.spf.limits", Status.WARN, "remove terms"),
    ("nodmarc.test", "dns.dmarc.record", Status.CRIT, "_dmarc.nodmarc.test. 3600 IN TXT"),
    ("sub.parent.test", "dns.dmarc.policy", Status.WARN, "p=quarantine"),
    ("cnamemx.test", "dns.mx.cname", Status.CRIT, "canonical host name"),
    ("nullmixed.test", "dns.mx.null", Status.CRIT, "nullmixed.test. IN MX 0 ."),
    ("noaddress.test", "dns.mx.resolve", Status.CRIT, "mail.noaddress.test. 3600 IN A"),
    ("twospf.test", "dns.spf.record", Status.CRIT, "merge them"),
    ("spfsyntax.test", "dns.spf.record", Status.CRIT, "correct the record"),
    ("lookups.test", "dns.spf.limits", Status.CRIT, "bring the lookups down to 10"),
    ("spfmiss.test", "dns.spf.pass", Status.CRIT,
     'spfmiss.test. 3600 IN TXT "v=spf1 ip4:198.51.100.1 ip4:192.0.2.10 -all"'),
    ("plusall.test", "dns.spf.all", Status.CRIT, "-all"),
    ("nodkim.test", "dns.dkim.key", Status.CRIT, "mail._domainkey.nodkim.test"),
    ("weakdkim.test", "dns.dkim.size", Status.WARN, "2048-bit key"),
    ("baddkim.test", "dns.dkim.key", Status.CRIT, "mail._domainkey.baddkim.test"),
    ("dmarcsyntax.test", "dns.dmarc.record", Status.CRIT, "_dmarc.dmarcsyntax.test. 3600 IN TXT"),
    ("dmarcnone.test", "dns.dmarc.policy", Status.WARN, "p=quarantine"),
    ("ruaext.test", "dns.dmarc.rua", Status.WARN,
     'ruaext.test._report._dmarc.reports.test. 3600 IN TXT "v=DMARC1"'),
    ("stsmismatch.test", "dns.mta_sts.mx", Status.CRIT, "'mx: mail.good.test'"),
    ("stsredirect.test", "dns.mta_sts.policy", Status.CRIT, "no redirect"),
    ("stsbig.test", "dns.mta_sts.policy", Status.CRIT, "serve the policy"),
    ("stshtml.test", "dns.mta_sts.policy", Status.WARN, "Content-Type: text/plain"),
    ("notlsrpt.test", "dns.tlsrpt.record", Status.WARN, "_smtp._tls.notlsrpt.test. 3600 IN TXT"),
    ("danebad.test", "dns.dane.tlsa", Status.WARN, "DNSSEC"),
])
def test_a_broken_zone_is_flagged_with_a_fix(run_checks: Run, domain: str, check_id: str, expected: Status,
                                             fix: str) -> None:
    checks = run_checks(domain, check_id)
    assert status(checks, check_id) is expected, checks
    assert fix in find(checks, check_id).fix


def test_messages_say_what_is_wrong(run_checks: Run) -> None:
    assert "RFC 2181 §10.3" in find(run_checks("cnamemx.test", "dns.mx.cname"), "dns.mx.cname").message
    assert "2 SPF records" in find(run_checks("twospf.test", "dns.spf.record"), "dns.spf.record").message
    assert "11 DNS lookups" in find(run_checks("lookups.test", "dns.spf.limits"), "dns.spf.limits").message
    assert "p=block" in find(run_checks("dmarcsyntax.test", "dns.dmarc.record"), "dns.dmarc.record").message
    assert "1024 bits" in find(run_checks("weakdkim.test", "dns.dkim.size"), "dns.dkim.size").message
    assert "base64" in find(run_checks("baddkim.test", "dns.dkim.key"), "dns.dkim.key").message
    big = find(run_checks("stsbig.test", "dns.mta_sts"), "dns.mta_sts.policy")
    assert "larger than 64 KiB" in big.message
    assert "https://elsewhere.test/policy" in find(run_checks("stsredirect.test", "dns.mta_sts"),
                                                   "dns.mta_sts.policy").message


def test_mode_testing_is_how_a_policy_starts_not_a_fault(run_checks: Run) -> None:
    # provision dns records publishes mode testing first; the check says what comes next.
    policy = find(run_checks("ststesting.test", "dns.mta_sts"), "dns.mta_sts.policy")
    assert policy.status is Status.OK
    assert "mode testing" in policy.message and "set mode: enforce" in policy.message


def test_a_parent_dmarc_record_applies_to_a_subdomain(run_checks: Run) -> None:
    checks = run_checks("sub.parent.test", "dns.dmarc")
    assert "published at _dmarc.parent.test" in find(checks, "dns.dmarc.record").message
    assert status(checks, "dns.dmarc.rua") is Status.OK


def test_an_ed25519_dkim_key_is_accepted(run_checks: Run) -> None:
    checks = run_checks("edkim.test", "dns.dkim")
    assert [(check.id, check.status) for check in checks] == [("dns.dkim.key", Status.OK),
                                                              ("dns.dkim.size", Status.OK)]


def test_dnssec_is_not_judged_without_a_validating_resolver(run_checks: Run) -> None:
    check = find(run_checks("keyed.test", "dns.dnssec"), "dns.dnssec.signed")
    assert check.status is Status.UNKNOWN
    assert "validating resolver" in check.fix


def test_a_null_mx_is_valid_for_a_domain_without_mail(run_checks: Run) -> None:
    checks = run_checks("nullmx.test", "dns.mx")
    assert [(check.id, check.status) for check in checks] == [("dns.mx.null", Status.OK)]


def test_a_null_mx_on_an_inventory_domain_is_critical(run_checks: Run) -> None:
    target = Target("acme", ("nullmx.test",), (ipaddress.ip_address(SERVER),), helo="mail.good.test")
    assert status(run_checks(target, "dns.mx"), "dns.mx.null") is Status.CRIT


def test_an_authorised_external_report_destination_passes(run_checks: Run) -> None:
    assert status(run_checks("ruaauth.test", "dns.dmarc.rua"), "dns.dmarc.rua") is Status.OK


def test_the_policy_is_refused_without_the_ca(run_checks: Run) -> None:
    check = find(run_checks("good.test", "dns.mta_sts", ca_file=None), "dns.mta_sts.policy")
    assert check.status is Status.CRIT
    assert "certificate" in check.message


@pytest.mark.parametrize(("address", "check_id", "expected"), [
    ("192.0.2.12", "dns.ptr.present", Status.CRIT),  # no PTR
    ("192.0.2.11", "dns.ptr.fcrdns", Status.CRIT),  # PTR name without an address
    ("192.0.2.13", "dns.ptr.fcrdns", Status.CRIT),  # PTR name with another address
    ("192.0.2.14", "dns.ptr.helo", Status.WARN),  # FCrDNS fine, but not the HELO name
    ("192.0.2.14", "dns.ptr.fcrdns", Status.OK),
])
def test_reverse_dns_of_the_server(run_checks: Run, address: str, check_id: str, expected: Status) -> None:
    target = Target("acme", ("good.test",), (ipaddress.ip_address(address),), helo="mail.good.test")
    checks = run_checks(target, "dns.ptr")
    assert status(checks, check_id) is expected, checks
    assert address in find(checks, check_id).message


def test_caa_that_forbids_the_ca_in_use(run_checks: Run) -> None:
    target = Target("acme", ("caaforbid.test",), (ipaddress.ip_address(SERVER),), helo="mail.caaforbid.test",
                    acme_directory="https://acme-v02.api.letsencrypt.org/directory")
    check = find(run_checks(target, "dns.caa"), "dns.caa.issuer")
    assert check.status is Status.CRIT
    assert 'caaforbid.test. 3600 IN CAA 0 issue "letsencrypt.org"' in check.fix
    allowed = Target("acme", ("caaforbid.test",), helo="mail.caaforbid.test", ca="other-ca.test")
    assert status(run_checks(allowed, "dns.caa"), "dns.caa.issuer") is Status.OK


def test_the_ca_in_use_is_read_from_the_acme_directory(run_checks: Run,
                                                       https_server: tuple[int, Path]) -> None:
    port, ca_file = https_server

    def target(domain: str) -> Target:
        return Target("acme", (domain,), helo=f"mail.{domain}", acme_ca_file=ca_file,
                      acme_directory=f"https://acme.good.test:{port}/directory")
    assert status(run_checks(target("caaforbid.test"), "dns.caa"), "dns.caa.issuer") is Status.OK
    check = find(run_checks(target("good.test"), "dns.caa"), "dns.caa.issuer")
    assert check.status is Status.CRIT
    assert 'good.test. 3600 IN CAA 0 issue "other-ca.test"' in check.fix


def test_a_listed_address_is_critical(run_checks: Run) -> None:
    target = Target("acme", ("good.test",), (ipaddress.ip_address("192.0.2.20"),))
    check = find(run_checks(target, "dns.dnsbl.address"), "dns.dnsbl.address")
    assert check.status is Status.CRIT
    assert "bl.test (127.0.0.2: listed for spam)" in check.message


def test_a_listed_domain_is_critical(run_checks: Run) -> None:
    assert status(run_checks("spamdomain.test", "dns.dnsbl.domain"), "dns.dnsbl.domain") is Status.CRIT


def test_a_refused_block_list_query_is_unknown_not_a_listing(run_checks: Run) -> None:
    check = find(run_checks("good.test", "dns.dnsbl.address", dnsbl=("refused.test",)), "dns.dnsbl.address")
    assert check.status is Status.UNKNOWN
    assert "127.255.255.254" in check.message and "refused" in check.message


def test_the_inventory_dkim_key_must_be_the_published_one(run_checks: Run) -> None:
    from tests.check.zones import dkim_value
    same = Target("acme", ("good.test",), dkim_records={"good.test": dkim_value()})
    assert status(run_checks(same, "dns.dkim"), "dns.dkim.matches") is Status.OK
    other = Target("acme", ("good.test",), dkim_records={"good.test": dkim_value(1024)})
    check = find(run_checks(other, "dns.dkim"), "dns.dkim.matches")
    assert check.status is Status.CRIT
    assert dkim_value(1024) in check.fix


def test_a_truncated_answer_is_asked_again_over_tcp(run_checks: Run) -> None:
    assert status(run_checks("big.test", "dns.spf"), "dns.spf.record") is Status.OK


def test_servfail_is_unknown_with_the_reason(run_checks: Run) -> None:
    checks = run_checks("broken.test")
    assert {check.status for check in checks} == {Status.UNKNOWN}
    assert "failed (SERVFAIL" in find(checks, "dns.mx.present").message


def test_timeouts_are_unknown_within_bounded_time(run_checks: Run, dns_server: AuthoritativeServer) -> None:
    started = time.monotonic()
    try:
        checks = run_checks(SILENT[0])
        elapsed = time.monotonic() - started
    finally:
        settle(dns_server)
    assert elapsed < 8
    assert {check.status for check in checks} == {Status.UNKNOWN}
    assert "timed out" in find(checks, "dns.spf.record").message


def test_a_check_over_its_time_limit_is_unknown(run_checks: Run, dns_server: AuthoritativeServer) -> None:
    started = time.monotonic()
    try:
        checks = run_checks(SILENT[1], "dns.mx", check_timeout=0.2, timeout=1.0)
        elapsed = time.monotonic() - started
    finally:
        settle(dns_server)
    assert elapsed < 1.0
    assert "did not finish within 0.2 s" in find(checks, "dns.mx.present").message
