"""export, import and migrate against real Dovecot servers: a provider sandbox set up by the test, and
our own provisioned server (the shared mail_server) reached through its inventory."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import REPO, RUN, MailServer, provision
from tests.migrate import corpus
from tests.migrate.conftest import Seeded

Items = dict[str, list[tuple[str, tuple[str, ...], float]]]


def by_folder(snapshot: Items, separator: str = ".", prefix: str = "INBOX.") -> Items:
    """Snapshot keyed by archive-form folder name, localized special folders by role."""
    roles = {wire: name for name, wire in corpus.FOLDERS.items()}
    found = {}
    for wire, items in snapshot.items():
        name = roles.get(wire, wire)
        if name.startswith(prefix):
            name = name[len(prefix):]
        found[name.replace(separator, "/")] = items
    return found


def distinct(snapshot: Items) -> dict[str, set]:
    return {folder: set(items) for folder, items in snapshot.items() if items}


def assert_same_mail(source: Items, target: Items) -> None:
    """Every source message at the target in the same folder, bytes, flags, keywords and date alike,
    and none twice (the source's own duplicate arrives once)."""
    for folder, items in target.items():
        assert len(items) == len(set(items)), f"{folder} holds a message twice"
    assert distinct(source) == distinct(target)


def run(*args: str, input: str | None = None, env: dict[str, str] | None = None):
    return provision(*args, input=input, env=env, timeout=600)


def options(seeded: Seeded, state: Path, *extra: str) -> list[str]:
    return ["--ca-file", str(seeded.provider.ca_file), "--state", str(state), *extra]


def test_dry_run_plans_and_changes_nothing(provider: Seeded, tmp_path: Path) -> None:
    done = run("--json", "migrate", provider.url("anna"), provider.url("fred"), "--dry-run",
               "--password-file", str(provider.password_file("anna")),
               "--target-password-file", str(provider.password_file("fred")),
               *options(provider, tmp_path / "s"))
    assert done.returncode == 0, done.stderr
    plan = json.loads(done.stdout)
    folders = {folder["folder"]: folder for folder in plan["users"][0]["folders"]}
    assert set(folders) == set(corpus.FOLDERS)  # Gesendete Objekte planned as Sent, Entwürfe as Drafts
    mail = provider.mail["anna"]
    assert sum(folder["source_messages"] for folder in folders.values()) == len(mail)
    assert sum(folder["source_bytes"] for folder in folders.values()) == sum(len(m.data) for m in mail)
    assert sum(folder["copied"] for folder in folders.values()) == len(mail)
    assert plan["estimate_seconds"] > 0
    assert provider.snapshot("fred") == {"INBOX": []}


def test_certificate_is_verified(provider: Seeded, tmp_path: Path) -> None:
    done = run("migrate", provider.url("anna"), provider.url("fred"), "--dry-run",
               "--state", str(tmp_path / "s"), "--password-file", str(provider.password_file("anna")),
               "--target-password-file", str(provider.password_file("fred")))
    assert done.returncode == 1
    assert "certificate is not trusted" in done.stderr and "--ca-file" in done.stderr


def test_round_trip_through_our_server(provider: Seeded, mail_server: MailServer, tmp_path: Path) -> None:
    """provider -> our server (migrate, accounts file) -> archive (export) -> provider (import)."""
    people = {"anna": f"mig{RUN}anna", "bob": f"mig{RUN}bob"}
    address = {name: f"{uid}@example.test" for name, uid in people.items()}
    password = tmp_path / "person.password"
    password.write_text("a long enough test password\n")
    for name, uid in people.items():
        added = run("users", "add", str(mail_server.inventory), uid, "--name", f"Migrated {name}",
                    "--mail", address[name], "--password-file", str(password), env=mail_server.env)
        assert added.returncode == 0, added.stderr
    try:
        accounts = tmp_path / "accounts.csv"
        accounts.write_text("source,target,password_file\n" + "".join(
            f"{provider.url(name)},{address[name]},{provider.password_file(name)}\n" for name in people))
        state = tmp_path / "state.sqlite"
        moved = run("--json", "migrate", str(accounts), str(mail_server.inventory), *options(provider, state),
                    env=mail_server.env)
        assert moved.returncode == 0, moved.stderr + moved.stdout
        report = json.loads(moved.stdout)
        assert report["complete"] and report["missing"] == 0
        assert sum(f["copied"] for u in report["users"] for f in u["folders"]) == sum(
            len({m.sha256 for m in provider.mail[name] if m.folder == folder})
            for name in people for folder in corpus.FOLDERS)

        again = run("--json", "migrate", str(accounts), str(mail_server.inventory), *options(provider, state),
                    env=mail_server.env)
        assert again.returncode == 0, again.stderr
        assert sum(f["copied"] for u in json.loads(again.stdout)["users"] for f in u["folders"]) == 0

        archive = tmp_path / "archive"
        exported = run("export", str(mail_server.inventory), "-o", str(archive), "--users", address["anna"],
                       *options(provider, state), env=mail_server.env)
        assert exported.returncode == 0, exported.stderr + exported.stdout
        assert run("archive", "verify", str(archive)).returncode == 0

        report_file = tmp_path / "report.html"
        imported = run("import", str(archive), provider.url("anna2"),
                       "--map", f"{address['anna']}={provider.user('anna2')}",
                       "--password-file", str(provider.password_file("anna2")), "--report", str(report_file),
                       *options(provider, state))
        assert imported.returncode == 0, imported.stderr + imported.stdout
        assert "complete: every source message is at the target" in imported.stdout
        assert "<table>" in report_file.read_text()
        assert_same_mail(by_folder(provider.snapshot("anna")), by_folder(provider.snapshot("anna2")))
    finally:
        for uid in people.values():
            run("users", "remove", str(mail_server.inventory), uid, env=mail_server.env)


def test_killed_migration_completes_without_duplicates(provider: Seeded, tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite"
    argv = [sys.executable, "-m", "provision", "migrate", provider.url("dave"), provider.url("dave2"),
            "--password-file", str(provider.password_file("dave")),
            "--target-password-file", str(provider.password_file("dave2")), *options(provider, state)]
    child = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and child.poll() is None and _count(provider, "dave2") < 20:
        time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    partial = _count(provider, "dave2")
    assert 0 < partial < len(provider.mail["dave"]) - 1, "the kill did not land mid-run"

    done = run("--json", "migrate", provider.url("dave"), provider.url("dave2"),
               "--password-file", str(provider.password_file("dave")),
               "--target-password-file", str(provider.password_file("dave2")), *options(provider, state))
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["complete"]
    assert sum(f["skipped"] for f in report["users"][0]["folders"]) >= partial - 1
    assert_same_mail(by_folder(provider.snapshot("dave")), by_folder(provider.snapshot("dave2")))


def _count(provider: Seeded, name: str) -> int:
    return sum(len(items) for items in provider.snapshot(name).values())


def test_corrupted_archive_is_refused_and_target_untouched(provider: Seeded, tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    exported = run("export", provider.url("bob"), "-o", str(archive),
                   "--password-file", str(provider.password_file("bob")), *options(provider, tmp_path / "s"))
    assert exported.returncode == 0, exported.stderr
    victim = next(path for path in (archive / "users").rglob("cur/*") if path.stat().st_size > 2000)
    data = bytearray(victim.read_bytes())
    data[1500] ^= 0x20
    victim.write_bytes(bytes(data))

    done = run("import", str(archive), provider.url("erin"),
               "--map", f"{provider.user('bob')}={provider.user('erin')}",
               "--password-file", str(provider.password_file("erin")), *options(provider, tmp_path / "s"))
    assert done.returncode == 1
    assert "is damaged" in done.stderr and "nothing was imported" in done.stderr
    assert "checksum" in done.stderr or "differ" in done.stderr
    assert provider.snapshot("erin") == {"INBOX": []}


def test_wrong_password_fails_that_account_only(provider: Seeded, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.password"
    wrong.write_text("not the password\n")
    accounts = tmp_path / "accounts.yaml"
    accounts.write_text(
        f"accounts:\n"
        f"  - source: {provider.url('anna')}\n    target: {provider.user('gina')}\n"
        f"    password_file: {provider.password_file('anna')}\n"
        f"    target_password_file: {provider.password_file('gina')}\n"
        f"  - source: {provider.url('bob')}\n    target: {provider.user('bob2')}\n"
        f"    password_file: {wrong}\n    target_password_file: {provider.password_file('bob2')}\n")
    done = run("--json", "migrate", str(accounts), f"imaps://{provider.provider.address}", "--report",
               str(tmp_path / "report.md"), *options(provider, tmp_path / "s"))
    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert report["failed_users"] == [provider.user("bob")]
    users = {user["user"]: user for user in report["users"]}
    assert "login refused" in users[provider.user("bob")]["error"]
    assert users[provider.user("anna")]["error"] is None and users[provider.user("anna")]["folders"]
    assert "not the password" not in done.stderr + done.stdout
    assert "FAILED: " in (tmp_path / "report.md").read_text()
    assert_same_mail(by_folder(provider.snapshot("anna")), by_folder(provider.snapshot("gina")))


def test_cut_connection_is_resumed_in_the_same_run(provider: Seeded, tmp_path: Path) -> None:
    """The target drops the connection mid-run (doveadm kick): the run reconnects, finds what it had
    appended, and completes without a duplicate."""
    argv = [sys.executable, "-m", "provision", "--json", "migrate", provider.url("dave"),
            provider.url("hana"), "--password-file", str(provider.password_file("dave")),
            "--target-password-file", str(provider.password_file("hana")), *options(provider, tmp_path / "s")]
    child = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and child.poll() is None and _count(provider, "hana") < 20:
        time.sleep(0.05)
    provider.provider.ssh(f"doveadm kick {provider.user('hana')}")
    kicked = _count(provider, "hana")
    out, err = child.communicate(timeout=300)
    assert kicked < len(provider.mail["dave"]) - 1, "the kick did not land mid-run"
    assert child.returncode == 0, err
    assert "the connection broke" in err and "reconnecting" in err
    assert json.loads(out)["complete"]
    assert_same_mail(by_folder(provider.snapshot("dave")), by_folder(provider.snapshot("hana")))


def test_message_whose_line_ends_the_target_changes_is_not_copied_twice(provider: Seeded,
                                                                        tmp_path: Path) -> None:
    """A message with bare LFs and a bare CR at its end: Dovecot stores other bytes than it was sent.
    A later run that has lost its state still finds the copy, and copies nothing twice."""
    odd = (b"Message-ID: <bare-line-ends@provider.test>\r\nSubject: old mailer\r\n\r\n"
           b"written by a mailer\nthat ends lines with LF\r\nand the message with a CR\r")
    plain = b"Message-ID: <plain@provider.test>\r\nSubject: plain\r\n\r\nnothing odd here\r\n"
    home = f"/srv/mail/{provider.user('carl')}/Maildir"
    provider.provider.ssh(f"mkdir -p {home}/cur {home}/new {home}/tmp && cd {home}/cur && "
                          f"echo {base64.b64encode(odd).decode()} | base64 -d > 1700000000.odd:2,S && "
                          f"echo {base64.b64encode(plain).decode()} | base64 -d > 1700000001.plain:2, && "
                          f"chown -R vmail:vmail /srv/mail/{provider.user('carl')}")
    argv = ["--json", "migrate", provider.url("carl"), provider.url("ivan"),
            "--password-file", str(provider.password_file("carl")),
            "--target-password-file", str(provider.password_file("ivan"))]
    first = run(*argv, *options(provider, tmp_path / "first.sqlite"))
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["complete"]

    again = run(*argv, *options(provider, tmp_path / "lost.sqlite"))  # the state file is lost
    assert again.returncode == 0, again.stderr
    folders = json.loads(again.stdout)["users"][0]["folders"]
    assert sum(folder["copied"] for folder in folders) == 0
    assert sum(folder["skipped"] for folder in folders) == 2
    held = provider.snapshot("ivan")["INBOX"]
    assert len(held) == 2
    assert hashlib.sha256(plain).hexdigest() in {item[0] for item in held}
