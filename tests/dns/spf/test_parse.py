"""SPF record syntax (RFC 7208 §4.5, §4.6, §5, §6, §12): what parses, and what is a permerror."""

from __future__ import annotations

import ipaddress

import pytest

from provision.dns.spf.parse import SpfSyntaxError, is_spf_record, parse_record


def test_terms_and_modifiers() -> None:
    record = parse_record(
        "v=spf1 mx:mail.example.com/24//64 -ip4:192.0.2.0/24 ~all redirect=x.example.org Moo=x "
    )
    mx, ip4, all_ = record.mechanisms
    assert (mx.kind, mx.domain.text, mx.cidr4, mx.cidr6, mx.result) == (
        "mx",
        "mail.example.com",
        24,
        64,
        "pass",
    )
    assert ip4.network == ipaddress.ip_network("192.0.2.0/24") and ip4.result == "fail"
    assert all_.result == "softfail" and record.has_all
    assert record.redirect.text == "x.example.org"
    assert record.unknown_modifiers == (("Moo", "x"),)


@pytest.mark.parametrize(
    ("text", "selected"),
    [
        (b"v=spf1", True),
        (b"V=SpF1 -all", True),
        (b"v=spf10", False),
        (b" v=spf1", False),
        (b"v=spf1\t-all", False),
    ],
)
def test_record_selection(text: bytes, selected: bool) -> None:
    assert is_spf_record(text) is selected


@pytest.mark.parametrize(
    ("term", "cidr4", "cidr6"),
    [
        ("a", 32, 128),
        ("a/0", 0, 128),
        ("a//0", 32, 0),
        ("a/24//64", 24, 64),
        ("mx:example.com//128", 32, 128),
    ],
)
def test_dual_cidr(term: str, cidr4: int, cidr6: int) -> None:
    (mechanism,) = parse_record(f"v=spf1 {term}").mechanisms
    assert (mechanism.cidr4, mechanism.cidr6) == (cidr4, cidr6)


def test_ip6_and_mapped_networks() -> None:
    (ip6,) = parse_record("v=spf1 ip6:2001:db8::/32").mechanisms
    assert ipaddress.ip_address("2001:db8:1::1") in ip6.network
    (mapped,) = parse_record("v=spf1 ip6:::1.1.1.1/0").mechanisms
    assert mapped.network == ipaddress.ip_network("::/0")


@pytest.mark.parametrize(
    "text",
    [
        "v=spf1 ip4:1.2.3.4 -all moo",  # unknown mechanism, even after all
        "v=spf1 -all.",
        "v=spf1 -all:x.example",
        "v=spf1 ptr/0",
        "v=spf1 a/33",
        "v=spf1 a//129",
        "v=spf1 a/24/64",
        "v=spf1 ip4:1.2.3.4/032",
        "v=spf1 ip4:1.2.3",
        "v=spf1 ip4:1.2.3.4//32",
        "v=spf1 ip4:1.2.3.4:8080",
        "v=spf1 ip4",
        "v=spf1 ip6::CAFE::BABE",
        "v=spf1 ip6:::1/129",
        "v=spf1 ip6:fe80::1%eth0",
        "v=spf1 include:",
        "v=spf1 include:example.com/24",
        "v=spf1 exists",
        "v=spf1 a:foo-bar",
        "v=spf1 a:111.222.33.44",
        "v=spf1 a:museum.",
        "v=spf1 a:example.-com",
        "v=spf1 a:example.com:8080",
        "v=spf1 a:ctrl.example.com\rptr",
        "v=spf1 redirect:example.com",
        "v=spf1 redirect=a.example.com redirect=b.example.com",
        "v=spf1 exp=a.example.com exp=b.example.com",
        "v=spf1 exp=",
        "v=spf1 =all",
        "v=spf1 1up=foo",
        "v=spf1 foo=%abc",
        "v=spf1 a:%{a}.example.com",
        "v=spf1 exists:%{c}.example.com",
        "v=spf1 \x80a:example.net",
    ],
)
def test_permerror_syntax(text: str) -> None:
    with pytest.raises(SpfSyntaxError):
        parse_record(text)


@pytest.mark.parametrize(
    "text",
    [
        "v=spf1 a  -all",
        "v=spf1 moo.cow-far_out=man:dog/cat ip4:1.2.3.4 -all",
        "v=spf1 a:foo:bar/baz.example.com",
        "v=spf1 a:foo.example.xn--zckzah",
        "v=spf1 exists:%{i}.%{l2r-}.user.%{d2}",
        "v=spf1 a:mail.example...com",  # empty labels are a matter for evaluation, not syntax
        "v=spf1 include:o.spf.example.com.",
        "v=spf1 default=pass",
    ],
)
def test_valid_syntax(text: str) -> None:
    parse_record(text)
