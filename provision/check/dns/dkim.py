"""DKIM key records (RFC 6376 §3.6.1, RFC 8301, RFC 8463): present once, parsing, strong, the server's key.

dns.dkim.matches compares with the inventory's key; dns.dkim.server, when the inventory's server can
be logged in to, with the key OpenDKIM really signs with (only its public half leaves the server).
"""

from __future__ import annotations

import base64
import binascii

import dns.rdatatype
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_der_public_key,
    load_pem_public_key,
)

from provision.check.context import CheckModule, Context
from provision.check.dns import duplicates, parse_tags, result
from provision.check.host import facts
from provision.check.model import Check, Status
from provision.dns.query import txt_strings

KEY, SIZE, MATCHES, SERVER = "dns.dkim.key", "dns.dkim.size", "dns.dkim.matches", "dns.dkim.server"
MIN_BITS, GOOD_BITS = 1024, 2048  # RFC 8301 §3.2: verifiers refuse under 1024, signers SHOULD use 2048
# Tried, in order, for a domain whose selector is not known: provision's own, the usual defaults of
# signing software, Microsoft 365's pair and Google Workspace's.
COMMON_SELECTORS = ("mail", "default", "dkim", "selector1", "selector2", "google", "s1", "s2", "k1", "key1")


class BadKey(ValueError):
    """The key record cannot be used; the message says why."""


def run(context: Context, domain: str) -> list[Check]:
    target = context.target
    if target.dkim_selector is None:
        tried = tuple(dict.fromkeys((*target.dkim_candidates, *COMMON_SELECTORS)))
        found = next(((selector, texts) for selector in tried
                      if (texts := _texts(context, f"{selector}._domainkey.{domain}"))), None)
        if found is None:
            return [result(KEY, Status.UNKNOWN,
                           f"{domain}: its DKIM selector is not known, and none of "
                           f"{', '.join(tried)} has a key",
                           "give --dkim-selector NAME (the s= of the domain's DKIM-Signature headers) "
                           "or --message FILE (a message received from the domain)")]
        selector, texts = found
    else:
        selector = target.dkim_selector
        texts = _texts(context, f"{selector}._domainkey.{domain}")
    name = f"{selector}._domainkey.{domain}"
    expected = target.dkim_records.get(domain)
    publish = (f'publish `{name}. 3600 IN TXT "{expected}"`' if expected
               else f"publish the signing key's public part at {name} (v=DKIM1; k=rsa; p=...)")
    if not texts:
        return [result(KEY, Status.CRIT, f"{domain}: no DKIM key at {name}", publish)]
    if len(texts) > 1:
        return [result(KEY, Status.CRIT, f"{domain}: {len(texts)} TXT records at {name}; verifiers need one",
                       f"keep one record: {publish}")]
    try:
        tags, key = parse_key(texts[0])
    except BadKey as error:
        return [result(KEY, Status.CRIT, f"{domain}: the DKIM key at {name} is unusable: {error}", publish)]
    checks = [_flags(domain, name, tags), _size(domain, name, key, publish)]
    if expected:
        checks.append(_matches(domain, name, tags["p"], expected, publish))
    return checks


def _texts(context: Context, name: str) -> list[str]:
    return [text.decode("latin-1") for text in txt_strings(context.answer(name, dns.rdatatype.TXT).records)]


def parse_key(text: str) -> tuple[dict[str, str], rsa.RSAPublicKey | ed25519.Ed25519PublicKey]:
    pairs, errors = parse_tags(text)
    if errors:
        raise BadKey("; ".join(errors))
    if twice := duplicates(pairs):
        raise BadKey(f"tag given twice: {', '.join(twice)}")
    tags = dict(pairs)
    if "v" in tags and (pairs[0][0] != "v" or tags["v"] != "DKIM1"):
        raise BadKey("v= must come first and be DKIM1")
    if "p" not in tags:
        raise BadKey("no p= tag")
    encoded = "".join(tags["p"].split())
    if not encoded:
        raise BadKey("p= is empty: the key is revoked")
    try:
        material = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise BadKey("p= is not valid base64") from None
    kind = tags.get("k", "rsa")
    if kind == "ed25519":
        if len(material) != 32:
            raise BadKey(f"an ed25519 key has 32 octets, p= has {len(material)}")
        return tags, ed25519.Ed25519PublicKey.from_public_bytes(material)
    if kind != "rsa":
        raise BadKey(f"unknown key type k={kind}")
    try:
        key = load_der_public_key(material)
    except ValueError:
        raise BadKey("p= does not hold an RSA public key") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise BadKey("p= holds a key that is not RSA, but k=rsa")
    return tags, key


def _flags(domain: str, name: str, tags: dict[str, str]) -> Check:
    services = [service.strip() for service in tags.get("s", "*").split(":")]
    if not {"*", "email"} & set(services):
        return result(KEY, Status.CRIT, f"{domain}: the key at {name} is not for email (s={tags['s']})",
                      "remove the s= tag")
    if "y" in (flag.strip() for flag in tags.get("t", "").split(":")):
        return result(KEY, Status.WARN, f"{domain}: the key at {name} is in testing mode (t=y): receivers "
                      "treat signed mail as unsigned", "remove t=y from the record")
    return result(KEY, Status.OK, f"{domain}: DKIM key published at {name}")


def _size(domain: str, name: str, key: rsa.RSAPublicKey | ed25519.Ed25519PublicKey, publish: str) -> Check:
    if isinstance(key, ed25519.Ed25519PublicKey):
        return result(SIZE, Status.OK, f"{domain}: ed25519 key at {name}")
    bits = key.key_size
    if bits < MIN_BITS:
        return result(SIZE, Status.CRIT, f"{domain}: the RSA key at {name} has {bits} bits; receivers refuse "
                      f"keys under {MIN_BITS} (RFC 8301)", f"make a {GOOD_BITS}-bit key and {publish}")
    if bits < GOOD_BITS:
        return result(SIZE, Status.WARN, f"{domain}: the RSA key at {name} has {bits} bits, under the "
                      f"recommended {GOOD_BITS}", f"make a {GOOD_BITS}-bit key and {publish}")
    return result(SIZE, Status.OK, f"{domain}: the RSA key at {name} has {bits} bits")


def _matches(domain: str, name: str, published: str, expected: str, publish: str) -> Check:
    wanted = dict(parse_tags(expected)[0]).get("p", "")
    if "".join(published.split()) != wanted:
        return result(MATCHES, Status.CRIT, f"{domain}: the key at {name} is not the server's signing key "
                      "from the inventory: receivers will fail DKIM", publish)
    return result(MATCHES, Status.OK, f"{domain}: the key at {name} is the inventory's signing key")


def run_server(context: Context, domain: str) -> list[Check]:
    found = facts.quietly(context)
    if found is None:  # a bare domain, or a server the host area reports unreachable
        return []
    key = found.facts.signing_keys.get(domain)
    apply = f"provision apply {found.server.inventory.directory}"
    if key is None:
        return [result(SERVER, Status.CRIT, f"{domain}: OpenDKIM on the server has no signing key for it "
                       "(KeyTable): its mail goes out unsigned", f"run {apply}")]
    if key.public_pem is None:
        return [result(SERVER, Status.UNKNOWN, f"{domain}: {key.problem}",
                       f"check the key file: {found.server.shell(f'ls -l {key.path}')}, or run {apply}")]
    signing = load_pem_public_key(key.public_pem.encode())
    if not isinstance(signing, rsa.RSAPublicKey | ed25519.Ed25519PublicKey):
        return [result(SERVER, Status.CRIT, f"{domain}: {key.path} is neither an RSA nor an ed25519 key",
                       f"run {apply}")]
    name = f"{key.selector}._domainkey.{domain}"
    publish = f'publish `{name}. 3600 IN TXT "{_record(signing)}"`'
    texts = [text.decode("latin-1") for text in txt_strings(context.answer(name, dns.rdatatype.TXT).records)]
    try:
        published = [_spki(parse_key(text)[1]) for text in texts]
    except BadKey as error:
        return [result(SERVER, Status.CRIT, f"{domain}: the server signs with selector {key.selector}, whose "
                       f"key at {name} is unusable: {error}", publish)]
    if published != [_spki(signing)]:
        what = "no key" if not published else "another key"
        return [result(SERVER, Status.CRIT, f"{domain}: the server signs with {key.path} (selector "
                       f"{key.selector}), but {name} publishes {what}: receivers will fail DKIM", publish)]
    return [result(SERVER, Status.OK, f"{domain}: {name} publishes the key the server signs with")]


def _spki(key: rsa.RSAPublicKey | ed25519.Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


def _record(key: rsa.RSAPublicKey | ed25519.Ed25519PublicKey) -> str:
    """The TXT value for a public key: RSA as SubjectPublicKeyInfo (RFC 6376), ed25519 raw (RFC 8463)."""
    if isinstance(key, ed25519.Ed25519PublicKey):
        raw = key.public_bytes(Encoding.Raw, PublicFormat.Raw)
        return f"v=DKIM1; k=ed25519; p={base64.b64encode(raw).decode()}"
    return f"v=DKIM1; k=rsa; p={base64.b64encode(_spki(key)).decode()}"


MODULE = CheckModule("dns.dkim", (KEY, SIZE, MATCHES), run)
SERVER_MODULE = CheckModule(SERVER, (SERVER,), run_server)
