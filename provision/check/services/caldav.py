"""Calendars and contacts: https://HOST/.well-known/caldav leads to a CalDAV server (RFC 6764 §5)."""

from __future__ import annotations

from provision.check import https
from provision.check.context import CheckModule, Context
from provision.check.model import Check, Status
from provision.check.services import each_server, result
from provision.check.services.net import Server

CALDAV = "services.https.caldav"
PATH = "/.well-known/caldav"
ANSWERS = {301, 302, 307, 308, 401, 207}  # a redirect to the DAV root, or the DAV server itself
FIX = (f"serve HTTPS on port 443 with {PATH} redirecting to the CalDAV server (on a provisioned server: "
       f"`provision apply DIR --tags dav`; where calendars are not served, --skip {CALDAV})")


def run(context: Context, domain: str) -> list[Check]:
    return each_server(context, CALDAV, _server)


def _server(context: Context, server: Server) -> list[Check]:
    options = context.options
    url = f"https://{server.name}{PATH}"
    try:
        response = https.get(server.name, PATH, [server.address], port=options.https_port,
                             ca_file=options.ca_file, timeout=options.timeout)
    except https.FetchError as error:
        return [result(CALDAV, Status.CRIT, f"{url} at {server.address}: {error}", FIX)]
    if response.status not in ANSWERS:
        return [result(CALDAV, Status.CRIT, f"{url} at {server.address} answers HTTP {response.status}", FIX)]
    where = f" to {response.location}" if response.location else ""
    return [result(CALDAV, Status.OK, f"{url} at {server.address}: HTTP {response.status}{where}")]


MODULE = CheckModule("services.https", (CALDAV,), run, per_domain=False)
