"""Records in zone-file (RFC 1035 master file) form, grouped by zone and purpose."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from provision.dns.records import Purpose, Record, is_within

COMMENTS = {
    Purpose.HOST: "the mail server's addresses",
    Purpose.MX: "mail for the domain goes to the server",
    Purpose.SPF: "SPF (RFC 7208): the MX hosts send the domain's mail, nobody else",
    Purpose.DKIM: "DKIM (RFC 6376): the public key that checks the server's signatures",
    Purpose.DMARC: "DMARC (RFC 7489): policy and where aggregate reports go",
    Purpose.DMARC_REPORTS: "DMARC (RFC 7489 §7.1): this domain accepts reports for the domains named",
    Purpose.MTA_STS: "MTA-STS (RFC 8461): policy id, and the host serving the policy file",
    Purpose.TLS_RPT: "SMTP TLS reporting (RFC 8460)",
    Purpose.MAIL_SERVICES: "mail client set-up (RFC 6186, RFC 8314); 0 0 0 . means not offered",
    Purpose.DAV_SERVICES: "calendars and contacts (RFC 6764); 0 0 0 . means not offered",
    Purpose.AUTOCONFIG: "mail client autoconfiguration (Thunderbird autoconfig)",
    Purpose.CAA: "CAA (RFC 8659): the CA allowed to issue certificates",
    Purpose.DANE: "DANE (RFC 7672): the key of the server's certificate, for a signed zone",
}
TXT_CHUNK = 255  # octets in one character-string (RFC 1035 §3.3)


def rdata(record: Record) -> str:
    return txt(record.value) if record.type == "TXT" else record.value


def txt(text: str) -> str:
    """TXT rdata: the text in quoted strings of at most 255 octets, joined again by readers."""
    octets = text.encode()
    chunks = [octets[start:start + TXT_CHUNK] for start in range(0, len(octets), TXT_CHUNK)] or [b""]
    return " ".join(f'"{_escape(chunk)}"' for chunk in chunks)


def _escape(octets: bytes) -> str:
    return "".join(chr(octet) if 0x20 <= octet < 0x7F and octet not in b'"\\' else f"\\{octet:03d}"
                   for octet in octets)


def line(record: Record) -> str:
    return f"{record.name} {record.ttl} IN {record.type} {rdata(record)}"


def zone_of(name: str, zones: Iterable[str]) -> str | None:
    """The zone among zones that holds name: the longest one name is within."""
    holding = [zone for zone in zones if is_within(name, zone)]
    return max(holding, key=len, default=None)


def render(records: Sequence[Record], zones: Sequence[str]) -> str:
    """The records in zone-file form, one section per zone, then the records in none of them."""
    by_zone: dict[str | None, list[Record]] = {zone: [] for zone in zones}
    for record in records:
        by_zone.setdefault(zone_of(record.name, zones), []).append(record)
    sections = []
    for zone, members in by_zone.items():
        if not members:
            continue
        title = f"zone {zone}" if zone else "outside these zones: publish these in the zones that hold them"
        sections.append(f";; ---- {title} ----\n" + _grouped(members))
    return "\n".join(sections)


def _grouped(records: Sequence[Record]) -> str:
    text = ""
    for purpose in Purpose:
        members = [record for record in records if record.purpose is purpose]
        if members:
            text += f"; {COMMENTS[purpose]}\n" + "".join(line(record) + "\n" for record in members)
    return text
