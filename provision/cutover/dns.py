"""The records a cutover moves: MX, SPF and the autoconfig name of every domain. Changed by RFC 2136
update with TSIG through provision.dns.update (the same code as `dns push`), or printed to be
changed by hand."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype

from provision.cutover.state import Rrset
from provision.dns import update
from provision.dns.records import absolute, is_within

# What may stand at autoconfig.DOMAIN: the switch replaces any of them.
AUTOCONFIG_TYPES = ("CNAME", "A", "AAAA")


def names(domains: Sequence[str]) -> list[tuple[str, str]]:
    """(name, type) of every RRset a cutover changes, in a stable order."""
    found = []
    for domain in domains:
        apex = absolute(domain)
        found += [(apex, "MX"), (apex, "TXT")]
        found += [(f"autoconfig.{apex}", kind) for kind in AUTOCONFIG_TYPES]
    return found


def _ours(rdtype: str, value: dns.rdata.Rdata) -> bool:
    """At the apex TXT only SPF is the cutover's; a site verification beside it stays."""
    return rdtype != "TXT" or update.txt_tag(value) == "v=spf1"


@dataclass(frozen=True)
class Dns:
    """How the zones are reached; server None: the records are changed by hand."""

    server: update.Server | None
    zones: tuple[str, ...]  # absolute

    def zone_of(self, name: str) -> str:
        within = [zone for zone in self.zones if is_within(name, zone)]
        return max(within, key=len)

    def capture(self, domains: Sequence[str]) -> list[Rrset]:
        """The records now at every name a cutover changes (only ours at the apex TXT)."""
        assert self.server is not None
        found = []
        for name, kind in names(domains):
            rdtype = dns.rdatatype.from_text(kind)
            present, ttl = update.current(self.server, dns.name.from_text(self.zone_of(name)),
                                          dns.name.from_text(name), rdtype)
            values = sorted(value.to_text() for value in present if _ours(kind, value))
            found.append(Rrset(name, kind, ttl or 0, values))
        return found

    def may_update(self) -> None:
        """An UPDATE that changes nothing, signed: refused (ServerError) where the key may not update."""
        assert self.server is not None
        for zone in self.zones:
            update.apply(self.server, dns.name.from_text(zone), [])

    def changes(self, wanted: Sequence[Rrset]) -> dict[str, list[update.Change]]:
        """By zone, what it takes for the zones to hold wanted (each RRset whole, at its TTL)."""
        assert self.server is not None
        by_zone: dict[str, list[update.Managed]] = {}
        for rrset in wanted:
            rdtype = dns.rdatatype.from_text(rrset.type)
            values = frozenset(dns.rdata.from_text(dns.rdataclass.IN, rdtype, value)
                               for value in rrset.values)
            kind = rrset.type
            by_zone.setdefault(self.zone_of(rrset.name), []).append(update.Managed(
                dns.name.from_text(rrset.name), rdtype, rrset.ttl, values,
                lambda value, kind=kind: _ours(kind, value)))  # type: ignore[misc]
        return {zone: update.plan(self.server, dns.name.from_text(zone), managed)
                for zone, managed in by_zone.items()}

    def apply(self, wanted: Sequence[Rrset]) -> list[update.Change]:
        """Make the zones hold wanted; safe to repeat (a zone already right is not sent anything).
        Checked afterwards: a server may accept an update and not apply it (RFC 2136 §3.4.2.2)."""
        assert self.server is not None
        done = []
        for zone, changes in self.changes(wanted).items():
            if changes:
                update.apply(self.server, dns.name.from_text(zone), changes)
                done += changes
        missed = [change for changes in self.changes(wanted).values() for change in changes]
        if missed:
            shown = ", ".join(f"{change.name} {dns.rdatatype.to_text(change.rdtype)}" for change in missed)
            raise update.ServerError(f"{self.server.address} accepted the update but did not apply: {shown}",
                                     hint="a CNAME at such a name hides other records: remove it")
        return done


def with_ttl(rrsets: Sequence[Rrset], ttl: int) -> list[Rrset]:
    return [Rrset(rrset.name, rrset.type, ttl, list(rrset.values)) for rrset in rrsets]


def lowered(old: Sequence[Rrset], ttl: int) -> list[Rrset]:
    """The records as they are, at the short TTL where they are longer; nothing added or removed."""
    return [Rrset(rrset.name, rrset.type, min(rrset.ttl, ttl), list(rrset.values))
            for rrset in old if rrset.values]


def zone_lines(rrsets: Sequence[Rrset]) -> list[str]:
    """The records in zone-file form, for people changing them by hand; an empty RRset is a removal."""
    lines = []
    for rrset in rrsets:
        if rrset.values:
            lines += [f"{rrset.name} {rrset.ttl} IN {rrset.type} {value}" for value in rrset.values]
        else:
            lines.append(f"; no {rrset.type} record at {rrset.name} (remove any)")
    return lines
