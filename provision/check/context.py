"""What the checks of one target share: the resolver, the options and facts looked up once."""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import dns.nameserver
import dns.rdatatype
import dns.resolver

from provision.check.model import Address, Check, Options, Target
from provision.dns.query import Lookup, Status, domain_name, lookup

T = TypeVar("T")


class Unanswered(Exception):
    """A fact the check needs could not be looked up; the check reports UNKNOWN with this reason."""


@dataclass(frozen=True)
class Outbound:
    """An address the server sends from, and the name it should greet with (HELO) and have as PTR."""

    address: Address
    name: str


def make_resolver(options: Options) -> dns.resolver.Resolver:
    resolver = dns.resolver.Resolver(configure=not options.nameservers)
    if options.nameservers:
        resolver.nameservers = [dns.nameserver.Do53Nameserver(ip, port) for ip, port in options.nameservers]
    resolver.timeout = options.timeout
    resolver.lifetime = options.timeout
    return resolver


class Shared:
    """Results that do not depend on the target, computed once per run for all targets that ask.

    Fifty domains hosted on one server have one server to connect to: its service checks run once.
    """

    def __init__(self) -> None:
        self._results: dict[object, object] = {}
        self._locks: dict[object, threading.Lock] = {}
        self._lock = threading.Lock()

    def once(self, key: object, compute: Callable[[], T]) -> T:
        with self._lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:  # a second target asking waits for the first one's answer
            if key not in self._results:
                self._results[key] = compute()
            return self._results[key]  # type: ignore[return-value]


class Context:
    def __init__(self, target: Target, options: Options, resolver: dns.resolver.Resolver,
                 shared: Shared | None = None) -> None:
        self.target = target
        self.options = options
        self.resolver = resolver
        self.shared = shared or Shared()
        self._facts: dict[tuple[str, ...], object] = {}
        self._lock = threading.Lock()

    def lookup(self, name: str, rdtype: dns.rdatatype.RdataType) -> Lookup:
        absolute = domain_name(name)
        if absolute is None:
            raise Unanswered(f"{name!r} is not a valid domain name")
        return lookup(self.resolver, absolute, rdtype)

    def answer(self, name: str, rdtype: dns.rdatatype.RdataType) -> Lookup:
        """lookup(), raising Unanswered when the server could not be asked or could not answer."""
        found = self.lookup(name, rdtype)
        if found.failed:
            raise Unanswered(failure(found))
        return found

    def mx_hosts(self, domain: str) -> list[str]:
        """The domain's MX host names by preference, without the null MX; Unanswered on DNS failure."""
        def fetch() -> list[str]:
            found = self.answer(domain, dns.rdatatype.MX)
            records = sorted(found.records, key=lambda record: record.preference)  # type: ignore[attr-defined]
            hosts = [host_text(record.exchange) for record in records]  # type: ignore[attr-defined]
            return [host for host in dict.fromkeys(hosts) if host != "."]
        return self._once(("mx", domain), fetch)

    def addresses_of(self, host: str) -> list[Address]:
        def fetch() -> list[Address]:
            found = [self.answer(host, rdtype) for rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA)]
            return [ipaddress.ip_address(record.address) for answer in found  # type: ignore[attr-defined]
                    for record in answer.records]
        return self._once(("addresses", host), fetch)

    def outbound(self) -> list[Outbound]:
        """The server's sending addresses: known for an inventory, else those of the MX hosts."""
        target = self.target
        if target.addresses:
            return [Outbound(address, target.helo or "") for address in target.addresses]
        return [Outbound(address, host) for domain in target.domains for host in self.mx_hosts(domain)
                for address in self.addresses_of(host)]

    def mail_hosts(self) -> list[str]:
        """The names the server's certificates are issued for: its host name, or the MX hosts."""
        if self.target.helo:
            return [self.target.helo]
        return list(dict.fromkeys(host for domain in self.target.domains for host in self.mx_hosts(domain)))

    def _once(self, key: tuple[str, ...], fetch: Callable[[], T]) -> T:
        # One lock for all facts: checks of one target then ask the DNS for each fact once.
        with self._lock:
            if key not in self._facts:
                try:
                    self._facts[key] = fetch()
                except Unanswered as error:
                    self._facts[key] = error
            fact = self._facts[key]
        if isinstance(fact, Unanswered):
            raise fact
        return fact  # type: ignore[return-value]


def host_text(name: object) -> str:
    """A DNS name as people write it: no trailing dot, except for the root "."."""
    text = str(name)
    return text if text == "." else text.removesuffix(".")


def failure(found: Lookup) -> str:
    what = "timed out" if found.status is Status.TIMEOUT else "failed (SERVFAIL, REFUSED or no answer)"
    return f"the DNS query for {host_text(found.name)} {dns.rdatatype.to_text(found.rdtype)} {what}"


@dataclass(frozen=True)
class CheckModule:
    """The checks of one concern: the ids it may report, and run(context, domain).

    per_domain modules run once for each of the target's domains; the others run once per target
    (about the server, not a domain) and are given domain "".
    """

    prefix: str
    ids: tuple[str, ...]
    run: Callable[[Context, str], list[Check]]
    per_domain: bool = True
