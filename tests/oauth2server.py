"""A local OAuth 2.0 authorization server on 127.0.0.1, built on oauthlib: the device authorization
grant (RFC 8628) and refresh tokens (RFC 6749 §6). Its access tokens are the JWTs the provider
sandbox's Dovecot accepts. approve() stands for the person who types the code in a browser."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

from oauthlib.oauth2 import BearerToken, RefreshTokenGrant, TokenEndpoint
from oauthlib.oauth2.rfc8628.endpoints import DeviceAuthorizationEndpoint
from oauthlib.oauth2.rfc8628.grant_types import DeviceCodeGrant
from oauthlib.oauth2.rfc8628.request_validator import RequestValidator

from tests.conftest import REPO

# oauthlib refuses plain HTTP unless told; this server listens on loopback only.
os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"
CLIENT_ID = "provision-test"
SCOPES = ["imap", "offline_access"]


@dataclass
class Device:
    scopes: list[str]
    user: str | None = None  # set once the person approved


@dataclass
class State:
    devices: dict[str, Device] = field(default_factory=dict)  # device_code -> its grant
    user_codes: dict[str, str] = field(default_factory=dict)  # user_code -> device_code
    refresh_tokens: dict[str, tuple[str, list[str]]] = field(default_factory=dict)  # -> user, scopes
    grants: list[str] = field(default_factory=list)  # the grant_type of every token issued
    issued: list[str] = field(default_factory=list)  # every access and refresh token issued


class _Validator(RequestValidator):
    def __init__(self, state: State):
        super().__init__()
        self.state = state

    def client_authentication_required(self, request, *args, **kwargs):
        return False  # a public client, as a command-line program is

    def authenticate_client_id(self, client_id, request, *args, **kwargs):
        request.client = SimpleNamespace(client_id=client_id)
        return client_id == CLIENT_ID

    def validate_client_id(self, client_id, request, *args, **kwargs):
        return client_id == CLIENT_ID

    def validate_grant_type(self, client_id, grant_type, client, request, *args, **kwargs):
        return True

    def validate_scopes(self, client_id, scopes, client, request, *args, **kwargs):
        return set(scopes) <= set(SCOPES)

    def get_default_scopes(self, client_id, request, *args, **kwargs):
        return SCOPES

    def validate_device_code(self, client_id, code, request, *args, **kwargs):
        device = self.state.devices.get(code)
        if device is None:
            return None
        if device.user is None:
            return DeviceCodeGrant.DEVICE_CODE_PENDING
        del self.state.devices[code]  # one token per approval
        request.user, request.scopes = device.user, device.scopes
        return DeviceCodeGrant.DEVICE_CODE_AUTHORIZED

    def validate_refresh_token(self, refresh_token, client, request, *args, **kwargs):
        found = self.state.refresh_tokens.get(refresh_token)
        if found is None:
            return False
        request.user = found[0]
        return True

    def get_original_scopes(self, refresh_token, request, *args, **kwargs):
        return self.state.refresh_tokens[refresh_token][1]

    def save_bearer_token(self, token, request, *args, **kwargs):
        if request.grant_type == "refresh_token":  # rotated: the old refresh token is spent
            self.state.refresh_tokens.pop(request.refresh_token, None)
        self.state.refresh_tokens[token["refresh_token"]] = (request.user, list(request.scopes))
        self.state.grants.append(request.grant_type)
        self.state.issued += [token["access_token"], token["refresh_token"]]


@dataclass
class AuthorizationServer:
    port: int
    state: State

    @property
    def device_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/device"

    @property
    def token_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/token"

    def approve(self, user_code: str, user: str) -> None:
        self.state.devices[self.state.user_codes[user_code]].user = user


@contextmanager
def authorization_server(access_token: Callable[[str, int], str],
                         lifetime: int) -> Iterator[AuthorizationServer]:
    """The server on a free loopback port; access_token(user, lifetime) makes each access token."""
    state = State()
    validator = _Validator(state)
    bearer = BearerToken(validator, token_generator=lambda request: access_token(request.user, lifetime),
                         expires_in=lifetime)
    device = DeviceAuthorizationEndpoint(validator, verification_uri="http://127.0.0.1/device", interval=1,
                                         expires_in=120)
    token = TokenEndpoint("urn:ietf:params:oauth:grant-type:device_code", bearer, {
        "urn:ietf:params:oauth:grant-type:device_code": DeviceCodeGrant(validator),
        "refresh_token": RefreshTokenGrant(validator)})
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            uri, headers = f"http://127.0.0.1:{self.server.server_port}{self.path}", dict(self.headers)
            with lock:
                if self.path == "/device":
                    found_headers, granted, status = device.create_device_authorization_response(
                        uri, "POST", body, headers)  # the answer as a dict, unlike the token endpoint's
                    answer = (found_headers, json.dumps(granted), status)
                    if status == 200:
                        state.devices[granted["device_code"]] = Device(granted.get("scope", "").split())
                        state.user_codes[granted["user_code"]] = granted["device_code"]
                elif self.path == "/token":
                    answer = token.create_token_response(uri, "POST", body, headers)
                else:
                    answer = ({}, "{}", 404)
            response_headers, text, status = answer
            self.send_response(status)
            for name, value in {"Content-Type": "application/json", **response_headers}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(text.encode())))
            self.end_headers()
            self.wfile.write(text.encode())

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield AuthorizationServer(httpd.server_address[1], state)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def device_login(server: AuthorizationServer, user: str, token_file: Path,
                 *extra: str) -> subprocess.CompletedProcess[str]:
    """`provision oauth2 login` as a person runs it: the code it shows is approved for user."""
    argv = [sys.executable, "-m", "provision", "oauth2", "login", "--provider", "custom",
            "--client-id", CLIENT_ID, "--device-endpoint", server.device_endpoint,
            "--token-endpoint", server.token_endpoint, "--scope", " ".join(SCOPES), *extra, str(token_file)]
    child = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    shown = []
    assert child.stderr is not None
    for line in child.stderr:
        shown.append(line)
        if found := re.search(r"enter the code (\S+)", line):
            server.approve(found.group(1), user)
            break
    out, err = child.communicate(timeout=60)
    return subprocess.CompletedProcess(argv, child.returncode, out, "".join(shown) + err)
