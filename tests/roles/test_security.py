"""The server against misuse: full mailboxes, forged senders, role addresses, crashes, weak TLS, listeners.

Each test leaves the shared server as it found it: its people and groups are removed at the end.
"""

from __future__ import annotations

import imaplib
import smtplib
import socket
import ssl
import time
import uuid

import pytest

from tests.conftest import MailServer
from tests.roles.test_mail import OUTSIDE, add_user, fetch, message, tls_context

BASE = "dc=example,dc=test"
SHARED = f"cn=team@example.test,ou=groups,{BASE}"


@pytest.fixture(scope="module")
def people(mail_server):
    """Two people; carla is a member of the shared mailbox team@ and has the alias orders@."""
    accounts = {"carla": ("carla@example.test", "carla-" + uuid.uuid4().hex),
                "dora": ("dora@example.test", "dora-" + uuid.uuid4().hex)}
    add_user(mail_server, "carla", accounts["carla"][0], accounts["carla"][1], "orders@example.test")
    add_user(mail_server, "dora", *accounts["dora"])
    group = "\n".join([f"dn: {SHARED}", "objectClass: groupOfNames", "objectClass: inetLocalMailRecipient",
                       "cn: team@example.test", "mailLocalAddress: team@example.test",
                       "mailRoutingAddress: team@example.test", f"member: uid=carla,ou=people,{BASE}", ""])
    mail_server.host.ssh(f"ldapadd -Q -Y EXTERNAL -H ldapi:/// <<'EOF'\n{group}EOF")
    yield accounts
    mail_server.host.ssh(f"ldapdelete -Q -Y EXTERNAL -H ldapi:/// {SHARED} uid=carla,ou=people,{BASE} "
                         f"uid=dora,ou=people,{BASE}; rm -rf /var/vmail/example.test/carla "
                         "/var/vmail/example.test/dora /var/vmail/example.test/team")


def submission(server: MailServer, login: str, password: str) -> smtplib.SMTP:
    smtp = smtplib.SMTP(server.host.address, 587, timeout=20)
    smtp.starttls(context=tls_context())
    smtp.login(login, password)
    return smtp


def queue(server: MailServer) -> str:
    return server.host.ssh("postqueue -j").stdout


# Backscatter ------------------------------------------------------------------------------------

def test_a_full_mailbox_is_refused_at_rcpt_and_nothing_bounces(mail_server, people):
    """A message the quota counts as 11 GiB (its size is in its Maildir name) fills dora's 10 GiB."""
    dora = people["dora"][0]
    home = mail_server.host.ssh(f"doveadm user -f home {dora}").stdout.strip()
    big = f"{home}/Maildir/cur/1.M1P1.filler,S=11811160064,W=11811160064:2,"
    maildir = f"{home}/Maildir"
    mail_server.host.ssh(f"install -d -o vmail -g vmail -m 700 {home} {maildir} {maildir}/cur {maildir}/new "
                         f"{maildir}/tmp && install -o vmail -g vmail -m 600 /dev/null '{big}' && "
                         f"doveadm quota recalc -u {dora}")
    sender = f"forged-{uuid.uuid4().hex[:8]}@example.net"
    try:
        with smtplib.SMTP(mail_server.host.address, 25, local_hostname=OUTSIDE, timeout=20) as smtp:
            smtp.ehlo(OUTSIDE)
            smtp.mail(sender)
            code, reply = smtp.rcpt(dora)
            assert (code, b"5.2.2" in reply) == (552, True), (code, reply)
            assert smtp.rcpt(people["carla"][0])[0] == 250  # a mailbox with room still takes mail
            smtp.rset()
        time.sleep(2)
        assert sender not in queue(mail_server)  # no bounce waits for the forged sender
    finally:
        mail_server.host.ssh(f"rm -f '{big}' && doveadm quota recalc -u {dora}")


# Forged senders --------------------------------------------------------------------------------

def test_a_forged_from_header_is_refused_and_never_signed(mail_server, people):
    (carla, password), (dora, dora_password) = people["carla"], people["dora"]
    forged = f"forged {uuid.uuid4().hex}"
    with submission(mail_server, carla, password) as smtp, \
            pytest.raises(smtplib.SMTPDataError) as refused:
        smtp.send_message(message(dora, dora, forged), from_addr=carla)  # envelope hers, From dora's
    assert refused.value.smtp_code == 550
    assert f"{carla} may not send as {dora} in the From header" in refused.value.smtp_error.decode()
    honest = f"honest {uuid.uuid4().hex}"
    with submission(mail_server, carla, password) as smtp:
        smtp.send_message(message(carla, dora, honest))
    assert b"DKIM-Signature:" in fetch(mail_server, dora, dora_password, honest)
    with imaplib.IMAP4_SSL(mail_server.host.address, 993, ssl_context=tls_context()) as imap:
        imap.login(dora, dora_password)
        imap.select("INBOX")
        assert imap.search(None, "SUBJECT", f'"{forged}"')[1] == [b""]  # refused, so never signed or sent


@pytest.mark.parametrize("address", ["orders@example.test", "team@example.test"], ids=["alias", "shared"])
def test_an_own_alias_or_shared_address_may_be_the_from_header(mail_server, people, address):
    (carla, password), (dora, dora_password) = people["carla"], people["dora"]
    subject = f"as {address} {uuid.uuid4().hex}"
    with submission(mail_server, carla, password) as smtp:
        smtp.send_message(message(address, dora, subject), from_addr=carla)
    assert b"DKIM-Signature:" in fetch(mail_server, dora, dora_password, subject)


def test_an_empty_envelope_sender_is_refused_after_login(mail_server, people):
    carla, password = people["carla"]
    with submission(mail_server, carla, password) as smtp:
        code, reply = smtp.mail("<>")
    assert code == 550 and b"empty envelope sender" in reply, (code, reply)


# Role addresses --------------------------------------------------------------------------------

@pytest.mark.parametrize("address", ["postmaster@example.test", "abuse@example.test",
                                     "postmaster@example.org", "abuse@example.org"])
def test_role_addresses_reach_the_first_administrator(mail_server, address):
    subject = f"to {address} {uuid.uuid4().hex}"
    with smtplib.SMTP(mail_server.host.address, 25, local_hostname=OUTSIDE, timeout=20) as smtp:
        smtp.starttls(context=tls_context())
        smtp.send_message(message("reporter@example.net", address, subject))
    fetch(mail_server, "admin@example.test", mail_server.secret("vault_first_admin_password"), subject)


# Crashes ---------------------------------------------------------------------------------------

def test_a_killed_slapd_comes_back_by_itself(mail_server):
    units = "slapd postfix@- dovecot nginx radicale opendkim provision-sender-check"
    policies = mail_server.host.ssh(f"systemctl show -P Restart {units}").stdout.split()
    assert policies == ["on-failure"] * 7, policies
    mail_server.host.ssh("kill -9 $(systemctl show -P MainPID slapd)")
    password = mail_server.secret("vault_first_admin_password")
    deadline = time.monotonic() + 60
    while True:
        ldap = mail_server.host.ssh("ldapsearch -Q -Y EXTERNAL -H ldapi:/// -b '' -s base dn", check=False)
        try:
            with imaplib.IMAP4_SSL(mail_server.host.address, 993, ssl_context=tls_context()) as imap:
                if ldap.returncode == 0 and imap.login("admin@example.test", password)[0] == "OK":
                    break
        except imaplib.IMAP4.error:
            pass
        assert time.monotonic() < deadline, "slapd did not come back within a minute"
        time.sleep(2)


# TLS -------------------------------------------------------------------------------------------

PORTS = {25: "smtp", 587: "smtp", 465: "tls", 993: "tls", 443: "tls"}


def handshake(address: str, port: int, ciphers: str) -> str:
    """The TLS 1.2 suite agreed when the client offers only `ciphers`; raises if none is."""
    context = ssl._create_unverified_context()
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(ciphers + ":@SECLEVEL=0")
    if PORTS[port] == "smtp":
        with smtplib.SMTP(address, port, local_hostname=OUTSIDE, timeout=10) as smtp:
            smtp.starttls(context=context)
            return smtp.sock.cipher()[0]
    with context.wrap_socket(socket.create_connection((address, port), 10)) as tls:
        return tls.cipher()[0]


@pytest.mark.parametrize("port", list(PORTS))
def test_ecdhe_suites_work_and_anonymous_ones_are_refused(mail_server, port):
    assert handshake(mail_server.host.address, port, "ECDHE+AESGCM").startswith("ECDHE-")
    with pytest.raises((ssl.SSLError, smtplib.SMTPException, ConnectionError)):
        handshake(mail_server.host.address, port, "aNULL")


@pytest.mark.parametrize("port", [587, 465, 993, 443])
def test_static_rsa_suites_are_refused_where_clients_connect(mail_server, port):
    with pytest.raises((ssl.SSLError, smtplib.SMTPException, ConnectionError)):
        handshake(mail_server.host.address, port, "kRSA")


# Listeners -------------------------------------------------------------------------------------

def test_imap_managesieve_and_ldap_listen_on_loopback_only(mail_server):
    listening = mail_server.host.ssh("ss -ltnH").stdout.split("\n")
    for port in (143, 4190, 389, 636):
        addresses = {line.split()[3].rpartition(":")[0] for line in listening
                     if line.split() and line.split()[3].endswith(f":{port}")}
        assert addresses and addresses <= {"127.0.0.1", "[::1]"}, (port, addresses)
