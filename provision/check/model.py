"""Check results, targets and the options every check reads."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from provision.inventory.model import Inventory

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class Status(StrEnum):
    OK = "OK"
    WARN = "WARN"
    CRIT = "CRIT"
    UNKNOWN = "UNKNOWN"

    @property
    def rank(self) -> int:
        """Severity as Checkmk orders it: an UNKNOWN outweighs a WARN, a CRIT outweighs both."""
        return _RANK[self]

    @property
    def nagios_code(self) -> int:
        return _NAGIOS_CODE[self]


_RANK = {Status.OK: 0, Status.WARN: 1, Status.UNKNOWN: 2, Status.CRIT: 3}
_NAGIOS_CODE = {Status.OK: 0, Status.WARN: 1, Status.CRIT: 2, Status.UNKNOWN: 3}


def worst(statuses: list[Status]) -> Status:
    return max(statuses, key=lambda status: status.rank, default=Status.OK)


@dataclass(frozen=True)
class Check:
    """One finding. fix says exactly what to change; empty when there is nothing to do."""

    id: str
    area: str
    status: Status
    message: str
    fix: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"id": self.id, "area": self.area, "status": str(self.status), "message": self.message,
                "fix": self.fix}


@dataclass(frozen=True)
class Target:
    """What to check: the mail domains and, when known, the server behind them.

    For a bare domain the server is unknown: addresses stays empty (the checks take the MX hosts'
    addresses), helo None (each address is expected to be named after its MX host).
    """

    name: str
    domains: tuple[str, ...]
    addresses: tuple[Address, ...] = ()
    helo: str | None = None
    dkim_selector: str | None = "mail"  # None: not known, the common ones and dkim_candidates are tried
    dkim_candidates: tuple[str, ...] = ()  # selectors seen in a message received from the domain
    dkim_records: dict[str, str] = field(default_factory=dict)  # domain -> the record to publish
    ca: str | None = None  # the CAA issuer domain of the CA in use, "" when no public CA is used
    acme_directory: str | None = None  # asked for its CAA identities when ca is unknown
    acme_ca_file: Path | None = None  # trusted for the ACME directory (a private ACME server)
    inventory: Inventory | None = None  # an inventory target's, whose server the host area logs in to


@dataclass(frozen=True)
class Options:
    """How to reach the network: resolver, HTTPS trust, timeouts and DNS block lists."""

    nameservers: tuple[tuple[str, int], ...] = ()  # empty: the system's resolvers
    timeout: float = 5.0  # seconds per DNS query or HTTPS request
    check_timeout: float = 60.0  # seconds for one check module on one domain
    dnsbl: tuple[str, ...] = ("zen.spamhaus.org", "bl.spamcop.net")
    domain_dnsbl: tuple[str, ...] = ("dbl.spamhaus.org",)
    ca_file: Path | None = None
    https_port: int = 443  # tests serve MTA-STS policies on a high port
