"""The services area against the provisioned sandbox, healthy and deliberately broken, and a stalling server.

Every test that breaks the shared mail server restores it in a finally, as it found it.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import random
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from provision.check import runner
from provision.check.model import Options, Status, Target
from tests.conftest import MailServer, provision
from tests.marks import starts

TIMEOUT = "3"
CERTIFICATES = "/etc/ssl/provision"
Checks = dict[str, list[dict[str, str]]]


def check(server: MailServer, *args: str) -> tuple[int, Checks]:
    """`provision check --json INVENTORY ARGS`: the exit status and the checks by id."""
    done = provision("--json", "check", str(server.inventory), "--timeout", TIMEOUT, *args, env=server.env,
                     timeout=120)
    assert done.returncode in (0, 1), done.stderr
    found: Checks = {}
    for item in json.loads(done.stdout)["targets"][0]["checks"]:
        found.setdefault(item["id"], []).append(item)
    return done.returncode, found


def statuses(found: Checks, check_id: str) -> set[str]:
    return {item["status"] for item in found[check_id]}


def messages(found: Checks, check_id: str) -> str:
    return " / ".join(item["message"] for item in found[check_id])


@pytest.fixture(scope="module")
def own_ca(mail_server: MailServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sandbox's self-signed certificate, fetched over ssh, to be trusted with --ca-file."""
    path = tmp_path_factory.mktemp("services") / "sandbox.pem"
    path.write_text(mail_server.host.ssh(f"cat {CERTIFICATES}/fullchain.pem").stdout)
    return path


def test_a_provisioned_server_is_ok(mail_server: MailServer, own_ca: Path) -> None:
    status, found = check(mail_server, "--only", "services", "--ca-file", str(own_ca))
    problems = {check_id: messages(found, check_id) for check_id in found
                if statuses(found, check_id) != {"OK"}}
    assert problems == {}
    assert status == 0
    assert len(found["services.smtp.relay"]) == 2  # ports 25 and 587
    assert f"220 {mail_server.host.hostname}" in messages(found, "services.smtp.banner")
    assert "/.well-known/caldav" in messages(found, "services.https.caldav")


def test_a_self_signed_certificate_is_crit_without_ca_file(mail_server: MailServer) -> None:
    _, found = check(mail_server, "--only", "services.tls.certificate")
    assert statuses(found, "services.tls.certificate") == {"CRIT"}
    assert "self-signed" in messages(found, "services.tls.certificate")
    assert "tls_mode: acme" in found["services.tls.certificate"][0]["fix"]


@contextmanager
def postfix_changed(server: MailServer, command: str) -> Iterator[None]:
    """Postfix reloaded with command's changes, its configuration restored and reloaded afterwards."""
    server.host.ssh("cp -a /etc/postfix/main.cf /etc/postfix/master.cf /root/")
    try:
        server.host.ssh(f"{command} && postfix reload")
        yield
    finally:
        server.host.ssh("mv /root/main.cf /root/master.cf /etc/postfix/ && postfix reload")


@pytest.mark.parametrize("version", ["TLSv1", "TLSv1.1"])
def test_an_old_tls_version_accepted_by_postfix_is_crit(mail_server: MailServer, version: str) -> None:
    with postfix_changed(mail_server, f"postconf -e 'smtpd_tls_protocols = >={version}, <={version}'"):
        _, found = check(mail_server, "--only", "services.tls.version")
    assert statuses(found, "services.tls.version") == {"CRIT"}
    assert f"port 25 ({version})" in messages(found, "services.tls.version")
    assert "smtpd_tls_protocols" in found["services.tls.version"][0]["fix"]


def test_an_open_relay_is_crit_and_the_probe_queues_nothing(mail_server: MailServer) -> None:
    since = mail_server.host.ssh("date +%s").stdout.strip()
    with postfix_changed(mail_server, "postconf -e 'mynetworks = 0.0.0.0/0'"):
        _, found = check(mail_server, "--only", "services.smtp.relay")
    by_port = {item["message"].split(" port ")[1].split()[0]: item for item in found["services.smtp.relay"]}
    assert by_port["25"]["status"] == "CRIT" and "open relay" in by_port["25"]["message"]
    assert by_port["587"]["status"] == "OK"  # submission still wants a login
    queue = mail_server.host.ssh("postqueue -j").stdout
    assert "relay-test" not in queue
    queued = mail_server.host.ssh(f"journalctl --no-pager --since @{since} _COMM=qmgr _COMM=smtp").stdout
    assert "relay-test" not in queued  # never handed to the queue manager, never sent


def test_auth_before_starttls_on_submission_is_crit(mail_server: MailServer) -> None:
    changes = ("postconf -P submission/inet/smtpd_tls_security_level=may "
               "submission/inet/smtpd_tls_auth_only=no")
    with postfix_changed(mail_server, changes):
        _, found = check(mail_server, "--only", "services.submission.auth_after_tls")
    assert statuses(found, "services.submission.auth_after_tls") == {"CRIT"}
    assert "before STARTTLS" in messages(found, "services.submission.auth_after_tls")


def test_imaps_is_crit_while_dovecot_is_stopped(mail_server: MailServer) -> None:
    try:
        mail_server.host.ssh("systemctl stop dovecot")
        _, found = check(mail_server, "--only", "services.imap")
    finally:
        mail_server.host.ssh("systemctl start dovecot")
    assert statuses(found, "services.imap.tls") == {"CRIT"}
    assert "port 993: Connection refused" in messages(found, "services.imap.tls")
    assert "systemctl start dovecot" in found["services.imap.tls"][0]["fix"]


def certificate(directory: Path, name: str, days: tuple[int, int]) -> tuple[Path, str, str]:
    """A CA file, and a certificate chain and key (PEM) for name, valid from days[0] to days[1] from now."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "provision services test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=30))
          .not_valid_after(now + datetime.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    leaf = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now + datetime.timedelta(days=days[0]))
            .not_valid_after(now + datetime.timedelta(days=days[1]))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    ca_file = directory / "ca.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    chain = b"".join(item.public_bytes(serialization.Encoding.PEM) for item in (leaf, ca)).decode()
    return ca_file, chain, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption()).decode()


@contextmanager
def certificate_installed(server: MailServer, chain: str, key: str) -> Iterator[None]:
    """Postfix and Dovecot serving chain and key in place of the provisioned ones, restored afterwards."""
    reload = "postfix reload && systemctl reload dovecot"
    server.host.ssh(f"cp -a {CERTIFICATES} /root/provision-certificates.saved")
    try:
        server.host.ssh(f"cat > {CERTIFICATES}/fullchain.pem <<'EOF'\n{chain}EOF\n"
                        f"cat > {CERTIFICATES}/privkey.pem <<'EOF'\n{key}EOF\n{reload}")
        yield
    finally:
        server.host.ssh(f"cp -a /root/provision-certificates.saved/. {CERTIFICATES}/ && "
                        f"rm -r /root/provision-certificates.saved && {reload}")


@pytest.mark.parametrize(("case", "days", "named"), [
    ("expired", (-60, -2), None),
    ("wrong name", (-1, 90), "wrong.example.test"),
])
def test_a_bad_certificate_is_crit(mail_server: MailServer, tmp_path: Path, case: str, days: tuple[int, int],
                                   named: str | None) -> None:
    hostname = mail_server.host.hostname
    ca_file, chain, key = certificate(tmp_path, named or hostname, days)
    with certificate_installed(mail_server, chain, key):
        _, found = check(mail_server, "--only", "services.tls", "--skip", "services.tls.version",
                         "--ca-file", str(ca_file))
    trust = messages(found, "services.tls.certificate")
    assert statuses(found, "services.tls.certificate") == {"CRIT"}
    if case == "expired":
        assert "port 25: certificate has expired" in trust
        assert statuses(found, "services.tls.expiry") == {"CRIT"}
        assert "expired on" in messages(found, "services.tls.expiry")
    else:
        assert f"port 993: issued for wrong.example.test, not {hostname}" in trust
        assert statuses(found, "services.tls.expiry") == {"OK"}


@contextmanager
@starts("network")
def stalling_server(greet: tuple[int, ...], silent: tuple[int, ...]) -> Iterator[str]:
    """A loopback address whose greet ports say 220 and then nothing more; its silent ports say nothing."""
    while True:  # an address of 127/8 no one else uses, so the real port numbers are free
        address = f"127.{random.randint(1, 254)}.{random.randint(0, 255)}.{random.randint(2, 254)}"
        listeners: list[socket.socket] = []
        try:
            for port in (*greet, *silent):
                listeners.append(socket.create_server((address, port)))
            break
        except OSError:
            for listener in listeners:
                listener.close()
    accepted: list[socket.socket] = []

    def serve(listener: socket.socket, banner: bytes) -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:  # closed: the test is over
                return
            accepted.append(connection)
            connection.sendall(banner)

    for listener in listeners:
        banner = b"220 stall.test ESMTP\r\n" if listener.getsockname()[1] in greet else b""
        threading.Thread(target=serve, args=(listener, banner), daemon=True).start()
    try:
        yield address
    finally:
        for open_socket in (*listeners, *accepted):
            open_socket.close()


def test_a_stalling_server_is_unknown_within_the_timeout() -> None:
    with stalling_server(greet=(25, 587), silent=(465, 993)) as address:
        target = Target("stall", ("stall.test",), (ipaddress.ip_address(address),), helo="stall.test")
        started = time.monotonic()
        options = Options(timeout=1.0, check_timeout=20.0)
        report = runner.run([target], options, runner.Selection(("services",)))
        took = time.monotonic() - started
    by_id = {item.id: item for item in report[0].checks}
    stalled = ("services.smtp.banner", "services.smtp.relay", "services.submission.auth_after_tls",
               "services.submissions.tls", "services.tls.certificate", "services.tls.version",
               "services.imap.tls")
    for check_id in stalled:
        assert by_id[check_id].status is Status.UNKNOWN, by_id[check_id]
        assert "no answer within 1 s" in by_id[check_id].message
    assert "after EHLO" in by_id["services.smtp.banner"].message  # it greeted, then stalled
    assert by_id["services.ldap.anonymous"].status is Status.OK  # nothing listens there
    assert took < 15


@contextmanager
def ldap_open_from_outside(server: MailServer) -> Iterator[None]:
    """slapd listening on every address (it listens on loopback only) and port 389 let through the
    firewall (nftables' table provision); both as before afterwards."""
    server.host.ssh("cp -p /etc/default/slapd /root/slapd.orig && sed -i 's#ldap://127.0.0.1/#ldap:///#' "
                    "/etc/default/slapd && systemctl restart slapd && "
                    "nft insert rule inet provision input tcp dport 389 accept")
    try:
        yield
    finally:
        server.host.ssh("nft -a list chain inet provision input | awk '/dport 389 accept/ { print $NF }' | "
                        "xargs -r -n 1 nft delete rule inet provision input handle; "
                        "mv /root/slapd.orig /etc/default/slapd && systemctl restart slapd")


# Anyone may read everything but the passwords: a rule before provision's own, after the password rule.
PEOPLE_READABLE = """dn: olcDatabase={1}mdb,cn=config
changetype: modify
add: olcAccess
olcAccess: {2}to * by * read
"""
PEOPLE_PRIVATE = """dn: olcDatabase={1}mdb,cn=config
changetype: modify
delete: olcAccess
olcAccess: {2}
"""


def test_ldap_open_from_outside_is_judged_by_what_anyone_can_read(mail_server: MailServer) -> None:
    with ldap_open_from_outside(mail_server):
        _, private = check(mail_server, "--only", "services.ldap")
        ldapmodify = "ldapmodify -Q -Y EXTERNAL -H ldapi:/// <<'EOF'\n{}EOF\n"
        mail_server.host.ssh(ldapmodify.format(PEOPLE_READABLE))
        try:
            _, readable = check(mail_server, "--only", "services.ldap")
        finally:
            mail_server.host.ssh(ldapmodify.format(PEOPLE_PRIVATE))
    _, closed = check(mail_server, "--only", "services.ldap")
    assert statuses(private, "services.ldap.anonymous") == {"OK"}
    assert "port 389 is open from outside but shows no people anonymously" in messages(
        private, "services.ldap.anonymous")
    assert statuses(readable, "services.ldap.anonymous") == {"CRIT"}
    assert "anyone can read people under dc=example,dc=test" in messages(readable, "services.ldap.anonymous")
    assert "close ports 389 and 636" in readable["services.ldap.anonymous"][0]["fix"]
    assert statuses(closed, "services.ldap.anonymous") == {"OK"}
    assert "LDAP ports 389 and 636 closed" in messages(closed, "services.ldap.anonymous")
