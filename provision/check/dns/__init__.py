"""The dns area: what the domains and the server's addresses publish in the DNS."""

from __future__ import annotations

from provision.check.model import Check, Status

AREA = "dns"


def result(check_id: str, status: Status, message: str, fix: str = "") -> Check:
    return Check(check_id, AREA, status, message, fix)


def parse_tags(text: str) -> tuple[list[tuple[str, str]], list[str]]:
    """The tag=value pairs of a DKIM, DMARC, MTA-STS or TLS-RPT record, and what could not be read.

    Whitespace around tags, "=" and ";" is allowed; an empty part (a trailing ";") is not an error.
    """
    pairs, errors = [], []
    for part in text.split(";"):
        if not part.strip():
            continue
        tag, equals, value = part.partition("=")
        if not equals or not tag.strip():
            errors.append(f"{part.strip()!r} is not tag=value")
        else:
            pairs.append((tag.strip(), value.strip()))
    return pairs, errors


def duplicates(pairs: list[tuple[str, str]]) -> list[str]:
    tags = [tag.lower() for tag, _ in pairs]
    return sorted({tag for tag in tags if tags.count(tag) > 1})
