"""A CalDAV/CardDAV account at a provider (https://USER@HOST[:PORT][/PATH]): discovery through the
well-known URLs (RFC 6764), principal, home sets, collections; items read by REPORT and written by PUT.

Only what a migration needs, on http.client: the certificate is verified like the IMAP side's."""

from __future__ import annotations

import base64
import hashlib
import http.client
import ssl
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote, unquote, urljoin, urlsplit

from provision.migrate import AccountError
from provision.migrate.imap import Credentials
from provision.migrate.items import Item, split
from provision.migrate.secrets import account_url

NS = {"d": "DAV:", "c": "urn:ietf:params:xml:ns:caldav", "a": "urn:ietf:params:xml:ns:carddav",
      "i": "http://apple.com/ns/ical/"}
TIMEOUT = 60
REDIRECTS = 5
SUFFIX = {"calendar": ".ics", "tasks": ".ics", "contacts": ".vcf"}
MEDIA = {"calendar": "text/calendar", "tasks": "text/calendar", "contacts": "text/vcard"}


@dataclass(frozen=True)
class DavUrl:
    host: str
    port: int
    user: str | None
    path: str

    def label(self, user: str) -> str:
        return f"{user} at https://{self.host}:{self.port}"


@dataclass(frozen=True)
class Collection:
    """A calendar, task list or address book; name is its last path segment at the source."""

    kind: str  # calendar, tasks or contacts
    name: str
    displayname: str | None = None
    color: str | None = None


def parse_url(spec: str) -> DavUrl:
    parts, user = account_url(spec, "https", "https://USER@HOST[:PORT][/PATH]")
    return DavUrl(parts.hostname, parts.port or 443, user, parts.path or "/")


class DavAccount:
    """One logged-in DAV account; collections found once, by discovery."""

    def __init__(self, url: DavUrl, user: str, credentials: Callable[[], Credentials],
                 context: ssl.SSLContext):
        self.url, self.user, self.label = url, user, url.label(user)
        self._credentials, self._context = credentials, context
        self._connection: http.client.HTTPSConnection | None = None
        self._authorization: str | None = None
        self._homes: dict[str, str] = {}
        self._paths: dict[tuple[str, str], str] = {}

    # -- HTTP

    def _request(self, method: str, path: str, body: bytes = b"",
                 headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        if self._authorization is None:
            secret = self._credentials()
            if secret.token:
                self._authorization = f"Bearer {secret.token}"
            else:
                pair = f"{self.user}:{secret.password}".encode()
                self._authorization = "Basic " + base64.b64encode(pair).decode()
        sent = {"Authorization": self._authorization, **(headers or {})}
        if body and "Content-Type" not in sent:
            sent["Content-Type"] = "application/xml; charset=utf-8"
        for attempt in range(2):  # a kept-alive connection the server closed is opened again once
            if self._connection is None:
                self._connection = http.client.HTTPSConnection(self.url.host, self.url.port, timeout=TIMEOUT,
                                                               context=self._context)
            try:
                self._connection.request(method, path, body=body or None, headers=sent)
                response = self._connection.getresponse()
                data = response.read()
            except (http.client.HTTPException, ConnectionError) as cut:
                self.close()
                if attempt:
                    raise AccountError(f"{self.label}: {method} {path} failed: {cut}") from None
                continue
            except ssl.SSLCertVerificationError as bad:
                raise AccountError(f"{self.label}: the certificate is not trusted: {bad.verify_message}",
                                   "give --ca-file for a private CA") from None
            if response.status == 401:
                raise AccountError(f"{self.label}: the server refused the login",
                                   "check the password (or token) for this account")
            return response.status, {k.lower(): v for k, v in response.getheaders()}, data
        raise AssertionError("unreachable")

    def _propfind(self, path: str, props: str, depth: str, optional: bool = False
                  ) -> list[tuple[str, ET.Element]]:
        """(href, prop element) per response, following redirects (the well-known URLs redirect);
        an optional look that the server answers with an error finds nothing."""
        body = (f'<?xml version="1.0" encoding="utf-8"?><d:propfind xmlns:d="DAV:" '
                f'xmlns:c="{NS["c"]}" xmlns:a="{NS["a"]}" xmlns:i="{NS["i"]}"><d:prop>{props}</d:prop>'
                "</d:propfind>").encode()
        for _ in range(REDIRECTS):
            status, headers, data = self._request("PROPFIND", path, body, {"Depth": depth})
            if status in (301, 302, 307, 308) and "location" in headers:
                path = urlsplit(urljoin(path, headers["location"])).path or "/"
                continue
            if status != 207 and optional:
                return []
            if status != 207:
                raise AccountError(f"{self.label}: PROPFIND {path} answered {status}",
                                   "is this a CalDAV/CardDAV URL?")
            return _responses(data)
        raise AccountError(f"{self.label}: too many redirects from {path}")

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    # -- discovery

    def _discover(self) -> None:
        if self._homes:
            return
        principal = None
        starts = [self.url.path] if self.url.path != "/" else [
            "/.well-known/caldav", "/.well-known/carddav", "/"]
        for start in starts:
            found = self._propfind(start, "<d:current-user-principal/>", "0", optional=True)
            principal = _text(found, "d:current-user-principal/d:href")
            if principal:
                break
        if not principal:
            raise AccountError(f"{self.label}: no CalDAV/CardDAV principal found",
                               "give the account's DAV URL (https://USER@HOST/PATH)")
        homes = self._propfind(principal, "<c:calendar-home-set/><a:addressbook-home-set/>", "0")
        for kind, tag in (("c", "c:calendar-home-set/d:href"), ("a", "a:addressbook-home-set/d:href")):
            home = _text(homes, tag)
            if home:
                self._homes[kind] = urlsplit(home).path
        if not self._homes:
            raise AccountError(f"{self.label}: the principal {principal} names no calendar or address "
                               "book home")

    def collections(self) -> list[Collection]:
        self._discover()
        found: dict[tuple[str, str], Collection] = {}
        props = ("<d:resourcetype/><d:displayname/><i:calendar-color/>"
                 "<c:supported-calendar-component-set/>")
        for home in dict.fromkeys(self._homes.values()):
            for href, prop in self._propfind(home, props, "1"):
                kind = _kind(prop)
                path = urlsplit(href).path
                if kind is None or path.rstrip("/") == home.rstrip("/"):
                    continue
                name = unquote(path.rstrip("/").rsplit("/", 1)[-1])
                collection = Collection(kind, name, _text_of(prop, "d:displayname"),
                                        _text_of(prop, "i:calendar-color"))
                found[(kind, name)] = collection
                self._paths[(kind, name)] = path if path.endswith("/") else path + "/"
        return sorted(found.values(), key=lambda item: (item.kind, item.name))

    # -- items

    def _listed(self) -> None:
        if not self._paths:
            self.collections()

    def items(self, collection: Collection) -> list[Item]:
        """Every item of the collection, each by GET: its exact bytes (an XML REPORT would turn its
        CRLF line ends into LF)."""
        self._listed()
        path = self._paths.get((collection.kind, collection.name))
        if path is None:
            return []
        items = []
        for href, _ in self._propfind(path, "<d:getetag/>", "1"):
            member = urlsplit(href).path
            if member.rstrip("/") == path.rstrip("/") or member.endswith("/"):
                continue
            status, _, data = self._request("GET", quote(member))
            if status != 200:
                raise AccountError(f"{self.label}: GET {member} answered {status}")
            name = unquote(member.rsplit("/", 1)[-1])
            items += [Item(item.uid, item.data, name) for item in split(data, collection.kind)]
        return items

    def put(self, collection: Collection, items: list[Item]) -> None:
        """Create the collection if needed, then write each item (replacing one with its UID)."""
        self._listed()
        key = (collection.kind, collection.name)
        if key not in self._paths:
            self._create(collection)
        path = self._paths[key]
        for item in items:
            href = item.href or item_href(item.uid, collection.kind)
            status, _, data = self._request("PUT", path + quote(href), item.data,
                                            {"Content-Type": f"{MEDIA[collection.kind]}; charset=utf-8"})
            if status not in (200, 201, 204):
                raise AccountError(f"{self.label}: the server refused item {item.uid} in {collection.name} "
                                   f"({status}: {data[:200].decode('utf-8', 'replace')})")

    def _create(self, collection: Collection) -> None:
        home = self._homes.get("a" if collection.kind == "contacts" else "c")
        if home is None:
            raise AccountError(f"{self.label}: the account has no home for {collection.kind}")
        safe = quote(collection.name, safe="")
        path = home.rstrip("/") + "/" + ("%2E" + safe[1:] if safe.startswith(".") else safe) + "/"
        name = f"<d:displayname>{_escape(collection.displayname or collection.name)}</d:displayname>"
        if collection.kind == "contacts":
            body = (f'<?xml version="1.0" encoding="utf-8"?><d:mkcol xmlns:d="DAV:" xmlns:a="{NS["a"]}">'
                    "<d:set><d:prop><d:resourcetype><d:collection/><a:addressbook/></d:resourcetype>"
                    f"{name}</d:prop></d:set></d:mkcol>")
            method = "MKCOL"
        else:
            component = "VTODO" if collection.kind == "tasks" else "VEVENT"
            color = (f"<i:calendar-color>{_escape(collection.color)}</i:calendar-color>"
                     if collection.color else "")
            body = (f'<?xml version="1.0" encoding="utf-8"?><c:mkcalendar xmlns:d="DAV:" xmlns:c="{NS["c"]}" '
                    f'xmlns:i="{NS["i"]}"><d:set><d:prop>{name}{color}<c:supported-calendar-component-set>'
                    f'<c:comp name="{component}"/></c:supported-calendar-component-set></d:prop></d:set>'
                    "</c:mkcalendar>")
            method = "MKCALENDAR"
        status, _, _ = self._request(method, path, body.encode())
        if status not in (200, 201):
            raise AccountError(f"{self.label}: cannot create {collection.kind} {collection.name} "
                               f"({method} answered {status})")
        self._paths[(collection.kind, collection.name)] = path


def item_href(uid: str, kind: str) -> str:
    safe = all(char.isalnum() or char in "-_.@" for char in uid) and len(uid) < 120
    return (uid if safe else hashlib.sha256(uid.encode()).hexdigest()) + SUFFIX[kind]


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _responses(data: bytes) -> list[tuple[str, ET.Element]]:
    try:
        root = ET.fromstring(data)
    except ET.ParseError as bad:
        raise AccountError(f"the DAV server sent XML that does not parse: {bad}") from None
    found = []
    for response in root.findall("d:response", NS):
        href = response.findtext("d:href", "", NS)
        for propstat in response.findall("d:propstat", NS):
            if "200" in propstat.findtext("d:status", "", NS):
                prop = propstat.find("d:prop", NS)
                if prop is not None:
                    found.append((unquote(href), prop))
    return found


def _text(found: list[tuple[str, ET.Element]], path: str) -> str | None:
    for _, prop in found:
        value = prop.findtext(path, None, NS)
        if value:
            return value.strip()
    return None


def _text_of(prop: ET.Element, path: str) -> str | None:
    value = prop.findtext(path, None, NS)
    return value if value else None


def _kind(prop: ET.Element) -> str | None:
    kinds = prop.find("d:resourcetype", NS)
    if kinds is None:
        return None
    if kinds.find("a:addressbook", NS) is not None:
        return "contacts"
    if kinds.find("c:calendar", NS) is None:
        return None
    components = {comp.get("name", "").upper()
                  for comp in prop.findall("c:supported-calendar-component-set/c:comp", NS)}
    return "tasks" if components and "VEVENT" not in components and "VTODO" in components else "calendar"
