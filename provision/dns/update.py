"""Applying records to a zone by RFC 2136 dynamic update, signed with TSIG (RFC 8945).

plan() asks the server, over TCP, for the current RRsets at every name and type the records
manage and returns the changes; apply() sends them as one UPDATE per zone, with prerequisites
that the RRsets are still what plan() saw, so a concurrent edit makes the update fail instead of
being overwritten. Nothing outside the managed names and types is read or changed, and at names
others share (TXT at the apex, CAA) only the records of our kind are replaced.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import dns.exception
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.tsig
import dns.update

from provision import files
from provision.dns import zonefile
from provision.dns.records import Record
from provision.errors import ProvisionError, UsageError

TIMEOUT = 10.0
ALGORITHMS = (dns.tsig.HMAC_SHA1, dns.tsig.HMAC_SHA224, dns.tsig.HMAC_SHA256, dns.tsig.HMAC_SHA384,
              dns.tsig.HMAC_SHA512)


class Action(StrEnum):
    ADD = "add"
    REPLACE = "replace"
    REMOVE = "remove"


@dataclass(frozen=True)
class Server:
    address: str
    port: int
    key: dns.tsig.Key


def address_of(host: str, option: str) -> str:
    """The address of the primary named by option (a name or an address), for its Server."""
    try:
        return socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)[0][4][0]
    except (OSError, UnicodeError) as error:
        raise UsageError(f"{option} {host}: cannot be resolved ({error})") from None


@dataclass(frozen=True)
class Managed:
    """What we manage at one name and type: the records wanted there, and which present ones are ours."""

    name: dns.name.Name
    rdtype: dns.rdatatype.RdataType
    ttl: int
    wanted: frozenset[dns.rdata.Rdata]
    ours: Callable[[dns.rdata.Rdata], bool]


@dataclass(frozen=True)
class Change:
    zone: dns.name.Name
    name: dns.name.Name
    rdtype: dns.rdatatype.RdataType
    action: Action
    ttl: int
    present: tuple[dns.rdata.Rdata, ...]  # the whole RRset as the server holds it
    old: tuple[dns.rdata.Rdata, ...]  # the part of it that is ours and goes
    new: tuple[dns.rdata.Rdata, ...]
    whole: bool  # the whole RRset is ours

    def as_dict(self) -> dict[str, object]:
        return {"zone": self.zone.to_text(), "name": self.name.to_text(),
                "type": dns.rdatatype.to_text(self.rdtype), "action": self.action.value, "ttl": self.ttl,
                "old": [rdata.to_text() for rdata in self.old],
                "new": [rdata.to_text() for rdata in self.new]}


class ServerError(ProvisionError):
    """The server refused or could not be asked; nothing more was sent."""


class KeyFileError(UsageError):
    pass


def read_key(path: Path) -> dns.tsig.Key:
    """The one TSIG key in a BIND/Knot style file: key "NAME" { algorithm ALG; secret "BASE64"; };"""
    try:
        text = files.read_text(path)
    except OSError as error:
        raise KeyFileError(f"{path}: cannot be read ({error.strerror})") from None
    text = re.sub(r"/\*.*?\*/|(#|//)[^\n]*", "", text, flags=re.S)
    keys = re.findall(r'key\s+"?([^"\s{]+)"?\s*\{(.*?)\}\s*;', text, flags=re.S)
    if len(keys) != 1:
        raise KeyFileError(f"{path}: holds {len(keys)} TSIG keys, not one",
                           hint='write it as: key "NAME" { algorithm hmac-sha256; secret "BASE64"; };')
    name, body = keys[0]
    algorithm = re.search(r'algorithm\s+"?([\w.-]+)"?\s*;', body)
    secret = re.search(r'secret\s+"([^"]+)"\s*;', body)
    if not algorithm or not secret:
        raise KeyFileError(f"{path}: key {name} needs an algorithm and a secret")
    if dns.name.from_text(algorithm.group(1)) not in ALGORITHMS:
        raise KeyFileError(f"{path}: key {name} has the unknown algorithm {algorithm.group(1)}",
                           hint="use hmac-sha256 (or hmac-sha512)")
    try:
        return dns.tsig.Key(name, secret.group(1), algorithm.group(1))
    except (ValueError, dns.exception.DNSException) as error:
        raise KeyFileError(f"{path}: key {name} is not usable ({error})") from None


def managed(records: Iterable[Record]) -> list[Managed]:
    """The names and types the records manage, each once.

    A CNAME owns its whole name, so addresses found there are removed; at names others may share,
    only our kind of record is replaced: TXT with the same leading tag (v=spf1, v=DMARC1, path=...),
    and CAA additively, since a customer's website may use another CA.
    """
    grouped: dict[tuple[dns.name.Name, dns.rdatatype.RdataType], list[Record]] = {}
    for record in records:
        key = (dns.name.from_text(record.name), dns.rdatatype.from_text(record.type))
        grouped.setdefault(key, []).append(record)
    result = []
    for (name, rdtype), members in grouped.items():
        wanted = frozenset(dns.rdata.from_text(dns.rdataclass.IN, rdtype, zonefile.rdata(record))
                           for record in members)
        result.append(Managed(name, rdtype, min(record.ttl for record in members), wanted,
                              _owner_test(rdtype, wanted)))
        if rdtype == dns.rdatatype.CNAME:
            result += [Managed(name, other, members[0].ttl, frozenset(), lambda _: True)
                       for other in (dns.rdatatype.A, dns.rdatatype.AAAA)]
    return result


def _owner_test(rdtype: dns.rdatatype.RdataType,
                wanted: frozenset[dns.rdata.Rdata]) -> Callable[[dns.rdata.Rdata], bool]:
    if rdtype == dns.rdatatype.TXT:
        tags = {txt_tag(rdata) for rdata in wanted}
        return lambda rdata: txt_tag(rdata) in tags
    if rdtype == dns.rdatatype.CAA:
        return lambda rdata: rdata in wanted
    return lambda _: True


def txt_tag(rdata: dns.rdata.Rdata) -> str:
    """v=spf1 for "v=spf1 mx -all", path= for "path=/": what kind of TXT record it is."""
    text = b"".join(rdata.strings).decode(errors="replace").lower()  # type: ignore[attr-defined]
    first = re.split(r"[;\s]", text.strip(), maxsplit=1)[0]
    return first if first.startswith("v=") else first.partition("=")[0] + "="


def plan(server: Server, zone: dns.name.Name, wanted: Sequence[Managed]) -> list[Change]:
    """The changes that make the zone hold what is wanted, from the RRsets the server holds now."""
    changes = []
    with _connect(server) as sock:
        for item in wanted:
            present, ttl = _current(server, sock, zone, item)
            change = _change(zone, item, present, ttl)
            if change:
                changes.append(change)
    return changes


def current(server: Server, zone: dns.name.Name, name: dns.name.Name,
            rdtype: dns.rdatatype.RdataType) -> tuple[tuple[dns.rdata.Rdata, ...], int | None]:
    """The whole RRset the server holds at a name and type, and its TTL (None where there is none)."""
    with _connect(server) as sock:
        return _current(server, sock, zone, Managed(name, rdtype, 0, frozenset(), lambda _: True))


def _change(zone: dns.name.Name, item: Managed, present: tuple[dns.rdata.Rdata, ...],
            ttl: int | None) -> Change | None:
    old = tuple(rdata for rdata in present if item.ours(rdata))
    whole = len(old) == len(present)
    if set(old) == item.wanted and (not old or ttl == item.ttl or not whole):
        return None
    action = Action.ADD if not old else Action.REMOVE if not item.wanted else Action.REPLACE
    return Change(zone, item.name, item.rdtype, action, item.ttl, present, old,
                  tuple(sorted(item.wanted, key=str)), whole)


def _current(server: Server, sock: socket.socket, zone: dns.name.Name,
             item: Managed) -> tuple[tuple[dns.rdata.Rdata, ...], int | None]:
    query = dns.message.make_query(item.name, item.rdtype)
    query.use_tsig(server.key)
    response = _exchange(server, query, sock)
    if response.rcode() not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
        raise ServerError(f"{server.address} answered {dns.rcode.to_text(response.rcode())} when asked for "
                          f"{item.name} {dns.rdatatype.to_text(item.rdtype)} in zone {zone}",
                          hint="check that the server is authoritative for the zone (--zone)")
    rrset = response.get_rrset(response.answer, item.name, dns.rdataclass.IN, item.rdtype)
    return (tuple(rrset), rrset.ttl) if rrset else ((), None)


def apply(server: Server, zone: dns.name.Name, changes: Sequence[Change]) -> None:
    """Send the changes as one UPDATE; ServerError with the rcode when the server refuses it."""
    update = dns.update.UpdateMessage(zone)
    for change in changes:  # the RRset must still be what plan() saw
        if change.present:
            update.present(change.name, *change.present)
        else:
            update.absent(change.name, change.rdtype)
    for change in changes:  # deletions first: a CNAME can only go where the addresses went
        if change.whole and change.old:
            update.delete(change.name, change.rdtype)
        elif change.old:
            update.delete(change.name, *change.old)
    for change in changes:
        if change.new:
            update.add(change.name, change.ttl, *change.new)
    update.use_tsig(server.key)
    with _connect(server) as sock:
        response = _exchange(server, update, sock)
    if response.rcode() != dns.rcode.NOERROR:
        raise ServerError(f"{server.address} refused the update of zone {zone}: "
                          f"{dns.rcode.to_text(response.rcode())}", hint=_RCODE_HINTS.get(response.rcode()))


_RCODE_HINTS = {
    dns.rcode.REFUSED: "the server does not allow this key to update the zone",
    dns.rcode.NOTAUTH: "the server is not authoritative for the zone, or does not accept the key",
    dns.rcode.NXRRSET: "the zone changed since the difference was shown: run the push again",
    dns.rcode.YXRRSET: "the zone changed since the difference was shown: run the push again",
}


def _connect(server: Server) -> socket.socket:
    try:
        return socket.create_connection((server.address, server.port), timeout=TIMEOUT)
    except OSError as error:
        raise ServerError(f"cannot connect to {server.address} port {server.port} over TCP "
                          f"({error.strerror or error})") from None


def _exchange(server: Server, message: dns.message.Message, sock: socket.socket) -> dns.message.Message:
    try:
        return dns.query.tcp(message, server.address, timeout=TIMEOUT, port=server.port, sock=sock)
    except dns.tsig.PeerError as error:  # the server could not verify our signature
        raise ServerError(f"{server.address} refused the request: NOTAUTH ({_tsig_error(error)})",
                          hint="check the TSIG key's name, algorithm and secret") from None
    except (dns.exception.DNSException, OSError) as error:
        raise ServerError(f"no answer from {server.address} port {server.port}: {error}") from None


def _tsig_error(error: dns.tsig.PeerError) -> str:
    names = {dns.tsig.PeerBadKey: "BADKEY", dns.tsig.PeerBadSignature: "BADSIG",
             dns.tsig.PeerBadTime: "BADTIME", dns.tsig.PeerBadTruncation: "BADTRUNC"}
    return f"TSIG error {names.get(type(error), type(error).__name__)}"
