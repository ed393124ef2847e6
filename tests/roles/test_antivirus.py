"""Viruses, seen from outside: with provision_antivirus on the shared mail server, a message with the EICAR
test file attached is refused at SMTP time naming the virus, clean mail still arrives (also while clamd is
down), and turning the setting off again removes the scanner.

The shared server is switched on and off again rather than a server of its own booted (minutes of CI):
the last test turns it off and checks that nothing of the scanner is left running.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator

import pytest

from tests.conftest import MailServer

# The spam tests' senders, their DNS and erin who receives (filtering); pytest looks fixtures up here.
from tests.roles.test_spam import PARTNER, filtering, find, mail, send_from, senders_dns, signing_key  # noqa: F401

SETTINGS = "group_vars/all/provision.yml"
EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
SIGNATURE = "Provision-Test-EICAR"
# Test setup only, never the product's: the sandbox has no Internet, so freshclam cannot download
# ClamAV's signatures. clamd gets a database of one signature instead (an .ndb body signature: the EICAR
# string anywhere in a scanned part), and Debian's units, which start only once freshclam's main.* and
# daily.* are in /var/lib/clamav (ConditionPathExistsGlob), get a drop-in that resets that condition.
DATABASE = "/var/lib/clamav/provision-test.ndb"
DROPINS = ("/etc/systemd/system/clamav-daemon.service.d/zz-tests.conf",
           "/etc/systemd/system/clamav-daemon.socket.d/zz-tests.conf")
UNITS = ("clamav-freshclam.service", "clamav-daemon.socket", "clamav-daemon.service",
         "provision-clamav-ready.path")
CONFIG = "/etc/rspamd/local.d/antivirus.conf"
SOCKET = "/run/clamav/clamd.ctl"


def _switch(server: MailServer, on: bool) -> None:
    settings = server.inventory / SETTINGS
    text, count = re.subn(r"(?m)^provision_antivirus: .*$", f"provision_antivirus: {str(on).lower()}",
                          settings.read_text())
    assert count == 1, "provision init wrote no provision_antivirus line"
    settings.write_text(text)
    applied = server.apply("--tags", "rspamd")
    assert applied.returncode == 0, applied.stderr + applied.stdout


def _states(server: MailServer, command: str) -> list[str]:
    return server.host.ssh(f"systemctl {command} {' '.join(UNITS)}", check=False).stdout.split()


@pytest.fixture(scope="module")
def antivirus(mail_server: MailServer, request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    receiver = request.getfixturevalue("filtering")
    host = mail_server.host
    dropins = "; ".join(f"mkdir -p {path.rsplit('/', 1)[0]}; "
                        f"printf '[Unit]\\nConditionPathExistsGlob=\\n' > {path}" for path in DROPINS)
    host.ssh(f"mkdir -p /var/lib/clamav; echo '{SIGNATURE}:0:*:{EICAR.hex()}' > {DATABASE}; "
             f"{dropins}; systemctl daemon-reload")
    try:
        _switch(mail_server, True)
        yield receiver
    finally:
        if "provision_antivirus: true" in (mail_server.inventory / SETTINGS).read_text():
            _switch(mail_server, False)  # the last test did not get as far
        host.ssh(f"rm -f {DATABASE} {' '.join(DROPINS)}; systemctl daemon-reload")


def infected(sender: str, recipient: str, subject: str, payload: bytes = EICAR):
    message = mail(sender, recipient, subject)
    # No executable extension (.com, .exe): Rspamd scores those, and the clean one would land in Junk.
    message.add_attachment(payload, maintype="application", subtype="octet-stream", filename="figures.dat")
    return message


def wait_for_clamd(server: MailServer) -> None:
    """clamd answers on its socket (it loads its database after systemd hands it the socket)."""
    ping = ("import socket; s = socket.socket(socket.AF_UNIX); s.settimeout(5); "
            f"s.connect('{SOCKET}'); s.sendall(b'zPING\\0'); print(s.recv(16))")
    deadline = time.monotonic() + 60
    while "PONG" not in server.host.ssh(f'python3 -c "{ping}" 2>&1', check=False).stdout:
        assert time.monotonic() < deadline, "clamd never answered"
        time.sleep(1)


def test_an_eicar_attachment_is_refused_naming_the_virus(mail_server, sandbox, antivirus):
    login, _ = antivirus
    # What starts clamd on a real server once freshclam has the signatures (the test has its own).
    assert _states(mail_server, "is-active")[-1] == "active"
    wait_for_clamd(mail_server)
    sender = f"anna@{PARTNER}"
    raw = infected(sender, login, f"virus {uuid.uuid4().hex}").as_bytes()
    reply = send_from(sandbox, mail_server, sender, login, raw)
    assert 500 <= reply["code"] < 600, reply
    assert SIGNATURE in reply["reply"] and "virus" in reply["reply"], reply


def test_a_clean_attachment_still_arrives(mail_server, sandbox, antivirus):
    login, password = antivirus
    wait_for_clamd(mail_server)
    sender, subject = f"anna@{PARTNER}", f"clean attachment {uuid.uuid4().hex}"
    raw = infected(sender, login, subject, payload=b"just the quarterly figures\n" * 20).as_bytes()
    assert send_from(sandbox, mail_server, sender, login, raw)["code"] == 250
    assert find(mail_server, login, password, subject)[0] == "INBOX"


def test_mail_keeps_flowing_while_clamd_is_down(mail_server, sandbox, antivirus):
    """Fail-open: a message Rspamd could not have scanned arrives, marked CLAM_VIRUS_FAIL in its log."""
    login, password = antivirus
    host = mail_server.host
    host.ssh("systemctl stop clamav-daemon.socket clamav-daemon.service")  # the socket would start clamd
    try:
        sender, subject = f"anna@{PARTNER}", f"unscanned {uuid.uuid4().hex}"
        message = infected(sender, login, subject, payload=b"the minutes of the meeting\n" * 20)
        assert send_from(sandbox, mail_server, sender, login, message.as_bytes())["code"] == 250
        assert find(mail_server, login, password, subject)[0] == "INBOX"
        logged = host.ssh(f"grep -F {message['Message-ID'].strip('<>')} /var/log/rspamd/rspamd.log",
                          check=False).stdout
        assert "CLAM_VIRUS_FAIL" in logged, logged
    finally:
        host.ssh("systemctl start clamav-daemon.socket clamav-daemon.service")


def test_turning_antivirus_off_removes_the_scanner(mail_server, sandbox, antivirus):
    """Runs last: the server is left as before the module, bar ClamAV's packages, which stay stopped."""
    login, password = antivirus
    _switch(mail_server, False)
    host = mail_server.host
    assert host.ssh(f"test -e {CONFIG}", check=False).returncode != 0
    # failed: freshclam, which finds no Internet in a sandbox, may have given up; stopped all the same.
    assert set(_states(mail_server, "is-active")) <= {"inactive", "failed"}
    assert _states(mail_server, "is-enabled") == ["disabled"] * len(UNITS)
    # Rspamd asks no scanner any more: the EICAR file arrives (a harmless test string).
    sender, subject = f"anna@{PARTNER}", f"no scanner {uuid.uuid4().hex}"
    raw = infected(sender, login, subject).as_bytes()
    assert send_from(sandbox, mail_server, sender, login, raw)["code"] == 250
    assert find(mail_server, login, password, subject)[0] == "INBOX"
