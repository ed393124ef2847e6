"""`provision dns push` against a real Knot server on loopback that accepts TSIG-signed updates."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import dns.message
import dns.name
import dns.query
import dns.rdatatype
import dns.tsig
import dns.update
import pytest

from provision.dns import update
from provision.dns.records import Purpose, Record
from tests.conftest import REPO
from tests.dns.records.conftest import ENV, KEY, edit_settings, run
from tests.dnsserver import ADDRESS, AuthoritativeServer

# Records of the customer's own that push must leave alone, and stale ones it must correct.
FOREIGN = [
    'example.org. 3600 TXT "google-site-verification=abc123"',
    "www.example.org. 3600 A 192.0.2.80",
    'example.org. 3600 CAA 0 issue "sectigo.com"',
    "example.org. 3600 NS ns2.invalid.",
]
STALE = [
    "example.org. 3600 MX 10 old-mx.example.net.",
    'example.org. 3600 TXT "v=spf1 include:old-provider.example -all"',
    'example.org. 3600 TXT "v=spf1 include:old-provider.example -all"',
    "autoconfig.example.org. 3600 A 192.0.2.81",
]


def push(knot: AuthoritativeServer, key_file: Path, *options: str,
         inventory: str = "inventory.example") -> subprocess.CompletedProcess[str]:
    return run("dns", "push", inventory, "--server", ADDRESS, "--port", str(knot.port),
               "--tsig-key", str(key_file), *options)


def served(knot: AuthoritativeServer, name: str, rdtype: str) -> set[str]:
    query = dns.message.make_query(name, rdtype)
    response = dns.query.tcp(query, ADDRESS, port=knot.port, timeout=5)
    rrset = response.get_rrset(response.answer, dns.name.from_text(name), dns.rdataclass.IN,
                               dns.rdatatype.from_text(rdtype))
    return {rdata.to_text() for rdata in rrset} if rrset else set()


def load_zones(knot: AuthoritativeServer, example_org: list[str] | None = None) -> None:
    knot.load({"example.org": example_org or [], "xn--bcher-kva.example": []})


def test_first_push_adds_everything_and_a_second_finds_nothing_to_change(knot, key_file) -> None:
    load_zones(knot)
    first = push(knot, key_file, "--yes")
    assert first.returncode == 0, first.stderr
    assert "  add example.org. MX\n    + example.org. 3600 MX 10 mail.example.org.\n" in first.stdout
    assert "  add mail.example.org. AAAA\n" in first.stdout
    assert "applied 45 change(s)" in first.stdout
    assert served(knot, "example.org.", "MX") == {"10 mail.example.org."}
    assert served(knot, "mail.example.org.", "A") == {"203.0.113.25"}
    assert served(knot, "_imap._tcp.xn--bcher-kva.example.", "SRV") == {"0 0 0 ."}
    assert served(knot, "autoconfig.example.org.", "CNAME") == {"mail.example.org."}
    assert served(knot, "xn--bcher-kva.example._report._dmarc.example.org.", "TXT") == {'"v=DMARC1"'}
    dkim = served(knot, "mail._domainkey.example.org.", "TXT")
    assert len(dkim) == 1 and dkim.pop().count('" "') == 1  # two character-strings

    second = push(knot, key_file, "--json")
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["changes"] == []
    again = push(knot, key_file)  # no --yes and no terminal: fine, there is nothing to ask about
    assert again.returncode == 0 and again.stdout.endswith("nothing to change\n"), again.stdout


def test_dry_run_shows_the_difference_and_changes_nothing(knot, key_file) -> None:
    load_zones(knot)
    done = push(knot, key_file, "--json", "--dry-run")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["applied"] is False and len(data["changes"]) == 45
    assert {"zone": "example.org.", "name": "example.org.", "type": "TXT", "action": "add", "ttl": 3600,
            "old": [], "new": ['"v=spf1 mx -all"']} in data["changes"]
    assert served(knot, "example.org.", "MX") == set()


def test_a_new_address_replaces_exactly_the_affected_rrset(knot, key_file, inventory_copy) -> None:
    load_zones(knot)
    assert push(knot, key_file, "--yes").returncode == 0
    edit_settings(inventory_copy, "provision_public_ipv4: 203.0.113.25",
                  "provision_public_ipv4: 203.0.113.26")
    done = push(knot, key_file, "--yes", inventory=str(inventory_copy))
    assert done.returncode == 0, done.stderr
    assert done.stdout == (
        "zone example.org.: 1 RRset(s) to change\n"
        "  replace mail.example.org. A\n"
        "    - mail.example.org. A 203.0.113.25\n"
        "    + mail.example.org. 3600 A 203.0.113.26\n"
        "zone xn--bcher-kva.example.: up to date\n"
        "applied 1 change(s)\n"
    )
    assert served(knot, "mail.example.org.", "A") == {"203.0.113.26"}
    assert served(knot, "mail.example.org.", "AAAA") == {"2001:db8::25"}


def test_records_of_others_are_left_alone_and_stale_ones_corrected(knot, key_file) -> None:
    load_zones(knot, FOREIGN + STALE[:2] + STALE[3:])
    done = push(knot, key_file, "--yes")
    assert done.returncode == 0, done.stderr
    assert "  replace example.org. MX\n    - example.org. MX 10 old-mx.example.net.\n" in done.stdout
    assert "  remove autoconfig.example.org. A\n" in done.stdout
    assert served(knot, "example.org.", "TXT") == {'"google-site-verification=abc123"', '"v=spf1 mx -all"'}
    assert served(knot, "example.org.", "CAA") == {'0 issue "sectigo.com"', '0 issue "letsencrypt.org"'}
    assert served(knot, "www.example.org.", "A") == {"192.0.2.80"}
    assert served(knot, "example.org.", "NS") == {"ns.invalid.", "ns2.invalid."}
    assert served(knot, "example.org.", "MX") == {"10 mail.example.org."}
    assert served(knot, "autoconfig.example.org.", "A") == set()
    assert served(knot, "autoconfig.example.org.", "CNAME") == {"mail.example.org."}
    assert push(knot, key_file).stdout.endswith("nothing to change\n")


def test_a_domain_in_a_larger_zone_goes_to_that_zone(knot, key_file, inventory_copy) -> None:
    knot.load({"org": [], "xn--bcher-kva.example": []})
    edit_settings(inventory_copy, "provision_admin_email: admin@example.org",
                  "provision_admin_email: postmaster@reports.example.net")
    done = push(knot, key_file, "--yes", "--zone", "org", "--json", inventory=str(inventory_copy))
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert {change["zone"] for change in data["changes"]} == {"org.", "xn--bcher-kva.example."}
    assert served(knot, "example.org.", "MX") == {"10 mail.example.org."}
    # the report authorizations belong to reports.example.net's zone: listed, never sent
    assert sorted(record["name"] for record in data["not_pushed"]) == [
        "example.org._report._dmarc.reports.example.net.",
        "xn--bcher-kva.example._report._dmarc.reports.example.net.",
    ]
    text = push(knot, key_file, "--zone", "org", inventory=str(inventory_copy)).stdout
    assert "not pushed, outside the zones (publish them by hand):\n" in text
    assert 'example.org._report._dmarc.reports.example.net. 3600 IN TXT "v=DMARC1"' in text


def test_an_update_the_server_ignores_is_a_failure(knot, key_file) -> None:
    load_zones(knot, ["_dmarc.example.org. 3600 CNAME dmarc.provider.example."])
    done = push(knot, key_file, "--yes")
    assert done.returncode == 1
    assert "did not apply: _dmarc.example.org. TXT" in done.stderr and "CNAME" in done.stderr


def test_a_wrong_secret_is_refused_with_the_rcode(knot, key_file) -> None:
    load_zones(knot)
    wrong = "d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldC13cm9uZw=="
    key_file.write_text(key_file.read_text().replace(KEY.secret, wrong))
    done = push(knot, key_file, "--yes")
    assert done.returncode == 1
    assert "NOTAUTH" in done.stderr and "BADSIG" in done.stderr
    assert served(knot, "example.org.", "MX") == set()


def test_without_a_terminal_push_asks_for_yes(knot, key_file) -> None:
    load_zones(knot)
    done = push(knot, key_file)
    assert done.returncode == 2 and "--yes" in done.stderr
    assert served(knot, "example.org.", "MX") == set()


def test_at_a_terminal_push_asks_before_it_applies(knot, key_file) -> None:
    load_zones(knot)
    for answer, applied in (("n", False), ("y", True)):
        terminal, stdin = pty.openpty()
        os.write(terminal, f"{answer}\n".encode())
        done = subprocess.run(
            [sys.executable, "-m", "provision", "dns", "push", "inventory.example", "--server", ADDRESS,
             "--port", str(knot.port), "--tsig-key", str(key_file)],
            stdin=stdin, capture_output=True, text=True, timeout=120, cwd=REPO, env={**os.environ, **ENV})
        os.close(stdin)
        os.close(terminal)
        assert done.returncode == 0, done.stderr
        assert "apply 45 change(s)? [y/N]" in done.stderr
        assert (served(knot, "example.org.", "MX") == {"10 mail.example.org."}) is applied


def test_a_zone_changed_since_the_difference_fails_the_prerequisites(knot, key_file) -> None:
    load_zones(knot)
    key = update.read_key(key_file)
    server = update.Server(ADDRESS, knot.port, key)
    zone = dns.name.from_text("example.org.")
    record = Record("mail.example.org.", "A", 3600, "203.0.113.25", Purpose.HOST)
    changes = update.plan(server, zone, update.managed([record]))
    assert [change.action for change in changes] == [update.Action.ADD]
    meddler = dns.update.UpdateMessage(zone)
    meddler.add("mail.example.org.", 60, "A", "192.0.2.99")
    meddler.use_tsig(key)
    assert dns.query.tcp(meddler, ADDRESS, port=knot.port, timeout=5).rcode() == 0
    with pytest.raises(update.ServerError, match="YXRRSET"):
        update.apply(server, zone, changes)
    assert served(knot, "mail.example.org.", "A") == {"192.0.2.99"}


@pytest.mark.parametrize("text", [
    "",
    'key "a" { algorithm hmac-sha256; secret "c2VjcmV0"; };\n'
    'key "b" { algorithm hmac-sha256; secret "eA=="; };',
    'key "a" { algorithm hmac-sha256; };',
    'key "a" { algorithm hmac-nonsense; secret "c2VjcmV0"; };',
])
def test_a_bad_key_file_is_bad_usage(text: str, tmp_path: Path) -> None:
    path = tmp_path / "bad.key"
    path.write_text(text)
    with pytest.raises(update.KeyFileError):
        update.read_key(path)
    done = run("dns", "push", "inventory.example", "--server", ADDRESS, "--port", "9",
               "--tsig-key", str(path), "--dry-run")
    assert done.returncode == 2, done.stderr


def test_the_key_file_may_hold_comments(tmp_path: Path) -> None:
    path = tmp_path / "commented.key"
    path.write_text('/* made by tsig-keygen */\nkey "update-key" {\n  // the algorithm\n'
                    '  algorithm hmac-sha512;   # strongest\n  secret "c2VjcmV0LXNlY3JldA==";\n};\n')
    key = update.read_key(path)
    assert key.name == dns.name.from_text("update-key") and key.algorithm == dns.tsig.HMAC_SHA512
