"""Spam and forged senders, seen from outside: a second sandbox sends to the mail server's port 25.

A Knot DNS on the sandbox network's gateway serves the senders' SPF, DKIM and DMARC records; the mail
server's Unbound asks it for those zones (a test drop-in beside provision's file, removed at the end).
"""

from __future__ import annotations

import base64
import imaplib
import json
import re
import shlex
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.bans import banned, reaches, wait_for_ban
from tests.conftest import MailServer, SandboxHost, provision
from tests.dnsserver import AuthoritativeServer, txt
from tests.roles.test_mail import add_user, tls_context

GATEWAY = "198.51.100.1"  # the host's address on the sandbox network, which sandboxes reach
PARTNER, STRICT, LOOSE = "partner.example", "strict.example", "loose.example"
REVERSE = "100.51.198.in-addr.arpa"  # the sandbox network's, so that the sender has a PTR like real ones
HELO = f"mx.{PARTNER}"  # the outside sandbox's name, forward and reverse
TEST_DROPIN = "/etc/unbound/unbound.conf.d/zz-tests.conf"
# Enough words for Rspamd's Bayes, which skips messages with few tokens.
WORDS = ("quarterly invoice delivery schedule warehouse inventory shipment customer order payment "
         "reminder meeting agenda project budget proposal contract signature approval department")


@pytest.fixture(scope="module")
def signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def senders_dns(tmp_path_factory, sandbox, signing_key):
    """The senders' domains: partner signs and may send from the outside sandbox (mx.partner.example,
    forward and reverse), strict and loose may not send at all (SPF -all) and publish DMARC p=reject
    and p=quarantine."""
    public = signing_key.public_key().public_bytes(serialization.Encoding.DER,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo)
    dkim_record = "v=DKIM1; k=rsa; p=" + base64.b64encode(public).decode()
    zones = {
        PARTNER: [f"{PARTNER}. 300 TXT {txt([f'v=spf1 ip4:{sandbox.address} -all'])}",
                  f"{PARTNER}. 300 MX 10 {HELO}.", f"{HELO}. 300 A {sandbox.address}",
                  f"mail._domainkey.{PARTNER}. 300 TXT {txt([dkim_record])}",
                  f"_dmarc.{PARTNER}. 300 TXT {txt(['v=DMARC1; p=reject'])}"],
        STRICT: [f"{STRICT}. 300 TXT {txt(['v=spf1 -all'])}",
                 f"_dmarc.{STRICT}. 300 TXT {txt(['v=DMARC1; p=reject'])}"],
        LOOSE: [f"{LOOSE}. 300 TXT {txt(['v=spf1 -all'])}",
                f"_dmarc.{LOOSE}. 300 TXT {txt(['v=DMARC1; p=quarantine'])}"],
        REVERSE: [f"{sandbox.address.split('.')[-1]}.{REVERSE}. 300 PTR {HELO}."],
    }
    with AuthoritativeServer(tmp_path_factory.mktemp("senders-dns"), address=GATEWAY) as server:
        server.load(zones)
        yield server


@pytest.fixture(scope="module")
def filtering(mail_server, senders_dns):
    """The mail server's resolver asks the test DNS for the senders' zones; a user, erin, receives."""
    forwards = "".join(f'server:\n    domain-insecure: "{zone}"\n    local-zone: "{zone}" transparent\n'
                       f'forward-zone:\n    name: "{zone}"\n    forward-addr: {GATEWAY}@{senders_dns.port}\n'
                       for zone in (PARTNER, STRICT, LOOSE, REVERSE))
    host = mail_server.host
    host.ssh(f"cat > {TEST_DROPIN} <<'EOF'\n{forwards}EOF\nunbound-checkconf && systemctl reload unbound")
    password = "erin-" + uuid.uuid4().hex
    add_user(mail_server, "erin", "erin@example.test", password)
    yield "erin@example.test", password
    host.ssh(f"rm -f {TEST_DROPIN}; systemctl reload unbound; "
             "ldapdelete -Q -Y EXTERNAL -H ldapi:/// uid=erin,ou=people,dc=example,dc=test; "
             "rm -rf /var/vmail/example.test/erin")


def mail(sender: str, recipient: str, subject: str, body: str = WORDS) -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, recipient, subject
    message["Date"] = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())
    message["Message-ID"] = f"<{uuid.uuid4().hex}@{sender.split('@')[1]}>"
    message.set_content(body + "\n")
    return message


def send_from(outside: SandboxHost, server: MailServer, sender: str, recipient: str, raw: bytes) -> dict:
    """Send raw over SMTP from the outside sandbox to port 25; the server's last reply."""
    script = (
        "import base64, json, smtplib, sys\n"
        "raw = base64.b64decode(sys.argv[1])\n"
        f"s = smtplib.SMTP({server.host.address!r}, 25, local_hostname={HELO!r}, timeout=60)\n"
        "s.ehlo()\n"
        f"s.mail({sender!r}); s.rcpt({recipient!r})\n"
        "code, reply = s.data(raw)\n"
        "s.quit()\n"
        "print(json.dumps({'code': code, 'reply': reply.decode()}))\n")
    # ssh hands the remote shell one command line: quoted once, here.
    done = outside.ssh(shlex.join(["python3", "-c", script, base64.b64encode(raw).decode()]))
    return json.loads(done.stdout.strip().splitlines()[-1])


def find(server: MailServer, login: str, password: str, subject: str,
         timeout: float = 30) -> tuple[str, bytes]:
    """The folder the message with this subject was delivered to, and the message."""
    deadline = time.monotonic() + timeout
    with imaplib.IMAP4_SSL(server.host.address, 993, ssl_context=tls_context()) as imap:
        imap.login(login, password)
        while True:
            for folder in ("INBOX", "Junk"):
                imap.select(folder, readonly=True)
                found = imap.search(None, "SUBJECT", f'"{subject}"')[1][0].split()
                if found:
                    return folder, imap.fetch(found[-1], "(BODY.PEEK[])")[1][0][1]
            assert time.monotonic() < deadline, f"{subject!r} never reached {login}"
            time.sleep(0.5)


def learned(server: MailServer) -> dict[str, int]:
    """How many messages Rspamd's Bayes has learned as spam and as ham, read from its store in Valkey
    (`rspamc stat` refreshes its figures only every few seconds)."""
    counts = server.host.ssh("valkey-cli --no-raw hmget RS learns_spam learns_ham").stdout
    spam, ham = (int(value) if value.isdigit() else 0 for value in re.findall(r'"(\d+)"|\(nil\)', counts))
    return {"spam": spam, "ham": ham}


def test_clean_signed_mail_lands_in_inbox_with_authentication_results(mail_server, sandbox, filtering,
                                                                      signing_key):
    login, password = filtering
    subject = f"clean {uuid.uuid4().hex}"
    raw = mail(f"anna@{PARTNER}", login, subject).as_bytes()
    pkcs1 = serialization.PrivateFormat.TraditionalOpenSSL  # what dkimpy reads
    key = signing_key.private_bytes(serialization.Encoding.PEM, pkcs1, serialization.NoEncryption())
    signed = [b"from", b"to", b"subject", b"date"]
    raw = raw.replace(b"\n", b"\r\n")  # as it goes over SMTP, so that the body hash holds
    raw = dkim.sign(raw, b"mail", PARTNER.encode(), key, include_headers=signed,
                    canonicalize=(b"relaxed", b"relaxed")) + raw
    reply = send_from(sandbox, mail_server, f"anna@{PARTNER}", login, raw)
    assert reply["code"] == 250, reply
    folder, received = find(mail_server, login, password, subject)
    assert folder == "INBOX"
    results = re.search(rb"^Authentication-Results:.*?(?=^\S)", received, re.M | re.S)
    assert results, received[:2000]
    for verdict in (rb"spf=pass", rb"dkim=pass", rb"dmarc=pass"):
        assert verdict in results.group(0), results.group(0)


def test_gtube_is_rejected(mail_server, sandbox, filtering):
    login, _ = filtering
    gtube = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
    raw = mail(f"anna@{PARTNER}", login, "gtube", body=f"{WORDS}\n\n{gtube}").as_bytes()
    reply = send_from(sandbox, mail_server, f"anna@{PARTNER}", login, raw)
    assert 500 <= reply["code"] < 600, reply


def test_forged_sender_of_a_reject_domain_is_refused_saying_why(mail_server, sandbox, filtering):
    login, _ = filtering
    raw = mail(f"boss@{STRICT}", login, f"forged {uuid.uuid4().hex}").as_bytes()
    reply = send_from(sandbox, mail_server, f"boss@{STRICT}", login, raw)
    assert 500 <= reply["code"] < 600, reply
    assert "DMARC" in reply["reply"], reply


def test_forged_sender_of_a_quarantine_domain_lands_in_junk(mail_server, sandbox, filtering):
    login, password = filtering
    subject = f"quarantined {uuid.uuid4().hex}"
    raw = mail(f"boss@{LOOSE}", login, subject).as_bytes()
    reply = send_from(sandbox, mail_server, f"boss@{LOOSE}", login, raw)
    assert reply["code"] == 250, reply
    folder, received = find(mail_server, login, password, subject)
    assert folder == "Junk", received[:2000]
    assert b"dmarc=fail" in received


def test_moving_into_and_out_of_junk_teaches_rspamd(mail_server, sandbox, filtering):
    """Into Junk: spam; out of Junk into INBOX: ham; out of Junk into Trash: nothing.

    The spam example arrives in INBOX (a partner's), the other two in Junk (forged, p=quarantine)."""
    login, password = filtering
    senders = {"spam": f"anna@{PARTNER}", "ham": f"boss@{LOOSE}", "trash": f"boss@{LOOSE}"}
    subjects = {name: f"learn {name} {uuid.uuid4().hex}" for name in senders}
    for name, subject in subjects.items():
        words = " ".join(sorted(WORDS.split(), key=lambda _: uuid.uuid4().hex))  # each message its own
        raw = mail(senders[name], login, subject, body=f"{name} {words} {uuid.uuid4().hex}").as_bytes()
        assert send_from(sandbox, mail_server, senders[name], login, raw)["code"] == 250
        find(mail_server, login, password, subject)

    def move(subject: str, source: str, target: str) -> None:
        with imaplib.IMAP4_SSL(mail_server.host.address, 993, ssl_context=tls_context()) as imap:
            imap.login(login, password)
            imap.select(source)
            found = imap.uid("SEARCH", None, "SUBJECT", f'"{subject}"')[1][0].split()
            assert found, f"{subject!r} is not in {source}"
            assert imap.uid("MOVE", found[-1], target)[0] == "OK"

    def taught(subject: str, source: str, target: str) -> dict[str, int]:
        """What Rspamd learned from the move: waits up to 3 s for it, which a move that teaches
        nothing waits out."""
        before = learned(mail_server)
        move(subject, source, target)
        deadline = time.monotonic() + 3
        while (after := learned(mail_server)) == before and time.monotonic() < deadline:
            time.sleep(0.5)
        return {kind: after[kind] - before[kind] for kind in after}

    assert taught(subjects["spam"], "INBOX", "Junk") == {"spam": 1, "ham": 0}
    assert taught(subjects["ham"], "Junk", "INBOX") == {"spam": 0, "ham": 1}
    assert taught(subjects["trash"], "Junk", "Trash") == {"spam": 0, "ham": 0}


def test_a_broken_rspamd_template_is_refused_before_rspamd_sees_it(mail_server, sandbox, filtering):
    """The customer's own actions.conf with a syntax error: apply fails at that file, the file on the
    server stays as it was, and mail keeps being checked."""
    own = mail_server.inventory / "templates/rspamd/etc/rspamd/local.d/actions.conf.j2"
    own.parent.mkdir(parents=True, exist_ok=True)
    own.write_text("reject = ;\n")
    before = mail_server.host.ssh("cat /etc/rspamd/local.d/actions.conf").stdout
    try:
        refused = mail_server.apply("--tags", "rspamd")
    finally:
        own.unlink()
    assert refused.returncode != 0
    assert "actions.conf" in refused.stdout + refused.stderr
    assert mail_server.host.ssh("cat /etc/rspamd/local.d/actions.conf").stdout == before
    login, _ = filtering
    raw = mail(f"boss@{STRICT}", login, f"still checked {uuid.uuid4().hex}").as_bytes()
    assert send_from(sandbox, mail_server, f"boss@{STRICT}", login, raw)["code"] == 554


def test_a_password_guesser_is_banned_and_bans_remove_lifts_it(mail_server, sandbox, filtering):
    """Wrong IMAP passwords from the outside sandbox ban it: its connections go unanswered, while this
    machine (provision's own address, never banned) still logs in after as many failures.
    Last in the module: the outside sandbox is let in again at the end."""
    login, password = filtering
    guesses = (
        "import imaplib, ssl, threading\n"
        "def guess(n):\n"
        "    try:\n"
        f"        with imaplib.IMAP4_SSL({mail_server.host.address!r}, 993, timeout=60,\n"
        "                ssl_context=ssl._create_unverified_context()) as imap:\n"
        f"            imap.login({login!r}, 'wrong-' + str(n))\n"
        "    except Exception:\n"
        "        pass\n"
        "threads = [threading.Thread(target=guess, args=(n,)) for n in range(10)]\n"
        "[thread.start() for thread in threads]; [thread.join() for thread in threads]\n")
    sandbox.ssh(shlex.join(["python3", "-c", guesses]))
    def guess(n: int) -> None:
        with imaplib.IMAP4_SSL(mail_server.host.address, 993, ssl_context=tls_context()) as imap, \
                pytest.raises(imaplib.IMAP4.error):
            imap.login(login, f"wrong-{n}")

    with ThreadPoolExecutor(max_workers=10) as pool:  # as many failures from here, never banned
        list(pool.map(guess, range(10)))
    listed = wait_for_ban(mail_server, sandbox.address, "provision-dovecot")
    assert {ban["address"] for ban in listed} == {sandbox.address}
    assert sandbox.address in mail_server.host.ssh("nft list table inet f2b-table").stdout
    assert not reaches(sandbox, mail_server, 993)
    with imaplib.IMAP4_SSL(mail_server.host.address, 993, ssl_context=tls_context()) as imap:
        assert imap.login(login, password)[0] == "OK"

    lifted = provision("bans", "remove", str(mail_server.inventory), sandbox.address, env=mail_server.env)
    assert lifted.returncode == 0, lifted.stderr
    assert banned(mail_server) == []
    assert reaches(sandbox, mail_server, 993)
