"""Checks of single setting values: each returns the clean value or raises Invalid."""

from __future__ import annotations

import difflib
import json
import os
import re
import unicodedata
from collections.abc import Iterable
from enum import Enum
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import idna

E = TypeVar("E", bound=Enum)

# Documentation ranges count as public so that examples and the sandbox network
# (198.51.100.0/24) validate; no real server is ever given one of them.
_DOCUMENTATION = tuple(ip_network(net) for net in
                       ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32"))
# provision's login names (uids, group names, the SSH user): the programs on the server use the same rule.
LOGIN_PATTERN = r"[a-z][a-z0-9._-]{0,31}"
_LOGIN = re.compile(LOGIN_PATTERN)
_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LOCAL_PART = re.compile(rf"{_ATOM}(\.{_ATOM})*")


# Top-level names of the DAV layout (https://HOST/NAME/): the radicale role's shared collections
# (radicale_groups_root, radicale_company_root) and the profile nginx serves there. A person with
# such a uid would find their own collections taken, and DAV refused forever.
DAV_RESERVED = ("groups", "company", "profile.mobileconfig")
_PHONE = re.compile(r"\+?[0-9][0-9 ()./-]{0,39}")


class Invalid(ValueError):
    """One bad value: what is wrong with it and how to fix it."""

    def __init__(self, what: str, hint: str):
        super().__init__(what)
        self.what = what
        self.hint = hint


def show(value: Any) -> str:
    """A value as the user wrote it, quoted like YAML/JSON (null, true, "text")."""
    return json.dumps(value, ensure_ascii=False, default=str)


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f"did you mean {close[0]}?" if close else None


def text(value: Any) -> str:
    """A non-empty line: a control character (a line break, a tab, NUL) would break the LDIF, config
    file or header the text ends up in."""
    if not isinstance(value, str) or not value.strip():
        raise Invalid(f"{show(value)} is not a text", "write it as a non-empty string")
    if any(unicodedata.category(character) == "Cc" for character in value):
        raise Invalid(f"{show(value)} holds a control character (a line break, tab or the like)",
                      "write it on one line, without tabs")
    return value.strip()


def phone(value: Any) -> str:
    number = text(value)
    if not _PHONE.fullmatch(number):
        raise Invalid(f"{show(value)} is not a telephone number",
                      "write digits with spaces, (), -, / or . between them, and a leading + if "
                      "international, e.g. +49 30 1234567")
    return number


def person_uid(value: Any) -> str:
    """A person's login, which is also the name of their DAV home (https://HOST/UID/)."""
    uid = login(value)
    if uid in DAV_RESERVED:
        raise Invalid(f"{show(value)} is reserved: https://HOST/{uid}/ holds shared collections",
                      "choose another uid")
    return uid


def domain(value: Any, *, min_labels: int = 2) -> str:
    """A DNS name in its ASCII (A-label) form; Unicode names are converted, one trailing dot dropped."""
    name = text(value).removesuffix(".")
    if "_" in name:
        raise Invalid(f"{show(value)} contains an underscore",
                      "host and mail domain names use letters, digits, hyphens and dots only")
    try:
        ascii_name = idna.encode(name, uts46=True, std3_rules=True).decode()
    except idna.IDNAError as error:
        reason = str(error)
        raise Invalid(f"{show(value)} is not a valid domain name ({reason[:1].lower()}{reason[1:]})",
                      "check the spelling; a name has up to 253 characters, each label 1 to 63") from None
    labels = ascii_name.split(".")
    if len(labels) < min_labels:
        raise Invalid(f"{show(value)} is not a fully qualified domain name",
                      "write the whole name with its domain, e.g. mail.example.org")
    if labels[-1].isdigit():
        raise Invalid(f"{show(value)} is an address, not a name", "write a domain name, e.g. example.org")
    return ascii_name


def host_address(value: Any) -> str:
    """Where ssh connects: an IP address or a host name (an ssh config alias may be a single label)."""
    try:
        return str(ip_address(text(value)))
    except ValueError:
        if re.fullmatch(r"[0-9.]+|.*:.*", text(value)):  # only digits and dots, or a colon: no host name
            raise Invalid(f"{show(value)} is not a valid IP address",
                          "write an IPv4 address like 203.0.113.25 (each part 0 to 255), an IPv6 "
                          "address, or a host name") from None
        return domain(value, min_labels=1)


def _is_internal(address: IPv4Address | IPv6Address) -> bool:
    documentation = any(address in net for net in _DOCUMENTATION)
    return (not address.is_global or address.is_multicast) and not documentation


def public_ipv4(value: Any, *, sandbox: bool) -> IPv4Address:
    try:
        address = IPv4Address(text(value))
    except ValueError:
        raise Invalid(f"{show(value)} is not an IPv4 address",
                      "write four numbers from 0 to 255, e.g. 203.0.113.25") from None
    return _public(address, sandbox)


def public_ipv6(value: Any, *, sandbox: bool) -> IPv6Address:
    try:
        address = IPv6Address(text(value))
    except ValueError:
        raise Invalid(f"{show(value)} is not an IPv6 address",
                      "write it like 2001:db8::25, or leave the setting out") from None
    return _public(address, sandbox)


def _public(address: IPv4Address | IPv6Address, sandbox: bool) -> Any:
    if _is_internal(address) and not sandbox:
        raise Invalid(f"{address} is a private or local address",
                      "give the server's address on the internet; private addresses are for local "
                      "test servers only (provision_sandbox: true, or provision init --sandbox)")
    return address


def email(value: Any) -> str:
    """A mail address with an ASCII local part; its domain in A-label form."""
    address = text(value)
    local, at, domain_part = address.rpartition("@")
    if not at or len(local) > 64 or not _LOCAL_PART.fullmatch(local):
        raise Invalid(f"{show(value)} is not a mail address",
                      "write it as name@domain, e.g. admin@example.org")
    try:
        return f"{local}@{domain(domain_part)}"
    except Invalid as bad:
        raise Invalid(f"{show(value)} is not a mail address: {bad.what}", bad.hint) from None


def choice(value: Any, kind: type[E]) -> E:
    allowed = [member.value for member in kind]
    if value in allowed:
        return kind(value)
    listing = ", ".join(allowed)
    close = did_you_mean(str(value), allowed)
    raise Invalid(f"{show(value)} is not one of {listing}", close or f"write one of {listing}")


def integer(value: Any, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid(f"{show(value)} is not a whole number", "write digits only, without quotes or unit")
    if value < low or (high is not None and value > high):
        span = f"from {low} to {high}" if high is not None else f"of {low} or more"
        raise Invalid(f"{value} is out of range", f"use a whole number {span}")
    return value


def boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise Invalid(f"{show(value)} is not true or false", "write true or false, without quotes")
    return value


def login(value: Any) -> str:
    if not isinstance(value, str) or not _LOGIN.fullmatch(value):
        raise Invalid(f"{show(value)} is not a login name",
                      "use up to 32 lowercase letters, digits, '.', '_' or '-', starting with a letter")
    return value


def dns_label(value: Any) -> str:
    if not isinstance(value, str) or not _LABEL.fullmatch(value.lower()):
        raise Invalid(f"{show(value)} is not a DNS label",
                      "use up to 63 letters, digits and inner hyphens, e.g. mail")
    return value.lower()


def https_url(value: Any) -> str:
    url = text(value)
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise Invalid(f"{show(value)} is not an https URL",
                      "give the ACME directory URL, e.g. https://acme-v02.api.letsencrypt.org/directory")
    return url


def readable_file(value: Any, base: Path) -> Path:
    """A file on this machine; relative paths are taken from the inventory directory. Not a link: Ansible
    copies the file to the server, and an inventory must not send it whatever a link points at."""
    path = (base / text(value)).absolute()
    if path.is_symlink():
        raise Invalid(f"{path} is a symbolic link", "give the file itself")
    if not path.is_file():
        raise Invalid(f"{path} does not exist",
                      "give the file's path on this machine, absolute or relative to the inventory")
    if not os.access(path, os.R_OK):
        raise Invalid(f"{path} is not readable",
                      "let the user who runs provision read it")
    return path


def pem_file(value: Any, base: Path, label: str) -> Path:
    """A readable file holding a PEM block of this kind (CERTIFICATE, PRIVATE KEY): any other file the
    controller can read (a vault password, /etc/shadow) is not copied to a server."""
    path = readable_file(value, base)
    with path.open("rb") as stream:
        head = stream.read(1 << 20)
    if not re.search(rb"-----BEGIN [A-Z0-9 ]*" + label.encode() + rb"-----", head):
        raise Invalid(f"{path} holds no PEM {label}", f"give the PEM file with the {label.lower()}")
    return path


# A DNSBL's listing answers are in 127.0.0.0/16; its error answers are not (Spamhaus answers
# 127.255.255.x to queries through public resolvers and when rate limited) and must never count.
# Postfix's syntax: each of the last two octets a number or [N..M] / [N;M;...].
_DNSBL_OCTET = r"(\d{1,3}|\[[\d.;]+\])"
_DNSBL_CODES = re.compile(rf"127\.0\.{_DNSBL_OCTET}\.{_DNSBL_OCTET}")


def dnsbl_sites(value: Any) -> list[dict[str, Any]]:
    """postscreen's block lists: [{name, codes, weight}], codes within 127.0.x.x only."""
    if not isinstance(value, list):
        raise Invalid(f"{show(value)} is not a list",
                      'write one "- {name: zen.spamhaus.org, codes: \"127.0.0.[2..11]\", weight: 3}" a line, '
                      "or [] for none")
    for site in value:
        if not isinstance(site, dict) or set(site) != {"name", "codes", "weight"}:
            raise Invalid(f"{show(site)} is not {{name, codes, weight}}",
                          "give each list its name, its listing codes and a whole-number weight")
        domain(site["name"])
        if not isinstance(site["codes"], str) or not _DNSBL_CODES.fullmatch(site["codes"]):
            raise Invalid(f"{site['name']}: codes {show(site['codes'])} are not within 127.0.x.x",
                          "give only the list's listing answers, e.g. \"127.0.0.2\" or \"127.0.0.[2..11]\": "
                          "its error answers (127.255.255.x) would refuse good mail")
        integer(site["weight"], -100, 100)
    return value
