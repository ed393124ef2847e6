"""SOURCE and TARGET arguments: an account URL (imaps://USER@HOST[:PORT]), an accounts file (CSV or
YAML), a customer inventory directory (our own server), or an archive. Each becomes, per user, a way to
open a Source or a Sink inside a worker."""

from __future__ import annotations

import csv
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from provision import files
from provision.archive import manifest as archive_manifest
from provision.archive.layout import INDEX
from provision.errors import UsageError
from provision.inventory import HOSTS_FILE
from provision.inventory.load import load as load_inventory
from provision.migrate import AccountError
from provision.migrate.imap import Credentials, ImapAccount, Throttle, tcp_ssl, tls_context
from provision.migrate.local import is_local
from provision.migrate.managesieve import PORT as SIEVE_PORT
from provision.migrate.managesieve import ManageSieve
from provision.migrate.secrets import SecretOptions, account_url
from provision.migrate.ssh import ServerMailboxes

ACCOUNT_COLUMNS = ("source", "target", "password_file", "oauth2_token_file", "target_password_file")


@dataclass(frozen=True)
class ImapUrl:
    host: str
    port: int
    user: str | None

    @property
    def server(self) -> str:
        return f"{self.host}:{self.port}"

    def label(self, user: str) -> str:
        return f"{user}@{self.server}" if "@" not in user else f"{user} at {self.server}"


@dataclass(frozen=True)
class Account:
    """One user to move: where it is, which address it becomes, which secrets open it."""

    source_user: str
    target_user: str
    url: ImapUrl | None = None  # for IMAP sources
    password_file: str | None = None
    token_file: str | None = None
    target_password_file: str | None = None


@dataclass
class Tls:
    ca_file: str | None
    insecure: bool


def kind_of(spec: str) -> str:
    """imap, dav, accounts, inventory, local (Takeout folder, mbox, Maildir) or archive."""
    if spec.startswith("imaps://"):
        return "imap"
    if spec.startswith("https://"):
        return "dav"
    if spec.startswith(("imap://", "http://")):
        raise UsageError(f"{spec}: only imaps:// and https:// accounts are supported "
                         "(TLS from the first byte)")
    path = Path(spec)
    if path.suffix.lower() in (".csv", ".yaml", ".yml") and path.is_file():
        return "accounts"
    if (path / HOSTS_FILE).is_file():
        return "inventory"
    if path.exists() and is_local(path):
        return "local"
    if (path / archive_manifest.MANIFEST).is_file() or (path / INDEX).is_file() or path.suffix == ".tar" or (
            not path.exists() and not spec.startswith("imap")):
        return "archive"
    raise UsageError(f"{spec} is not an imaps:// URL, an accounts file, an inventory or an archive")


def parse_url(spec: str) -> ImapUrl:
    parts, user = account_url(spec, "imaps", "imaps://USER@HOST[:PORT]")
    return ImapUrl(parts.hostname, parts.port or 993, user)


def read_accounts(path: Path) -> list[Account]:
    """Rows of source (imaps://USER@HOST), target (address), and optional secret files per account."""
    try:
        if path.suffix.lower() == ".csv":
            with files.open_text(path) as stream:
                rows = list(csv.DictReader(stream))
        else:
            loaded = yaml.safe_load(files.read_text(path)) or []
            rows = loaded.get("accounts", []) if isinstance(loaded, dict) else loaded
    except (OSError, yaml.YAMLError, csv.Error) as bad:
        raise UsageError(f"cannot read the accounts file {path}: {bad}") from None
    accounts = []
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, dict) or not row.get("source"):
            raise UsageError(f"{path}: account {number} has no source (imaps://USER@HOST)")
        unknown = set(row) - set(ACCOUNT_COLUMNS)
        if unknown:
            raise UsageError(f"{path}: account {number} has unknown fields {sorted(unknown)}",
                             f"the fields are {', '.join(ACCOUNT_COLUMNS)}")
        url = parse_url(str(row["source"]))
        if not url.user:
            raise UsageError(f"{path}: account {number}: the source URL names no user")
        accounts.append(Account(url.user, str(row.get("target") or url.user), url, row.get("password_file"),
                                row.get("oauth2_token_file"), row.get("target_password_file")))
    return accounts


def parse_maps(maps: list[str]) -> dict[str, str]:
    found = {}
    for item in maps:
        old, equals, new = item.partition("=")
        if not equals or not old or not new:
            raise UsageError(f"--map {item}: expected OLD=NEW")
        found[old] = new
    return found


def select(accounts: list[Account], users: list[str] | None) -> list[Account]:
    if not users:
        return accounts
    unknown = set(users) - {account.source_user for account in accounts}
    if unknown:
        raise UsageError(f"--users names accounts the source does not have: {', '.join(sorted(unknown))}")
    return [account for account in accounts if account.source_user in users]


class MailEndpoint:
    """Where one side of a move keeps its mail: IMAP at a provider (TLS verified), our server's mailboxes
    over SSH (an inventory), or a local folder (local: Takeout, mbox, Maildir). A side with calendars and
    contacts only (a DAV URL) has no mail: its accounts are never opened."""

    def __init__(self, tls: Tls, secrets: SecretOptions, url: ImapUrl | None = None,
                 mailboxes: ServerMailboxes | None = None, local: Path | None = None):
        self.tls, self.secrets, self.url, self.mailboxes = tls, secrets, url, mailboxes
        self.local = local  # a Takeout folder, mbox or Maildir: read directly, no IMAP
        self._context = tls_context(tls.ca_file, tls.insecure)
        self._lock = threading.Lock()

    def account(self, user: str, throttle: Throttle, url: ImapUrl | None = None,
                password_file: str | None = None, token_file: str | None = None) -> ImapAccount:
        if self.mailboxes is not None:
            label = f"{user} on {self.mailboxes.label}"
            return ImapAccount(label, self.mailboxes.connect(user), None, throttle).open()
        url = url or self.url
        assert url is not None
        credentials: Callable[[], Credentials] = self.secrets.for_user(user, password_file, token_file)
        return ImapAccount(url.label(user), tcp_ssl(url.host, url.port, self._context), credentials,
                           throttle).open()

    def sieve(self, user: str, url: ImapUrl | None = None, password_file: str | None = None,
              token_file: str | None = None) -> ManageSieve | None:
        """The user's Sieve scripts over ManageSieve, at the IMAP server's host with the same credentials;
        None where the side keeps none (a local folder) or nothing listens on the ManageSieve port."""
        if self.mailboxes is not None:
            return self.mailboxes.sieve(user)
        url = url or self.url
        if url is None or self.local is not None:
            return None
        label = f"{user} at {url.host}:{SIEVE_PORT}"
        try:
            return ManageSieve.tcp(label, url.host, SIEVE_PORT, self._context,
                                   self.secrets.for_user(user, password_file, token_file))
        except (ConnectionRefusedError, TimeoutError):
            return None
        except OSError as bad:
            raise AccountError(f"{label}: cannot connect to ManageSieve: {bad}") from None

    def close(self) -> None:
        if self.mailboxes is not None:
            self.mailboxes.close()


def inventory_endpoint(directory: str) -> ServerMailboxes:
    return ServerMailboxes(load_inventory(Path(directory)))
