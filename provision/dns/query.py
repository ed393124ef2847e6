"""One DNS query with a typed outcome, so callers can tell "no such record" from "could not ask"."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

import dns.exception
import dns.name
import dns.rdata
import dns.rdatatype
import dns.resolver


class Status(StrEnum):
    ANSWER = "answer"
    NODATA = "nodata"  # RCODE 0 with no record of the asked type
    NXDOMAIN = "nxdomain"
    TIMEOUT = "timeout"
    ERROR = "error"  # SERVFAIL, REFUSED or any other failure to get an answer


@dataclass(frozen=True)
class Lookup:
    """The outcome of one query: its status and, for ANSWER, the records of the asked type."""

    name: dns.name.Name
    rdtype: dns.rdatatype.RdataType
    status: Status
    records: tuple[dns.rdata.Rdata, ...] = ()

    @property
    def void(self) -> bool:
        """NODATA or NXDOMAIN: the "void lookup" of RFC 7208 §4.6.4."""
        return self.status in (Status.NODATA, Status.NXDOMAIN)

    @property
    def failed(self) -> bool:
        """The server could not be asked or could not answer (a temporary error)."""
        return self.status in (Status.TIMEOUT, Status.ERROR)


def lookup(resolver: dns.resolver.Resolver, name: dns.name.Name, rdtype: dns.rdatatype.RdataType) -> Lookup:
    """Ask resolver for the records of rdtype at name (absolute, so no search list applies)."""
    try:
        answer = resolver.resolve(name, rdtype, search=False, raise_on_no_answer=False)
    except dns.resolver.NXDOMAIN:
        return Lookup(name, rdtype, Status.NXDOMAIN)
    except dns.exception.Timeout:
        return Lookup(name, rdtype, Status.TIMEOUT)
    except dns.exception.DNSException:
        return Lookup(name, rdtype, Status.ERROR)
    records = tuple(answer.rrset) if answer.rrset is not None else ()
    return Lookup(name, rdtype, Status.ANSWER if records else Status.NODATA, records)


def txt_strings(records: Iterable[dns.rdata.Rdata]) -> list[bytes]:
    """Each TXT record's character-strings joined with nothing between them (RFC 7208 §3.3)."""
    return [b"".join(record.strings) for record in records]  # type: ignore[attr-defined]


def domain_name(text: str) -> dns.name.Name | None:
    """text as an absolute DNS name, or None when it cannot be one (empty or over-long labels)."""
    labels = text.removesuffix(".").split(".")
    try:
        return dns.name.Name([label.encode() for label in labels] + [b""])
    except (dns.name.EmptyLabel, dns.name.LabelTooLong, dns.name.NameTooLong):
        return None
