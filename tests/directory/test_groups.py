"""`provision groups`, `aliases` and `mailboxes shared` on the shared mail server, used with real clients.

Three people (A, B, C) with unique names are made for the module and removed at the end, with
every group, alias and shared mailbox made here.
"""

from __future__ import annotations

import imaplib
import json
import smtplib
import subprocess
import time
import uuid
from collections.abc import Iterator

import pytest

from tests.conftest import MailServer, provision
from tests.directory.test_users import inbound
from tests.roles.test_mail import fetch, message, submit, tls_context

PREFIX = f"g{uuid.uuid4().hex[:6]}"


def run(server: MailServer, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    command, action, *rest = args
    return provision(command, *action.split(), str(server.inventory), *rest, input=input, env=server.env,
                     timeout=120)


def ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def staff(mail_server) -> Iterator[dict[str, dict[str, str]]]:
    people = {}
    for who in "abc":
        uid = f"{PREFIX}{who}"
        people[who] = {"uid": uid, "mail": f"{uid}@example.test", "password": f"pw-{uuid.uuid4().hex}"}
        ok(run(mail_server, "users", "add", uid, "--name", f"Person {who.upper()}", "--mail",
               people[who]["mail"], "--password-stdin", input=people[who]["password"] + "\n"))
    yield people
    for kind, listing, key in (("groups", "list", "name"), ("mailboxes", "shared list", "address"),
                               ("aliases", "list", "address")):
        for row in json.loads(ok(run(mail_server, kind, listing, "--json"))):
            if PREFIX in row[key]:
                shared = kind == "mailboxes"
                ok(run(mail_server, kind, *(["shared remove", row[key], "--purge"] if shared else
                                            ["remove", row[key]])))
    for person in people.values():
        ok(run(mail_server, "users", "remove", person["uid"], "--purge"))


def login(server: MailServer, person: dict[str, str]) -> imaplib.IMAP4_SSL:
    imap = imaplib.IMAP4_SSL(server.host.address, 993, ssl_context=tls_context())
    imap.login(person["mail"], person["password"])
    return imap


def shared_view(server: MailServer, person: dict[str, str], address: str) -> tuple[bool, list[str] | None]:
    """Whether the person's folder list shows the shared mailbox, and the subjects in its INBOX
    (None when they cannot open it)."""
    with login(server, person) as imap:
        listed = any(line.decode().rsplit(" ", 1)[-1].strip('"') == f"shared/{address}"
                     for line in imap.list()[1])
        status, _ = imap.select(f'"shared/{address}/INBOX"', readonly=True)
        if status != "OK":
            return listed, None
        found = imap.search(None, "ALL")[1][0].split()
        return listed, [imap.fetch(number, "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")[1][0][1].decode().strip()
                        for number in found]


def inbox_subjects(server: MailServer, person: dict[str, str]) -> str:
    with login(server, person) as imap:
        imap.select("INBOX", readonly=True)
        found = imap.search(None, "ALL")[1][0].split()
        return "".join(imap.fetch(number, "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")[1][0][1].decode()
                       for number in found)


def test_mail_to_a_group_reaches_every_member_and_nobody_else(mail_server, staff):
    a, b, c = staff["a"], staff["b"], staff["c"]
    group, address = f"{PREFIX}-team", f"{PREFIX}-team@example.org"
    added = json.loads(ok(run(mail_server, "groups", "add", group, "--mail", address,
                              "--member", a["uid"], "--member", b["uid"], "--json")))
    assert added == {"name": group, "address": address, "members": sorted([a["uid"], b["uid"]]),
                     "kind": "list", "description": None}
    assert added in json.loads(ok(run(mail_server, "groups", "list", "--json")))
    subject = inbound(mail_server, address)
    for member in (a, b):
        assert subject.encode() in fetch(mail_server, member["mail"], member["password"], subject)
    assert subject not in inbox_subjects(mail_server, c)


def test_a_new_group_member_gets_the_next_mail(mail_server, staff):
    a, c = staff["a"], staff["c"]
    group, address = f"{PREFIX}-new", f"{PREFIX}-new@example.test"
    ok(run(mail_server, "groups", "add", group, "--mail", address, "--member", a["uid"]))
    shown = json.loads(ok(run(mail_server, "groups", "members", group, "--add", c["uid"], "--json")))
    assert shown["members"] == sorted([a["uid"], c["uid"]])
    subject = inbound(mail_server, address)
    assert f"Subject: {subject}".encode() in fetch(mail_server, c["mail"], c["password"], subject)
    ok(run(mail_server, "groups", "remove", group))
    with smtplib.SMTP(mail_server.host.address, 25, local_hostname="client.example.net", timeout=20) as smtp:
        smtp.starttls(context=tls_context())
        smtp.ehlo("client.example.net")
        smtp.mail("someone@example.net")
        assert smtp.rcpt(address)[0] == 550


def test_alias_delivers_to_its_targets(mail_server, staff):
    a, b, c = staff["a"], staff["b"], staff["c"]
    address = f"{PREFIX}-web@example.test"
    ok(run(mail_server, "aliases", "add", address, "--to", a["mail"], "--to", c["mail"]))
    listed = json.loads(ok(run(mail_server, "aliases", "list", "--json")))
    assert {"address": address, "targets": sorted([a["mail"], c["mail"]])} in listed
    subject = inbound(mail_server, address)
    for target in (a, c):
        assert subject.encode() in fetch(mail_server, target["mail"], target["password"], subject)
    assert subject not in inbox_subjects(mail_server, b)


def test_shared_mailbox_is_seen_by_its_members_only_and_a_removed_member_loses_it(mail_server, staff):
    a, b, c = staff["a"], staff["b"], staff["c"]
    address = f"info-{PREFIX}@example.test"
    ok(run(mail_server, "mailboxes", "shared add", address, "--member", a["uid"], "--member", b["uid"]))
    subject = inbound(mail_server, address)
    deadline = time.monotonic() + 20
    while shared_view(mail_server, a, address)[1] == [] and time.monotonic() < deadline:
        time.sleep(0.5)  # until delivered
    for member in (a, b):
        assert shared_view(mail_server, member, address) == (True, [f"Subject: {subject}"])
    assert shared_view(mail_server, c, address) == (False, None)
    assert subject not in inbox_subjects(mail_server, a)  # in the shared mailbox, not the members'

    session = login(mail_server, b)  # open before, and ended by the removal
    assert session.select(f'"shared/{address}/INBOX"', readonly=True)[0] == "OK"
    ok(run(mail_server, "mailboxes", "shared members", address, "--remove", b["uid"]))
    with pytest.raises((imaplib.IMAP4.abort, OSError)):
        session.noop()
        session.select(f'"shared/{address}/INBOX"', readonly=True)
    assert shared_view(mail_server, b, address) == (False, None)  # at once, nothing re-applied
    assert shared_view(mail_server, a, address)[1] == [f"Subject: {subject}"]


def test_members_may_send_as_the_shared_address_and_others_may_not(mail_server, staff):
    a, c = staff["a"], staff["c"]
    address = f"desk-{PREFIX}@example.test"
    ok(run(mail_server, "mailboxes", "shared add", address, "--member", a["uid"]))
    subject = f"from the desk {uuid.uuid4().hex}"
    submit(mail_server, a["mail"], a["password"], message(address, c["mail"], subject))
    assert f"From: {address}".encode() in fetch(mail_server, c["mail"], c["password"], subject)
    with pytest.raises(smtplib.SMTPRecipientsRefused, match="not owned by user"):
        submit(mail_server, c["mail"], c["password"], message(address, a["mail"], "not mine"))


@pytest.mark.parametrize("args, complaint", [
    (["groups", "add", "{p}-x", "--mail", "{p}-x@elsewhere.example", "--member", "{a}"],
     "not in the server's domains"),
    (["groups", "add", "{p}-x", "--mail", "{p}-x@example.test", "--member", "nobody-{p}"],
     "no person with the uid nobody-{p}"),
    (["groups", "add", "{p}-x", "--mail", "{a}@example.test", "--member", "{a}"],
     "already belongs to uid={a}"),
    (["groups", "add", "Bad Name", "--mail", "{p}-x@example.test", "--member", "{a}"], "is not a login name"),
    (["mailboxes", "shared add", "admin@example.test", "--member", "{a}"], "already belongs to uid=admin"),
    (["aliases", "add", "admin@example.test", "--to", "{a}@example.test"], "already belongs to uid=admin"),
    (["aliases", "remove", "{p}-none@example.test"], "no alias"),
    (["groups", "members", "{p}-none"], "no group {p}-none"),
])
def test_bad_input_exits_2_and_changes_nothing(mail_server, staff, args, complaint):
    values = {"p": PREFIX, "a": staff["a"]["uid"]}
    before = [ok(run(mail_server, kind, listing, "--json"))
              for kind, listing in (("groups", "list"), ("mailboxes", "shared list"), ("aliases", "list"))]
    done = run(mail_server, *(arg.format(**values) for arg in args))
    assert done.returncode == 2, done.stderr
    assert complaint.format(**values) in done.stderr
    after = [ok(run(mail_server, kind, listing, "--json"))
             for kind, listing in (("groups", "list"), ("mailboxes", "shared list"), ("aliases", "list"))]
    assert after == before


def test_the_last_member_stays_until_the_group_goes(mail_server, staff):
    a = staff["a"]
    group = f"{PREFIX}-solo"
    ok(run(mail_server, "groups", "add", group, "--mail", f"{group}@example.test", "--member", a["uid"]))
    done = run(mail_server, "groups", "members", group, "--remove", a["uid"])
    assert done.returncode == 2 and "would have no member left" in done.stderr
    done = run(mail_server, "users", "remove", a["uid"])
    assert done.returncode == 2 and "is the only member of" in done.stderr and group in done.stderr
    ok(run(mail_server, "groups", "remove", group))
