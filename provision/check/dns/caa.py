"""CAA (RFC 8659): the records governing the mail server's names allow the CA that issues its certificate."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import dns.rdatatype

from provision.check import https
from provision.check.context import CheckModule, Context, Unanswered
from provision.check.dns import result
from provision.check.model import Check, Status

ISSUER = "dns.caa.issuer"
LETS_ENCRYPT = "letsencrypt.org"
KNOWN_TAGS = {"issue", "issuewild", "iodef", "contactemail", "contactphone", "issuemail", "issuevmc"}


def run(context: Context, domain: str) -> list[Check]:
    issuers = _issuers(context)
    if issuers == []:
        return [result(ISSUER, Status.OK, "no public CA in use (self-signed): CAA does not apply")]
    return [_host(context, host, issuers) for host in context.mail_hosts()]


def _issuers(context: Context) -> list[str] | None:
    """The CAA identities of the CA in use; None when unknown, [] when no public CA is used."""
    target = context.target
    if target.ca is not None:
        return [target.ca] if target.ca else []
    if not target.acme_directory:
        return None
    if urlsplit(target.acme_directory).hostname in ("acme-v02.api.letsencrypt.org",
                                                      "acme-staging-v02.api.letsencrypt.org"):
        return [LETS_ENCRYPT]
    return _directory_identities(context, target.acme_directory)


def _directory_identities(context: Context, url: str) -> list[str]:
    # RFC 8555 §9.7.6: the directory's meta.caaIdentities names the CA's CAA issuer domains.
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        response = https.get(host, parts.path or "/", context.addresses_of(host), port=parts.port or 443,
                             ca_file=context.target.acme_ca_file or context.options.ca_file,
                             timeout=context.options.timeout)
        identities = json.loads(response.body).get("meta", {}).get("caaIdentities", [])
    except (https.FetchError, ValueError, AttributeError) as error:
        raise Unanswered(f"cannot read the CAA identities from the ACME directory {url}: {error}") from None
    if not identities:
        raise Unanswered(f"the ACME directory {url} names no CAA identities; give the CA with --ca")
    return [str(identity).lower() for identity in identities]


def _host(context: Context, host: str, issuers: list[str] | None) -> Check:
    owner, records = _relevant_set(context, host)
    if owner is None:
        return result(ISSUER, Status.OK, f"{host}: no CAA record: any CA may issue")
    critical = [record for record in records
                if record.flags & 128 and record.tag.decode().lower() not in KNOWN_TAGS]
    allowed = [_issuer(record) for record in records if record.tag.decode().lower() == "issue"]
    named = ", ".join(filter(None, allowed))
    if issuers is None:
        return result(ISSUER, Status.OK, f"{host}: CAA at {owner} allows {named or 'any CA'} "
                      "(give --ca to check the CA in use)")
    publish = f'publish `{owner}. 3600 IN CAA 0 issue "{issuers[0]}"`'
    if critical:
        return result(ISSUER, Status.CRIT, f"{host}: CAA at {owner} has a critical tag CAs do not know, so "
                      "no CA may issue", f"remove the critical flag or tag; {publish}")
    if allowed and not set(issuers) & set(allowed):
        return result(ISSUER, Status.CRIT, f"{host}: CAA at {owner} allows {named or 'no CA'}, not "
                      f"{issuers[0]}: certificate renewal will fail", publish)
    return result(ISSUER, Status.OK, f"{host}: CAA at {owner} allows {issuers[0]}")


def _relevant_set(context: Context, host: str) -> tuple[str | None, list]:
    """RFC 8659 §3: the CAA set at host or, failing that, at its closest ancestor that has one."""
    labels = host.removesuffix(".").split(".")
    for start in range(len(labels) - 1):  # top-level domains are left out
        name = ".".join(labels[start:])
        found = context.answer(name, dns.rdatatype.CAA)
        if found.records:
            return name, list(found.records)
    return None, []


def _issuer(record: object) -> str:
    """The issuer domain of an issue value; "" for ";", which allows no CA."""
    return record.value.decode("latin-1").split(";")[0].strip().lower()  # type: ignore[attr-defined]


MODULE = CheckModule("dns.caa", (ISSUER,), run, per_domain=False)
