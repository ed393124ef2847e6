"""The monitor host (issue 17) watching the shared mail server: its targets up, then Dovecot stopped
until the alert fires in Alertmanager and its notice reaches a real mailbox.

The notice goes through the server's own port 25 (the only mailbox in reach), so it waits in the
queue while Dovecot is down and is delivered once Dovecot is back: the test reads it after that.
Scrape, evaluation and grouping are seconds here (role variables), minutes in the defaults.
"""

from __future__ import annotations

import email
import imaplib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.header import decode_header, make_header

import pytest
import yaml

from tests.conftest import MailServer, SandboxHost, provision, sandbox_name, start_sandbox, stop_sandbox
from tests.roles.test_mail import tls_context

SETTINGS = "group_vars/all/monitor.yml"
EXPORTERS = ("--tags", "exporters,web")  # the web role's handler reloads nginx for the metrics
RECIPIENT = "admin@example.test"
SERVICES = {"node", "dovecot", "smtp", "submission", "imaps", "https"}


@dataclass
class Watched:
    server: MailServer
    monitor: SandboxHost

    def status(self) -> tuple[int, dict]:
        done = provision("--json", "monitor", str(self.server.inventory), "status", env=self.server.env,
                         timeout=120)
        assert done.returncode in (0, 1), done.stderr
        return done.returncode, json.loads(done.stdout)


@pytest.fixture(scope="module")
def watched(mail_server: MailServer) -> Iterator[Watched]:
    monitor = start_sandbox(sandbox_name("mon"))
    settings = mail_server.inventory / SETTINGS
    settings.write_text(yaml.safe_dump({
        "exporters_enabled": True, "exporters_monitor_addresses": [monitor.address],
        "monitor_host": monitor.address, "monitor_alert_recipients": [RECIPIENT],
        # The relay: in this test the recipient's own server, as any sender on the Internet reaches it.
        "monitor_smtp_smarthost": f"{mail_server.host.address}:25", "monitor_smtp_require_tls": False,
        "monitor_alert_from": "alerts@monitor.example.net",
        "monitor_scrape_interval": "3s", "monitor_evaluation_interval": "3s", "monitor_alert_for": "6s",
        "monitor_alert_group_wait": "2s", "monitor_alert_group_interval": "10s"}))
    try:
        done = mail_server.apply(*EXPORTERS)
        assert done.returncode == 0, done.stderr + done.stdout
        done = provision("monitor", str(mail_server.inventory), "apply", env=mail_server.env)
        assert done.returncode == 0, done.stderr + done.stdout
        yield Watched(mail_server, monitor)
    finally:
        settings.unlink()
        done = mail_server.apply(*EXPORTERS)
        stop_sandbox(monitor.name)
        assert done.returncode == 0, done.stderr + done.stdout


def test_a_second_apply_changes_nothing(watched: Watched) -> None:
    done = provision("--json", "monitor", str(watched.server.inventory), "apply", env=watched.server.env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["changed"] == []


def test_status_shows_the_servers_targets_up(watched: Watched) -> None:
    deadline = time.monotonic() + 60
    while True:
        _, found = watched.status()
        up = {target["target"] for target in found["targets"]
              if target["up"] and target["customer"] == "example.test"}
        if up >= SERVICES or time.monotonic() > deadline:
            break
        time.sleep(3)
    assert up >= SERVICES, found["targets"]
    table = provision("monitor", str(watched.server.inventory), "status", env=watched.server.env)
    assert "imaps" in table.stdout and "example.test" in table.stdout, table.stdout


def test_dovecot_stopped_fires_an_alert_that_reaches_the_mailbox(watched: Watched) -> None:
    server = watched.server.host
    server.ssh("systemctl stop dovecot")
    try:
        deadline = time.monotonic() + 90
        while True:
            code, found = watched.status()
            firing = [alert for alert in found["alerts"]
                      if alert["alert"] == "ServiceDown" and "imaps" in alert["summary"]]
            if firing or time.monotonic() > deadline:
                break
            time.sleep(3)
        assert firing and code == 1, found
        assert firing[0]["customer"] == "example.test" and firing[0]["severity"] == "page"
        down = [target for target in found["targets"] if target["target"] == "imaps"]
        assert down and not down[0]["up"]
        # Alertmanager has handed the notice to the relay: it waits for Dovecot's LMTP.
        queued = _wait(lambda: "alerts@monitor.example.net" in server.ssh("postqueue -p").stdout, 60)
        assert queued, server.ssh("postqueue -p").stdout
    finally:
        server.ssh("systemctl start dovecot")
    server.ssh("postqueue -f")
    subject = _wait(lambda: _notice(watched.server), 120)
    assert subject and "FIRING" in subject and "ServiceDown" in subject, server.ssh(
        "postqueue -p; journalctl -u postfix -u dovecot --since -10min | grep -E 'lmtp|sieve|alerts@'").stdout


def _wait(probe, seconds: float):
    deadline = time.monotonic() + seconds
    while True:
        found = probe()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(2)


def _notice(server: MailServer) -> str | None:
    """The subject of the monitor's newest notice to the recipient, read over IMAPS. In INBOX or in Junk:
    here the relay is a bare address with no SPF or DKIM of its own, which the spam filter may hold
    against it; a real relay signs."""
    try:
        with imaplib.IMAP4_SSL(server.host.address, 993, ssl_context=tls_context(), timeout=30) as imap:
            imap.login(RECIPIENT, server.secret("vault_first_admin_password"))
            for folder in ("INBOX", "Junk"):
                imap.select(folder, readonly=True)
                _, numbers = imap.search(None, "FROM", "alerts@monitor.example.net")
                if numbers[0]:
                    _, data = imap.fetch(numbers[0].split()[-1], "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
                    break
            else:
                return None
    except OSError:  # Dovecot is starting again
        return None
    message = email.message_from_bytes(data[0][1])
    return str(make_header(decode_header(message["Subject"])))
