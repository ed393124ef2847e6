"""The token file `migrate` reads (the access token alone on one line, 0600) and, beside it in
FILE.oauth2, what renews it: the refresh token, the token endpoint and the client. A token that is
about to expire is renewed at the next login that reads the file."""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from provision import files, secretfile
from provision.errors import UsageError
from provision.oauth2.exchange import post

SUFFIX = ".oauth2"
MARGIN = 30.0  # seconds before expiry a token is renewed (a quarter of a shorter lifetime)
_locks: dict[str, threading.Lock] = {}
_locks_lock = threading.Lock()


@dataclass
class Renewal:
    token_endpoint: str
    client_id: str
    refresh_token: str
    expires_at: float  # time.time() at which the access token expires
    lifetime: float
    client_secret: str = ""
    ca_file: str = ""

    def due(self, now: float) -> bool:
        return now >= self.expires_at - min(MARGIN, self.lifetime / 4)


def renewal_path(token_file: str | Path) -> Path:
    return Path(f"{token_file}{SUFFIX}")


def save(token_file: str | Path, answer: dict, renewal: Renewal | None) -> Renewal | None:
    """Write the access token of a token endpoint's answer, and what renews it (given a refresh token)."""
    token = answer.get("access_token")
    if not isinstance(token, str) or not token or "\n" in token:
        raise UsageError("the token endpoint answered without an access token")
    lifetime = float(answer.get("expires_in") or 3600)
    if renewal is not None:
        renewal.refresh_token = str(answer.get("refresh_token") or renewal.refresh_token)
        renewal.expires_at, renewal.lifetime = time.time() + lifetime, lifetime
        _write_secret(renewal_path(token_file), json.dumps(asdict(renewal), indent=1) + "\n")
    _write_secret(Path(token_file), token + "\n")
    return renewal


def current(token_file: str | Path) -> str:
    """The access token in the file, renewed first with the refresh token when it is about to expire."""
    with _lock(str(token_file)):
        renewal = _load(token_file)
        if renewal is not None and renewal.due(time.time()):
            form = {"grant_type": "refresh_token", "refresh_token": renewal.refresh_token,
                    "client_id": renewal.client_id}
            if renewal.client_secret:
                form["client_secret"] = renewal.client_secret
            save(token_file, post(renewal.token_endpoint, form, renewal.ca_file or None), renewal)
        return secretfile.read(token_file, "OAuth2 token")


def _load(token_file: str | Path) -> Renewal | None:
    path = renewal_path(token_file)
    if not path.exists():
        return None
    try:
        return Renewal(**json.loads(files.read_text(path)))
    except (ValueError, TypeError):
        raise UsageError(f"{path}: not a renewal file of `provision oauth2 login`",
                         "log in again with provision oauth2 login") from None


def _lock(key: str) -> threading.Lock:
    with _locks_lock:
        return _locks.setdefault(key, threading.Lock())


def _write_secret(path: Path, text: str) -> None:
    """Replace path at once by a new 0600 file with text: a reader sees the old token or the new one."""
    fresh = path.with_name(f".{path.name}.{os.getpid()}.new")
    descriptor = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
        stream.write(text)
    os.replace(fresh, path)
