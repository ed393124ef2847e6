"""DNSSEC of the mail domain and DANE TLSA records of its MX hosts (RFC 7672), when published.

Whether answers are secure is judged by the resolver's AD flag, so only a validating resolver can
confirm it; through a non-validating one the checks say so instead of guessing.
"""

from __future__ import annotations

import dns.exception
import dns.flags
import dns.rdatatype

from provision.check.context import CheckModule, Context, make_resolver
from provision.check.dns import result
from provision.check.model import Check, Status

SIGNED, TLSA = "dns.dnssec.signed", "dns.dane.tlsa"
USABLE_USAGES = {2: "DANE-TA", 3: "DANE-EE"}  # PKIX-TA (0) and PKIX-EE (1) do not apply to SMTP


def run(context: Context, domain: str) -> list[Check]:
    return [_signed(context, domain), _tlsa(context, domain)]


def _signed(context: Context, domain: str) -> Check:
    if not context.answer(domain, dns.rdatatype.DNSKEY).records:
        return result(SIGNED, Status.OK, f"{domain}: not signed with DNSSEC (optional; DANE needs it)")
    if _validated(context, domain, dns.rdatatype.SOA):
        return result(SIGNED, Status.OK, f"{domain}: signed, and the resolver validates it")
    return result(SIGNED, Status.UNKNOWN, f"{domain}: has DNSSEC keys, but the resolver did not validate "
                  "the answers (it may not validate at all)",
                  "check again with --nameserver of a validating resolver")


def _tlsa(context: Context, domain: str) -> Check:
    published, problems = [], []
    for host in context.mx_hosts(domain):
        name = f"_25._tcp.{host}"
        records = context.answer(name, dns.rdatatype.TLSA).records
        if not records:
            continue
        published.append(name)
        usable = [record for record in records if record.usage in USABLE_USAGES]  # type: ignore[attr-defined]
        if not usable:
            problems.append(f"{name} has only PKIX usages (0, 1), which SMTP ignores")
        elif not _validated(context, name, dns.rdatatype.TLSA):
            problems.append(f"{name} is not DNSSEC-validated, so senders ignore it")
    if problems:
        return result(TLSA, Status.WARN, f"{domain}: {'; '.join(problems)}",
                      "sign the MX host's zone with DNSSEC and publish TLSA 3 1 1 (or 2 0 1) records")
    if published:
        return result(TLSA, Status.OK, f"{domain}: DANE TLSA published at {', '.join(published)}")
    return result(TLSA, Status.OK, f"{domain}: no TLSA records: DANE is not used (optional)")


def _validated(context: Context, name: str, rdtype: dns.rdatatype.RdataType) -> bool:
    resolver = make_resolver(context.options)
    resolver.use_edns(0, dns.flags.DO, 1232)
    resolver.flags = dns.flags.RD | dns.flags.AD
    try:
        answer = resolver.resolve(name, rdtype, search=False, raise_on_no_answer=False)
    except dns.exception.DNSException:
        return False
    return bool(answer.response.flags & dns.flags.AD)


MODULE = CheckModule("dns.dnssec", (SIGNED, TLSA), run)
