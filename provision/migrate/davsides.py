"""Which side of a move has calendars and contacts, and how a worker opens it for one user: a DAV
account (https://), our server's Radicale storage (an inventory), an archive being read or written."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from provision.archive.reader import ArchiveReader
from provision.inventory.load import load as load_inventory
from provision.migrate.dav import DavAccount, parse_url
from provision.migrate.dav_collections import ArchiveCollections, CollectionSide
from provision.migrate.imap import tls_context
from provision.migrate.local import LocalCollections
from provision.migrate.radicale import ServerCollections
from provision.migrate.secrets import SecretOptions

Opener = Callable[[str, str | None], CollectionSide]  # (user, password file) -> side


@dataclass
class CollectionEndpoint:
    open: Opener
    close: Callable[[], None] = lambda: None


def dav(spec: str, ca_file: str | None, insecure: bool, secrets: SecretOptions) -> CollectionEndpoint:
    url = parse_url(spec)
    context = tls_context(ca_file, insecure)

    def open_account(user: str, password_file: str | None) -> CollectionSide:
        return DavAccount(url, user, secrets.for_user(user, password_file), context)
    return CollectionEndpoint(open_account)


def inventory(directory: str, target: bool) -> CollectionEndpoint:
    server = ServerCollections(load_inventory(Path(directory)))
    return CollectionEndpoint(lambda user, _: server.account(user, target), server.close)


def local(path: Path) -> CollectionEndpoint:
    return CollectionEndpoint(lambda _, __: LocalCollections(path))


def archive(path: Path) -> CollectionEndpoint:
    def open_user(user: str, _: str | None) -> CollectionSide:
        reader = ArchiveReader(path)  # one per worker, as for the mail
        return ArchiveCollections(reader, reader.user(user))
    return CollectionEndpoint(open_user)


def pair(source: CollectionEndpoint, target: Callable[[str], CollectionSide], user: str, target_user: str,
         password_file: str | None) -> Callable[[], tuple[CollectionSide, CollectionSide]]:
    """What a worker calls to open both sides of one user's move."""
    def open_both() -> tuple[CollectionSide, CollectionSide]:
        side = source.open(user, password_file)
        try:
            return side, target(target_user)
        except BaseException:
            side.close()
            raise
    return open_both
