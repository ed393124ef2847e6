"""`provision cutover` without mail servers: the plan, refused input, the state file, and the DNS steps
(ttl, switch, rollback before the switch) against a real Knot on loopback taking TSIG-signed updates."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import dns.message
import dns.name
import dns.query
import dns.rdataclass
import dns.rdatatype
import pytest

from provision.cutover import state as states
from provision.cutover.dns import Dns
from provision.cutover.state import Cutover, Direction, Done
from provision.dns import update
from provision.dns.records import absolute
from provision.inventory.load import load
from tests.dns.records.conftest import run
from tests.dnsserver import ADDRESS, AuthoritativeServer

OLD_TTL = 3  # the provider's TTL: the test waits it out
OLD = [
    f"example.org. {OLD_TTL} MX 10 mx1.provider.invalid.",
    f"example.org. {OLD_TTL} MX 20 mx2.provider.invalid.",
    f'example.org. {OLD_TTL} TXT "v=spf1 include:spf.provider.invalid -all"',
    'example.org. 3600 TXT "google-site-verification=abc123"',
    f"autoconfig.example.org. {OLD_TTL} A 198.51.100.200",
]


@pytest.fixture
def accounts(tmp_path: Path) -> Path:
    path = tmp_path / "accounts.csv"
    path.write_text("source,target,password_file\nimaps://ann@127.0.0.1:1,ann@example.org,/nonexistent\n")
    return path


def cutover(action: str, inventory: Path, accounts: Path, *options: str) -> subprocess.CompletedProcess[str]:
    return run("cutover", action, str(inventory), "--from", str(accounts), *options)


def served(knot: AuthoritativeServer, name: str, rdtype: str) -> tuple[int | None, set[str]]:
    response = dns.query.tcp(dns.message.make_query(name, rdtype), ADDRESS, port=knot.port, timeout=5)
    rrset = response.get_rrset(response.answer, dns.name.from_text(name), dns.rdataclass.IN,
                               dns.rdatatype.from_text(rdtype))
    return (rrset.ttl, {rdata.to_text() for rdata in rrset}) if rrset else (None, set())


def test_plan_shows_every_step_and_the_records_of_the_switch_and_begins_nothing(inventory_copy, accounts):
    shown = cutover("plan", inventory_copy, accounts, "--short-ttl", "120")
    assert shown.returncode == 0, shown.stderr
    steps = [line.split()[:2] for line in shown.stdout.splitlines()[3:10]]
    assert steps == [["preflight", "next"], ["pre-sync", "pending"], ["ttl", "pending"],
                     ["switch", "pending"], ["final-delta", "pending"], ["verify", "pending"],
                     ["ttl-restore", "pending"]]
    assert "  example.org. 120 IN MX 10 mail.example.org.\n" in shown.stdout
    assert '  example.org. 120 IN TXT "v=spf1 mx -all"\n' in shown.stdout
    assert "  autoconfig.example.org. 120 IN CNAME mail.example.org.\n" in shown.stdout
    assert "DNS: by hand" in shown.stdout
    data = json.loads(cutover("plan", inventory_copy, accounts, "--json").stdout)
    assert data["direction"] == "to-server" and data["timing"]["short_ttl"] == 300
    assert {"name": "example.org.", "type": "MX", "ttl": 300, "values": ["10 mail.example.org."]} in \
        data["switch_records"]
    assert not states.path_in(inventory_copy).exists()


def test_bad_input_is_refused_one_line_per_problem_and_nothing_is_begun(tmp_path, inventory_copy, accounts):
    refused = cutover("run", tmp_path, tmp_path / "accounts.txt", "--dns-server", ADDRESS,
                      "--direction", "to-provider", "--provider-mx", "mx.provider.invalid")
    assert refused.returncode == 2
    assert refused.stderr.splitlines() == [
        f"provision: {tmp_path}: not an inventory directory (no hosts.yml)",
        f"provision: --from {tmp_path}/accounts.txt: not an accounts file (.csv or .yaml)",
        "provision: --dns-server and --tsig-key go together",
        "provision: --direction to-provider needs the provider's --provider-mx and --provider-spf",
        "provision: --provider-mx 'mx.provider.invalid': not an MX record (PREFERENCE HOST)",
        "provision: nothing was done: 5 problem(s)",
    ], refused.stderr
    bad_step = cutover("run", inventory_copy, accounts, "--until", "lunch")
    assert bad_step.returncode == 2 and "invalid choice: 'lunch'" in bad_step.stderr
    assert cutover("run", inventory_copy, accounts, "--short-ttl", "0").returncode == 2
    assert not states.path_in(inventory_copy).exists()


def test_a_state_file_of_another_cutover_or_a_damaged_one_is_refused(tmp_path, inventory_copy, accounts):
    other = tmp_path / "other.csv"
    other.write_text(accounts.read_text())
    states.save(inventory_copy, Cutover(Direction.TO_PROVIDER, str(other.resolve())))
    refused = cutover("status", inventory_copy, accounts)
    assert refused.returncode == 2
    assert refused.stderr.splitlines()[:2] == [
        f"provision: the cutover was begun --from {other.resolve()}, not {accounts.resolve()}",
        "provision: the cutover moves to-provider, not to-server"], refused.stderr
    states.path_in(inventory_copy).write_text('{"version": 1, "direction": "sideways"')
    damaged = cutover("run", inventory_copy, accounts)
    assert damaged.returncode == 2 and "is not a cutover state file" not in damaged.stderr
    assert "cannot be read" in damaged.stderr
    assert states.path_in(inventory_copy).read_text() == '{"version": 1, "direction": "sideways"'


def _begun(knot: AuthoritativeServer, key_file: Path, inventory: Path, accounts: Path) -> Cutover:
    """A cutover whose preflight read the provider's records from Knot and whose pre-sync is done (the
    mail passes need servers: tests/migrate/test_cutover.py)."""
    server = update.Server(ADDRESS, knot.port, update.read_key(key_file))
    domains = load(inventory).settings.domains
    old = Dns(server, tuple(absolute(domain) for domain in domains)).capture(domains)
    begun = Cutover(Direction.TO_SERVER, str(accounts.resolve()), old=old, old_ttl=OLD_TTL)
    for step in ("preflight", "pre-sync"):
        begun.done[step] = Done(states.now(), states.now(), "done by the test")
    states.save(inventory, begun)
    return begun


def test_ttl_is_lowered_and_waited_out_then_the_switch_points_the_names_at_the_new_server(
        knot, key_file, inventory_copy, accounts):
    knot.load({"example.org": OLD, "xn--bcher-kva.example": []})
    _begun(knot, key_file, inventory_copy, accounts)
    dns_options = ("--dns-server", ADDRESS, "--dns-port", str(knot.port), "--tsig-key", str(key_file),
                   "--short-ttl", "1")
    started = time.monotonic()
    lowered = cutover("run", inventory_copy, accounts, "--until", "ttl", *dns_options)
    assert lowered.returncode == 0, lowered.stderr
    assert time.monotonic() - started >= OLD_TTL - 1  # the wait counts from the update, a little earlier
    assert "== ttl: lower the TTL of MX, SPF and autoconfig to 1 s" in lowered.stderr
    assert f"for the old TTL ({OLD_TTL} s) to run out" in lowered.stderr
    assert served(knot, "example.org.", "MX") == (1, {"10 mx1.provider.invalid.", "20 mx2.provider.invalid."})
    assert served(knot, "autoconfig.example.org.", "A") == (1, {"198.51.100.200"})
    assert lowered.stdout.splitlines()[3].split()[:2] == ["ttl", "done"]
    assert lowered.stdout.endswith("stopped before switch\n")

    again = cutover("run", inventory_copy, accounts, "--until", "ttl", *dns_options)
    assert again.returncode == 0 and again.stdout == "ttl is done already\n", again.stdout

    switched = cutover("run", inventory_copy, accounts, "--until", "switch", *dns_options)
    assert switched.returncode == 0, switched.stderr
    assert "== ttl" not in switched.stderr and "== switch: point MX" in switched.stderr
    assert served(knot, "example.org.", "MX") == (1, {"10 mail.example.org."})
    # A TTL belongs to the whole RRset: the site verification beside the SPF record shares the short one.
    assert served(knot, "example.org.", "TXT") == (1, {'"google-site-verification=abc123"',
                                                        '"v=spf1 mx -all"'})
    assert served(knot, "autoconfig.example.org.", "A") == (None, set())
    assert served(knot, "autoconfig.example.org.", "CNAME") == (1, {"mail.example.org."})
    assert served(knot, "xn--bcher-kva.example.", "MX") == (1, {"10 mail.example.org."})
    status = json.loads(cutover("status", inventory_copy, accounts, "--json").stdout)
    assert [row["status"] for row in status["steps"]] == ["done"] * 4 + ["next", "pending", "pending"]
    text = states.path_in(inventory_copy).read_text()
    assert "secret" not in text and "BASE64" not in text


def test_a_rollback_before_the_switch_puts_the_old_records_back_and_ends_the_cutover(
        knot, key_file, inventory_copy, accounts):
    knot.load({"example.org": OLD, "xn--bcher-kva.example": []})
    _begun(knot, key_file, inventory_copy, accounts)
    dns_options = ("--dns-server", ADDRESS, "--dns-port", str(knot.port), "--tsig-key", str(key_file),
                   "--short-ttl", "1")
    assert cutover("run", inventory_copy, accounts, "--until", "ttl", *dns_options).returncode == 0
    assert served(knot, "example.org.", "MX")[0] == 1

    rolled = cutover("rollback", inventory_copy, accounts, *dns_options)
    assert rolled.returncode == 0, rolled.stderr
    assert rolled.stdout.startswith("rolled back: the old records back: ")
    assert served(knot, "example.org.", "MX") == (OLD_TTL, {"10 mx1.provider.invalid.",
                                                            "20 mx2.provider.invalid."})
    assert served(knot, "autoconfig.example.org.", "A") == (OLD_TTL, {"198.51.100.200"})
    assert served(knot, "autoconfig.example.org.", "CNAME") == (None, set())

    refused = cutover("run", inventory_copy, accounts, *dns_options)
    assert refused.returncode == 2 and "the cutover was rolled back at" in refused.stderr
    status = cutover("status", inventory_copy, accounts)
    assert status.returncode == 0 and "rolled back at" in status.stdout


def test_without_a_dns_server_the_records_are_printed_and_the_step_waits_for_the_hands(
        inventory_copy, accounts):
    begun = Cutover(Direction.TO_SERVER, str(accounts.resolve()), old_ttl=1)
    for step in ("preflight", "pre-sync", "ttl"):
        begun.done[step] = Done(states.now(), states.now(), "done by the test")
    begun.ttl_lowered_at = time.time()
    states.save(inventory_copy, begun)
    waiting = cutover("run", inventory_copy, accounts, "--until", "switch", "--short-ttl", "60")
    assert waiting.returncode == 1
    assert "change these records by hand (switched to the new server):\n" in waiting.stdout
    assert "  example.org. 60 IN MX 10 mail.example.org.\n" in waiting.stdout
    assert "hint: change the records shown, then run again with --changed-by-hand" in waiting.stderr
    done = cutover("run", inventory_copy, accounts, "--until", "switch", "--changed-by-hand")
    assert done.returncode == 0, done.stderr
    assert json.loads(states.path_in(inventory_copy).read_text())["done"]["switch"]["summary"] == \
        "switched to the new server: changed by hand"
