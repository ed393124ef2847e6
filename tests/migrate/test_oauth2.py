"""OAuth2 logins (XOAUTH2) against the provider sandbox, whose Dovecot validates the access tokens itself:
tokens from a device login (`provision oauth2 login`, against a local authorization server) copy
everything, a token that expires mid-run is renewed with the refresh token when the run reconnects, a
refused token fails its account alone, and a token never shows where a user or another process could
read it."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.migrate.conftest import Seeded
from tests.migrate.provider import set_users
from tests.migrate.test_migrate import assert_same_mail, by_folder, run
from tests.oauth2server import AuthorizationServer, authorization_server, device_login

TARGETS = ("otto", "olga", "oda", "oleg", "oskar")
LIFETIME = 12  # seconds an access token of the authorization server is valid


@pytest.fixture(scope="module")
def oauth(provider: Seeded) -> Seeded:
    """More empty provider accounts, for this module alone."""
    added = {provider.user(name): f"pw-{name}-oauth2" for name in TARGETS}
    set_users(provider.provider, {**provider.provider.passwords, **added})
    return provider


def write_token(path: Path, token: str) -> Path:
    """As a token refresher writes one: a new 0600 file, put in place at once."""
    fresh = path.with_suffix(".new")
    with os.fdopen(os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as stream:
        stream.write(token + "\n")
    os.replace(fresh, path)
    return path


def known_mail(seeded: Seeded, name: str) -> dict[str, set[str]]:
    """The fixture's messages of a seeded account, as folder -> SHA-256 of the bytes."""
    found: dict[str, set[str]] = {}
    for message in seeded.mail[name]:
        found.setdefault(message.folder, set()).add(message.sha256)
    return found


def mail_at(seeded: Seeded, name: str) -> dict[str, set[str]]:
    return {folder: {item[0] for item in items}
            for folder, items in by_folder(seeded.snapshot(name)).items() if items}


def count(seeded: Seeded, name: str) -> int:
    """Messages in every folder of an account, as the server counts them: cheap while a copy runs."""
    user = seeded.user(name)
    found = seeded.provider.ssh(f"doveadm -f tab mailbox status -u {user} messages INBOX 'INBOX.*'")
    return sum(int(line.split("\t")[-1]) for line in found.splitlines()[1:])


def command_lines() -> list[str]:
    """Every process's command line, as any user of the machine sees it."""
    done = subprocess.run(["ps", "-e", "-ww", "-o", "args="], capture_output=True, text=True, check=True)
    return done.stdout.splitlines()


@pytest.fixture(scope="module")
def authorization(oauth: Seeded) -> Iterator[AuthorizationServer]:
    """The local authorization server, whose access tokens the provider's Dovecot accepts for LIFETIME s."""
    with authorization_server(lambda user, lifetime: oauth.provider.token(user, lifetime=lifetime),
                              LIFETIME) as server:
        yield server


def logged_in(authorization: AuthorizationServer, user: str, token_file: Path) -> Path:
    done = device_login(authorization, user, token_file)
    assert done.returncode == 0, done.stderr
    return token_file


def test_migration_logged_in_with_tokens_copies_all_mail(oauth: Seeded, authorization: AuthorizationServer,
                                                         tmp_path: Path) -> None:
    """Both sides log in with XOAUTH2, tokens from a device login; the token is nowhere but in its file."""
    source, target = oauth.user("bob"), oauth.user("otto")
    state, report, out, err = (tmp_path / name for name in ("state.sqlite", "report.md", "out", "err"))
    argv = [sys.executable, "-m", "provision", "-v", "--json", "migrate", oauth.url("bob"), oauth.url("otto"),
            "--oauth2-token-file", str(logged_in(authorization, source, tmp_path / "bob.token")),
            "--target-oauth2-token-file", str(logged_in(authorization, target, tmp_path / "otto.token")),
            "--ca-file", str(oauth.provider.ca_file), "--state", str(state), "--report", str(report)]
    with out.open("w") as stdout, err.open("w") as stderr:
        child = subprocess.Popen(argv, cwd=REPO, stdout=stdout, stderr=stderr)
        seen: list[str] = []
        while child.poll() is None:
            seen += command_lines()
            time.sleep(0.05)
        child.wait(timeout=300)

    assert child.returncode == 0, err.read_text()
    assert json.loads(out.read_text())["complete"]
    assert mail_at(oauth, "otto") == known_mail(oauth, "bob")
    assert_same_mail(by_folder(oauth.snapshot("bob")), by_folder(oauth.snapshot("otto")))
    assert any("--oauth2-token-file" in line for line in seen), "the run ended before ps saw it"
    assert_nowhere(authorization, [*seen, out.read_text(), err.read_text(), report.read_text()], tmp_path)


def assert_nowhere(authorization: AuthorizationServer, readable: list[str], directory: Path) -> None:
    """No access or refresh token issued in what people and other processes can read, nor in the state."""
    stored = b"".join(path.read_bytes() for path in directory.glob("state.sqlite*"))
    for token in authorization.state.issued:
        secret = token.rsplit(".", 1)[-1]  # a JWT's signature, or the whole refresh token
        assert not any(secret in text for text in readable)
        assert secret.encode() not in stored


def test_token_expiring_mid_run_is_renewed_with_the_refresh_token(oauth: Seeded,
                                                                   authorization: AuthorizationServer,
                                                                   tmp_path: Path) -> None:
    """A device login's token expires while the run is held; the source drops the connection, and the
    run renews the token with the refresh token itself as it logs in again."""
    source = oauth.user("dave")
    token_file = logged_in(authorization, source, tmp_path / "dave.token")
    expires = time.time() + LIFETIME
    first = token_file.read_text()
    state, report, err = tmp_path / "state.sqlite", tmp_path / "report.md", tmp_path / "err"
    argv = [sys.executable, "-m", "provision", "--json", "migrate", oauth.url("dave"), oauth.url("oskar"),
            "--oauth2-token-file", str(token_file),
            "--target-password-file", str(oauth.password_file("oskar")),
            "--ca-file", str(oauth.provider.ca_file), "--state", str(state), "--report", str(report)]
    seen: list[str] = []
    with err.open("w") as stderr:
        child = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, stderr=stderr, text=True)
        deadline = time.monotonic() + LIFETIME
        while time.monotonic() < deadline and child.poll() is None and count(oauth, "oskar") < 5:
            seen += command_lines()
            time.sleep(0.05)
        child.send_signal(signal.SIGSTOP)  # holds the run while its token expires
        try:
            cut_at = count(oauth, "oskar")
            time.sleep(max(0.0, expires + 1 - time.time()))
            oauth.provider.ssh(f"doveadm kick {source}")
        finally:
            child.send_signal(signal.SIGCONT)
        out, _ = child.communicate(timeout=300)

    assert 0 < cut_at < len(oauth.mail["dave"]) - 1, "the cut did not land mid-run"
    assert child.returncode == 0, err.read_text()
    assert "the connection broke" in err.read_text() and "reconnecting" in err.read_text()
    assert json.loads(out)["complete"]
    assert mail_at(oauth, "oskar") == known_mail(oauth, "dave")
    assert_same_mail(by_folder(oauth.snapshot("dave")), by_folder(oauth.snapshot("oskar")))
    assert authorization.state.grants[-1] == "refresh_token" and token_file.read_text() != first
    assert_nowhere(authorization, [*seen, out, err.read_text(), report.read_text()], tmp_path)


def test_refused_token_fails_that_account_only(oauth: Seeded, tmp_path: Path) -> None:
    """An expired token and a token signed with another key: those accounts fail with one clear line,
    the account with a password in the same accounts file completes."""
    provider = oauth.provider
    expired = write_token(tmp_path / "anna.token", provider.token(oauth.user("anna"), lifetime=-120))
    forged = write_token(tmp_path / "dave.token", provider.token(oauth.user("dave"), key=os.urandom(32)))
    accounts = tmp_path / "accounts.csv"
    accounts.write_text(
        "source,target,password_file,oauth2_token_file,target_password_file\n"
        f"{oauth.url('anna')},{oauth.user('oda')},,{expired},{oauth.password_file('oda')}\n"
        f"{oauth.url('dave')},{oauth.user('oleg')},,{forged},{oauth.password_file('oleg')}\n"
        f"{oauth.url('bob')},{oauth.user('olga')},{oauth.password_file('bob')},,{oauth.password_file('olga')}\n")
    done = run("migrate", str(accounts), f"imaps://{oauth.provider.address}", "--ca-file",
               str(oauth.provider.ca_file), "--state", str(tmp_path / "state.sqlite"))

    assert done.returncode == 1, done.stderr
    for name in ("anna", "dave"):
        warned = [line for line in done.stderr.splitlines() if oauth.user(name) in line]
        assert len(warned) == 1 and "login refused" in warned[0], done.stderr
        assert "renew the OAuth2 token" in warned[0]
        assert re.search(rf"^{re.escape(oauth.user(name))} +FAILED: .*login refused", done.stdout, re.M)
    assert oauth.user("bob") not in done.stderr
    assert mail_at(oauth, "olga") == known_mail(oauth, "bob")
    assert count(oauth, "oda") == count(oauth, "oleg") == 0
    for path in (expired, forged):
        assert path.read_text().strip().rsplit(".", 1)[1] not in done.stdout + done.stderr
