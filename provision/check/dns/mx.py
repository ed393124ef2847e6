"""MX records: present, the null MX of RFC 7505, no aliases (RFC 2181 §10.3), resolvable, no duplicates."""

from __future__ import annotations

import dns.rdatatype

from provision.check.context import CheckModule, Context, failure, host_text
from provision.check.dns import result
from provision.check.model import Check, Status
from provision.dns import query

PRESENT, NULL, CNAME, RESOLVE, DUPLICATES = (
    "dns.mx.present", "dns.mx.null", "dns.mx.cname", "dns.mx.resolve", "dns.mx.duplicates")


def run(context: Context, domain: str) -> list[Check]:
    found = context.answer(domain, dns.rdatatype.MX)
    mail_host = context.target.helo or f"mail.{domain}"
    publish = f"publish `{domain}. 3600 IN MX 10 {mail_host}.`"
    if found.status is query.Status.NXDOMAIN:
        return [result(PRESENT, Status.CRIT, f"{domain} does not exist (NXDOMAIN)",
                       f"register the domain, then {publish}")]
    if not found.records:
        return [_implicit(context, domain, publish)]
    exchanges = [(record.preference, host_text(record.exchange)) for record in found.records]  # type: ignore[attr-defined]
    if any(host == "." for _, host in exchanges):
        return [_null(context, domain, exchanges, publish)]
    hosts = [host for _, host in sorted(exchanges)]
    return [_present(context, domain, hosts, publish), _duplicates(domain, hosts),
            _aliases(context, domain, hosts), _resolvable(context, domain, hosts)]


def _implicit(context: Context, domain: str, publish: str) -> Check:
    addresses = [context.answer(domain, rdtype) for rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA)]
    if any(answer.records for answer in addresses):
        return result(PRESENT, Status.WARN, f"{domain} has no MX: mail goes to the domain's own address "
                      "(implicit MX, RFC 5321 §5.1)", publish)
    return result(PRESENT, Status.CRIT, f"{domain} has no MX and no address: mail to it cannot be delivered",
                  publish)


def _null(context: Context, domain: str, exchanges: list[tuple[int, str]], publish: str) -> Check:
    if exchanges != [(0, ".")]:
        return result(NULL, Status.CRIT, f"{domain}: a null MX (RFC 7505) must be the only MX record, "
                      f"preference 0; found {_listing(exchanges)}",
                      f"keep either `{domain}. IN MX 0 .` alone or only real MX records")
    if context.target.helo:  # an inventory's domains are meant to receive mail
        return result(NULL, Status.CRIT, f"{domain} publishes a null MX: it refuses all mail",
                      f"replace it: {publish}")
    return result(NULL, Status.OK, f"{domain} publishes a null MX (RFC 7505): it accepts no mail")


def _present(context: Context, domain: str, hosts: list[str], publish: str) -> Check:
    server = context.target.helo
    if server and server.lower() not in (host.lower() for host in hosts):
        return result(PRESENT, Status.WARN,
                      f"{domain}: MX {', '.join(hosts)} does not name the server {server}", publish)
    return result(PRESENT, Status.OK, f"{domain}: MX {', '.join(hosts)}")


def _duplicates(domain: str, hosts: list[str]) -> Check:
    lowered = [host.lower() for host in hosts]
    twice = sorted({host for host in lowered if lowered.count(host) > 1})
    if twice:
        return result(DUPLICATES, Status.WARN, f"{domain}: MX host named more than once: {', '.join(twice)}",
                      "keep one MX record per host")
    return result(DUPLICATES, Status.OK, f"{domain}: no MX host named twice")


def _aliases(context: Context, domain: str, hosts: list[str]) -> Check:
    aliases, unknown = [], []
    for host in dict.fromkeys(hosts):
        found = context.lookup(host, dns.rdatatype.CNAME)
        if found.failed:
            unknown.append(failure(found))
        elif found.records:
            aliases.append(f"{host} -> {host_text(found.records[0].target)}")  # type: ignore[attr-defined]
    if aliases:
        return result(CNAME, Status.CRIT, f"{domain}: MX points to an alias (CNAME), which RFC 2181 §10.3 "
                      f"forbids: {', '.join(aliases)}", "point the MX at the canonical host name instead")
    if unknown:
        return result(CNAME, Status.UNKNOWN, f"{domain}: {'; '.join(unknown)}")
    return result(CNAME, Status.OK, f"{domain}: no MX host is an alias")


def _resolvable(context: Context, domain: str, hosts: list[str]) -> Check:
    missing, unknown = [], []
    for host in dict.fromkeys(hosts):
        answers = [context.lookup(host, rdtype) for rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA)]
        if any(answer.failed for answer in answers):
            unknown += [failure(answer) for answer in answers if answer.failed]
        elif not any(answer.records for answer in answers):
            missing.append(host)
    if missing:
        return result(RESOLVE, Status.CRIT,
                      f"{domain}: MX host without an A or AAAA record: {', '.join(missing)}",
                      "; ".join(f"publish `{host}. 3600 IN A <the server's IPv4 address>`"
                                for host in missing))
    if unknown:
        return result(RESOLVE, Status.UNKNOWN, f"{domain}: {'; '.join(unknown)}")
    return result(RESOLVE, Status.OK, f"{domain}: every MX host has an address")


def _listing(exchanges: list[tuple[int, str]]) -> str:
    return ", ".join(f"{preference} {host}" for preference, host in exchanges)


MODULE = CheckModule("dns.mx", (PRESENT, NULL, CNAME, RESOLVE, DUPLICATES), run)
