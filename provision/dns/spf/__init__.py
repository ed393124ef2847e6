"""SPF (RFC 7208): check_host() for a connection, and analyse() for a domain's published policy.

check_host(ip, domain, sender, helo, resolver) gives the verdict a receiving server would reach;
analyse(domain, resolver) reports what a domain publishes: its include tree, DNS lookup and void
lookup counts, and problems. Both take a dnspython Resolver, so any server can be asked.
"""

from provision.dns.spf.analyse import Analysis, Finding, Node, analyse
from provision.dns.spf.evaluate import SpfResult, check_host
from provision.dns.spf.parse import Mechanism, Record, SpfSyntaxError, parse_record

__all__ = [
    "Analysis",
    "Finding",
    "Mechanism",
    "Node",
    "Record",
    "SpfResult",
    "SpfSyntaxError",
    "analyse",
    "check_host",
    "parse_record",
]
