"""analyse(): the include tree, lookup counts and findings, against zones served by Knot DNS."""

from __future__ import annotations

import pytest

from provision.dns.spf import Analysis, analyse, check_host
from tests.dnsserver import AuthoritativeServer, owner, txt

LONG_RECORD = "v=spf1 " + " ".join(f"ip4:198.51.100.{host}" for host in range(1, 30)) + " -all"

RECORDS = {
    "top.test": [("TXT", txt(["v=spf1 include:good.test include:broken.test include:missing.test -all"]))],
    "good.test": [("TXT", txt(["v=spf1 ip4:192.0.2.0/24 include:deep.test -all"]))],
    "deep.test": [("TXT", txt(["v=spf1 a -all"])), ("A", "192.0.2.1")],
    "broken.test": [("TXT", txt(["v=spf1 ip4:1.2.3 -all"]))],
    "big.test": [("TXT", txt(["v=spf1 include:a.big.test include:b.big.test include:c.big.test -all"]))],
    "voids.test": [("TXT", txt(["v=spf1 a:gone1.test a:gone2.test mx:gone3.test ?all"]))],
    "loop1.test": [("TXT", txt(["v=spf1 include:loop2.test -all"]))],
    "loop2.test": [("TXT", txt(["v=spf1 redirect=loop1.test"]))],
    "weak.test": [
        ("TXT", txt(["v=spf1 ptr +all a:after.test redirect=top.test"])),
        ("SPF", txt(["v=spf1 ptr +all"])),
        ("TXT", txt(["google-site-verification=abc"])),
    ],
    "long.test": [("TXT", txt([LONG_RECORD]))],
    "slowinc.test": [("TXT", txt(["v=spf1 include:slow.test -all"]))],
    "failinc.test": [("TXT", txt(["v=spf1 include:servfail.test -all"]))],
}
for part in "abc":
    RECORDS[f"{part}.big.test"] = [
        ("TXT", txt(["v=spf1 a mx a mx -all"])),
        ("A", "192.0.2.9"),
        ("MX", "10 mx.test."),
    ]
RECORDS["mx.test"] = [("A", "192.0.2.10")]


@pytest.fixture(scope="module")
def server(dns_server: AuthoritativeServer) -> AuthoritativeServer:
    lines = [f"{owner(name)} 300 {rdtype} {rdata}" for name, rrs in RECORDS.items() for rdtype, rdata in rrs]
    dns_server.load({"test": lines}, unanswered=["slow.test"], failing=["servfail.test"])
    return dns_server


def messages(analysis: Analysis, level: str) -> list[str]:
    return [f"{finding.domain}: {finding.message}" for finding in analysis.findings if finding.level == level]


def test_tree_shows_failing_includes(server: AuthoritativeServer) -> None:
    analysis = analyse("top.test", server.resolver())
    tree = analysis.tree
    assert [(child.domain, child.via) for child in tree.children] == [
        ("good.test", "include:good.test"),
        ("broken.test", "include:broken.test"),
        ("missing.test", "include:missing.test"),
    ]
    good, broken, missing = tree.children
    assert [child.domain for child in good.children] == ["deep.test"]
    assert broken.record == "v=spf1 ip4:1.2.3 -all" and missing.record is None
    assert analysis.lookups == 3 + 1 + 1
    errors = messages(analysis, "error")
    assert any(error.startswith("broken.test: syntax error") for error in errors)
    assert "missing.test: include:missing.test leads to no SPF record: permerror" in errors


def test_lookups_over_ten_are_counted_through_includes(server: AuthoritativeServer) -> None:
    analysis = analyse("big.test", server.resolver())
    assert analysis.lookups == 3 + 3 * 4
    assert [node.lookups for node in analysis.tree.walk()] == [3, 4, 4, 4]
    assert analysis.tree.children[0].lookup_terms == ["a", "mx", "a", "mx"]
    assert "big.test: 15 DNS lookups, more than 10: permerror" in messages(analysis, "error")
    assert (
        check_host("198.51.100.7", "big.test", "x@big.test", resolver=server.resolver()).result == "permerror"
    )


def test_void_lookups(server: AuthoritativeServer) -> None:
    analysis = analyse("voids.test", server.resolver())
    assert (analysis.lookups, analysis.void_lookups) == (3, 3)
    assert analysis.tree.void_terms == ["a:gone1.test", "a:gone2.test", "mx:gone3.test"]
    assert "voids.test: 3 void lookups, more than the 2 allowed" in messages(analysis, "warning")
    assert (
        check_host("198.51.100.7", "voids.test", "x@voids.test", resolver=server.resolver()).result
        == "permerror"
    )


def test_include_loop(server: AuthoritativeServer) -> None:
    analysis = analyse("loop1.test", server.resolver())
    (loop2,) = analysis.tree.children
    assert loop2.children[0].via == "redirect=loop1.test" and loop2.children[0].record is None
    assert "loop1.test: redirect=loop1.test loops back to loop1.test" in messages(analysis, "error")


def test_weak_policy_warnings(server: AuthoritativeServer) -> None:
    analysis = analyse("weak.test", server.resolver())
    warnings = messages(analysis, "warning")
    assert "weak.test: 'ptr': ptr is slow and SHOULD NOT be used (§5.5)" in warnings
    assert "weak.test: '+all' does not reject unlisted senders" in warnings
    assert any("SPF (type 99)" in warning for warning in warnings)
    assert not analysis.errors
    assert analysis.lookups == 1  # terms after all, and redirect with all, are never evaluated
    assert messages(analysis, "note") == [
        "weak.test: terms after '+all' are never evaluated",
        "weak.test: redirect=top.test is ignored because the record has 'all'",
    ]


def test_long_record(server: AuthoritativeServer) -> None:
    analysis = analyse("long.test", server.resolver())
    assert analysis.tree.record == LONG_RECORD
    assert any("split over several strings" in note for note in messages(analysis, "note"))
    assert any("over 450" in warning for warning in messages(analysis, "warning"))


def test_no_record(server: AuthoritativeServer) -> None:
    analysis = analyse("nothing.test", server.resolver())
    assert analysis.tree.record is None and analysis.lookups == 0
    assert messages(analysis, "warning") == ["nothing.test: no SPF record: receivers get none"]


def test_dns_failures_are_errors_not_missing_records(server: AuthoritativeServer) -> None:
    resolver = server.resolver()
    assert check_host("192.0.2.1", "failinc.test", "x@failinc.test", resolver=resolver).result == "temperror"
    analysis = analyse("failinc.test", resolver)
    assert messages(analysis, "error") == ["servfail.test: TXT lookup failed (error): temperror"]
    assert check_host("192.0.2.1", "slowinc.test", "x@slowinc.test", resolver=resolver).result == "temperror"
    server.wait_idle()  # a Knot worker still waits on the unanswered query
    analysis = analyse("slowinc.test", resolver)
    assert messages(analysis, "error") == ["slow.test: TXT lookup failed (timeout): temperror"]
    server.wait_idle()
