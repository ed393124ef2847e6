"""Webmail: https://HOST/mail/ serves Roundcube's login page over a valid certificate."""

from __future__ import annotations

from provision.check import https
from provision.check.context import CheckModule, Context
from provision.check.model import Check, Status
from provision.check.services import each_server, result
from provision.check.services.net import Server

WEBMAIL = "services.https.webmail"
PATH = "/mail/"
LOGIN_FORM = b'name="_user"'  # Roundcube's login form
FIX = (f"serve Roundcube at {PATH} (on a provisioned server: set provision_webmail: true and run "
       f"`provision apply DIR --tags webmail,web`; where no webmail is served, --skip {WEBMAIL})")


def run(context: Context, domain: str) -> list[Check]:
    inventory = context.target.inventory
    if inventory is not None and not inventory.settings.webmail:
        return [result(WEBMAIL, Status.OK, "no webmail here (provision_webmail is false)")]
    return each_server(context, WEBMAIL, _server)


def _server(context: Context, server: Server) -> list[Check]:
    options = context.options
    url = f"https://{server.name}{PATH}"
    try:
        response = https.get(server.name, PATH, [server.address], port=options.https_port,
                             ca_file=options.ca_file, timeout=options.timeout, limit=262144)
    except https.FetchError as error:
        return [result(WEBMAIL, Status.CRIT, f"{url} at {server.address}: {error}", FIX)]
    if response.status != 200 or LOGIN_FORM not in response.body:
        return [result(WEBMAIL, Status.CRIT, f"{url} at {server.address} answers HTTP {response.status} "
                       "without a login form", FIX)]
    return [result(WEBMAIL, Status.OK, f"{url} at {server.address}: the login page, over valid TLS")]


MODULE = CheckModule("services.https", (WEBMAIL,), run, per_domain=False)
