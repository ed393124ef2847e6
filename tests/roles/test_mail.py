"""The provisioned mail server, used as its users and the outside world use it."""

from __future__ import annotations

import imaplib
import json
import smtplib
import ssl
import time
import uuid
from email.message import EmailMessage

import dkim
import pytest

from tests.conftest import MailServer, provision

OUTSIDE = "client.example.net"


def tls_context(*, maximum: ssl.TLSVersion | None = None) -> ssl.SSLContext:
    """Trust anything (the sandbox certificate is self-signed), allow old versions when asked."""
    context = ssl._create_unverified_context()
    if maximum:
        context.minimum_version = ssl.TLSVersion.TLSv1
        context.maximum_version = maximum
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
    return context


def imap_login(server: MailServer, login: str, password: str) -> bool:
    """Whether a login on the server's IMAPS port succeeds, as a mail program makes it."""
    with imaplib.IMAP4_SSL(server.host.address, 993, ssl_context=tls_context(), timeout=30) as imap:
        try:
            imap.login(login, password)
        except imaplib.IMAP4.error:
            return False
        return True


def add_user(server: MailServer, uid: str, mail: str, password: str, *aliases: str) -> None:
    """A user in the directory, made as `provision users add` will; the password travels on stdin."""
    base = "dc=example,dc=test"
    ldif = "\n".join([f"dn: uid={uid},ou=people,{base}", "objectClass: inetOrgPerson",
                      "objectClass: inetLocalMailRecipient", f"uid: {uid}", f"cn: {uid.title()}",
                      f"sn: {uid.title()}", f"mail: {mail}",
                      *(f"mailLocalAddress: {alias}" for alias in aliases), ""])
    server.host.ssh(f"ldapadd -Q -Y EXTERNAL -H ldapi:/// <<'EOF'\n{ldif}EOF")
    dn = f"uid={uid},ou=people,{base}"
    server.host.ssh(f"umask 077; printf %s '{password}' > /run/pw; "  # -T takes the file whole
                    f"ldappasswd -Q -Y EXTERNAL -H ldapi:/// -T /run/pw {dn}; rm /run/pw")


@pytest.fixture(scope="module")
def users(mail_server):
    """Two staff members besides the first administrator."""
    accounts = {"anna": ("anna@example.test", "anna-" + uuid.uuid4().hex),
                "ben": ("ben@example.test", "ben-" + uuid.uuid4().hex)}
    add_user(mail_server, "anna", accounts["anna"][0], accounts["anna"][1], "sales@example.test")
    add_user(mail_server, "ben", *accounts["ben"])
    return accounts


def message(sender: str, recipient: str, subject: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = sender, recipient, subject
    mail["Message-ID"] = f"<{uuid.uuid4().hex}@{sender.split('@')[1]}>"
    mail.set_content("Hello from the tests.\n")
    return mail


def fetch(server: MailServer, login: str, password: str, subject: str, timeout: float = 20) -> bytes:
    """The raw message with this subject in the user's INBOX, waiting for delivery."""
    deadline = time.monotonic() + timeout
    with imaplib.IMAP4_SSL(server.host.address, 993, ssl_context=tls_context()) as imap:
        imap.login(login, password)
        while True:
            imap.select("INBOX")
            found = imap.search(None, "SUBJECT", f'"{subject}"')[1][0].split()
            if found:
                return imap.fetch(found[-1], "(BODY.PEEK[])")[1][0][1]
            assert time.monotonic() < deadline, f"{subject!r} never reached {login}"
            time.sleep(0.5)


def submit(server: MailServer, login: str, password: str, mail: EmailMessage, port: int = 587) -> None:
    if port == 465:
        client = smtplib.SMTP_SSL(server.host.address, 465, timeout=20, context=tls_context())
    else:
        client = smtplib.SMTP(server.host.address, port, timeout=20)
        client.starttls(context=tls_context())
    with client:
        client.login(login, password)
        client.send_message(mail)


def test_inbound_mail_is_delivered_and_read_over_imaps(mail_server, users):
    address, password = users["ben"]
    subject = f"inbound {uuid.uuid4().hex}"
    with smtplib.SMTP(mail_server.host.address, 25, local_hostname=OUTSIDE, timeout=20) as smtp:
        smtp.starttls(context=tls_context())
        smtp.send_message(message("someone@example.net", address, subject))
    assert f"Subject: {subject}".encode() in fetch(mail_server, address, password, subject)


def test_wrong_password_is_refused(mail_server, users):
    address, password = users["ben"]
    with imaplib.IMAP4_SSL(mail_server.host.address, 993, ssl_context=tls_context()) as imap, \
            pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        imap.login(address, password + "x")


def test_first_administrator_logs_in_with_the_vault_password(mail_server):
    with imaplib.IMAP4_SSL(mail_server.host.address, 993, ssl_context=tls_context()) as imap:
        assert imap.login("admin@example.test", mail_server.secret("vault_first_admin_password"))[0] == "OK"


@pytest.mark.parametrize("port", [25, 587])
def test_no_open_relay(mail_server, port):
    with smtplib.SMTP(mail_server.host.address, port, local_hostname=OUTSIDE, timeout=20) as smtp:
        smtp.starttls(context=tls_context())
        smtp.ehlo(OUTSIDE)
        code, _ = smtp.mail("someone@example.net")
        if code == 250:
            code, _ = smtp.rcpt("victim@example.com")
        assert 500 <= code < 600


def test_submission_offers_auth_only_after_starttls(mail_server):
    with smtplib.SMTP(mail_server.host.address, 587, local_hostname=OUTSIDE, timeout=20) as smtp:
        smtp.ehlo(OUTSIDE)
        assert not smtp.has_extn("auth")
        assert smtp.has_extn("starttls")
        smtp.starttls(context=tls_context())
        smtp.ehlo(OUTSIDE)
        assert "PLAIN" in smtp.esmtp_features["auth"]


def test_port_25_never_offers_auth(mail_server):
    with smtplib.SMTP(mail_server.host.address, 25, local_hostname=OUTSIDE, timeout=20) as smtp:
        smtp.starttls(context=tls_context())
        smtp.ehlo(OUTSIDE)
        assert not smtp.has_extn("auth")


@pytest.mark.parametrize("port", [587, 465])
def test_user_sends_to_user_signed_with_dkim(mail_server, users, port):
    (anna, anna_password), (ben, ben_password) = users["anna"], users["ben"]
    subject = f"internal {port} {uuid.uuid4().hex}"
    submit(mail_server, anna, anna_password, message(anna, ben, subject), port=port)
    received = fetch(mail_server, ben, ben_password, subject)
    assert b"DKIM-Signature:" in received
    records = json.loads(provision("--json", "dns", "records", str(mail_server.inventory),
                                   env=mail_server.env).stdout)["records"]
    published = {r["name"].rstrip(".").encode(): r["value"].encode() for r in records if r["type"] == "TXT"}
    assert dkim.verify(received, dnsfunc=lambda name, timeout=5: published.get(name.rstrip(b".")))


def test_sending_as_an_own_alias_works(mail_server, users):
    (_, anna_password), (ben, ben_password) = users["anna"], users["ben"]
    subject = f"alias {uuid.uuid4().hex}"
    submit(mail_server, "anna", anna_password, message("sales@example.test", ben, subject))
    fetch(mail_server, ben, ben_password, subject)


def test_sending_as_someone_else_is_refused(mail_server, users):
    (anna, anna_password), (ben, _) = users["anna"], users["ben"]
    with smtplib.SMTP(mail_server.host.address, 587, timeout=20) as smtp:
        smtp.starttls(context=tls_context())
        smtp.login(anna, anna_password)
        with pytest.raises(smtplib.SMTPRecipientsRefused, match="not owned by user"):
            smtp.send_message(message(ben, ben, "impersonation"))


def test_mail_to_an_alias_reaches_its_owner(mail_server, users):
    anna, anna_password = users["anna"]
    subject = f"to alias {uuid.uuid4().hex}"
    with smtplib.SMTP(mail_server.host.address, 25, local_hostname=OUTSIDE, timeout=20) as smtp:
        smtp.send_message(message("someone@example.net", "sales@example.test", subject))
    fetch(mail_server, anna, anna_password, subject)


def test_unknown_recipient_is_refused(mail_server):
    with smtplib.SMTP(mail_server.host.address, 25, local_hostname=OUTSIDE, timeout=20) as smtp:
        smtp.ehlo(OUTSIDE)
        smtp.mail("someone@example.net")
        code, _ = smtp.rcpt("nobody-here@example.test")
        assert code == 550


def _handshake(address: str, port: int, maximum: ssl.TLSVersion, starttls: bool) -> str:
    context = tls_context(maximum=maximum)
    if starttls:
        with smtplib.SMTP(address, port, timeout=10) as smtp:
            smtp.starttls(context=context)
            return smtp.sock.version()
    with context.wrap_socket(__import__("socket").create_connection((address, port), 10)) as tls:
        return tls.version()


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1:DeprecationWarning")
@pytest.mark.parametrize("port,starttls", [(25, True), (587, True), (465, False), (993, False)])
def test_tls_below_1_2_is_refused_everywhere(mail_server, port, starttls):
    address = mail_server.host.address
    assert _handshake(address, port, ssl.TLSVersion.TLSv1_2, starttls) == "TLSv1.2"
    for old in (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1):
        with pytest.raises((ssl.SSLError, smtplib.SMTPException, ConnectionError)):
            _handshake(address, port, old, starttls)


def test_ldaps_refuses_tls_below_1_2(mail_server):
    """636 is closed to the outside by the firewall, so it is tried from the server itself."""
    def handshake(version: str) -> int:
        return mail_server.host.ssh(f"openssl s_client -connect 127.0.0.1:636 {version} "
                                    "-cipher DEFAULT@SECLEVEL=0 </dev/null", check=False).returncode

    assert handshake("-tls1_2") == 0
    assert handshake("-tls1_1") != 0
    assert handshake("-tls1") != 0


def test_vacation_reply_is_sent(mail_server, users):
    """A user's Sieve vacation script answers mail from outside (the answer waits in the queue:
    sandboxes have no route to the sender's domain)."""
    ben, _ = users["ben"]
    script = 'require "vacation";\nvacation :days 1 :subject "Away" "I am away until Monday.";\n'
    mail_server.host.ssh(f"doveadm sieve put -a -u {ben} away <<'EOF'\n{script}EOF")
    try:
        sender = f"customer-{uuid.uuid4().hex[:8]}@example.net"
        with smtplib.SMTP(mail_server.host.address, 25, local_hostname=OUTSIDE, timeout=20) as smtp:
            smtp.send_message(message(sender, ben, "are you there?"))
        deadline = time.monotonic() + 20
        while sender not in mail_server.host.ssh("postqueue -j").stdout:
            assert time.monotonic() < deadline, "no vacation reply was queued"
            time.sleep(0.5)
    finally:
        mail_server.host.ssh(f"doveadm sieve deactivate -u {ben}; doveadm sieve delete -u {ben} away")
