"""Sieve scripts move with `provision migrate`: read from the provider's ManageSieve (STARTTLS, the
IMAP password), checked and stored on our server (the shared mail_server), the active one active. A
script our server cannot run is named in the report with its reason, and the run fails."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from provision.directory.mailstore import home
from tests.conftest import RUN, MailServer, provision
from tests.migrate.conftest import Seeded
from tests.migrate.provider import set_users

VACATION = (b'require ["vacation"];\r\n'
            b'vacation :days 1 :subject "Out of office" "I am away until Monday. -- Sieglinde";\r\n')
FILTER = (b'require ["fileinto"];\r\n# invoices to their folder\r\n'
          b'if header :contains "subject" "invoice" {\r\n  fileinto "Invoices";\r\n}\r\n')
UNKNOWN = b'require ["vnd.nonexistent"];\r\nkeep;\r\n'


def run(*args: str, env: dict[str, str] | None = None):
    return provision(*args, env=env, timeout=600)


def sieve_user(provider: Seeded, name: str, scripts: dict[str, bytes], active: str) -> str:
    """A provider account holding scripts: stored with the provider's own doveadm where it takes them,
    written to its Sieve storage directly where its Sieve would refuse them (an extension ours lacks)."""
    user = provider.user(name)
    set_users(provider.provider, {**provider.provider.passwords, user: f"pw-{name}-{RUN}-sieve"})
    home = f"/srv/mail/{user}"
    provider.provider.ssh(f"rm -rf {home} && mkdir -p {home}/sieve && chown -R vmail:vmail {home}")
    for script, data in scripts.items():
        if b"vnd.nonexistent" in data:
            provider.provider.ssh(f"base64 -d > {home}/sieve/{script}.sieve && chown vmail:vmail "
                                  f"{home}/sieve/{script}.sieve", base64.b64encode(data).decode())
        else:
            provider.provider.ssh(f"base64 -d | doveadm sieve put -u {user} {script}",
                                  base64.b64encode(data).decode())
    provider.provider.ssh(f"doveadm sieve activate -u {user} {active}")
    return name


@pytest.fixture
def person(mail_server: MailServer, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A person on our server, one per test, removed afterwards with their mailbox and scripts."""
    uid = f"sieve{RUN}{hashlib.sha256(request.node.name.encode()).hexdigest()[:4]}"
    password = tmp_path / "person.password"
    password.write_text("a long enough test password\n")
    added = run("users", "add", str(mail_server.inventory), uid, "--name", "Sieglinde Sieve",
                "--mail", f"{uid}@example.test", "--password-file", str(password), env=mail_server.env)
    assert added.returncode == 0, added.stderr
    yield f"{uid}@example.test"
    run("users", "remove", str(mail_server.inventory), uid, env=mail_server.env)


def migrate(provider: Seeded, name: str, target: str, mail_server: MailServer, tmp_path: Path):
    accounts = tmp_path / "accounts.csv"
    accounts.write_text(f"source,target,password_file\n{provider.url(name)},{target},"
                        f"{provider.password_file(name)}\n")
    return run("--json", "migrate", str(accounts), str(mail_server.inventory), "--ca-file",
               str(provider.provider.ca_file), "--state", str(tmp_path / "state.sqlite"), "--report",
               str(tmp_path / "report.md"), env=mail_server.env)


def held(mail_server: MailServer, user: str) -> tuple[dict[str, bytes], set[str]]:
    """The person's scripts as stored on our server (the files in their Sieve storage), and which ones
    Dovecot's own doveadm says are active."""
    storage = f"{home(user)}/sieve"
    names = mail_server.host.ssh(f"cd {storage} && ls").stdout.split()
    scripts = {name.removesuffix(".sieve"): base64.b64decode(mail_server.host.ssh(
        f"base64 -w0 {storage}/{name}").stdout) for name in names if name.endswith(".sieve")}
    listed = mail_server.host.ssh(f"doveadm -f tab sieve list -u {user}").stdout.splitlines()[1:]
    return scripts, {line.split("\t")[0] for line in listed if line.endswith("\tACTIVE")}


def test_vacation_and_filter_arrive_active_and_byte_for_byte(provider: Seeded, mail_server: MailServer,
                                                             person: str, tmp_path: Path) -> None:
    name = sieve_user(provider, "sieglinde", {"vacation": VACATION, "invoices": FILTER}, "vacation")
    moved = migrate(provider, name, person, mail_server, tmp_path)
    assert moved.returncode == 0, moved.stderr + moved.stdout
    sieve = json.loads(moved.stdout)["users"][0]["sieve"]
    assert (sieve["source_scripts"], sieve["target_scripts"], sieve["copied"]) == (2, 2, 2)
    assert sieve["active"] == "vacation" and not sieve["refused"] and not sieve["missing"]
    assert held(mail_server, person) == ({"vacation": VACATION, "invoices": FILTER}, {"vacation"})
    assert "| Sieve scripts | 2 |" in (tmp_path / "report.md").read_text()

    again = migrate(provider, name, person, mail_server, tmp_path)  # the same scripts: nothing to do
    assert again.returncode == 0, again.stderr
    sieve = json.loads(again.stdout)["users"][0]["sieve"]
    assert (sieve["copied"], sieve["skipped"]) == (0, 2)
    assert held(mail_server, person) == ({"vacation": VACATION, "invoices": FILTER}, {"vacation"})
    at_source = provider.provider.ssh(f"doveadm sieve list -u {provider.user(name)}")
    assert "vacation" in at_source and "invoices" in at_source  # nothing deleted at the source


def test_script_the_target_cannot_run_is_reported_and_fails_the_run(
        provider: Seeded, mail_server: MailServer, person: str, tmp_path: Path) -> None:
    name = sieve_user(provider, "siegfried", {"odd": UNKNOWN, "invoices": FILTER}, "invoices")
    moved = migrate(provider, name, person, mail_server, tmp_path)
    assert moved.returncode == 1, moved.stderr + moved.stdout
    report = json.loads(moved.stdout)
    sieve = report["users"][0]["sieve"]
    assert list(sieve["refused"]) == ["odd"] and "vnd.nonexistent" in sieve["refused"]["odd"]
    assert not report["complete"]
    assert "Sieve script odd refused by the target" in (tmp_path / "report.md").read_text()
    assert held(mail_server, person) == ({"invoices": FILTER}, {"invoices"})
