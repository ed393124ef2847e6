"""The tls role's acme mode on a fresh sandbox, against Pebble: real HTTP-01 challenges, renewals.

Pebble runs on the host's side of the sandbox network with an HTTPS certificate from a CA of the
test's own, given to the inventory as provision_acme_ca_file. It resolves the sandbox's names with
a Knot server on loopback and fetches each challenge from the sandbox's port 80; nothing is
validated for free.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import SandboxHost, provision, sandbox_name, start_sandbox, stop_sandbox
from tests.dnsserver import AuthoritativeServer
from tests.pebble import Pebble

# The first apply is the whole site (other roles' handlers listen for "Certificate changed");
# later ones only the roles this test is about, to keep it short.
TAGS = "base,tls"
EXTRA_NAME = "autoconfig.example.test"
LIVE = "/etc/letsencrypt/live/provision"


@dataclass
class Server:
    host: SandboxHost
    directory: Path
    env: dict[str, str]
    pebble: Pebble
    work: Path
    check_first: subprocess.CompletedProcess[str]
    first: subprocess.CompletedProcess[str]
    requests_after_check: int
    timings: dict[str, float] = field(default_factory=dict)

    def apply(self, *args: str) -> dict:
        started = time.monotonic()
        done = provision("--json", "apply", str(self.directory), "--tags", TAGS, *args, env=self.env)
        step = f"apply {' '.join(args)}".strip() + " #"
        runs = sum(key.startswith(step) for key in self.timings)
        self.timings[f"{step}{runs + 1}"] = time.monotonic() - started
        assert done.returncode == 0, done.stderr[-3000:]
        return json.loads(done.stdout)

    def serial(self, path: str = "/etc/ssl/provision/fullchain.pem") -> int:
        out = self.host.ssh(["openssl", "x509", "-in", path, "-noout", "-serial"]).stdout
        return int(out.strip().removeprefix("serial="), 16)


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    """A fresh sandbox with an acme inventory against Pebble: `apply --check --tags tls`, then `apply`."""
    work = Path(tempfile.mkdtemp(prefix="provision-acme-"))
    host = start_sandbox(sandbox_name("acme"))  # also makes the bridge Pebble listens on
    try:
        with AuthoritativeServer(work / "dns") as dns:
            dns.load({"example.test": [f"{host.hostname}. 300 A {host.address}",
                                       f"{EXTRA_NAME}. 300 A {host.address}"]})
            with Pebble(work / "pebble", f"127.0.0.1:{dns.port}") as pebble:
                directory = work / "customer"
                password_file = work / "vault.password"
                password_file.write_text("test vault password\n")
                env = {"PROVISION_VAULT_PASSWORD_FILE": str(password_file)}
                init = provision("init", str(directory), "--domain", "example.test",
                                 "--hostname", host.hostname, "--host", host.address, "--sandbox",
                                 "--tls", "acme", "--admin-email", "hostmaster@example.test", env=env)
                assert init.returncode == 0, init.stderr
                settings = directory / "group_vars/all/provision.yml"
                text, count = re.subn(r"(?m)^provision_acme_directory: .*$",
                                      f"provision_acme_directory: {pebble.directory_url}\n"
                                      f"provision_acme_ca_file: {pebble.ca_file}", settings.read_text())
                assert count == 1, settings.read_text()
                settings.write_text(text)
                checked = provision("inventory", "check", str(directory), env=env)
                assert checked.returncode == 0, checked.stderr

                requests_before = len(pebble.acme_requests())  # Pebble's own start-up check
                started = time.monotonic()
                check_first = provision("--json", "apply", str(directory), "--tags", "tls", "--check",
                                        env=env)
                after_check = time.monotonic()
                requests_after_check = len(pebble.acme_requests()) - requests_before
                first = provision("--json", "apply", str(directory), env=env)
                yield Server(host, directory, env, pebble, work, check_first, first, requests_after_check,
                             {"apply --check (fresh)": after_check - started,
                              "apply (first)": time.monotonic() - after_check})
    finally:
        stop_sandbox(host.name)
        shutil.rmtree(work, ignore_errors=True)


def test_a_fresh_server_can_be_checked(server):
    """The tls role under --check before anything is installed (base's own check is not this test's)."""
    assert server.check_first.returncode == 0, server.check_first.stderr[-3000:]
    assert json.loads(server.check_first.stdout)["status"] == "ok"
    assert server.requests_after_check == 0, "apply --check asked the ACME server"


def test_first_apply_gets_the_certificate_from_pebble(server):
    assert server.first.returncode == 0, server.first.stderr[-3000:]
    result = json.loads(server.first.stdout)
    assert "Ask the ACME server for a certificate" in json.dumps(result["changed_tasks"])
    host = server.host
    out = host.ssh(["openssl", "x509", "-in", "/etc/ssl/provision/fullchain.pem", "-noout",
                    "-issuer", "-subject", "-ext", "subjectAltName"]).stdout
    assert re.search(r"issuer=.*Pebble Intermediate CA", out), out
    assert f"DNS:{host.hostname}" in out and "DNS:" + EXTRA_NAME not in out
    assert server.pebble.issued_serials() == [server.serial()]

    # The chain leads to the root Pebble made at its start, by openssl on this machine.
    chain = host.ssh("cat /etc/ssl/provision/fullchain.pem").stdout
    certificates = re.findall(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----\n", chain, re.S)
    assert len(certificates) >= 2, chain
    (server.work / "leaf.pem").write_text(certificates[0])
    (server.work / "intermediates.pem").write_text("".join(certificates[1:]))
    (server.work / "root.pem").write_text(server.pebble.roots())
    verified = subprocess.run(
        ["openssl", "verify", "-purpose", "sslserver", "-CAfile", str(server.work / "root.pem"),
         "-untrusted", str(server.work / "intermediates.pem"), str(server.work / "leaf.pem")],
        capture_output=True, text=True)
    assert verified.returncode == 0, verified.stdout + verified.stderr

    # Key and chain for the services: root:ssl-cert, the key 0640, and they belong together.
    modes = host.ssh("stat -c '%n %U %G %a' /etc/ssl/provision/fullchain.pem /etc/ssl/provision/privkey.pem")
    assert modes.stdout.split("\n")[:2] == ["/etc/ssl/provision/fullchain.pem root ssl-cert 644",
                                            "/etc/ssl/provision/privkey.pem root ssl-cert 640"]
    host.ssh("test \"$(openssl x509 -in /etc/ssl/provision/fullchain.pem -noout -pubkey)\" = "
             "\"$(openssl pkey -in /etc/ssl/provision/privkey.pem -pubout)\"")


def test_the_challenge_server_serves_nothing_else(server):
    host = server.host
    host.ssh("mkdir -p /var/lib/provision/acme/.well-known/acme-challenge && "
             "printf token > /var/lib/provision/acme/.well-known/acme-challenge/test-token")
    try:
        base = f"http://{host.address}"
        with urllib.request.urlopen(f"{base}/.well-known/acme-challenge/test-token", timeout=5) as answer:
            assert answer.read() == b"token"
        for path in ("/", "/index.lighttpd.html", "/.well-known/"):
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(base + path, timeout=5)
            assert refused.value.code in (403, 404), path
    finally:
        host.ssh("rm -f /var/lib/provision/acme/.well-known/acme-challenge/test-token")


def test_second_apply_changes_nothing_and_asks_pebble_nothing(server):
    serial, requests = server.serial(), len(server.pebble.acme_requests())
    result = server.apply()
    assert result["hosts"]["mail"]["changed"] == 0, result["changed_tasks"]
    assert server.pebble.acme_requests()[requests:] == []
    assert server.serial() == serial
    preview = server.apply("--check")
    assert preview["hosts"]["mail"]["changed"] == 0, preview["changed_tasks"]
    assert server.pebble.acme_requests()[requests:] == []


def test_renewals_trust_pebble_ca(server):
    """certbot.service carries the CA; a dry run with its environment renews against Pebble."""
    host = server.host
    environment = host.ssh("systemctl show certbot.service --property=Environment --value").stdout.split()
    assert "REQUESTS_CA_BUNDLE=/etc/letsencrypt/provision-acme-ca.pem" in environment
    # --dry-run goes to Let's Encrypt's staging server unless --server names another.
    renew = ["certbot", "renew", "--dry-run", "--no-random-sleep-on-renew", "--server",
             server.pebble.directory_url]
    untrusting = host.ssh(renew, check=False)
    assert untrusting.returncode != 0, "certbot trusted Pebble without the CA bundle"
    trusting = host.ssh(["env", *environment, *renew], check=False)
    assert trusting.returncode == 0, trusting.stdout + trusting.stderr
    assert "all simulated renewals succeeded" in trusting.stdout + trusting.stderr


def test_the_renewal_timer_installs_a_renewed_certificate(server):
    """certbot.service, as the timer starts it but forced to renew now: the deploy hook installs it."""
    host = server.host
    before = server.serial()
    host.ssh("mkdir -p /run/systemd/system/certbot.service.d && printf '%s\\n' '[Service]' 'ExecStart=' "
             "'ExecStart=/usr/bin/certbot -q renew --no-random-sleep-on-renew --force-renewal' "
             "> /run/systemd/system/certbot.service.d/zz-test.conf && systemctl daemon-reload")
    try:
        host.ssh("systemctl start certbot.service")
    finally:
        host.ssh("rm -r /run/systemd/system/certbot.service.d && systemctl daemon-reload")
    renewed = server.serial()
    assert renewed != before
    assert renewed == server.serial(f"{LIVE}/cert.pem")
    assert server.pebble.issued_serials()[-1] == renewed
    modes = host.ssh("stat -c '%U %G %a' /etc/ssl/provision/privkey.pem").stdout.strip()
    assert modes == "root ssl-cert 640"
    host.ssh(f"cmp /etc/ssl/provision/privkey.pem {LIVE}/privkey.pem")


def test_another_name_gets_a_new_certificate(server):
    """tls_names grows (as autoconfig will): the next apply orders a certificate for both names."""
    names = server.directory / "group_vars/all/tls-names.yml"
    names.write_text(f"tls_names: [{server.host.hostname}, {EXTRA_NAME}]\n")
    issued = len(server.pebble.issued_serials())
    result = server.apply()
    assert result["hosts"]["mail"]["changed"] > 0
    assert len(server.pebble.issued_serials()) == issued + 1
    assert server.serial() == server.pebble.issued_serials()[-1]
    out = server.host.ssh(["openssl", "x509", "-in", "/etc/ssl/provision/fullchain.pem", "-noout",
                           "-ext", "subjectAltName"]).stdout
    assert f"DNS:{server.host.hostname}" in out and f"DNS:{EXTRA_NAME}" in out
    again = server.apply()
    assert again["hosts"]["mail"]["changed"] == 0, again["changed_tasks"]
    print("timings:", {step: round(seconds, 1) for step, seconds in server.timings.items()})
