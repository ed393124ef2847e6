"""Calendar and contact items as raw bytes: one item per UID (a recurring event with its exceptions is one
item), split out of a whole collection (.ics, .vcf) and joined back, and identified by UID plus a hash
that survives a server re-serialising what it stores (line folding, property order, PRODID)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

# Properties of the VCALENDAR wrapper: a server rewrites them, they say nothing about the item.
WRAPPER = {b"PRODID", b"VERSION", b"CALSCALE", b"METHOD"}
FOLD = re.compile(rb"\r?\n[ \t]")


@dataclass(frozen=True)
class Item:
    uid: str
    data: bytes
    href: str | None = None  # its name in a DAV collection, when read from one

    @property
    def digest(self) -> str:
        return digest(self.data)

    @property
    def count(self) -> int:
        """Components in the item, as the archive's manifest counts them."""
        starts = (b"BEGIN:VEVENT", b"BEGIN:VTODO", b"BEGIN:VJOURNAL", b"BEGIN:VCARD")
        return sum(line.rstrip(b"\r").upper() in starts for line in self.data.split(b"\n"))


@dataclass
class _Node:
    name: bytes
    lines: list[bytes]  # its own physical lines with their line ends (BEGIN and END included)
    children: list[_Node]
    raw: list[bytes]  # every physical line inside it, children's too, in order


def _logical(lines: list[bytes]) -> list[bytes]:
    """Physical lines (with ends) joined into unfolded content lines without ends."""
    return [line for line in FOLD.sub(b"", b"".join(lines)).splitlines() if line]


def _parse(data: bytes) -> list[_Node]:
    """The top-level components of a stream of physical lines; continuation lines stay with theirs."""
    top: list[_Node] = []
    stack: list[_Node] = []
    for line in data.splitlines(keepends=True):
        word = line.rstrip(b"\r\n").upper()
        if word.startswith(b"BEGIN:"):
            node = _Node(word[6:], [], [], [])
            (stack[-1].children if stack else top).append(node)
            stack.append(node)
        for node in stack:
            node.raw.append(line)
        if stack:
            stack[-1].lines.append(line)
        if word.startswith(b"END:") and stack:
            stack.pop()
    return top


def _flatten(node: _Node) -> bytes:
    """A node's bytes exactly as they were."""
    return b"".join(node.raw)


def _own_lines(node: _Node) -> list[bytes]:
    return node.lines[1:-1]


def _uid(node: _Node) -> str | None:
    for line in _logical(_own_lines(node)):
        name, _, value = line.partition(b":")
        if name.split(b";")[0].strip().upper() == b"UID":
            return value.decode("utf-8", "replace").strip()
    return None


def split(data: bytes, kind: str) -> list[Item]:
    """The items of a whole collection file (kind 'contacts' for .vcf, otherwise .ics)."""
    if kind == "contacts":
        cards = [node for node in _parse(data) if node.name == b"VCARD"]
        return [Item(_uid(card) or hashlib.sha256(_flatten(card)).hexdigest(), _flatten(card))
                for card in cards]
    items: list[Item] = []
    for calendar in (node for node in _parse(data) if node.name == b"VCALENDAR"):
        items += _split_calendar(calendar)
    return items


def _split_calendar(calendar: _Node) -> list[Item]:
    """One VCALENDAR per UID: the wrapper's own lines, the time zones the item uses, its components."""
    zones = {_tzid(zone): zone for zone in calendar.children if zone.name == b"VTIMEZONE"}
    by_uid: dict[str, list[_Node]] = {}
    for child in calendar.children:
        if child.name != b"VTIMEZONE":
            by_uid.setdefault(_uid(child) or hashlib.sha256(_flatten(child)).hexdigest(), []).append(child)
    if len(by_uid) == 1:  # one item already (as a DAV server serves it): its bytes as they are
        return [Item(next(iter(by_uid)), _flatten(calendar))]
    head, tail = b"".join(calendar.lines[:-1]), calendar.lines[-1]
    items = []
    for uid, components in by_uid.items():
        body = b"".join(_flatten(component) for component in components)
        used = [zone for tzid, zone in zones.items() if tzid and b"TZID=" + tzid in FOLD.sub(b"", body)]
        items.append(Item(uid, head + b"".join(_flatten(zone) for zone in used) + body + tail))
    return items


def _tzid(zone: _Node) -> bytes:
    for line in _logical(_own_lines(zone)):
        if line.upper().startswith(b"TZID:"):
            return line[5:].strip()
    return b""


def join(items: list[Item], kind: str) -> bytes:
    """A whole collection file: vCards one after another, or one VCALENDAR holding every item's
    components (the first item's wrapper lines; each time zone once)."""
    if kind == "contacts":
        return b"".join(item.data for item in items)
    calendars = [node for item in items for node in _parse(item.data) if node.name == b"VCALENDAR"]
    if not calendars:
        return b""
    first = calendars[0]
    zones: dict[bytes, bytes] = {}
    body = []
    for calendar in calendars:
        for child in calendar.children:
            if child.name == b"VTIMEZONE":
                zones.setdefault(_tzid(child), _flatten(child))
            else:
                body.append(_flatten(child))
    return b"".join(first.lines[:-1]) + b"".join(zones.values()) + b"".join(body) + first.lines[-1]


def _canonical(node: _Node, top: bool) -> bytes:
    properties = []
    for line in _logical(_own_lines(node)):
        name, _, value = line.partition(b":")
        parts = name.split(b";")
        key = parts[0].strip().upper()
        if top and key in WRAPPER:
            continue
        parameters = sorted(_parameter(part) for part in parts[1:])
        properties.append(b";".join([key, *parameters]) + b":" + value)
    children = sorted(_canonical(child, False) for child in node.children if child.name != b"VTIMEZONE")
    return b"\n".join([b"BEGIN:" + node.name, *sorted(properties), *children, b"END:" + node.name])


def _parameter(part: bytes) -> bytes:
    name, _, value = part.partition(b"=")
    return name.strip().upper() + b"=" + value.strip(b'"').upper()


def digest(data: bytes) -> str:
    """SHA-256 of the item's content: unfolded lines sorted per component, parameters normalised,
    wrapper properties and time zone definitions left out (servers rewrite those)."""
    nodes = _parse(data)
    canonical = b"\n".join(sorted(_canonical(node, True) for node in nodes))
    return hashlib.sha256(canonical).hexdigest()
