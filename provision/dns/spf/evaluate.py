"""check_host() of RFC 7208 §4: the SPF result for a client IP, a domain and a sender."""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass, field

import dns.name
import dns.rdatatype
import dns.resolver
import dns.reversename

from provision.dns.query import Lookup, domain_name, lookup, txt_strings
from provision.dns.spf.macro import (
    MacroContext,
    MacroError,
    MacroString,
    expand,
    parse_macro_string,
    truncate_domain,
)
from provision.dns.spf.parse import Mechanism, Record, SpfSyntaxError, is_spf_record, parse_record

MAX_LOOKUPS = 10  # §4.6.4: include, a, mx, ptr, exists and redirect together
MAX_VOID_LOOKUPS = 2
MAX_MX_NAMES = 10
MAX_PTR_NAMES = 10
MAX_SECONDS = 20.0  # §4.6.4 asks for at least 20 s before giving up

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class PermError(Exception):
    """The published records cannot be interpreted (result permerror)."""


class TempError(Exception):
    """A transient DNS failure (result temperror)."""


@dataclass(frozen=True)
class SpfResult:
    """The outcome of check_host().

    result is one of "pass", "fail", "softfail", "neutral", "none", "permerror", "temperror";
    explanation is the expanded exp= text when the result is "fail" and the domain publishes one;
    reason says, for people, what decided the result.
    """

    result: str
    explanation: str = ""
    reason: str = ""


@dataclass(frozen=True)
class _Verdict:
    """The result of one record, with what is needed to explain a fail."""

    result: str
    reason: str
    record: Record | None = None
    domain: str = ""


@dataclass
class _Session:
    """State shared by the whole evaluation, includes and redirects included."""

    resolver: dns.resolver.Resolver
    ip: Address
    sender: str
    local_part: str
    sender_domain: str
    helo: str
    lookups: int = 0
    void_lookups: int = 0
    started: float = field(default_factory=time.monotonic)
    _validated: dict[str, str] = field(default_factory=dict)  # %{p} per current domain

    def query(self, name: dns.name.Name, rdtype: dns.rdatatype.RdataType) -> Lookup:
        if time.monotonic() - self.started > MAX_SECONDS:
            raise TempError(f"the evaluation took more than {MAX_SECONDS:.0f} s")
        return lookup(self.resolver, name, rdtype)

    def count_lookup(self, term: str) -> None:
        self.lookups += 1
        if self.lookups > MAX_LOOKUPS:
            raise PermError(f"more than {MAX_LOOKUPS} DNS lookups (at {term!r})")

    def count_void(self, result: Lookup, term: str) -> None:
        if result.void:
            self.void_lookups += 1
            if self.void_lookups > MAX_VOID_LOOKUPS:
                raise PermError(f"more than {MAX_VOID_LOOKUPS} void lookups (at {term!r})")

    def query_ptr(self) -> Lookup:
        return self.query(dns.reversename.from_address(str(self.ip)), dns.rdatatype.PTR)

    def context(self, domain: str) -> MacroContext:
        return MacroContext(
            sender=self.sender,
            local_part=self.local_part,
            sender_domain=self.sender_domain,
            domain=domain,
            ip=self.ip,
            helo=self.helo,
            validated_name=lambda: self.validated_name(domain),
        )

    def validated_name(self, domain: str) -> str:
        """%{p}: a PTR name of the IP that resolves back to it, preferring domain or its subdomains."""
        if domain not in self._validated:
            target = domain_name(domain) or dns.name.root
            names = _validated_names(self, self.query_ptr(), target)
            preferred = [name for name in names if name.is_subdomain(target)]
            chosen = (preferred or names or [None])[0]
            self._validated[domain] = chosen.to_text(omit_final_dot=True) if chosen else "unknown"
        return self._validated[domain]


def check_host(
    ip: str, domain: str, sender: str, helo: str = "", resolver: dns.resolver.Resolver | None = None
) -> SpfResult:
    """Evaluate the SPF policy of domain for a message from ip (RFC 7208 §4).

    ip is the client's address as text (IPv4, IPv6 or IPv4-mapped IPv6; ValueError otherwise).
    domain is the domain whose policy applies, normally the part of sender after "@". sender is the
    MAIL FROM address, or "postmaster@<helo>" when checking the HELO identity; a sender without a
    local part is treated as postmaster (§4.3). resolver defaults to the system's resolver.
    """
    client = ipaddress.ip_address(ip)
    if isinstance(client, ipaddress.IPv6Address) and client.ipv4_mapped is not None:
        client = client.ipv4_mapped  # an IPv4 client seen through an IPv6 socket is an IPv4 client
    local_part, _, sender_domain = sender.rpartition("@")
    domain = domain.removesuffix(".")
    session = _Session(
        resolver or dns.resolver.get_default_resolver(),
        client,
        sender=f"{local_part or 'postmaster'}@{sender_domain}",
        local_part=local_part or "postmaster",
        sender_domain=sender_domain or domain,
        helo=helo,
    )
    if not _is_fqdn(domain):
        return SpfResult("none", reason=f"{domain!r} is not a valid domain name")
    try:
        verdict = _check(session, domain)
    except PermError as error:
        return SpfResult("permerror", reason=str(error))
    except TempError as error:
        return SpfResult("temperror", reason=str(error))
    explanation = _explain(session, verdict) if verdict.result == "fail" else ""
    return SpfResult(verdict.result, explanation, verdict.reason)


def _check(session: _Session, domain: str) -> _Verdict:
    """The result of the record at domain: one level of check_host(), recursing for redirect."""
    text = _fetch_record(session, domain)
    if text is None:
        return _Verdict("none", f"no SPF record at {domain}")
    try:
        record = parse_record(text)
    except SpfSyntaxError as error:
        raise PermError(f"{domain}: {error}") from error
    for mechanism in record.mechanisms:
        if _matches(session, mechanism, domain):
            return _Verdict(mechanism.result, f"{domain}: {mechanism.text!r} matched", record, domain)
    if record.redirect is None or record.has_all:
        return _Verdict("neutral", f"{domain}: no mechanism matched", record, domain)
    session.count_lookup("redirect")
    verdict = _check(session, _target(session, record.redirect, domain))
    if verdict.result == "none":
        raise PermError(f"{domain}: redirect={record.redirect.text} leads to no SPF record")
    return verdict


def _fetch_record(session: _Session, domain: str) -> str | None:
    """The one SPF record at domain (§4.4, §4.5); None when there is none."""
    name = domain_name(domain)
    if name is None:
        return None
    answer = session.query(name, dns.rdatatype.TXT)
    if answer.failed:
        raise TempError(f"TXT lookup at {domain}: {answer.status}")
    records = [text for text in txt_strings(answer.records) if is_spf_record(text)]
    if len(records) > 1:
        raise PermError(f"{domain} publishes {len(records)} SPF records")
    return records[0].decode("latin-1") if records else None


def _matches(session: _Session, mechanism: Mechanism, domain: str) -> bool:
    kind = mechanism.kind
    if kind == "all":
        return True
    if kind in ("ip4", "ip6"):
        return mechanism.network is not None and session.ip in mechanism.network
    session.count_lookup(mechanism.text)
    target = _target(session, mechanism.domain, domain) if mechanism.domain else domain
    if kind == "include":
        return _include(session, mechanism, target)
    target_name = domain_name(target)
    if target_name is None:
        return False  # an expanded name that DNS cannot carry matches nothing
    if kind == "a":
        return _match_addresses(session, mechanism, [target_name], count_void=True)
    if kind == "mx":
        return _match_mx(session, mechanism, target_name)
    if kind == "ptr":
        answer = session.query_ptr()
        session.count_void(answer, mechanism.text)
        return bool(_validated_names(session, answer, target_name, within=True))
    answer = session.query(target_name, dns.rdatatype.A)  # exists: always A, even for IPv6 clients
    _raise_on_failure(answer, mechanism.text)
    session.count_void(answer, mechanism.text)
    return bool(answer.records)


def _include(session: _Session, mechanism: Mechanism, target: str) -> bool:
    verdict = _check(session, target)
    if verdict.result == "none":  # §5.2: an include without a record is an error, not a mismatch
        raise PermError(f"{mechanism.text!r} leads to no SPF record")
    return verdict.result == "pass"


def _match_mx(session: _Session, mechanism: Mechanism, target: dns.name.Name) -> bool:
    answer = session.query(target, dns.rdatatype.MX)
    _raise_on_failure(answer, mechanism.text)
    session.count_void(answer, mechanism.text)
    if len(answer.records) > MAX_MX_NAMES:
        raise PermError(f"{mechanism.text!r}: more than {MAX_MX_NAMES} MX names")
    # A null MX (RFC 7505) names the root, which has no addresses to match.
    hosts = [record.exchange for record in answer.records if record.exchange != dns.name.root]  # type: ignore[attr-defined]
    return _match_addresses(session, mechanism, hosts, count_void=False)


def _match_addresses(
    session: _Session, mechanism: Mechanism, names: list[dns.name.Name], *, count_void: bool
) -> bool:
    if session.ip.version == 4:
        rdtype, prefix = dns.rdatatype.A, mechanism.cidr4
    else:
        rdtype, prefix = dns.rdatatype.AAAA, mechanism.cidr6
    for name in names:
        answer = session.query(name, rdtype)
        _raise_on_failure(answer, mechanism.text)
        if count_void:
            session.count_void(answer, mechanism.text)
        for record in answer.records:
            network = ipaddress.ip_network(f"{record.address}/{prefix}", strict=False)  # type: ignore[attr-defined]
            if session.ip in network:
                return True
    return False


def _validated_names(
    session: _Session, ptr: Lookup, target: dns.name.Name, *, within: bool = False
) -> list[dns.name.Name]:
    """The names in a PTR answer that resolve back to the client (§5.5); only those under target if within.

    Only the first ten names count; lookup errors mean "not validated" rather than temperror.
    """
    names = [record.target for record in ptr.records[:MAX_PTR_NAMES]]  # type: ignore[attr-defined]
    if within:  # names outside target cannot match, so they are not worth a query
        names = [name for name in names if name.is_subdomain(target)]
    rdtype = dns.rdatatype.A if session.ip.version == 4 else dns.rdatatype.AAAA
    valid = []
    for name in names:
        addresses = session.query(name, rdtype).records
        if any(ipaddress.ip_address(record.address) == session.ip for record in addresses):  # type: ignore[attr-defined]
            valid.append(name)
    return valid


def _raise_on_failure(answer: Lookup, term: str) -> None:
    if answer.failed:
        raise TempError(f"{term!r}: {answer.rdtype.name} lookup at {answer.name} gave {answer.status}")


def _target(session: _Session, spec: MacroString, domain: str) -> str:
    """The expanded domain-spec, shortened to 253 characters (§7.3)."""
    return truncate_domain(expand(spec, session.context(domain)).removesuffix("."))


def _is_fqdn(domain: str) -> bool:
    """§4.3: <domain> must be a name of two or more valid labels, not an address literal."""
    return "." in domain and not domain.startswith("[") and domain_name(domain) is not None


def _explain(session: _Session, verdict: _Verdict) -> str:
    """The exp= text for a fail (§6.2); any problem with it means no explanation, not an error."""
    if verdict.record is None or verdict.record.explanation is None:
        return ""
    context = session.context(verdict.domain)
    try:
        name = domain_name(_target(session, verdict.record.explanation, verdict.domain))
        texts = txt_strings(session.query(name, dns.rdatatype.TXT).records) if name else []
        if len(texts) != 1 or not texts[0].isascii():
            return ""
        return expand(parse_macro_string(texts[0].decode(), explanation=True), context)
    except (MacroError, TempError):  # a bad text, or out of time
        return ""
