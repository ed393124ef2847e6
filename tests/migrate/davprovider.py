"""A provider's CalDAV/CardDAV for migration tests: plain Debian Radicale on the provider sandbox, set up
here over SSH (not by the playbooks), htpasswd users, HTTPS with the provider's test CA; and a corpus of
recurring events with exceptions, tasks, and vCards with photos, written with plain HTTP requests."""

from __future__ import annotations

import base64
import http.client
import random
import re
import socket
import ssl
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote

from tests.marks import starts
from tests.migrate.provider import Provider

PORT = 5232
CONFIG = """\
[server]
hosts = 0.0.0.0:5232
ssl = True
certificate = /etc/radicale/provider.crt
key = /etc/radicale/provider.key
max_content_length = 20000000
[auth]
type = htpasswd
htpasswd_filename = /etc/radicale/users
htpasswd_encryption = plain
delay = 0
[rights]
type = owner_only
[storage]
filesystem_folder = /var/lib/radicale/collections
[web]
type = none
"""
SETUP = """set -e
export DEBIAN_FRONTEND=noninteractive
command -v radicale >/dev/null || apt-get install -y -q radicale >/tmp/apt-radicale.log 2>&1
mkdir -p /var/lib/radicale/collections && chown -R radicale:radicale /var/lib/radicale
"""


@dataclass
class DavProvider:
    address: str
    ca_file: Path
    passwords: dict[str, str]

    def url(self, user: str) -> str:
        return f"https://{quote(user, safe='')}@{self.address}:{PORT}/"

    def request(self, user: str, method: str, path: str, body: bytes = b"",
                headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        context = ssl.create_default_context(cafile=str(self.ca_file))
        connection = http.client.HTTPSConnection(self.address, PORT, timeout=60, context=context)
        pair = f"{user}:{self.passwords[user]}".encode()
        sent = {"Authorization": "Basic " + base64.b64encode(pair).decode(), **(headers or {})}
        try:
            connection.request(method, path, body=body or None, headers=sent)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()


@starts("network")  # Radicale on the provider sandbox
def configure(provider: Provider, directory: Path, passwords: dict[str, str]) -> DavProvider:
    """Radicale on the provider sandbox, with the certificate its Dovecot uses."""
    provider.ssh(SETUP)
    provider.ssh("cat > /etc/radicale/config", CONFIG)
    provider.ssh("cat > /etc/radicale/provider.crt", (directory / "server.crt").read_text())
    provider.ssh("umask 077; cat > /etc/radicale/provider.key; chown radicale /etc/radicale/provider.key",
                 (directory / "server.key").read_text())
    users = "".join(f"{user}:{password}\n" for user, password in passwords.items())
    provider.ssh("umask 027; cat > /etc/radicale/users; chgrp radicale /etc/radicale/users", users)
    provider.ssh("systemctl restart radicale && systemctl is-active radicale")
    _wait_for_port(provider.address, PORT)
    return DavProvider(provider.address, provider.ca_file, dict(passwords))


def _wait_for_port(address: str, port: int, seconds: float = 60) -> None:
    """Radicale is active before it listens: wait until it accepts connections."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            socket.create_connection((address, port), timeout=5).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _mkcalendar(component: str, name: str) -> bytes:
    return (f'<?xml version="1.0" encoding="utf-8"?><c:mkcalendar xmlns:d="DAV:" '
            'xmlns:c="urn:ietf:params:xml:ns:caldav"><d:set><d:prop>'
            f"<d:displayname>{name}</d:displayname><c:supported-calendar-component-set>"
            f'<c:comp name="{component}"/></c:supported-calendar-component-set></d:prop></d:set>'
            "</c:mkcalendar>").encode()


MKADDRESSBOOK = (b'<?xml version="1.0" encoding="utf-8"?><d:mkcol xmlns:d="DAV:" '
                 b'xmlns:a="urn:ietf:params:xml:ns:carddav"><d:set><d:prop><d:resourcetype><d:collection/>'
                 b"<a:addressbook/></d:resourcetype><d:displayname>Kontakte</d:displayname></d:prop></d:set>"
                 b"</d:mkcol>")


def fold(line: str) -> str:
    """RFC 5545/6350 folding at 75 octets (ASCII here)."""
    return "\r\n ".join(line[i:i + 74] for i in range(0, len(line), 74))


def events(user: str, count: int) -> list[tuple[str, str]]:
    """(uid, iCalendar text): recurring events with a moved and a cancelled occurrence, plain ones."""
    found = []
    zone = ("BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nBEGIN:STANDARD\r\nDTSTART:19701025T030000\r\n"
            "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\n"
            "END:STANDARD\r\nBEGIN:DAYLIGHT\r\nDTSTART:19700329T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU"
            "\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\n")
    for number in range(count):
        uid = f"ev{number}-{user.split('@')[0]}@provider.test"
        body = (f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20261101T080000Z\r\n"
                f"DTSTART;TZID=Europe/Berlin:202612{number % 28 + 1:02d}T090000\r\nDURATION:PT1H\r\n"
                f"SUMMARY:Besprechung Nr. {number}: Übersicht\r\n")
        if number % 2 == 0:
            body += ("RRULE:FREQ=WEEKLY;COUNT=10\r\nEXDATE;TZID=Europe/Berlin:"
                     f"202612{number % 28 + 1:02d}T090000\r\nEND:VEVENT\r\n"
                     f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20261101T080000Z\r\n"
                     f"RECURRENCE-ID;TZID=Europe/Berlin:202701{number % 28 + 1:02d}T090000\r\n"
                     f"DTSTART;TZID=Europe/Berlin:202701{number % 28 + 1:02d}T140000\r\nDURATION:PT1H\r\n"
                     f"SUMMARY:Besprechung Nr. {number} (verschoben)\r\n")
        body += "END:VEVENT\r\n"
        found.append((uid, "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//provider test//EN\r\n"
                           + zone + body + "END:VCALENDAR\r\n"))
    return found


def tasks(user: str, count: int) -> list[tuple[str, str]]:
    found = []
    for number in range(count):
        uid = f"task{number}-{user.split('@')[0]}@provider.test"
        repeat = "RRULE:FREQ=MONTHLY;COUNT=3\r\n" if number % 3 == 0 else ""
        found.append((uid, "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//provider test//EN\r\nBEGIN:VTODO\r\n"
                           f"UID:{uid}\r\nDTSTAMP:20261101T080000Z\r\n"
                           f"DUE:202612{number % 28 + 1:02d}T170000Z\r\n"
                           f"{repeat}SUMMARY:Aufgabe {number}\r\nPRIORITY:{number % 9 + 1}\r\n"
                           "STATUS:NEEDS-ACTION\r\nEND:VTODO\r\nEND:VCALENDAR\r\n"))
    return found


def cards(user: str, count: int) -> list[tuple[str, str]]:
    """vCards 3.0; every other one with a JPEG-sized photo."""
    rng = random.Random(user)
    found = []
    for number in range(count):
        uid = f"card{number}-{user.split('@')[0]}"
        photo = ""
        if number % 2 == 0:
            data = base64.b64encode(b"\xff\xd8\xff\xe0" + rng.randbytes(20000 + number * 997)).decode()
            photo = fold(f"PHOTO;ENCODING=b;TYPE=JPEG:{data}") + "\r\n"
        found.append((uid, f"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:Jörg Müller {number}\r\n"
                           f"N:Müller {number};Jörg;;;\r\nEMAIL;TYPE=INTERNET:joerg{number}@example.net\r\n"
                           f"TEL;TYPE=CELL:+49 170 {number:07d}\r\n{photo}END:VCARD\r\n"))
    return found


def seed(dav: DavProvider, user: str, counts: tuple[int, int, int]) -> None:
    """A calendar, a task list and an address book for user, filled."""
    home = f"/{quote(user)}/"
    status, _ = dav.request(user, "PROPFIND", home, headers={"Depth": "0"})  # makes the principal
    assert status == 207, status
    for path, body, method in ((f"{home}arbeit/", _mkcalendar("VEVENT", "Arbeit"), "MKCALENDAR"),
                               (f"{home}aufgaben/", _mkcalendar("VTODO", "Aufgaben"), "MKCALENDAR"),
                               (f"{home}kontakte/", MKADDRESSBOOK, "MKCOL")):
        status, answer = dav.request(user, method, path, body, {"Content-Type": "application/xml"})
        assert status == 201, (method, path, status, answer[:300])
    for collection, items, media, suffix in (("arbeit", events(user, counts[0]), "text/calendar", ".ics"),
                                             ("aufgaben", tasks(user, counts[1]), "text/calendar", ".ics"),
                                             ("kontakte", cards(user, counts[2]), "text/vcard", ".vcf")):
        for uid, text in items:
            path = f"{home}{collection}/{quote(uid)}{suffix}"
            status, answer = dav.request(user, "PUT", path, text.encode(),
                                         {"Content-Type": f"{media}; charset=utf-8"})
            assert status == 201, (uid, status, answer[:300])


def collection_items(dav: DavProvider, user: str) -> dict[str, dict[str, bytes]]:
    """Every collection of user (by name) with its items' bytes by href, as the server serves them."""
    home = f"/{quote(user)}/"
    status, listing = dav.request(user, "PROPFIND", home, b'<?xml version="1.0"?><d:propfind xmlns:d="DAV:">'
                                  b"<d:prop><d:resourcetype/></d:prop></d:propfind>", {"Depth": "1"})
    assert status == 207, status
    names = [name for name in re.findall(rb"<[A-Za-z0-9]*:?href>([^<]*)</", listing)
             if unquote(name.decode()).rstrip("/") != unquote(home).rstrip("/")]
    found = {}
    for href in names:
        status, answer = dav.request(user, "PROPFIND", href.decode(), b'<?xml version="1.0"?><d:propfind '
                                     b'xmlns:d="DAV:"><d:allprop/></d:propfind>', {"Depth": "1"})
        hrefs = [item.decode() for item in re.findall(rb"<[A-Za-z0-9]*:?href>([^<]*)</", answer)
                 if not item.endswith(b"/")]
        items = {}
        for item in hrefs:
            status, data = dav.request(user, "GET", item)
            assert status == 200, (item, status)
            items[item.rsplit("/", 1)[-1]] = data
        found[unquote(href.decode()).rstrip("/").rsplit("/", 1)[-1]] = items
    return found
