"""MTA-STS (RFC 8461): the _mta-sts TXT record, the policy fetched over HTTPS, and its MX patterns."""

from __future__ import annotations

import re

import dns.rdatatype

from provision.check import https
from provision.check.context import CheckModule, Context
from provision.check.dns import parse_tags, result
from provision.check.model import Check, Status
from provision.dns.query import txt_strings

RECORD, POLICY, MX = "dns.mta_sts.record", "dns.mta_sts.policy", "dns.mta_sts.mx"
POLICY_PATH = "/.well-known/mta-sts.txt"
MAX_POLICY = 64 * 1024  # §3.3
MAX_AGE = 31557600  # §3.2
ID = re.compile(r"^[A-Za-z0-9]{1,32}$")


def run(context: Context, domain: str) -> list[Check]:
    name = f"_mta-sts.{domain}"
    texts = [text.decode("latin-1") for text in txt_strings(context.answer(name, dns.rdatatype.TXT).records)]
    records = [text for text in texts if text.startswith("v=STSv1")]
    publish = f'publish `{name}. 3600 IN TXT "v=STSv1; id=1"` and the policy at https://mta-sts.{domain}{POLICY_PATH}'
    if not records:
        return [result(RECORD, Status.WARN, f"{domain}: no MTA-STS record at {name}: senders may deliver "
                       "without TLS", publish)]
    if len(records) > 1:
        return [result(RECORD, Status.CRIT, f"{domain}: {len(records)} MTA-STS records at {name}: senders "
                       "ignore them all", "keep one record")]
    tags = dict(parse_tags(records[0])[0])
    if not ID.match(tags.get("id", "")):
        return [result(RECORD, Status.CRIT, f"{domain}: MTA-STS record {records[0]!r} needs id= of 1 to 32 "
                       "letters and digits", f'publish `{name}. 3600 IN TXT "v=STSv1; id=1"`')]
    checks = [result(RECORD, Status.OK, f"{domain}: {records[0]}")]
    fetched = _fetch(context, domain)
    if isinstance(fetched, Check):
        return [*checks, fetched]
    return checks + _judge(context, domain, fetched)


def _fetch(context: Context, domain: str) -> https.Response | Check:
    """The policy's HTTP response, or the check saying why there is none."""
    host = f"mta-sts.{domain}"
    url = f"https://{host}{POLICY_PATH}"
    fix = f"serve the policy at {url} with a valid certificate for {host}, status 200, no redirect"
    try:
        addresses = context.addresses_of(host)
        if not addresses:
            return result(POLICY, Status.CRIT, f"{domain}: {host} has no address", fix)
        response = https.get(host, POLICY_PATH, addresses, port=context.options.https_port,
                             ca_file=context.options.ca_file, timeout=context.options.timeout,
                             limit=MAX_POLICY)
    except https.FetchError as error:
        return result(POLICY, Status.CRIT, f"{domain}: cannot fetch the MTA-STS policy: {error}", fix)
    if 300 <= response.status < 400:
        return result(POLICY, Status.CRIT, f"{domain}: {url} redirects to {response.location or '?'}; "
                      "senders must not follow redirects (RFC 8461 §3.3)", fix)
    if response.status != 200:
        return result(POLICY, Status.CRIT, f"{domain}: {url} answers HTTP {response.status}", fix)
    return response


def parse_policy(text: str) -> dict[str, list[str]]:
    """Each key's values in order; keys are lower case, lines end in LF or CRLF (§3.2)."""
    fields: dict[str, list[str]] = {}
    for line in text.splitlines():
        key, colon, value = line.partition(":")
        if colon:
            fields.setdefault(key.strip().lower(), []).append(value.strip())
    return fields


def _judge(context: Context, domain: str, response: https.Response) -> list[Check]:
    policy = parse_policy(response.body.decode("utf-8", "replace"))
    version, mode = _first(policy, "version"), _first(policy, "mode")
    max_age, patterns = _first(policy, "max_age"), policy.get("mx", [])
    fix = f"correct the policy at https://mta-sts.{domain}{POLICY_PATH}"
    problems = []
    if version != "STSv1":
        problems.append("version: must be STSv1")
    if mode not in ("enforce", "testing", "none"):
        problems.append(f"mode: {mode or '(missing)'} is not enforce, testing or none")
    if not (max_age.isdigit() and len(max_age) <= 10 and int(max_age) <= MAX_AGE):
        problems.append(f"max_age: {max_age or '(missing)'} is not a number of seconds up to {MAX_AGE}")
    if mode != "none" and not patterns:
        problems.append("no mx: line")
    if problems:
        return [result(POLICY, Status.CRIT, f"{domain}: invalid MTA-STS policy: {'; '.join(problems)}", fix)]
    if response.content_type.split(";")[0].strip().lower() != "text/plain":
        return [result(POLICY, Status.WARN, f"{domain}: the MTA-STS policy is served as "
                       f"{response.content_type or 'no media type'}, not text/plain (RFC 8461 §3.2)",
                       f"{fix}: serve it with Content-Type: text/plain")]
    if mode == "none":
        return [result(POLICY, Status.WARN, f"{domain}: MTA-STS mode none withdraws the policy",
                       f"set mode: enforce in https://mta-sts.{domain}{POLICY_PATH}")]
    coverage = _coverage(context, domain, patterns, fix, Status.CRIT if mode == "enforce" else Status.WARN)
    if mode == "testing":
        # How a policy starts (provision dns records publishes it so): a step, not a fault.
        return [result(POLICY, Status.OK, f"{domain}: MTA-STS mode testing, max_age {max_age}: senders only "
                       f"report; once TLS reports are clean, set mode: enforce in "
                       f"https://mta-sts.{domain}{POLICY_PATH}"), coverage]
    return [result(POLICY, Status.OK, f"{domain}: MTA-STS mode enforce, max_age {max_age}"), coverage]


def _coverage(context: Context, domain: str, patterns: list[str], fix: str, severity: Status) -> Check:
    uncovered = [host for host in context.mx_hosts(domain) if not any(_matches(p, host) for p in patterns)]
    if uncovered:
        return result(MX, severity, f"{domain}: MX {', '.join(uncovered)} not covered by the MTA-STS policy "
                      f"(mx: {', '.join(patterns)}), so enforcing senders refuse to deliver there",
                      f"{fix}: add " + ", ".join(f"'mx: {host}'" for host in uncovered))
    return result(MX, Status.OK, f"{domain}: the MTA-STS policy covers every MX")


def _matches(pattern: str, host: str) -> bool:
    """§4.1: a leading "*." stands for exactly one label."""
    pattern, host = pattern.lower().removesuffix("."), host.lower()
    if pattern.startswith("*."):
        label, _, rest = host.partition(".")
        return bool(label) and rest == pattern[2:]
    return host == pattern


def _first(policy: dict[str, list[str]], key: str) -> str:
    return policy.get(key, [""])[0]


MODULE = CheckModule("dns.mta_sts", (RECORD, POLICY, MX), run)
