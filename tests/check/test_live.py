"""`provision check INVENTORY` on the provisioned sandbox, every area, its records published as
`provision dns records` lists them (Knot on loopback), as a consultant runs it after `provision apply`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.check import zones
from tests.conftest import MailServer, provision
from tests.dnsserver import AuthoritativeServer

DKIM_KEY = "/etc/dkimkeys/example.org.mail.private"
BLOCK_LIST = "bl.live.test"


@pytest.fixture(scope="module")
def network(mail_server: MailServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[str]]:
    """The check's options: the published records' server, the sandbox's own CA, no block lists."""
    directory = tmp_path_factory.mktemp("live")
    listed = provision("--json", "dns", "records", str(mail_server.inventory), env=mail_server.env)
    assert listed.returncode == 0, listed.stderr
    ca_file = directory / "sandbox.pem"
    ca_file.write_text(mail_server.host.ssh("cat /etc/ssl/provision/fullchain.pem").stdout)
    served = zones.published(json.loads(listed.stdout)["records"], mail_server.host.address)
    # A block list that lists the sandbox, as Spamhaus's answers look (RFC 5782).
    listed_address = ".".join(reversed(mail_server.host.address.split(".")))
    served[BLOCK_LIST] = [f"{listed_address}.{BLOCK_LIST}. 300 A 127.0.0.2",
                          f'{listed_address}.{BLOCK_LIST}. 300 TXT "listed in a test"']
    with AuthoritativeServer(directory / "knot") as server:
        server.load(served)
        yield ["--nameserver", f"127.0.0.1:{server.port}", "--ca-file", str(ca_file), "--dnsbl", "",
               "--domain-dnsbl", "", "--timeout", "3"]


def check(server: MailServer, network: list[str], *args: str) -> tuple[int, list[dict[str, str]]]:
    done = provision("--json", "check", str(server.inventory), *network, *args, env=server.env, timeout=180)
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, json.loads(done.stdout)["targets"][0]["checks"]


def test_a_provisioned_server_is_ok_in_every_area(mail_server: MailServer, network: list[str]) -> None:
    status, found = check(mail_server, network, "--timeout", "10")  # the first drift check renders
    assert {item["area"] for item in found} == {"dns", "services", "host"}
    problems = {item["id"]: item["message"] for item in found if item["status"] != "OK"}
    # Pending updates depend on the day's Debian archive, not on the setup (test_host judges them).
    assert set(problems) <= {"host.updates.security"}, problems
    assert status == (1 if problems else 0)
    signed = [item["message"] for item in found if item["id"] == "dns.dkim.server"]
    assert signed == [f"{domain}: mail._domainkey.{domain} publishes the key the server signs with"
                      for domain in ("example.test", "example.org")]


def test_a_server_signing_with_another_key_is_crit(mail_server: MailServer, network: list[str],
                                                    tmp_path: Path) -> None:
    """The inventory and the DNS agree, but the server's key was replaced: only SSH can tell."""
    mail_server.host.ssh(f"cp -a {DKIM_KEY} /root/dkim.saved")
    try:
        mail_server.host.ssh(f"openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out {DKIM_KEY}")
        public = mail_server.host.ssh(f"openssl pkey -in {DKIM_KEY} -pubout").stdout
        _, found = check(mail_server, network, "--only", "dns.dkim")
    finally:
        mail_server.host.ssh(f"mv /root/dkim.saved {DKIM_KEY}")
    by_domain = {item["message"].split(":")[0]: item for item in found if item["id"] == "dns.dkim.server"}
    assert by_domain["example.test"]["status"] == "OK"
    replaced = by_domain["example.org"]
    assert replaced["status"] == "CRIT"
    assert f"the server signs with {DKIM_KEY}" in replaced["message"]
    key = "".join(line for line in public.splitlines() if not line.startswith("-----"))
    assert replaced["fix"] == f'publish `mail._domainkey.example.org. 3600 IN TXT "v=DKIM1; k=rsa; p={key}"`'
    assert {item["status"] for item in found if item["id"] == "dns.dkim.matches"} == {"OK"}


def test_a_block_list_that_lists_the_server_is_crit(mail_server: MailServer, network: list[str]) -> None:
    _, found = check(mail_server, network, "--only", "dns.dnsbl", "--dnsbl", BLOCK_LIST)
    listed = [item for item in found if item["id"] == "dns.dnsbl.address"]
    assert [item["status"] for item in listed] == ["CRIT"], listed
    assert mail_server.host.address in listed[0]["message"] and BLOCK_LIST in listed[0]["message"]
    assert listed[0]["fix"]
