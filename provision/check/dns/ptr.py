"""Reverse DNS of every sending address: a PTR, forward-confirmed (FCrDNS), naming the HELO host."""

from __future__ import annotations

import dns.rdatatype
import dns.reversename

from provision.check.context import CheckModule, Context, Outbound, Unanswered, failure, host_text
from provision.check.dns import result
from provision.check.model import Check, Status

PRESENT, FCRDNS, HELO = "dns.ptr.present", "dns.ptr.fcrdns", "dns.ptr.helo"


def run(context: Context, domain: str) -> list[Check]:
    senders = context.outbound()
    if not senders:
        return [result(PRESENT, Status.UNKNOWN, "no sending address known (no MX host with an address)",
                       "give the server's addresses with --ip")]
    return [check for sender in dict.fromkeys(senders) for check in _address(context, sender)]


def _address(context: Context, sender: Outbound) -> list[Check]:
    address, expected = sender.address, sender.name
    fix = f"ask the provider of {address} to set its reverse DNS (PTR) to {expected or 'the server name'}"
    found = context.lookup(dns.reversename.from_address(str(address)).to_text(), dns.rdatatype.PTR)
    if found.failed:
        return [result(PRESENT, Status.UNKNOWN, f"{address}: {failure(found)}")]
    names = [host_text(record.target) for record in found.records]  # type: ignore[attr-defined]
    if not names:
        return [result(PRESENT, Status.CRIT, f"{address} has no PTR record: large receivers refuse its mail",
                       fix)]
    checks = [result(PRESENT, Status.OK, f"{address}: PTR {', '.join(names)}")]
    try:
        confirmed = [name for name in names if address in context.addresses_of(name)]
    except Unanswered as error:
        return [*checks, result(FCRDNS, Status.UNKNOWN, f"{address}: {error}")]
    if confirmed:
        checks.append(result(FCRDNS, Status.OK, f"{address}: {confirmed[0]} resolves back to it"))
    else:
        kind = "AAAA" if address.version == 6 else "A"
        checks.append(result(FCRDNS, Status.CRIT, f"{address}: the PTR name {', '.join(names)} does not "
                             "resolve back to it (no forward-confirmed reverse DNS)",
                             f"publish `{names[0]}. 3600 IN {kind} {address}` or {fix}"))
    if expected:
        if expected.lower() in (name.lower() for name in names):
            checks.append(result(HELO, Status.OK, f"{address}: PTR matches the HELO name {expected}"))
        else:
            checks.append(result(HELO, Status.WARN, f"{address}: PTR {', '.join(names)} is not the HELO name "
                                 f"{expected}", fix))
    return checks


MODULE = CheckModule("dns.ptr", (PRESENT, FCRDNS, HELO), run, per_domain=False)
