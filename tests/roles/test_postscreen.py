"""postscreen on port 25, seen from outside: DNS block lists by weight, and clients that talk first.

A Knot DNS on the sandbox network's gateway serves a fake block list, dnsbl.example.net; the mail
server's Unbound asks it (a test drop-in, as in test_spam), and the server's inventory names it as
its only list for this module (applied with --tags postfix, and undone at the end). postscreen
remembers each client it has passed (postscreen_cache_map) and the outside sandbox has one address,
so every test starts by making postscreen forget it.
"""

from __future__ import annotations

import json
import shlex
import time
import uuid

import pytest

from tests.conftest import MailServer, SandboxHost
from tests.dnsserver import AuthoritativeServer
from tests.roles import test_spam
from tests.roles.test_spam import GATEWAY, HELO, PARTNER, find, mail

ZONE = "dnsbl.example.net"
DROPIN = "/etc/unbound/unbound.conf.d/zz-tests-dnsbl.conf"
LISTS = "group_vars/all/zz-tests-postscreen.yml"
# The spam tests' user, erin, and the senders' DNS, shared as they are.
signing_key, senders_dns, filtering = test_spam.signing_key, test_spam.senders_dns, test_spam.filtering


@pytest.fixture(scope="module")
def block_list(tmp_path_factory, mail_server, sandbox):
    """The fake block list, weighted to reach the threshold alone; it answers as load() is told."""
    with AuthoritativeServer(tmp_path_factory.mktemp("dnsbl"), address=GATEWAY) as server:
        server.load({ZONE: []})
        host, lists = mail_server.host, mail_server.inventory / LISTS
        dropin = (f'server:\n    domain-insecure: "{ZONE}"\n    local-zone: "{ZONE}" transparent\n'
                  f'forward-zone:\n    name: "{ZONE}"\n    forward-addr: {GATEWAY}@{server.port}\n')
        try:
            host.ssh(f"cat > {DROPIN} <<'EOF'\n{dropin}EOF\nunbound-checkconf && systemctl reload unbound")
            site = f'{{name: {ZONE}, codes: "127.0.0.2", weight: 3}}'
            lists.write_text(f"postfix_postscreen_dnsbl_sites:\n  - {site}\n")
            applied = mail_server.apply("--tags", "postfix")
            assert applied.returncode == 0, applied.stderr + applied.stdout
            assert ZONE in host.ssh("postconf -h postscreen_dnsbl_sites").stdout
            yield server
        finally:
            lists.unlink(missing_ok=True)
            restored = mail_server.apply("--tags", "postfix")
            host.ssh(f"rm -f {DROPIN}; systemctl reload unbound")
            forget_clients(mail_server)
    assert restored.returncode == 0, restored.stderr + restored.stdout


def answer(dns: AuthoritativeServer, sandbox: SandboxHost, address: str | None) -> None:
    """The block list answers address for the outside sandbox, or nothing (not listed). A TTL of one
    second, so that the server's Unbound asks again at the next test."""
    name = ".".join(reversed(sandbox.address.split("."))) + f".{ZONE}."
    dns.load({ZONE: [f"{name} 1 A {address}"] if address else []})
    time.sleep(1.5)


def forget_clients(server: MailServer) -> None:
    """postscreen's cache of passed clients goes: the file, then the postscreen that has it open,
    which a reload retires (the next connection gets a new one). Not a restart: `systemctl stop
    postfix` now and then waits out systemd's 90 s stop timeout."""
    server.host.ssh(
        "old=$(pgrep -x postscreen); rm -f /var/lib/postfix/postscreen_cache.db &&"
        " postfix reload 2>/dev/null && "
        "for _ in $(seq 100); do { [ -z \"$old\" ] || ! kill -0 $old 2>/dev/null; } && exit 0;"
        " sleep 0.1; done; "
        "echo postscreen $old did not retire >&2; exit 1")


def send(outside: SandboxHost, server: MailServer, recipient: str, subject: str) -> dict:
    """A message from the outside sandbox to port 25, as a sending server would try it: the first
    refusal ends the attempt. Each step's reply, and the seconds it all took."""
    raw = mail(f"anna@{PARTNER}", recipient, subject).as_string()
    script = (
        "import json, smtplib, sys, time\n"
        "start, seen = time.monotonic(), {}\n"
        "try:\n"
        f"    s = smtplib.SMTP({server.host.address!r}, 25, local_hostname={HELO!r}, timeout=60)\n"
        "    s.ehlo()\n"
        f"    seen['mail'] = s.mail({'anna@' + PARTNER!r})[0]\n"
        f"    code, reply = s.rcpt({recipient!r})\n"
        "    seen['rcpt'] = [code, reply.decode()]\n"
        "    if code == 250:\n"
        "        seen['data'] = s.data(sys.argv[1])[0]\n"
        "    s.quit()\n"
        "except smtplib.SMTPException as error:\n"
        "    seen['error'] = repr(error)\n"
        "seen['seconds'] = time.monotonic() - start\n"
        "print(json.dumps(seen))\n")
    done = outside.ssh(shlex.join(["python3", "-c", script, raw]))
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_listed_client_is_refused_naming_the_list(mail_server, sandbox, filtering, block_list):
    login, password = filtering
    answer(block_list, sandbox, "127.0.0.2")
    forget_clients(mail_server)
    subject = f"listed {uuid.uuid4().hex}"
    seen = send(sandbox, mail_server, login, subject)
    code, reply = seen["rcpt"]
    assert code == 550 and "5.7.1" in reply and ZONE in reply, seen
    assert "data" not in seen
    with pytest.raises(AssertionError, match="never reached"):
        find(mail_server, login, password, subject, timeout=3)


def test_an_error_answer_of_the_list_refuses_nothing(mail_server, sandbox, filtering, block_list):
    """127.255.255.254 is what Spamhaus answers a query that came through a public resolver."""
    login, password = filtering
    answer(block_list, sandbox, "127.255.255.254")
    forget_clients(mail_server)
    subject = f"error answer {uuid.uuid4().hex}"
    seen = send(sandbox, mail_server, login, subject)
    assert seen.get("data") == 250, seen
    assert find(mail_server, login, password, subject)[0] in ("INBOX", "Junk")


def test_a_client_that_talks_before_the_banner_is_refused(mail_server, sandbox, filtering, block_list):
    """A zombie that does not wait for the banner: postscreen answers it at RCPT TO with 550 5.5.1
    Protocol error, and never hands it to smtpd."""
    login, _ = filtering
    answer(block_list, sandbox, None)
    forget_clients(mail_server)
    script = (
        "import json, socket, sys, time\n"
        "start = time.monotonic()\n"
        f"s = socket.create_connection(({mail_server.host.address!r}, 25), 60)\n"
        "f = s.makefile('rb')\n"
        "def reply():\n"
        "    while True:\n"
        "        line = f.readline()\n"
        "        if line[3:4] != b'-':\n"
        "            return line.decode().strip()\n"
        "def say(line):\n"
        "    s.sendall(line.encode() + b'\\r\\n'); return reply()\n"
        "s.sendall(b'EHLO ' + sys.argv[1].encode() + b'\\r\\n')  # before the banner\n"
        # The banner's first line (220-), then straight the answer to EHLO: no last banner line ever
        # comes, and a client that waits for one waits until postscreen hangs up.
        "codes = [reply(), say('MAIL FROM:<' + sys.argv[2] + '>'),\n"
        "         say('RCPT TO:<' + sys.argv[3] + '>')]\n"
        "print(json.dumps({'replies': codes, 'seconds': time.monotonic() - start}))\n")
    done = sandbox.ssh(shlex.join(["python3", "-c", script, HELO, f"anna@{PARTNER}", login]))
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["replies"][0].startswith("250 "), seen  # the answer to EHLO, after the banner's 220-
    assert seen["replies"][-1].startswith("550 5.5.1"), seen
    assert seen["seconds"] < 15, seen
