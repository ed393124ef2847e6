"""DNS block lists (RFC 5782): the sending addresses and the domains, telling refusals from listings."""

from __future__ import annotations

import ipaddress

import dns.rdatatype
import dns.reversename

from provision.check.context import CheckModule, Context, failure
from provision.check.dns import result
from provision.check.model import Check, Status
from provision.dns.query import txt_strings

ADDRESS, DOMAIN = "dns.dnsbl.address", "dns.dnsbl.domain"
LOOPBACK = ipaddress.ip_network("127.0.0.0/8")
# Spamhaus answers these instead of a listing when it refuses the query (bad zone name, a public
# or open resolver, too many queries).
REFUSALS = {
    "127.255.255.252": "the query was malformed",
    "127.255.255.254": "queries through public or open resolvers are refused",
    "127.255.255.255": "too many queries",
}


def run(context: Context, domain: str) -> list[Check]:
    options = context.options
    checks = []
    if options.dnsbl:
        for address in dict.fromkeys(sender.address for sender in context.outbound()):
            reverse = dns.reversename.from_address(str(address)).to_text()
            stem = reverse.removesuffix("ip6.arpa.").removesuffix("in-addr.arpa.")
            checks.append(_listed(context, ADDRESS, str(address), stem, options.dnsbl))
    if options.domain_dnsbl:
        checks += [_listed(context, DOMAIN, name, name + ".", options.domain_dnsbl)
                   for name in context.target.domains]
    return checks


def _listed(context: Context, check_id: str, subject: str, stem: str, zones: tuple[str, ...]) -> Check:
    listings, unknown = [], []
    for zone in zones:
        found = context.lookup(stem + zone, dns.rdatatype.A)
        if found.failed:
            unknown.append(f"{zone}: {failure(found)}")
            continue
        codes = [record.address for record in found.records]  # type: ignore[attr-defined]
        refused = [REFUSALS[code] for code in codes if code in REFUSALS]
        if refused:
            unknown.append(f"{zone} refused the query ({', '.join(codes)}: {refused[0]}); use your own "
                           "recursive resolver or the list's paid access")
        elif any(ipaddress.ip_address(code) not in LOOPBACK for code in codes):
            unknown.append(f"{zone} answered {', '.join(codes)}, outside 127.0.0.0/8: the resolver rewrites "
                           "missing names, so listings cannot be told")
        elif codes:
            listings.append(f"{zone} ({', '.join(codes)}{_reason(context, stem + zone)})")
    if listings:
        return result(check_id, Status.CRIT, f"{subject} is listed on {'; '.join(listings)}",
                      "find and stop the cause (compromised account, open relay), then ask each list to "
                      "remove it")
    if unknown:
        return result(check_id, Status.UNKNOWN, f"{subject}: {'; '.join(unknown)}")
    return result(check_id, Status.OK, f"{subject} is not listed on {', '.join(zones)}")


def _reason(context: Context, name: str) -> str:
    texts = txt_strings(context.lookup(name, dns.rdatatype.TXT).records)
    return f": {texts[0].decode('latin-1')}" if texts else ""


MODULE = CheckModule("dns.dnsbl", (ADDRESS, DOMAIN), run, per_domain=False)
