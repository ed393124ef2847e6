"""SPF (RFC 7208): one valid record, within the lookup limits, ending in ~all or -all, passing the server."""

from __future__ import annotations

import dns.rdatatype

from provision.check.context import CheckModule, Context, Outbound, Unanswered
from provision.check.dns import result
from provision.check.model import Check, Status
from provision.dns.query import txt_strings
from provision.dns.spf import Analysis, SpfSyntaxError, analyse, check_host, parse_record
from provision.dns.spf.evaluate import MAX_LOOKUPS
from provision.dns.spf.parse import Mechanism, is_spf_record

RECORD, LIMITS, ALL, PASS = "dns.spf.record", "dns.spf.limits", "dns.spf.all", "dns.spf.pass"


def run(context: Context, domain: str) -> list[Check]:
    texts = [text.decode("latin-1") for text in txt_strings(context.answer(domain, dns.rdatatype.TXT).records)
             if is_spf_record(text)]
    if len(texts) != 1:
        return [_count(context, domain, texts)]
    try:
        record = parse_record(texts[0])
    except SpfSyntaxError as error:
        return [result(RECORD, Status.CRIT, f"{domain}: SPF syntax error ({error}), receivers get permerror: "
                       f"{texts[0]!r}", "correct the record; see RFC 7208 §12 for the grammar")]
    checks = [result(RECORD, Status.OK, f"{domain}: {texts[0]}")]
    checks.append(_limits(domain, analyse(domain, context.resolver)))
    checks.append(_all(domain, record.mechanisms, record.redirect is not None))
    checks.append(_passes(context, domain, texts[0]))
    return checks


def _count(context: Context, domain: str, texts: list[str]) -> Check:
    if texts:
        listed = " and ".join(repr(text) for text in texts)
        return result(RECORD, Status.CRIT, f"{domain}: {len(texts)} SPF records, receivers get permerror "
                      f"(RFC 7208 §3.2): {listed}", "merge them into one TXT record starting with v=spf1")
    terms = " ".join(_term(address) for address in context.target.addresses) or "mx"
    return result(RECORD, Status.CRIT, f"{domain}: no SPF record",
                  f'publish `{domain}. 3600 IN TXT "v=spf1 {terms} -all"`')


def _limits(domain: str, analysis: Analysis) -> Check:
    errors = [f"{finding.domain}: {finding.message}" for finding in analysis.errors]
    counts = ", ".join(f"{node.via or node.domain} {node.lookups}"
                       for node in analysis.tree.walk() if node.lookups)
    summary = f"{analysis.lookups} DNS lookups ({counts or 'none'}), {analysis.void_lookups} void"
    if any("temperror" in error for error in errors):
        return result(LIMITS, Status.UNKNOWN, f"{domain}: {'; '.join(errors)}")
    if errors:
        fix = (f"bring the lookups down to {MAX_LOOKUPS}: replace includes by ip4:/ip6: terms or drop "
               "unused ones" if analysis.lookups > MAX_LOOKUPS else "correct the records named")
        return result(LIMITS, Status.CRIT, f"{domain}: {'; '.join(errors)}; {summary}", fix)
    if analysis.warnings:
        warnings = "; ".join(f"{finding.domain}: {finding.message}" for finding in analysis.warnings)
        return result(LIMITS, Status.WARN, f"{domain}: {warnings}; {summary}",
                      "remove terms that point at names without records")
    return result(LIMITS, Status.OK, f"{domain}: {summary}")


def _all(domain: str, mechanisms: tuple[Mechanism, ...], has_redirect: bool) -> Check:
    final = next((mechanism for mechanism in mechanisms if mechanism.kind == "all"), None)
    if final is None:
        if has_redirect:
            return result(ALL, Status.OK, f"{domain}: the policy ends in a redirect")
        return result(ALL, Status.WARN, f"{domain}: no 'all' term, so unlisted senders get neutral",
                      "end the record with -all (or ~all)")
    if final.qualifier == "+":
        return result(ALL, Status.CRIT, f"{domain}: {final.text!r} lets anyone send as {domain}",
                      "end the record with -all (or ~all) instead")
    if final.qualifier == "?":
        return result(ALL, Status.WARN, f"{domain}: '?all' gives unlisted senders neutral",
                      "end the record with -all (or ~all) instead")
    return result(ALL, Status.OK, f"{domain}: unlisted senders get {final.result}")


def _passes(context: Context, domain: str, text: str) -> Check:
    try:
        outbound = context.outbound()
    except Unanswered as error:
        return result(PASS, Status.UNKNOWN, f"{domain}: the server's addresses are unknown: {error}")
    if not outbound:
        return result(PASS, Status.UNKNOWN,
                      f"{domain}: no sending address known (no MX host with an address)",
                      "give the server's addresses with --ip")
    verdicts = {sender: check_host(str(sender.address), domain, f"postmaster@{domain}", sender.name,
                                   context.resolver) for sender in outbound}
    failing = [sender for sender, verdict in verdicts.items() if verdict.result not in ("pass", "temperror")]
    unsure = [sender for sender, verdict in verdicts.items() if verdict.result == "temperror"]
    if failing:
        listed = ", ".join(f"{sender.address} gets {verdicts[sender].result}" for sender in failing)
        return result(PASS, Status.CRIT, f"{domain}: mail from the server fails SPF: {listed}",
                      f'publish `{domain}. 3600 IN TXT "{_with_addresses(text, failing)}"`')
    if unsure:
        reasons = "; ".join(f"{sender.address}: {verdicts[sender].reason}" for sender in unsure)
        return result(PASS, Status.UNKNOWN, f"{domain}: SPF temperror: {reasons}")
    addresses = ", ".join(str(sender.address) for sender in outbound)
    return result(PASS, Status.OK, f"{domain}: SPF passes mail from {addresses}")


def _term(address: object) -> str:
    return f"ip{6 if ':' in str(address) else 4}:{address}"


def _with_addresses(text: str, senders: list[Outbound]) -> str:
    """The record with ip4:/ip6: terms for senders added before its 'all' term (or at the end)."""
    terms = text.split()
    added = [_term(sender.address) for sender in senders]
    at = next((number for number, term in enumerate(terms) if term.lstrip("+-~?").lower() == "all"),
              len(terms))
    return " ".join([*terms[:at], *added, *terms[at:]])


MODULE = CheckModule("dns.spf", (RECORD, LIMITS, ALL, PASS), run)
