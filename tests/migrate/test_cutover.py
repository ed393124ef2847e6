"""`provision cutover` from the provider sandbox to our server (the shared mail_server), with Knot on
loopback as the domains' DNS taking TSIG-signed updates: killed in the TTL wait and run again to the end,
and rolled back after the switch."""

from __future__ import annotations

import imaplib
import json
import os
import select
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import REPO, RUN, MailServer, provision
from tests.dns.records.conftest import KEY
from tests.dnsserver import ADDRESS, AuthoritativeServer
from tests.migrate import corpus
from tests.migrate.conftest import Seeded
from tests.migrate.test_migrate import assert_same_mail, by_folder

OLD_MX = "10 mx.provider.test."
OLD_SPF = '"v=spf1 a:mx.provider.test -all"'
KNOBS = ("--short-ttl", "1", "--little", "0", "--quiet-passes", "2", "--pass-interval", "1",
         # the sandbox's certificate is self-signed: CRIT for any real server, expected here
         "--check-skip", "services.tls.certificate", "--check-skip", "services.https.caldav")
PASSWORD = "a long enough test password\n"


@contextmanager
def person(mail_server: MailServer, tmp_path: Path, name: str) -> Iterator[str]:
    """A person at our server for the test's run, removed afterwards with their mail."""
    uid = f"cut{RUN}{name}"
    password = tmp_path / f"{name}.password"
    password.write_text(PASSWORD)
    added = provision("users", "add", str(mail_server.inventory), uid, "--name", f"Cutover {name}",
                      "--mail", f"{uid}@example.test", "--password-file", str(password), env=mail_server.env)
    assert added.returncode == 0, added.stderr
    try:
        yield f"{uid}@example.test"
    finally:
        provision("users", "remove", str(mail_server.inventory), uid, env=mail_server.env)


@contextmanager
def knot(tmp_path: Path, mail_server: MailServer, old_ttl: int) -> Iterator[AuthoritativeServer]:
    """The domains' DNS as the provider left it: MX and SPF at the provider, with the old TTL."""
    with AuthoritativeServer(tmp_path / "knot", update_key=KEY) as server:
        host = mail_server.host
        zones = {domain: [f"{domain}. {old_ttl} MX {OLD_MX}", f"{domain}. {old_ttl} TXT {OLD_SPF}"]
                 for domain in ("example.test", "example.org")}
        zones["example.test"].append(f"{host.hostname}. 3600 A {host.address}")
        server.load(zones)
        yield server


def served(server: AuthoritativeServer, name: str, rdtype: str) -> set[str]:
    return {rdata.to_text() for rdata in server.resolver().resolve(name, rdtype, search=False)}


def options(provider: Seeded, server: AuthoritativeServer, key: Path, tmp_path: Path) -> list[str]:
    return ["--dns-server", ADDRESS, "--dns-port", str(server.port), "--tsig-key", str(key),
            "--nameserver", f"{ADDRESS}:{server.port}", "--ca-file", str(provider.provider.ca_file),
            "--state", str(tmp_path / "migrate.sqlite"), *KNOBS]


def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "update.key"
    path.write_text(f'key "{KEY.name}" {{ algorithm {KEY.algorithm}; secret "{KEY.secret}"; }};\n')
    path.chmod(0o600)
    return path


def seed(provider: Seeded, name: str, count: int, seed_number: int = 1) -> None:
    conn = corpus.connect(provider.provider.address, provider.user(name),
                          provider.provider.passwords[provider.user(name)], str(provider.provider.ca_file))
    try:
        corpus.seed(conn, corpus.messages(provider.user(name), count, seed=seed_number, max_size=64 * 1024))
    finally:
        conn.logout()


def ours(mail_server: MailServer, address: str) -> imaplib.IMAP4_SSL:
    conn = imaplib.IMAP4_SSL(mail_server.host.address, 993, ssl_context=ssl._create_unverified_context(),
                             timeout=60)
    conn.login(address, PASSWORD.strip())
    return conn


def accounts(provider: Seeded, tmp_path: Path, name: str, address: str) -> Path:
    path = tmp_path / "accounts.csv"
    path.write_text(f"source,target,password_file\n{provider.url(name)},{address},"
                    f"{provider.password_file(name)}\n")
    return path


def test_a_cutover_killed_in_the_ttl_wait_resumes_and_moves_every_message_once(
        provider: Seeded, mail_server: MailServer, tmp_path: Path) -> None:
    seed(provider, "kim", 8)
    with person(mail_server, tmp_path, "kim") as address, knot(tmp_path, mail_server, 30) as server:
        listed = accounts(provider, tmp_path, "kim", address)
        try:
            _killed_and_resumed(provider, mail_server, tmp_path, server, address, listed)
        finally:
            (mail_server.inventory / "cutover-state.json").unlink(missing_ok=True)


def _killed_and_resumed(provider: Seeded, mail_server: MailServer, tmp_path: Path,
                        server: AuthoritativeServer, address: str, listed: Path) -> None:
    argv = [sys.executable, "-m", "provision", "cutover", "run", str(mail_server.inventory),
            "--from", str(listed), *options(provider, server, key_file(tmp_path), tmp_path)]
    killed = subprocess.Popen(argv, cwd=REPO, env={**os.environ, **mail_server.env}, text=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    said, deadline = "", time.monotonic() + 300
    assert killed.stderr is not None
    while "for the old TTL" not in said and time.monotonic() < deadline and killed.poll() is None:
        if select.select([killed.stderr], [], [], 1)[0]:
            said += killed.stderr.readline()
    killed.send_signal(signal.SIGKILL)
    killed.wait(timeout=30)
    assert "for the old TTL (30 s)" in said, said
    assert served(server, "example.test.", "MX") == {OLD_MX}  # lowered, not switched
    seed(provider, "kim", 2, seed_number=2)  # mail still arriving at the provider

    started = time.monotonic()
    resumed = provision("cutover", "run", str(mail_server.inventory), "--from", str(listed),
                        *options(provider, server, key_file(tmp_path), tmp_path), env=mail_server.env,
                        timeout=600)
    assert resumed.returncode == 0, resumed.stderr + resumed.stdout
    assert "== preflight" not in resumed.stderr and "== pre-sync" not in resumed.stderr
    assert "== ttl" in resumed.stderr and "the cutover is complete" in resumed.stdout
    assert time.monotonic() - started < 300
    hostname = f"10 {mail_server.host.hostname}."
    assert served(server, "example.test.", "MX") == {hostname}
    assert served(server, "example.org.", "MX") == {hostname}
    assert served(server, "example.test.", "TXT") == {'"v=spf1 mx -all"'}
    assert server.resolver().resolve("example.test.", "MX", search=False).rrset.ttl == 3600

    conn = ours(mail_server, address)
    try:
        assert_same_mail(by_folder(provider.snapshot("kim")), by_folder(corpus.snapshot(conn)))
    finally:
        conn.logout()
    status = json.loads(provision("--json", "cutover", "status", str(mail_server.inventory), "--from",
                                  str(listed), env=mail_server.env).stdout)
    assert [row["status"] for row in status["steps"]] == ["done"] * 7
    assert status["passes"][-1]["missing"] == 0


def test_a_rollback_after_the_switch_puts_the_provider_back_and_reports_what_arrived(
        provider: Seeded, mail_server: MailServer, tmp_path: Path) -> None:
    seed(provider, "lena", 4)
    with person(mail_server, tmp_path, "lena") as address, knot(tmp_path, mail_server, 2) as server:
        listed = accounts(provider, tmp_path, "lena", address)
        given = options(provider, server, key_file(tmp_path), tmp_path)
        try:
            switched = provision("cutover", "run", str(mail_server.inventory), "--from", str(listed),
                                 "--until", "switch", *given, env=mail_server.env, timeout=600)
            assert switched.returncode == 0, switched.stderr + switched.stdout
            assert served(server, "example.test.", "MX") == {f"10 {mail_server.host.hostname}."}
            conn = ours(mail_server, address)  # a message that reached the new server after the switch
            try:
                conn.append("INBOX", None, None, b"Subject: after the switch\r\nMessage-ID: <late@cut>\r\n"
                                                 b"\r\nhello\r\n")
            finally:
                conn.logout()

            rolled = provision("--json", "cutover", "rollback", str(mail_server.inventory), "--from",
                               str(listed), *given, env=mail_server.env, timeout=600)
            assert rolled.returncode == 0, rolled.stderr + rolled.stdout
            report = json.loads(rolled.stdout)
            assert [(row["user"], row["arrived"]) for row in report["arrived"]] == [(address, 1)]
            assert served(server, "example.test.", "MX") == {OLD_MX}
            assert served(server, "example.test.", "TXT") == {OLD_SPF}
            assert server.resolver().resolve("example.test.", "MX", search=False).rrset.ttl == 2
        finally:
            (mail_server.inventory / "cutover-state.json").unlink(missing_ok=True)
