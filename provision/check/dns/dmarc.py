"""DMARC (RFC 7489, RFC 9989): one record at _dmarc, its tags, the policy, authorised report destinations."""

from __future__ import annotations

import re

import dns.rdatatype

from provision.check.context import CheckModule, Context, failure
from provision.check.dns import duplicates, parse_tags, result
from provision.check.model import Check, Status
from provision.dns.query import txt_strings

RECORD, POLICY, REPORTS = "dns.dmarc.record", "dns.dmarc.policy", "dns.dmarc.rua"
POLICIES = ("none", "quarantine", "reject")
# Allowed values of the tags both RFCs define; others are checked below or ignored as unknown.
CHOICES = {"p": POLICIES, "sp": POLICIES, "np": POLICIES, "adkim": ("r", "s"), "aspf": ("r", "s"),
           "psd": ("y", "n", "u"), "t": ("y", "n"), "rf": ("afrf",)}
URI = re.compile(r"^(mailto:[^@\s]+@([^!\s]+)|https?://[^\s!]+)(![0-9]+[kmgt]?)?$", re.IGNORECASE)


def run(context: Context, domain: str) -> list[Check]:
    record = f"v=DMARC1; p=quarantine; rua=mailto:postmaster@{domain}"
    advice = f'publish `_dmarc.{domain}. 3600 IN TXT "{record}"`'
    owner, records = _discover(context, domain)
    name = f"_dmarc.{owner}"
    if not records:
        found = [text for text in _texts(context, f"_dmarc.{domain}") if text]
        seen = f"; found {found[0]!r}" if found else ""
        return [result(RECORD, Status.CRIT, f"{domain}: no DMARC record at _dmarc.{domain} or above{seen}",
                       advice)]
    if len(records) > 1:
        return [result(RECORD, Status.CRIT, f"{domain}: {len(records)} DMARC records at {name}, so receivers "
                       "apply none", f"keep one: {advice}")]
    tags, errors = _tags(records[0])
    if errors:
        return [result(RECORD, Status.CRIT, f"{domain}: DMARC record {records[0]!r}: {'; '.join(errors)}",
                       advice)]
    obsolete = [tag for tag in ("pct", "rf", "ri") if tag in tags]
    note = f" ({', '.join(obsolete)}: removed in RFC 9989, ignored by its receivers)" if obsolete else ""
    if owner != domain:
        note += f" (published at {name}, applies to {domain} as a subdomain)"
    return [result(RECORD, Status.OK, f"{domain}: {records[0]}{note}"),
            _policy(domain, name, tags, inherited=owner != domain), _reports(context, domain, owner, tags)]


def _discover(context: Context, domain: str) -> tuple[str, list[str]]:
    """The closest name at or above domain with DMARC records, and those records.

    This is the tree walk of RFC 9989 §4.10 without its psd= stops; it finds what RFC 7489's
    organizational domain lookup finds for ordinary domains. Top-level domains are not asked.
    """
    labels = domain.split(".")
    parents = labels[-7:] if len(labels) > 8 else labels[1:]  # at most 8 queries in all
    for owner in [domain, *(".".join(parents[start:]) for start in range(len(parents) - 1))]:
        records = [text for text in _texts(context, f"_dmarc.{owner}") if text.startswith("v=DMARC1")]
        if records:
            return owner, records
    return domain, []


def _texts(context: Context, name: str) -> list[str]:
    return [text.decode("latin-1") for text in txt_strings(context.answer(name, dns.rdatatype.TXT).records)]


def _tags(text: str) -> tuple[dict[str, str], list[str]]:
    pairs, errors = parse_tags(text)
    pairs = [(tag.lower(), value) for tag, value in pairs]
    if twice := duplicates(pairs):
        errors.append(f"tag given twice: {', '.join(twice)}")
    tags = dict(pairs)
    if pairs[0] != ("v", "DMARC1"):
        errors.append("v=DMARC1 must come first")
    if "p" not in tags:
        errors.append("no p= tag: RFC 7489 receivers ignore the record (RFC 9989 reads it as p=none)")
    for tag, allowed in CHOICES.items():
        if tag in tags and tags[tag].lower() not in allowed:
            errors.append(f"{tag}={tags[tag]} is not one of {', '.join(allowed)}")
    if "pct" in tags and not (tags["pct"].isdigit() and int(tags["pct"]) <= 100):
        errors.append(f"pct={tags['pct']} is not a number from 0 to 100")
    if "ri" in tags and not tags["ri"].isdigit():
        errors.append(f"ri={tags['ri']} is not a number of seconds")
    if "fo" in tags and not set(tags["fo"].split(":")) <= {"0", "1", "d", "s"}:
        errors.append(f"fo={tags['fo']} must be options 0, 1, d, s separated by ':'")
    for tag in ("rua", "ruf"):
        errors += [f"{tag}: {uri!r} is not a mailto: or https: URI" for uri in _uris(tags, tag)
                   if not URI.match(uri)]
    return tags, errors


def _policy(domain: str, name: str, tags: dict[str, str], inherited: bool) -> Check:
    policy, sub = tags["p"].lower(), tags.get("sp", tags["p"]).lower()
    if inherited:  # the record is a parent's: its subdomain policy is the one that applies
        policy = sub
    stronger = f'set p=quarantine (then p=reject once reports show all your mail passes) in {name}'
    if policy == "none":
        return result(POLICY, Status.WARN, f"{domain}: p=none only monitors: forged mail is still delivered",
                      stronger)
    if sub == "none":
        return result(POLICY, Status.WARN, f"{domain}: sp=none leaves subdomains unprotected",
                      f"remove sp=none from {name}")
    if tags.get("t", "n").lower() == "y" or tags.get("pct", "100") != "100":
        return result(POLICY, Status.WARN, f"{domain}: p={policy} applies only in part (t=y or pct<100)",
                      f"remove t= and pct= from {name}")
    return result(POLICY, Status.OK, f"{domain}: p={policy}")


def _reports(context: Context, domain: str, owner: str, tags: dict[str, str]) -> Check:
    """The reports' destinations outside owner (the record's domain) must authorise them."""
    uris = _uris(tags, "rua") + _uris(tags, "ruf")
    if not _uris(tags, "rua"):
        return result(REPORTS, Status.WARN, f"{domain}: no rua=: nobody receives aggregate reports",
                      f"add rua=mailto:postmaster@{owner} to _dmarc.{owner}")
    missing, unknown = [], []
    for host in dict.fromkeys(_external_hosts(owner, uris)):
        # RFC 7489 §7.1 (RFC 9990 §3.2.3): the destination authorises reports about owner.
        name = f"{owner}._report._dmarc.{host}"
        found = context.lookup(name, dns.rdatatype.TXT)
        if found.failed:
            unknown.append(failure(found))
        elif not any(text.startswith(b"v=DMARC1") for text in txt_strings(found.records)):
            missing.append(name)
    if missing:
        return result(REPORTS, Status.WARN, f"{domain}: external report destinations have not authorised "
                      f"the reports, so receivers drop them: no record at {', '.join(missing)}",
                      "; ".join(f'the destination publishes `{name}. 3600 IN TXT "v=DMARC1"`'
                                for name in missing))
    if unknown:
        return result(REPORTS, Status.UNKNOWN, f"{domain}: {'; '.join(unknown)}")
    return result(REPORTS, Status.OK, f"{domain}: reports go to {', '.join(uris)}")


def _uris(tags: dict[str, str], tag: str) -> list[str]:
    return [uri.strip() for uri in tags.get(tag, "").split(",") if uri.strip()]


def _external_hosts(domain: str, uris: list[str]) -> list[str]:
    """The mailto: hosts outside domain (without the Public Suffix List, "outside" means not under it)."""
    hosts = []
    for uri in uris:
        matched = URI.match(uri)
        host = (matched.group(2) or "").lower().removesuffix(".") if matched else ""
        if host and host != domain.lower() and not host.endswith("." + domain.lower()):
            hosts.append(host)
    return hosts


MODULE = CheckModule("dns.dmarc", (RECORD, POLICY, REPORTS), run)
