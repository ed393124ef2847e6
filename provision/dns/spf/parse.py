"""SPF record syntax (RFC 7208 §4.5, §4.6, §5, §6 and the §12 ABNF): record text to typed terms."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from provision.dns.spf.macro import MacroError, MacroString, parse_macro_string

VERSION = "v=spf1"
QUALIFIERS = {"+": "pass", "-": "fail", "~": "softfail", "?": "neutral"}
MECHANISMS = frozenset({"all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists"})
# The mechanisms that cost a DNS lookup (§4.6.4); the redirect modifier costs one too.
LOOKUP_MECHANISMS = frozenset({"include", "a", "mx", "ptr", "exists"})

_MODIFIER = re.compile(r"([A-Za-z][A-Za-z0-9\-_.]*)=(.*)", re.DOTALL)
_MECHANISM = re.compile(r"([+\-~?]?)([A-Za-z][A-Za-z0-9]*)(.*)", re.DOTALL)
_DUAL_CIDR = re.compile(r"(?:/(\d+))?(?://(\d+))?$")
_NETWORK = re.compile(r"([^/]+)(?:/(\d+))?")
_CIDR = re.compile(r"0|[1-9]\d*")
_DOTTED_QUAD = re.compile(r"\d{1,3}(\.\d{1,3}){3}")
_TOPLABEL = re.compile(r"[A-Za-z0-9]*[A-Za-z][A-Za-z0-9]*|[A-Za-z0-9]+-[A-Za-z0-9\-]*[A-Za-z0-9]")


class SpfSyntaxError(ValueError):
    """A record that breaks the grammar: check_host() gives permerror."""


@dataclass(frozen=True)
class Mechanism:
    """One directive: a qualifier and a mechanism with its arguments."""

    kind: str  # one of MECHANISMS, lower case
    qualifier: str = "+"
    domain: MacroString | None = None  # the target domain-spec; None means the current domain
    network: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None  # ip4 and ip6 only
    cidr4: int = 32  # a and mx: prefix lengths applied to the addresses found
    cidr6: int = 128
    text: str = ""  # the term as published

    @property
    def result(self) -> str:
        """The result check_host() returns when this mechanism matches."""
        return QUALIFIERS[self.qualifier]


@dataclass(frozen=True)
class Record:
    """A syntactically valid SPF record."""

    text: str
    mechanisms: tuple[Mechanism, ...]
    redirect: MacroString | None = None
    explanation: MacroString | None = None
    unknown_modifiers: tuple[tuple[str, str], ...] = ()

    @property
    def has_all(self) -> bool:
        """An "all" anywhere means redirect is ignored (§5.1)."""
        return any(mechanism.kind == "all" for mechanism in self.mechanisms)


def is_spf_record(text: bytes) -> bool:
    """Whether a TXT record's joined strings are an SPF version 1 record (§4.5; "v=spf10" is not)."""
    return text[:6].lower() == VERSION.encode() and text[6:7] in (b"", b" ")


def parse_record(text: str) -> Record:
    """Parse a whole record; any error anywhere in it raises SpfSyntaxError (§4.6)."""
    if not text.isascii():
        raise SpfSyntaxError("the record has non-ASCII characters")
    if not is_spf_record(text.encode()):
        raise SpfSyntaxError(f"the record does not start with {VERSION!r}")
    mechanisms: list[Mechanism] = []
    modifiers: dict[str, MacroString] = {}
    unknown: list[tuple[str, str]] = []
    for term in text[len(VERSION) :].split(" "):
        if not term:  # terms are separated by one or more spaces, and trailing spaces are allowed
            continue
        modifier = _MODIFIER.fullmatch(term)
        if modifier is None:
            mechanisms.append(_parse_mechanism(term))
            continue
        name, value = modifier[1].lower(), modifier[2]
        if name in ("redirect", "exp"):
            if name in modifiers:
                raise SpfSyntaxError(f"{name}= appears more than once")
            modifiers[name] = _parse_domain_spec(value)
        else:
            _parse_macro(value)  # unknown modifiers are ignored, but their syntax is still checked
            unknown.append((modifier[1], value))
    return Record(text, tuple(mechanisms), modifiers.get("redirect"), modifiers.get("exp"), tuple(unknown))


def _parse_mechanism(term: str) -> Mechanism:
    match = _MECHANISM.fullmatch(term)
    kind = match[2].lower() if match else ""
    if match is None or kind not in MECHANISMS:
        raise SpfSyntaxError(f"unknown term {term!r}")
    qualifier, rest = match[1] or "+", match[3]
    if kind == "all":
        if rest:
            raise SpfSyntaxError(f"'all' takes no argument: {term!r}")
        return Mechanism(kind, qualifier, text=term)
    if kind in ("ip4", "ip6"):
        if not rest.startswith(":"):
            raise SpfSyntaxError(f"{kind} needs an address: {term!r}")
        return Mechanism(kind, qualifier, network=_parse_network(kind, rest[1:]), text=term)
    if kind in ("a", "mx"):
        dual = _DUAL_CIDR.search(rest)
        assert dual is not None  # the pattern matches the empty string at the end
        rest, cidr4, cidr6 = rest[: dual.start()], _cidr(dual[1], 32), _cidr(dual[2], 128)
    else:
        cidr4, cidr6 = 32, 128
    if not rest:
        if kind in ("include", "exists"):
            raise SpfSyntaxError(f"{kind} needs a domain: {term!r}")
        return Mechanism(kind, qualifier, cidr4=cidr4, cidr6=cidr6, text=term)
    if not rest.startswith(":"):
        raise SpfSyntaxError(f"bad argument in {term!r}")
    return Mechanism(kind, qualifier, _parse_domain_spec(rest[1:]), cidr4=cidr4, cidr6=cidr6, text=term)


def _parse_domain_spec(text: str) -> MacroString:
    """A domain-spec: a macro-string ending in a macro or in "." and a valid top label."""
    spec = _parse_macro(text)
    if spec.ends_with_expand:
        return spec
    name = text.removesuffix(".")
    dot = name.rfind(".")
    if dot < 0 or not _TOPLABEL.fullmatch(name[dot + 1 :]):
        raise SpfSyntaxError(f"{text!r} is not a valid domain")
    return spec


def _parse_macro(text: str) -> MacroString:
    try:
        return parse_macro_string(text)
    except MacroError as error:
        raise SpfSyntaxError(str(error)) from error


def _parse_network(kind: str, text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    match = _NETWORK.fullmatch(text)
    if match is None:
        raise SpfSyntaxError(f"bad {kind} network {text!r}")
    address, length = match[1], _cidr(match[2], 32 if kind == "ip4" else 128)
    try:
        if kind == "ip4":
            # ipaddress accepts forms the ABNF does not, such as a bare integer.
            if not _DOTTED_QUAD.fullmatch(address):
                raise ValueError(address)
            return ipaddress.IPv4Network((ipaddress.IPv4Address(address), length), strict=False)
        if "%" in address:  # a scope id is not part of ip6-network
            raise ValueError(address)
        return ipaddress.IPv6Network((ipaddress.IPv6Address(address), length), strict=False)
    except ValueError as error:
        raise SpfSyntaxError(f"bad {kind} address {address!r}") from error


def _cidr(text: str | None, maximum: int) -> int:
    if text is None:
        return maximum
    if not _CIDR.fullmatch(text) or int(text) > maximum:
        raise SpfSyntaxError(f"bad prefix length /{text}")
    return int(text)
