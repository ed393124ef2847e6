"""Accounts move too: a provider's user list creates people on our server with temporary passwords in a
0600 file, and our directory moves through an archive with the password hashes unchanged."""

from __future__ import annotations

import csv
import stat
from pathlib import Path

from tests.conftest import RUN, MailServer, provision
from tests.migrate.conftest import Seeded
from tests.roles.test_mail import imap_login


def run(*args: str, env: dict[str, str] | None = None):
    return provision(*args, env=env, timeout=600)


def remove(server: MailServer, *uids: str) -> None:
    for uid in uids:
        run("users", "remove", str(server.inventory), uid, "--purge", env=server.env)


def test_provider_user_list_creates_people_with_temporary_passwords(provider: Seeded, mail_server: MailServer,
                                                                   tmp_path: Path) -> None:
    uid = f"acc{RUN}"
    address = f"{uid}@example.test"
    users = tmp_path / "users.csv"
    users.write_text("email,display_name,given_name,surname,quota_bytes,enabled\n"
                     f"{address},Bob Moved,Bob,Moved,,true\n")
    accounts = tmp_path / "accounts.csv"
    accounts.write_text(f"source,target,password_file\n{provider.url('bob')},{address},"
                        f"{provider.password_file('bob')}\n")
    passwords = tmp_path / "passwords.csv"
    try:
        done = run("--json", "migrate", str(accounts), str(mail_server.inventory), "--users-csv", str(users),
                   "--password-out", str(passwords), "--ca-file", str(provider.provider.ca_file),
                   "--state", str(tmp_path / "state"), env=mail_server.env)
        assert done.returncode == 0, done.stderr + done.stdout
        assert "1 created" in done.stderr
        assert stat.S_IMODE(passwords.stat().st_mode) == 0o600
        rows = list(csv.DictReader(passwords.open()))
        assert [(row["uid"], row["mail"]) for row in rows] == [(uid, address)]
        assert imap_login(mail_server, address, rows[0]["temporary_password"])
        assert not imap_login(mail_server, address, "not the password")

        again = run("migrate", str(accounts), str(mail_server.inventory), "--users-csv", str(users),
                    "--password-out", str(tmp_path / "second.csv"),
                    "--ca-file", str(provider.provider.ca_file), "--state", str(tmp_path / "state"),
                    env=mail_server.env)
        assert again.returncode == 0, again.stderr
        assert "0 created, 1 already there" in again.stderr
        assert not (tmp_path / "second.csv").exists()  # nobody new, no password file
    finally:
        remove(mail_server, uid)


def test_directory_moves_with_password_hashes(mail_server: MailServer, tmp_path: Path) -> None:
    """our LDAP -> archive -> a new entry at the target: the old password logs in, nobody typed it."""
    old, new = f"hash{RUN}", f"moved{RUN}"
    password = tmp_path / "password"
    password.write_text("an old password that nobody has to know\n")
    added = run("users", "add", str(mail_server.inventory), old, "--name", "Hanna Hash", "--mail",
                f"{old}@example.test", "--password-file", str(password), env=mail_server.env)
    assert added.returncode == 0, added.stderr
    try:
        archive = tmp_path / "archive"
        exported = run("export", str(mail_server.inventory), "-o", str(archive), "--directory",
                       "--users", f"{old}@example.test", env=mail_server.env)
        assert exported.returncode == 0, exported.stderr + exported.stdout
        assert run("archive", "verify", str(archive)).returncode == 0
        ldif = (archive / "directory" / "directory.ldif").read_text()
        assert f"uid: {old}" in ldif and "userPassword" in ldif
        assert "an old password" not in ldif
        table = list(csv.DictReader((archive / "directory" / "users.csv").open(newline="")))
        assert {"email": f"{old}@example.test", "display_name": "Hanna Hash"}.items() <= next(
            row for row in table if row["email"] == f"{old}@example.test").items()

        imported = run("import", str(archive), str(mail_server.inventory), "--directory",
                       "--map", f"{old}@example.test={new}@example.test", "--users", f"{old}@example.test",
                       env=mail_server.env)
        assert imported.returncode == 0, imported.stderr + imported.stdout
        assert imap_login(mail_server, f"{new}@example.test", password.read_text().strip())
    finally:
        remove(mail_server, old, new)
