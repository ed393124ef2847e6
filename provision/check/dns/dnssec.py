"""DNSSEC of the mail domain: signed (optional), and if so validating, never bogus.

Whether answers are secure is judged by the resolver's AD flag, so only a validating resolver can
confirm it; through a non-validating one the check says so instead of guessing. A bogus zone (bad
signatures, or a DS at the parent matching no key) makes validating resolvers answer SERVFAIL: it
is told from a server failure by asking again with checking disabled (CD), which then answers.
"""

from __future__ import annotations

import dns.exception
import dns.flags
import dns.message
import dns.rdatatype
import dns.resolver

from provision.check.context import CheckModule, Context, Unanswered, make_resolver
from provision.check.dns import result
from provision.check.model import Check, Status

SIGNED = "dns.dnssec.signed"


def run(context: Context, domain: str) -> list[Check]:
    try:
        keys = context.answer(domain, dns.rdatatype.DNSKEY).records
    except Unanswered:
        if _answer(context, domain, dns.rdatatype.DNSKEY, dns.flags.CD) is None:
            raise
        return [result(SIGNED, Status.CRIT, f"{domain}: DNSSEC validation fails (bogus): validating "
                       "resolvers answer SERVFAIL for the domain, so mail to it is deferred and bounces",
                       f"make the DS records at the parent zone (the registrar) match a DNSKEY of {domain} "
                       "and let the DNS host re-sign the zone; or remove the DS records to go unsigned")]
    if not keys:
        return [result(SIGNED, Status.OK, f"{domain}: not signed with DNSSEC (optional; DANE needs it)")]
    if validated(context, domain, dns.rdatatype.SOA):
        return [result(SIGNED, Status.OK, f"{domain}: signed, and the resolver validates it")]
    return [result(SIGNED, Status.UNKNOWN, f"{domain}: has DNSSEC keys, but the resolver did not validate "
                   "the answers (it may not validate at all)",
                   "check again with --nameserver of a validating resolver")]


def validated(context: Context, name: str, rdtype: dns.rdatatype.RdataType) -> bool:
    """The resolver answered and set AD: it validated the answer as secure."""
    answer = _answer(context, name, rdtype, dns.flags.AD)
    return answer is not None and bool(answer.response.flags & dns.flags.AD)


def _answer(context: Context, name: str, rdtype: dns.rdatatype.RdataType,
            flag: dns.flags.Flag) -> dns.resolver.Answer | None:
    resolver = make_resolver(context.options)
    resolver.use_edns(0, dns.flags.DO, 1232)
    resolver.flags = dns.flags.RD | flag
    try:
        return resolver.resolve(name, rdtype, search=False, raise_on_no_answer=False)
    except dns.exception.DNSException:
        return None


MODULE = CheckModule("dns.dnssec", (SIGNED,), run)
