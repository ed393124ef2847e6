"""Abuse from outside and from a stolen password: SMTP AUTH guessers on 587, the never-ban list,
SMTP smuggling with bare newlines, and the per-sender rate limit.

The outside sandbox and the senders' DNS are the spam tests' (tests/roles/test_spam.py).
"""

from __future__ import annotations

import imaplib
import shlex
import smtplib
import time
import uuid

import pytest

from tests.bans import banned, lift_every_ban, reaches, wait_for_ban
from tests.conftest import MailServer, SandboxHost
from tests.dav import request
from tests.roles import test_spam
from tests.roles.test_mail import add_user, message, tls_context
from tests.roles.test_spam import HELO, PARTNER, find

# The spam tests' fixtures, shared as they are: a fixture is found by its name in the module.
signing_key, senders_dns, filtering = test_spam.signing_key, test_spam.senders_dns, test_spam.filtering
SETTINGS = "group_vars/all/provision.yml"


def guess_smtp_auth(outside: SandboxHost, server: MailServer, login: str, count: int = 10) -> set[str]:
    """Wrong SMTP AUTH passwords on 587 from the outside sandbox, all at once (Dovecot's auth penalty
    delays each failure from an address longer than the one before); what the connections saw."""
    script = (
        "import smtplib, ssl, threading\n"
        "seen = set()\n"
        "def guess(n):\n"
        "    try:\n"
        f"        with smtplib.SMTP({server.host.address!r}, 587, timeout=60) as s:\n"
        "            s.starttls(context=ssl._create_unverified_context())\n"
        f"            s.login({login!r}, 'wrong-' + str(n))\n"
        "    except smtplib.SMTPAuthenticationError:\n"
        "        seen.add('refused password')\n"
        "    except OSError:\n"
        "        seen.add('no answer')\n"
        f"threads = [threading.Thread(target=guess, args=(n,)) for n in range({count})]\n"
        "[thread.start() for thread in threads]; [thread.join() for thread in threads]\n"
        "print(' / '.join(sorted(seen)))\n")
    return set(outside.ssh(shlex.join(["python3", "-c", script])).stdout.strip().split(" / "))


def test_an_smtp_auth_guesser_on_587_is_banned_from_every_mail_port(mail_server, sandbox, filtering):
    login, password = filtering
    assert guess_smtp_auth(sandbox, mail_server, login) <= {"refused password", "no answer"}
    try:
        listed = wait_for_ban(mail_server, sandbox.address, "postfix-sasl")
        assert {ban["address"] for ban in listed} == {sandbox.address}
        assert not reaches(sandbox, mail_server, 587)
        assert not reaches(sandbox, mail_server, 25)
        # The user's own password still works from here, which is never banned.
        with smtplib.SMTP(mail_server.host.address, 587, timeout=30) as smtp:
            smtp.starttls(context=tls_context())
            assert smtp.login(login, password)[0] == 235
    finally:
        lift_every_ban(mail_server)
    assert reaches(sandbox, mail_server, 587)


def test_an_address_on_the_never_ban_list_is_never_banned(mail_server, sandbox, filtering):
    login, _ = filtering
    settings = mail_server.inventory / SETTINGS
    before = settings.read_text()
    settings.write_text(before + f"\nfail2ban_ignore_addresses: [{sandbox.address}]\n")
    try:
        applied = mail_server.apply("--tags", "fail2ban")
        assert applied.returncode == 0, applied.stderr + applied.stdout
        assert guess_smtp_auth(sandbox, mail_server, login) == {"refused password"}
        time.sleep(3)  # as long as a ban takes to appear in the test above
        assert banned(mail_server) == []
        assert reaches(sandbox, mail_server, 587)
    finally:
        settings.write_text(before)
        restored = mail_server.apply("--tags", "fail2ban")
        lift_every_ban(mail_server)  # the failures above, read again from the journal on reload
    assert restored.returncode == 0, restored.stderr + restored.stdout


def test_a_bare_newline_never_smuggles_a_second_message(mail_server, sandbox, filtering):
    """The classic smuggling payload (RFC 5321's end of data written with bare LFs, then a second
    transaction) arrives as one message whose body holds the would-be second one."""
    login, password = filtering
    subject, smuggled = f"carrier {uuid.uuid4().hex}", f"smuggled {uuid.uuid4().hex}"
    sender = f"billing@{PARTNER}"
    script = (
        "import socket, sys\n"
        f"s = socket.create_connection(({mail_server.host.address!r}, 25), 30)\n"
        "f = s.makefile('rb')\n"
        "def reply():\n"
        "    while True:\n"
        "        line = f.readline()\n"
        "        if line[3:4] != b'-':\n"
        "            return line[:3].decode()\n"
        "def say(line):\n"
        "    s.sendall(line.encode() + b'\\r\\n'); return reply()\n"
        "codes = [reply(), say('EHLO ' + sys.argv[1]), say('MAIL FROM:<' + sys.argv[2] + '>'),\n"
        "         say('RCPT TO:<' + sys.argv[3] + '>'), say('DATA')]\n"
        "head = 'From: %s\\r\\nTo: %s\\r\\nSubject: %s\\r\\n\\r\\n' % tuple(sys.argv[2:5])\n"
        "again = 'MAIL FROM:<%s>\\r\\nRCPT TO:<%s>\\r\\nDATA\\r\\n' % tuple(sys.argv[2:4])\n"
        "tail = 'Subject: %s\\r\\n\\r\\nsecond\\r\\n.\\r\\n' % sys.argv[5]\n"
        "s.sendall((head + 'hello\\n.\\n' + again + tail).encode())\n"
        "codes.append(reply())\n"
        "print(' '.join(codes))\n")
    done = sandbox.ssh(shlex.join(["python3", "-c", script, HELO, sender, login, subject, smuggled]))
    # One transaction: the server waits for a real end of data, and only the last line ends it.
    assert done.stdout.split() == ["220", "250", "250", "250", "354", "250"]
    _, raw = find(mail_server, login, password, subject)
    assert smuggled.encode() in raw
    with imaplib.IMAP4_SSL(mail_server.host.address, 993, ssl_context=tls_context()) as imap:
        imap.login(login, password)
        for folder in ("INBOX", "Junk"):
            imap.select(folder, readonly=True)
            assert imap.search(None, "SUBJECT", f'"{smuggled}"')[1] == [b""], folder


@pytest.fixture
def sender(mail_server):
    """A user of the server's own, whose rate limit no other test has used."""
    uid = "rate" + uuid.uuid4().hex[:8]
    password = uid + "-" + uuid.uuid4().hex
    add_user(mail_server, uid, f"{uid}@example.test", password)
    yield f"{uid}@example.test", password
    mail_server.host.ssh(f"ldapdelete -Q -Y EXTERNAL -H ldapi:/// uid={uid},ou=people,dc=example,dc=test; "
                         f"rm -rf /var/vmail/example.test/{uid}")


def test_a_stolen_password_cannot_send_more_than_the_rate_limit(mail_server, sender, filtering):
    """rspamd_ratelimit_user's burst (100 by default) leaves the server; the rest waits with a 4xx,
    and every message accepted before the limit is delivered."""
    address, password = sender
    recipient, recipient_password = filtering
    mark = uuid.uuid4().hex
    accepted, refusal = 0, None
    with smtplib.SMTP(mail_server.host.address, 587, timeout=60) as smtp:
        smtp.starttls(context=tls_context())
        smtp.login(address, password)
        for n in range(130):
            try:
                smtp.send_message(message(address, recipient, f"{mark} {n}"))
            except smtplib.SMTPResponseException as error:  # at the end of data, where Rspamd judges
                refusal = (error.smtp_code, error.smtp_error.decode())
                break
            accepted += 1
    assert refusal is not None, f"all {accepted} messages were accepted"
    assert refusal[0] // 100 == 4 and "ratelimit" in refusal[1].lower(), refusal
    assert 90 <= accepted <= 110, accepted
    with imaplib.IMAP4_SSL(mail_server.host.address, 993, ssl_context=tls_context()) as imap:
        imap.login(recipient, recipient_password)
        deadline = time.monotonic() + 60
        while True:
            imap.select("INBOX", readonly=True)
            delivered = len(imap.search(None, "SUBJECT", f'"{mark}"')[1][0].split())
            if delivered >= accepted or time.monotonic() > deadline:
                break
            time.sleep(1)
    assert delivered == accepted


def test_a_dav_password_guesser_is_banned_from_https(mail_server, sandbox, filtering):
    """Wrong DAV passwords from the outside sandbox, each after the request without credentials every
    DAV client sends first (a 401 that must not count): the sandbox is banned from 443, this machine
    (never banned) still gets in, and the ban is lifted after."""
    login, password = filtering
    uid = login.split("@")[0]
    script = (
        "import base64, http.client, ssl\n"
        "def propfind(credentials=None):\n"
        f"    c = http.client.HTTPSConnection({mail_server.host.address!r}, 443, timeout=30,\n"
        "                                    context=ssl._create_unverified_context())\n"
        f"    headers = {{'Host': {mail_server.host.hostname!r}, 'Depth': '0'}}\n"
        "    if credentials:\n"
        "        headers['Authorization'] = 'Basic ' + base64.b64encode(credentials.encode()).decode()\n"
        "    c.request('PROPFIND', '/', headers=headers); return c.getresponse().status\n"
        f"print(' '.join(str(propfind()) + '/' + str(propfind({uid!r} + ':wrong-' + str(n)))\n"
        "               for n in range(5)))\n")
    seen = sandbox.ssh(shlex.join(["python3", "-c", script])).stdout.split()
    assert seen and set(seen) == {"401/401"}, seen
    try:
        listed = wait_for_ban(mail_server, sandbox.address, "provision-radicale")
        assert {ban["address"] for ban in listed} == {sandbox.address}
        assert not reaches(sandbox, mail_server, 443)
        answer = request(mail_server.host.address, "PROPFIND", "/", uid, password, headers={"Depth": "0"},
                         host=mail_server.host.hostname)
        assert answer.status == 207, answer
    finally:
        lift_every_ban(mail_server)
    assert reaches(sandbox, mail_server, 443)
