"""SMTP TLS Reporting (RFC 8460 §3): one record at _smtp._tls with mailto: or https: rua URIs."""

from __future__ import annotations

import dns.rdatatype

from provision.check.context import CheckModule, Context
from provision.check.dns import parse_tags, result
from provision.check.model import Check, Status
from provision.dns.query import txt_strings

RECORD = "dns.tlsrpt.record"


def run(context: Context, domain: str) -> list[Check]:
    name = f"_smtp._tls.{domain}"
    publish = f'publish `{name}. 3600 IN TXT "v=TLSRPTv1; rua=mailto:postmaster@{domain}"`'
    texts = [text.decode("latin-1") for text in txt_strings(context.answer(name, dns.rdatatype.TXT).records)]
    records = [text for text in texts if text.startswith("v=TLSRPTv1")]
    if not records:
        return [result(RECORD, Status.WARN, f"{domain}: no TLS-RPT record at {name}: nobody hears of failed "
                       "TLS deliveries", publish)]
    if len(records) > 1:
        return [result(RECORD, Status.WARN, f"{domain}: {len(records)} TLS-RPT records at {name}: senders "
                       "use none", f"keep one: {publish}")]
    tags = dict(parse_tags(records[0])[0])
    uris = [uri.strip() for uri in tags.get("rua", "").split(",") if uri.strip()]
    wrong = [uri for uri in uris if not uri.lower().startswith(("mailto:", "https:"))]
    if not uris or wrong:
        reason = f"rua URIs must be mailto: or https: ({', '.join(wrong)})" if wrong else "no rua="
        return [result(RECORD, Status.WARN, f"{domain}: TLS-RPT record {records[0]!r}: {reason}", publish)]
    return [result(RECORD, Status.OK, f"{domain}: TLS reports go to {', '.join(uris)}")]


MODULE = CheckModule("dns.tlsrpt", (RECORD,), run)
