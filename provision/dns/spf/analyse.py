"""What a domain publishes as SPF: the include tree, its DNS lookup counts and its problems.

Unlike check_host() this needs no connection: it follows every include and redirect, counts the
terms that cost a DNS lookup (RFC 7208 §4.6.4) through the whole tree, and keeps going past
errors, so the tree shows which record is responsible.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import dns.name
import dns.rdatatype
import dns.resolver

from provision.dns.query import Lookup, domain_name, lookup, txt_strings
from provision.dns.spf.evaluate import MAX_LOOKUPS, MAX_MX_NAMES, MAX_VOID_LOOKUPS
from provision.dns.spf.parse import (
    LOOKUP_MECHANISMS,
    Mechanism,
    Record,
    SpfSyntaxError,
    is_spf_record,
    parse_record,
)

MAX_RECORD_OCTETS = 450  # §3.4: keep the owner name and its TXT records under this, so answers fit in UDP
MAX_STRING_OCTETS = 255  # one DNS character-string

Level = Literal["error", "warning", "note"]


@dataclass(frozen=True)
class Finding:
    """One problem or remark; errors break SPF (permerror/temperror), warnings weaken it."""

    level: Level
    domain: str  # the record it is about
    message: str


@dataclass
class Node:
    """One record in the include tree.

    via is the term that led here ("" for the domain analysed); record is the text as published,
    None when there is no single SPF record; lookup_terms are this record's own terms that cost a
    DNS lookup when evaluated, void_terms those of them that find nothing; children are the
    records its include terms and redirect modifier lead to.
    """

    domain: str
    via: str = ""
    record: str | None = None
    lookup_terms: list[str] = field(default_factory=list)
    void_terms: list[str] = field(default_factory=list)
    children: list[Node] = field(default_factory=list)

    @property
    def lookups(self) -> int:
        return len(self.lookup_terms)

    @property
    def void_lookups(self) -> int:
        return len(self.void_terms)

    def walk(self) -> list[Node]:
        """This node and every node below it, depth first."""
        return [self, *(node for child in self.children for node in child.walk())]


@dataclass(frozen=True)
class Analysis:
    """The SPF policy of domain as published.

    lookups counts the DNS-lookup terms in the whole tree, the most check_host() can use (over 10 is
    a permerror); void_lookups counts those that find nothing (over 2 is a permerror for receivers
    that apply the limit); findings are ordered as found, walking the tree depth first.
    """

    domain: str
    tree: Node
    lookups: int
    void_lookups: int
    findings: tuple[Finding, ...]

    @property
    def errors(self) -> list[Finding]:
        return [finding for finding in self.findings if finding.level == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [finding for finding in self.findings if finding.level == "warning"]


def analyse(domain: str, resolver: dns.resolver.Resolver | None = None) -> Analysis:
    """Fetch and check the SPF records of domain and of everything it includes or redirects to.

    resolver defaults to the system's resolver.
    """
    walker = _Walker(resolver or dns.resolver.get_default_resolver())
    domain = domain.removesuffix(".")
    tree = walker.visit(domain, "", ())
    lookups = sum(node.lookups for node in tree.walk())
    void_lookups = sum(node.void_lookups for node in tree.walk())
    if lookups > MAX_LOOKUPS:
        walker.add("error", domain, f"{lookups} DNS lookups, more than {MAX_LOOKUPS}: permerror")
    if void_lookups > MAX_VOID_LOOKUPS:
        walker.add(
            "warning", domain, f"{void_lookups} void lookups, more than the {MAX_VOID_LOOKUPS} allowed"
        )
    return Analysis(domain, tree, lookups, void_lookups, tuple(walker.findings))


class _Walker:
    def __init__(self, resolver: dns.resolver.Resolver) -> None:
        self.resolver = resolver
        self.findings: list[Finding] = []

    def add(self, level: Level, domain: str, message: str) -> None:
        self.findings.append(Finding(level, domain, message))

    def visit(self, domain: str, via: str, path: tuple[str, ...]) -> Node:
        node = Node(domain, via)
        if domain.lower() in path:
            self.add("error", domain, f"{via} loops back to {domain}")
            return node
        record = self._record(node)
        if record is None:
            return node
        path = (*path, domain.lower())
        for number, mechanism in enumerate(record.mechanisms):
            self._mechanism(node, mechanism, path)
            if mechanism.kind == "all" and number + 1 < len(record.mechanisms):
                self.add("note", domain, f"terms after {mechanism.text!r} are never evaluated")
                break
        if record.redirect is None:
            if not via and not record.has_all:
                self.add("note", domain, "no 'all' and no redirect: unlisted senders get neutral")
            return node
        via = f"redirect={record.redirect.text}"
        if record.has_all:
            self.add("note", domain, f"{via} is ignored because the record has 'all'")
            return node
        node.lookup_terms.append(via)
        if record.redirect.has_macros:
            self.add("note", domain, f"{via} has macros: not followed without a connection")
        else:
            node.children.append(self.visit(record.redirect.text.removesuffix("."), via, path))
        return node

    def _record(self, node: Node) -> Record | None:
        """Fetch, select and parse node's record, noting what is wrong with it."""
        domain, name = node.domain, domain_name(node.domain)
        if name is None:
            self.add("error", domain, f"{domain!r} is not a valid domain name")
            return None
        answer = self._query(name, dns.rdatatype.TXT)
        if answer.failed:
            self.add("error", domain, f"TXT lookup failed ({answer.status}): temperror")
            return None
        texts = [text for text in txt_strings(answer.records) if is_spf_record(text)]
        self._check_size(domain, name, answer, texts)
        if self._query(name, dns.rdatatype.SPF).records:
            self.add("warning", domain, "an SPF (type 99) record is published; RFC 7208 uses TXT only")
        if len(texts) != 1:
            if texts:
                self.add("error", domain, f"{len(texts)} SPF records: permerror")
            elif node.via:
                self.add("error", domain, f"{node.via} leads to no SPF record: permerror")
            else:
                self.add("warning", domain, "no SPF record: receivers get none")
            return None
        node.record = texts[0].decode("latin-1")
        try:
            return parse_record(node.record)
        except SpfSyntaxError as error:
            self.add("error", domain, f"syntax error, permerror: {error}")
            return None

    def _check_size(self, domain: str, name: dns.name.Name, answer: Lookup, texts: list[bytes]) -> None:
        size = len(name.to_wire()) + sum(len(record.to_wire()) for record in answer.records)
        if size > MAX_RECORD_OCTETS:
            self.add("warning", domain, f"name and TXT records take {size} octets, over {MAX_RECORD_OCTETS}")
        for text in texts:
            if len(text) > MAX_STRING_OCTETS:
                self.add(
                    "note", domain, f"the record is {len(text)} octets, split over several strings (fine)"
                )

    def _mechanism(self, node: Node, mechanism: Mechanism, path: tuple[str, ...]) -> None:
        domain, kind = node.domain, mechanism.kind
        if kind == "all" and mechanism.qualifier in "+?":
            self.add("warning", domain, f"{mechanism.text!r} does not reject unlisted senders")
        if kind not in LOOKUP_MECHANISMS:
            return
        node.lookup_terms.append(mechanism.text)
        if kind == "ptr":
            self.add("warning", domain, f"{mechanism.text!r}: ptr is slow and SHOULD NOT be used (§5.5)")
            return  # what it finds depends on the client's address
        target = mechanism.domain.text.removesuffix(".") if mechanism.domain else domain
        if mechanism.domain is not None and mechanism.domain.has_macros:
            self.add("note", domain, f"{mechanism.text!r} has macros: not evaluated without a connection")
        elif kind == "include":
            node.children.append(self.visit(target, mechanism.text, path))
        else:
            self._count_void(node, mechanism, target)

    def _count_void(self, node: Node, mechanism: Mechanism, target: str) -> None:
        name = domain_name(target)
        if name is None:
            return
        if mechanism.kind == "a":
            answers = [self._query(name, rdtype) for rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA)]
        else:
            answers = [self._query(name, dns.rdatatype.MX if mechanism.kind == "mx" else dns.rdatatype.A)]
        if all(answer.void for answer in answers):
            node.void_terms.append(mechanism.text)
            self.add("note", node.domain, f"{mechanism.text!r} finds nothing at {target} (a void lookup)")
        if mechanism.kind == "mx" and len(answers[0].records) > MAX_MX_NAMES:
            self.add(
                "error", node.domain, f"{mechanism.text!r}: more than {MAX_MX_NAMES} MX names: permerror"
            )

    def _query(self, name: dns.name.Name, rdtype: dns.rdatatype.RdataType) -> Lookup:
        return lookup(self.resolver, name, rdtype)
