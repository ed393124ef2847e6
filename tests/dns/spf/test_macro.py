"""SPF macro parsing and expansion (RFC 7208 §7), with the examples of §7.4."""

from __future__ import annotations

import ipaddress

import pytest

from provision.dns.spf.macro import MacroContext, MacroError, expand, parse_macro_string, truncate_domain


def context(ip: str = "192.0.2.3", **changes: str) -> MacroContext:
    values = {
        "sender": "strong-bad@email.example.com",
        "local_part": "strong-bad",
        "sender_domain": "email.example.com",
        "domain": "email.example.com",
        "helo": "mx.example.org",
    } | changes
    return MacroContext(ip=ipaddress.ip_address(ip), now=lambda: 1234567890, **values)


def expanded(text: str, ip: str = "192.0.2.3", *, explanation: bool = False) -> str:
    return expand(parse_macro_string(text, explanation=explanation), context(ip))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("%{s}", "strong-bad@email.example.com"),
        ("%{o}", "email.example.com"),
        ("%{d}", "email.example.com"),
        ("%{d4}", "email.example.com"),
        ("%{d3}", "email.example.com"),
        ("%{d2}", "example.com"),
        ("%{d1}", "com"),
        ("%{dr}", "com.example.email"),
        ("%{d2r}", "example.email"),
        ("%{l}", "strong-bad"),
        ("%{l-}", "strong.bad"),
        ("%{lr}", "strong-bad"),
        ("%{lr-}", "bad.strong"),
        ("%{l1r-}", "strong"),
        ("%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com"),
        ("%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com"),
        ("%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", "bad.strong.lp.3.2.0.192.in-addr._spf.example.com"),
        ("%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", "3.2.0.192.in-addr.strong.lp._spf.example.com"),
        ("%{d2}.trusted-domains.example.net", "example.com.trusted-domains.example.net"),
    ],
)
def test_rfc_examples_ipv4(text: str, expected: str) -> None:
    assert expanded(text) == expected


def test_rfc_example_ipv6() -> None:
    # The RFC writes the nibbles in lower case and the OpenSPF suite in upper case; DNS ignores case.
    result = expanded("%{ir}.%{v}._spf.%{d2}", "2001:db8::cb01")
    assert result.lower() == "1.0.b.c." + "0." * 20 + "8.b.d.0.1.0.0.2.ip6._spf.example.com"


def test_escapes_and_url_encoding() -> None:
    assert expanded("a%%b%_c%-d") == "a%b c%20d"
    local = "~jack&jill=up-a_b3.c"
    assert expand(parse_macro_string("%{L}"), context(local_part=local)) == "~jack%26jill%3Dup-a_b3.c"


def test_delimiters_and_many_parts() -> None:
    assert expand(parse_macro_string("%{l2r+-}"), context(local_part="foo-bar+zip+quux")) == "bar.foo"
    many = ".".join(str(part) for part in range(200))
    assert expand(parse_macro_string("%{d150}"), context(domain=many)) == ".".join(map(str, range(50, 200)))


def test_explanation_only_letters() -> None:
    assert (
        expanded("%{c} at %{t} for %{r}", "2001:DB8::1", explanation=True)
        == "2001:db8::1 at 1234567890 for unknown"
    )
    for letter in "crt":
        with pytest.raises(MacroError):
            parse_macro_string(f"%{{{letter}}}.example.com")


@pytest.mark.parametrize("text", ["%", "%x", "%{a}", "%{d0}", "%{d", "%(ir)", "a b", "%{l}\x00", "caf\xe9"])
def test_syntax_errors(text: str) -> None:
    with pytest.raises(MacroError):
        parse_macro_string(text)


def test_long_names_lose_labels_on_the_left() -> None:
    name = "x" * 63 + "." + ".".join(["y" * 63] * 3)  # 255 characters
    assert truncate_domain(name) == ".".join(["y" * 63] * 3)
    assert truncate_domain("short.example") == "short.example"
