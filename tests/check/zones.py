"""Test zones for the checks: a healthy domain, and one domain per way of getting something wrong.

Every domain's mail goes to mail.good.test (192.0.2.10, reverse DNS set) unless a case says
otherwise; each broken domain differs from a healthy one in one point only.
"""

from __future__ import annotations

import base64
import ipaddress
from functools import cache

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.dnsserver import owner, txt

SERVER = "192.0.2.10"
ED25519 = "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="  # RFC 8463 appendix A
POLICY = "version: STSv1\nmode: enforce\nmax_age: 604800\nmx: mail.good.test\n"


@cache
def dkim_value(bits: int = 2048) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    der = key.public_key().public_bytes(serialization.Encoding.DER,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    return f"v=DKIM1; k=rsa; p={base64.b64encode(der).decode()}"


def healthy(domain: str, **replace: str | list[str] | None) -> list[str]:
    """The records of a domain that passes every check; replace["mx"] = None drops the MX, etc."""
    parts: dict[str, str | list[str] | None] = {
        "mx": f"{domain}. MX 10 mail.good.test.",
        "spf": f"{domain}. TXT {txt([f'v=spf1 ip4:{SERVER} -all'])}",
        "dkim": f"mail._domainkey.{domain}. TXT {txt([dkim_value()])}",
        "dmarc": f"_dmarc.{domain}. TXT {txt([f'v=DMARC1; p=reject; rua=mailto:dmarc@{domain}'])}",
        "sts": [f"_mta-sts.{domain}. TXT {txt(['v=STSv1; id=20261123'])}", f"mta-sts.{domain}. A 127.0.0.1"],
        "tlsrpt": f"_smtp._tls.{domain}. TXT {txt([f'v=TLSRPTv1; rua=mailto:tls@{domain}'])}",
    }
    parts.update(replace)
    lines: list[str] = []
    for value in parts.values():
        lines += [] if value is None else [value] if isinstance(value, str) else value
    return lines


def spf(domain: str, record: str) -> str:
    return f"{domain}. TXT {txt([record])}"


def zones() -> dict[str, list[str]]:
    eleven = " ".join(f"include:i{number}.lookups.test" for number in range(11))
    found = {
        "good.test": [*healthy("good.test"), "mail.good.test. A 192.0.2.10", "other.good.test. A 192.0.2.14",
                      "acme.good.test. A 127.0.0.1",
                      'good.test. CAA 0 issue "letsencrypt.org"'],
        "2.0.192.in-addr.arpa": ["10.2.0.192.in-addr.arpa. PTR mail.good.test.",
                                 "11.2.0.192.in-addr.arpa. PTR nowhere.good.test.",
                                 "13.2.0.192.in-addr.arpa. PTR mail.good.test.",
                                 "14.2.0.192.in-addr.arpa. PTR other.good.test."],
        "nomx.test": healthy("nomx.test", mx=None),
        "cnamemx.test": healthy("cnamemx.test", mx=["cnamemx.test. MX 10 alias.cnamemx.test.",
                                                    "alias.cnamemx.test. CNAME mail.good.test."]),
        "nullmx.test": healthy("nullmx.test", mx="nullmx.test. MX 0 ."),
        "nullmixed.test": healthy("nullmixed.test", mx=["nullmixed.test. MX 0 .",
                                                        "nullmixed.test. MX 10 mail.good.test."]),
        "noaddress.test": healthy("noaddress.test", mx="noaddress.test. MX 10 mail.noaddress.test."),
        "twospf.test": healthy("twospf.test", spf=[spf("twospf.test", f"v=spf1 ip4:{SERVER} -all"),
                                                   spf("twospf.test", "v=spf1 mx -all")]),
        "lookups.test": healthy("lookups.test", spf=[spf("lookups.test", f"v=spf1 {eleven} -all")] + [
            spf(f"i{number}.lookups.test", "v=spf1 ip4:198.51.100.1 -all") for number in range(11)]),
        "spfmiss.test": healthy("spfmiss.test", spf=spf("spfmiss.test", "v=spf1 ip4:198.51.100.1 -all")),
        "plusall.test": healthy("plusall.test", spf=spf("plusall.test", "v=spf1 +all")),
        "spfsyntax.test": healthy("spfsyntax.test", spf=spf("spfsyntax.test", "v=spf1 ip4:192.0.2.300 -all")),
        "dmarcsyntax.test": healthy("dmarcsyntax.test", dmarc=f"_dmarc.dmarcsyntax.test. TXT "
                                    f"{txt(['v=DMARC1; p=block; rua=mailto:d@dmarcsyntax.test'])}"),
        "dmarcnone.test": healthy("dmarcnone.test", dmarc=f"_dmarc.dmarcnone.test. TXT "
                                  f"{txt(['v=DMARC1; p=none; rua=mailto:d@dmarcnone.test'])}"),
        "ruaext.test": healthy("ruaext.test", dmarc=f"_dmarc.ruaext.test. TXT "
                               f"{txt(['v=DMARC1; p=reject; rua=mailto:d@reports.test'])}"),
        "ruaauth.test": healthy("ruaauth.test", dmarc=f"_dmarc.ruaauth.test. TXT "
                                f"{txt(['v=DMARC1; p=reject; rua=mailto:d@reports.test'])}"),
        "reports.test": [f"ruaauth.test._report._dmarc.reports.test. TXT {txt(['v=DMARC1'])}"],
        "nodmarc.test": healthy("nodmarc.test",
                                dmarc=f"_dmarc.nodmarc.test. TXT {txt([' v=DMARC1; p=reject'])}"),
        "parent.test": healthy("parent.test", dmarc=f"_dmarc.parent.test. TXT "
                               f"{txt(['v=DMARC1; p=reject; sp=none; rua=mailto:d@parent.test'])}")
        + healthy("sub.parent.test", dmarc=None),
        "dupmx.test": healthy("dupmx.test", mx=["dupmx.test. MX 10 mail.good.test.",
                                                "dupmx.test. MX 20 mail.good.test."]),
        "softspf.test": healthy("softspf.test", spf=spf("softspf.test", f"v=spf1 ip4:{SERVER} ?all")),
        "voidspf.test": healthy("voidspf.test", spf=spf("voidspf.test", "v=spf1 a:none1.voidspf.test "
                                                        "a:none2.voidspf.test mx:none3.voidspf.test "
                                                        f"ip4:{SERVER} -all")),
        "edkim.test": healthy("edkim.test", dkim=f"mail._domainkey.edkim.test. TXT {txt([ED25519])}"),
        "nodkim.test": healthy("nodkim.test", dkim=None),
        "m365dkim.test": healthy("m365dkim.test", dkim=f"selector1._domainkey.m365dkim.test. TXT "
                                 f"{txt([dkim_value()])}"),
        "rarekey.test": healthy("rarekey.test", dkim=f"mx2024._domainkey.rarekey.test. TXT "
                                f"{txt([dkim_value()])}"),
        "weakdkim.test": healthy("weakdkim.test", dkim=f"mail._domainkey.weakdkim.test. TXT "
                                 f"{txt([dkim_value(1024)])}"),
        "baddkim.test": healthy("baddkim.test", dkim=f"mail._domainkey.baddkim.test. TXT "
                                f"{txt(['v=DKIM1; k=rsa; p=MIIB!!notbase64'])}"),
        "stsmismatch.test": healthy("stsmismatch.test"),
        "stsredirect.test": healthy("stsredirect.test"),
        "stshtml.test": healthy("stshtml.test"),
        "stsbig.test": healthy("stsbig.test"),
        "ststesting.test": healthy("ststesting.test"),
        "notlsrpt.test": healthy("notlsrpt.test", tlsrpt=None),
        "caaforbid.test": [*healthy("caaforbid.test"), 'caaforbid.test. CAA 0 issue "other-ca.test"',
                           "mail.caaforbid.test. A 192.0.2.10"],
        "danebad.test": healthy("danebad.test", mx=["danebad.test. MX 10 mail.danebad.test.",
                                                    "mail.danebad.test. A 192.0.2.10",
                                                    "_25._tcp.mail.danebad.test. TLSA 3 1 1 " + "ab" * 32]),
        # DNSSEC keys without signatures: only a validating resolver could say whether that is secure.
        "keyed.test": [*healthy("keyed.test"),
                       "keyed.test. DNSKEY 257 3 13 " + base64.b64encode(bytes(64)).decode()],
        "bl.test": ["20.2.0.192.bl.test. A 127.0.0.2", f"20.2.0.192.bl.test. TXT {txt(['listed for spam'])}"],
        "refused.test": ["*.refused.test. A 127.255.255.254"],
        "dbl.test": ["spamdomain.test.dbl.test. A 127.0.1.2"],
        "spamdomain.test": healthy("spamdomain.test"),
        # More TXT than fits in a UDP answer: the resolver must retry over TCP.
        "big.test": healthy("big.test") + [f"big.test. TXT {txt([f'filler {number} ' + 'x' * 200])}"
                                           for number in range(20)],
    }
    for number in range(10):
        found[f"g{number}.test"] = healthy(f"g{number}.test")
    return found


# The HTTPS test server's answers, by host name: (status, extra headers, body).
POLICIES: dict[str, tuple[int, dict[str, str], str]] = {
    "mta-sts.stsmismatch.test": (200, {}, POLICY.replace("mail.good.test", "mx.elsewhere.test")),
    "mta-sts.stsredirect.test": (301, {"Location": "https://elsewhere.test/policy"}, ""),
    "acme.good.test": (200, {"Content-Type": "application/json"},
                       '{"meta": {"caaIdentities": ["other-ca.test"]}}'),
    "mta-sts.stsbig.test": (200, {}, POLICY + "# padding\n" * 8000),
    "mta-sts.stshtml.test": (200, {"Content-Type": "text/html"}, POLICY),
    "mta-sts.ststesting.test": (200, {}, POLICY.replace("enforce", "testing")),
}
SILENT = [f"slow{number}.test" for number in range(10)]
FAILING = ["broken.test"]


def published(records: list[dict], address: str) -> dict[str, list[str]]:
    """What `provision dns records` lists, published: a zone per mail domain and the address's reverse zone.

    A CNAME into another zone (mta-sts.example.org to mail.example.test) becomes an A record of the
    server: Knot answers such a CNAME without following it, and the checks ask Knot directly.
    """
    apexes = {record["name"] for record in records if record["type"] == "MX"}

    def apex(name: str) -> str:
        return max((domain for domain in apexes if name == domain or name.endswith("." + domain)), key=len,
                   default=name)

    served: dict[str, list[str]] = {}
    for record in records:
        kind, value = record["type"], record["value"]
        if kind == "CNAME" and apex(value) != apex(record["name"]):
            kind, value = "A", address
        shown = txt([value]) if kind == "TXT" else value
        line = f"{owner(record['name'])} {record['ttl']} {kind} {shown}"
        served.setdefault(apex(record["name"]), []).append(line)
    pointer = ipaddress.ip_address(address).reverse_pointer
    hostname = next(record["value"].split()[-1] for record in records if record["type"] == "MX")
    served[pointer.split(".", 1)[1]] = [f"{owner(pointer)} 3600 PTR {hostname}"]
    return served
