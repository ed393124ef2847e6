"""A small WebDAV client over the sandbox's address (CardDAV and raw requests the caldav library lacks)."""

from __future__ import annotations

import base64
import http.client
import re
import ssl
from dataclasses import dataclass


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    body: str


def request(address: str, method: str, path: str, login: str | None = None, password: str = "",
            body: str = "", headers: dict[str, str] | None = None, host: str = "") -> Response:
    """One HTTPS request to address:443, certificate unchecked (test_web.py checks it by name)."""
    connection = http.client.HTTPSConnection(address, 443, timeout=30,
                                             context=ssl._create_unverified_context())
    sent = {"Host": host or address, **(headers or {})}
    if login is not None:
        sent["Authorization"] = "Basic " + base64.b64encode(f"{login}:{password}".encode()).decode()
    if body:
        sent["Content-Type"] = sent.get("Content-Type", "application/xml; charset=utf-8")
    try:
        connection.request(method, path, body=body.encode() or None, headers=sent)
        response = connection.getresponse()
        return Response(response.status, {key.lower(): value for key, value in response.getheaders()},
                        response.read().decode("utf-8", "replace"))
    finally:
        connection.close()


ADDRESS_DATA = """<?xml version="1.0" encoding="utf-8"?>
<C:addressbook-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">
  <D:prop><D:getetag/><C:address-data/></D:prop>
</C:addressbook-query>"""


def vcards(address: str, path: str, login: str, password: str) -> list[str]:
    """Every vCard of an address book, by a CardDAV addressbook-query REPORT."""
    response = request(address, "REPORT", path, login, password, ADDRESS_DATA, {"Depth": "1"})
    assert response.status == 207, (response.status, response.body[:300])
    found = re.findall(r"<[A-Za-z0-9]*:?address-data[^>]*>(.*?)</[A-Za-z0-9]*:?address-data>", response.body,
                       re.S)
    return [card.replace("&#13;", "\r").replace("&amp;", "&").replace("&lt;", "<") for card in found]


def vcard_fields(card: str) -> dict[str, list[str]]:
    """NAME (without parameters) -> values, from unfolded vCard lines."""
    fields: dict[str, list[str]] = {}
    for line in re.sub(r"\r?\n[ \t]", "", card).splitlines():
        name, colon, value = line.partition(":")
        if colon:
            fields.setdefault(name.split(";")[0].upper(), []).append(value)
    return fields
