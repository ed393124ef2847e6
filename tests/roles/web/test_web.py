"""What the web server on 443 serves besides DAV: autoconfig, the Apple profile, the MTA-STS policy.

Fetched like a mail client or a sending MTA would: by name (with the sandbox's address),
the certificate checked against the server's own (self-signed) one.
"""

from __future__ import annotations

import http.client
import plistlib
import ssl
import xml.etree.ElementTree as ET

import pytest

from provision.check import https
from provision.dns.records import MtaStsMode, mta_sts_policy
from tests.dav import request

DOMAINS = ("example.test", "example.org")  # the mail_server fixture's


@pytest.fixture(scope="module")
def ca_file(mail_server, tmp_path_factory):
    path = tmp_path_factory.mktemp("web") / "server.pem"
    path.write_text(mail_server.host.ssh(["cat", "/etc/ssl/provision/fullchain.pem"]).stdout)
    return path


def fetch(mail_server, ca_file, host: str, path: str) -> https.Response:
    return https.get(host, path, [mail_server.host.address], ca_file=ca_file)


@pytest.mark.parametrize("domain", DOMAINS)
def test_mta_sts_policy_is_served_as_dns_records_announces(mail_server, ca_file, domain):
    response = fetch(mail_server, ca_file, f"mta-sts.{domain}", "/.well-known/mta-sts.txt")
    assert (response.status, response.content_type) == (200, "text/plain")
    assert response.body.decode() == mta_sts_policy(mail_server.host.hostname, MtaStsMode.TESTING)


@pytest.mark.parametrize(("host", "path"), [
    ("autoconfig.example.test", "/mail/config-v1.1.xml"),
    ("autoconfig.example.org", "/mail/config-v1.1.xml"),
    (None, "/.well-known/autoconfig/mail/config-v1.1.xml"),
])
def test_thunderbird_autoconfig(mail_server, ca_file, host, path):
    response = fetch(mail_server, ca_file, host or mail_server.host.hostname, path)
    assert response.status == 200
    provider = ET.fromstring(response.body).find("emailProvider")
    assert {domain.text for domain in provider.findall("domain")} == set(DOMAINS)
    incoming = provider.find("incomingServer")
    assert (incoming.get("type"), incoming.findtext("hostname"), incoming.findtext("port"),
            incoming.findtext("socketType"), incoming.findtext("username")) == \
        ("imap", mail_server.host.hostname, "993", "SSL", "%EMAILADDRESS%")
    outgoing = [(server.findtext("port"), server.findtext("socketType"))
                for server in provider.findall("outgoingServer")]
    assert outgoing == [("465", "SSL"), ("587", "STARTTLS")]


def test_apple_profile_after_login_only(mail_server, ca_file, team):
    address = mail_server.host.address
    assert request(address, "GET", "/profile.mobileconfig").status == 401
    assert request(address, "GET", "/profile.mobileconfig", team.a.uid, "wrong").status == 401
    for login in (team.a.uid, team.a.mail):
        response = request(address, "GET", "/profile.mobileconfig", login, team.a.password)
        assert response.status == 200
        profile = plistlib.loads(response.body.encode())
        payloads = {payload["PayloadType"]: payload for payload in profile["PayloadContent"]}
        mail = payloads["com.apple.mail.managed"]
        assert (mail["EmailAddress"], mail["IncomingMailServerHostName"],
                mail["IncomingMailServerUsername"]) == (team.a.mail, mail_server.host.hostname, team.a.mail)
        assert payloads["com.apple.caldav.account"]["CalDAVUsername"] == team.a.uid
        assert payloads["com.apple.carddav.account"]["CardDAVPrincipalURL"] == \
            f"https://{mail_server.host.hostname}/{team.a.uid}/"
        assert "com.apple.webClip.managed" not in payloads  # this server has no webmail
        assert team.a.password not in response.body


def test_apple_profile_for_a_login_typed_in_mixed_case(mail_server, team):
    address = mail_server.host.address
    for login in (team.a.uid.upper(), team.a.mail.capitalize(), team.a.mail.upper()):
        assert request(address, "PROPFIND", "/", login, team.a.password, headers={"Depth": "0"}).status == 207
        response = request(address, "GET", "/profile.mobileconfig", login, team.a.password)
        assert response.status == 200, login
        mail = plistlib.loads(response.body.encode())["PayloadContent"]
        assert team.a.mail in {payload.get("EmailAddress") for payload in mail}


def test_a_refused_login_is_challenged_once(mail_server):
    connection = http.client.HTTPSConnection(mail_server.host.address, 443, timeout=30,
                                             context=ssl._create_unverified_context())
    try:
        connection.request("GET", "/profile.mobileconfig")
        response = connection.getresponse()
        response.read()
    finally:
        connection.close()
    assert response.status == 401
    challenges = response.msg.get_all("WWW-Authenticate")
    assert len(challenges) == 1 and challenges[0].startswith("Basic realm="), challenges
