"""`provision oauth2 login` against a local authorization server (oauthlib): the device grant, the
token file migrate reads, and its renewal with the refresh token."""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path

import pytest

from provision.oauth2 import tokens
from tests.oauth2server import AuthorizationServer, authorization_server, device_login

_serial = itertools.count()


def _token(user: str, lifetime: int) -> str:
    return f"token-{user}-{next(_serial)}-{time.time():.3f}"


@pytest.fixture
def server():
    with authorization_server(_token, lifetime=4) as found:
        yield found


def test_a_device_login_writes_the_token_file(server: AuthorizationServer, tmp_path: Path) -> None:
    token_file = tmp_path / "anna.token"
    done = device_login(server, "anna@example.test", token_file, "--quiet")  # the code shows all the same
    assert done.returncode == 0, done.stderr
    assert f"token written to {token_file}" in done.stdout
    assert "open http://127.0.0.1/device and enter the code" in done.stderr
    access, refresh = server.state.issued
    assert token_file.read_text() == access + "\n"
    renewal = tokens.renewal_path(token_file)
    assert token_file.stat().st_mode & 0o777 == renewal.stat().st_mode & 0o777 == 0o600
    assert json.loads(renewal.read_text())["refresh_token"] == refresh
    assert not any(secret in done.stdout + done.stderr for secret in (access, refresh))


def test_an_expiring_token_is_renewed_with_the_refresh_token(server: AuthorizationServer,
                                                             tmp_path: Path) -> None:
    token_file = tmp_path / "bob.token"
    assert device_login(server, "bob@example.test", token_file).returncode == 0
    first = token_file.read_text().strip()
    assert tokens.current(token_file) == first  # fresh: read as it is
    time.sleep(3.5)  # within a quarter of the 4-second lifetime of its end
    renewed = tokens.current(token_file)
    assert renewed != first and renewed == token_file.read_text().strip()
    assert server.state.grants == ["urn:ietf:params:oauth:grant-type:device_code", "refresh_token"]
    assert json.loads(tokens.renewal_path(token_file).read_text())["refresh_token"] == server.state.issued[-1]


def test_an_existing_token_file_is_refused_before_any_request(server: AuthorizationServer,
                                                              tmp_path: Path) -> None:
    token_file = tmp_path / "old.token"
    token_file.write_text("kept\n")
    done = device_login(server, "anna@example.test", token_file)
    assert (done.returncode, done.stderr.strip()) == (2, f"provision: {token_file} exists\nprovision: hint: "
                                                      "name a new file: a token is written only to a new one")
    assert token_file.read_text() == "kept\n" and server.state.issued == []


def test_a_custom_provider_needs_its_endpoints(tmp_path: Path) -> None:
    from tests.conftest import provision
    done = provision("oauth2", "login", "--provider", "custom", "--client-id", "x", str(tmp_path / "t"))
    assert done.returncode == 2
    assert "--provider custom needs --device-endpoint, --token-endpoint and --scope" in done.stderr
