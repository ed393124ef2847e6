"""The provider sandbox: plain Dovecot configured by the test, with generated mailboxes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import sandbox_name, start_sandbox, stop_sandbox
from tests.migrate import corpus
from tests.migrate.provider import Provider, configure

DOMAIN = "provider.test"
# Seeded accounts and how many generated messages each holds (plus corpus.odd_ones).
SEEDED = {"anna": 24, "bob": 10, "dave": 120}
EMPTY = ("anna2", "bob2", "carl", "dave2", "erin", "fred", "gina", "hana", "ivan", "kim", "lena")


@dataclass
class Seeded:
    provider: Provider
    mail: dict[str, list[corpus.Message]]
    secrets: Path

    def user(self, name: str) -> str:
        return f"{name}@{DOMAIN}"

    def password_file(self, name: str) -> Path:
        path = self.secrets / f"{name}.password"
        if not path.exists():
            path.write_text(self.provider.passwords[self.user(name)] + "\n")
            path.chmod(0o600)
        return path

    def url(self, name: str) -> str:
        return self.provider.url(self.user(name))

    def snapshot(self, name: str):
        user = self.user(name)
        provider = self.provider
        conn = corpus.connect(provider.address, user, provider.passwords[user], str(provider.ca_file))
        try:
            return corpus.snapshot(conn)
        finally:
            conn.logout()


@pytest.fixture(scope="session")
def provider(tmp_path_factory) -> Iterator[Seeded]:
    host = start_sandbox(sandbox_name("prov"))
    directory = tmp_path_factory.mktemp("provider")
    passwords = {f"{name}@{DOMAIN}": f"pw-{name}-{host.address}" for name in [*SEEDED, *EMPTY]}
    try:
        seeded = Seeded(configure(host.name, host.address, directory, passwords), {}, directory)
        for name, count in SEEDED.items():
            # dave's mailbox has bigger messages: a copy of it takes long enough to be killed half-way
            largest = (3 if name == "dave" else 2) * 1024 * 1024
            mail = corpus.messages(seeded.user(name), count, max_size=largest)
            if name == "anna":  # the round trip carries one message of 25 MB
                mail.append(corpus.big_one(seeded.user(name)))
            conn = corpus.connect(host.address, seeded.user(name), passwords[seeded.user(name)],
                                  str(seeded.provider.ca_file))
            corpus.seed(conn, mail)
            conn.logout()
            seeded.mail[name] = mail
        yield seeded
    finally:
        stop_sandbox(host.name)
