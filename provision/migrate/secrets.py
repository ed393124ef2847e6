"""Passwords and OAuth2 tokens for IMAP accounts: from a file, stdin or a prompt; never from argv."""

from __future__ import annotations

import getpass
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import SplitResult, unquote, urlsplit

from provision import secretfile
from provision.errors import UsageError
from provision.migrate.imap import Credentials
from provision.oauth2 import tokens


@dataclass
class SecretOptions:
    """How one side's secret is given on the command line."""

    password_file: str | None = None
    password_stdin: bool = False
    token_file: str | None = None
    _stdin: str | None = field(default=None, repr=False)
    _prompted: dict[str, str] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def for_user(self, user: str, password_file: str | None = None,
                 token_file: str | None = None) -> Callable[[], Credentials]:
        """Credentials for user, read when logging in (a per-account file wins over the option)."""
        password_file = password_file or self.password_file
        token_file = token_file or self.token_file

        def read() -> Credentials:
            if token_file:
                return Credentials(user, token=tokens.current(token_file))  # renewed when about to expire
            if password_file:
                return Credentials(user, password=secretfile.read(password_file, "password"))
            return Credentials(user, password=self._stdin_or_prompt(user))
        return read

    def _stdin_or_prompt(self, user: str) -> str:
        with self._lock:
            if self.password_stdin:
                if self._stdin is None:
                    self._stdin = sys.stdin.readline().rstrip("\r\n")
                return self._stdin
            if user not in self._prompted:  # asked once per account, not at every login
                if not sys.stdin.isatty():
                    raise UsageError(f"no password for {user}",
                                     "give --password-file, --password-stdin or --oauth2-token-file")
                self._prompted[user] = getpass.getpass(f"password for {user}: ")
            return self._prompted[user]


def account_url(spec: str, scheme: str, form: str) -> tuple[SplitResult, str | None]:
    """An account URL split, and its user; refused unless scheme://HOST…, or when it holds a password."""
    parts = urlsplit(spec)
    if parts.scheme != scheme or not parts.hostname:
        raise UsageError(f"{spec}: expected {form}")
    if parts.password:
        raise UsageError("a password in the URL would show in the process list",
                         "give it with --password-file, --password-stdin or at the prompt")
    return parts, unquote(parts.username) if parts.username else None
