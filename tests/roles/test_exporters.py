"""The exporters role on the shared mail server: node-exporter with the queue count and Dovecot's
OpenMetrics, served over HTTPS to the monitor host's address only; turned off again afterwards."""

from __future__ import annotations

import shlex
import socket
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from tests.conftest import MailServer, provision

SETTINGS = "group_vars/all/exporters.yml"
APPLY = ("--tags", "exporters,web")  # the web role's handler reloads nginx for the metrics locations


def _own_address(server: str) -> str:
    """This machine's address as the server sees it: the monitor host's, in this test."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect((server, 9))
        return probe.getsockname()[0]


def _get(url: str) -> tuple[int, str]:
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE  # the sandbox's own certificate
    try:
        with urllib.request.urlopen(url, context=context, timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, ""


@pytest.fixture(scope="module")
def exporting(mail_server: MailServer) -> Iterator[MailServer]:
    settings = mail_server.inventory / SETTINGS
    settings.write_text(f"exporters_enabled: true\nexporters_monitor_addresses: "
                        f"[{_own_address(mail_server.host.address)}]\n")
    try:
        done = mail_server.apply(*APPLY)
        assert done.returncode == 0, done.stderr + done.stdout
        yield mail_server
    finally:
        settings.unlink()
        done = mail_server.apply(*APPLY)
        assert done.returncode == 0, done.stderr + done.stdout
        assert "127.0.0.1:9100" not in mail_server.host.ssh("ss -ltnH").stdout


def test_the_monitor_host_reads_the_node_and_queue_metrics(exporting: MailServer) -> None:
    url = f"https://{exporting.host.address}/metrics/node"
    deadline = time.monotonic() + 90  # the queue counter's timer runs once at start
    status, body = _get(url)
    while 'postfix_queue_messages{queue="deferred"}' not in body and time.monotonic() < deadline:
        time.sleep(3)
        status, body = _get(url)
    assert status == 200
    assert "node_cpu_seconds_total" in body
    assert 'postfix_queue_messages{queue="deferred"} ' in body
    assert 'postfix_queue_oldest_seconds{queue="active"} ' in body


def test_the_monitor_host_reads_dovecots_openmetrics(exporting: MailServer) -> None:
    status, body = _get(f"https://{exporting.host.address}/metrics/dovecot")
    assert status == 200
    assert "dovecot_build_info" in body


def test_no_other_address_reaches_the_exporters(exporting: MailServer) -> None:
    # The server asking itself by its public address: a client that is not the monitor host.
    probe = ("import ssl, urllib.request, urllib.error\n"
             "context = ssl._create_unverified_context()\n"
             "for path in ('node', 'dovecot'):\n"
             "    try:\n"
             f"        urllib.request.urlopen('https://{exporting.host.address}/metrics/' + path, "
             "context=context)\n"
             "        print(200)\n"
             "    except urllib.error.HTTPError as error:\n"
             "        print(error.code)\n")
    assert exporting.host.ssh(f"python3 -c {shlex.quote(probe)}").stdout.split() == ["403", "403"]
    listening = exporting.host.ssh("ss -ltnH").stdout
    exporters = [line.split()[3] for line in listening.splitlines()
                 if line.split()[3].endswith((":9100", ":9900"))]
    assert sorted(exporters) == ["127.0.0.1:9100", "127.0.0.1:9900"]


def test_the_checks_results_reach_the_monitor_host_through_the_server(exporting: MailServer) -> None:
    done = provision("check", str(exporting.inventory), "--prometheus", "--push", "--only",
                     "host.disk,host.queue", env=exporting.env, timeout=180)
    assert done.returncode == 0, done.stderr
    assert "metrics written to /var/lib/prometheus/node-exporter/provision_check.prom" in done.stderr
    status, body = _get(f"https://{exporting.host.address}/metrics/node")
    assert status == 200
    assert 'provision_check_status{area="host",check="host.disk",customer="example.test"} 0' in body
    assert 'provision_check_timestamp_seconds{customer="example.test"} ' in body
