"""Fixtures for the DNS records tests: the example inventory, its records, and Knot servers."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from provision.dns.records import MailRecords, mail_records
from provision.inventory import vault
from provision.inventory.load import load
from provision.inventory.model import Inventory
from provision.inventory.secrets import DKIM_KEYS
from tests.conftest import REPO, provision
from tests.dnsserver import AuthoritativeServer, TsigKey

EXAMPLE = REPO / "inventory.example"
PASSWORD_FILE = EXAMPLE / "vault-password.example"
ENV = {vault.PASSWORD_FILE_VARIABLE: str(PASSWORD_FILE)}
KEY = TsigKey("provision-test", "hmac-sha256", "cHJvdmlzaW9uLXRlc3Qta2V5LWZvci1sb29wYmFjay0=")
ZONES = ("example.org.", "xn--bcher-kva.example.")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    """The provision CLI with the example inventory's vault password."""
    return provision(*args, env=ENV, timeout=120)


def zone_sections(snippet: str) -> dict[str, list[str]]:
    """The record lines of each ";; ---- zone NAME ----" section of a zone-file snippet."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in snippet.splitlines():
        header = re.fullmatch(r";; ---- (?:zone (\S+)|.*) ----", line)
        if header:
            current = sections.setdefault(header.group(1), []) if header.group(1) else None
        elif current is not None and line and not line.startswith(";"):
            current.append(line)
    return sections


@pytest.fixture(scope="session", autouse=True)
def example_password() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(vault.PASSWORD_FILE_VARIABLE, str(PASSWORD_FILE))
        yield


@pytest.fixture(scope="session")
def example() -> Inventory:
    return load(EXAMPLE)


@pytest.fixture(scope="session")
def dkim_keys() -> dict[str, str]:
    return vault.read(EXAMPLE)[DKIM_KEYS]


@pytest.fixture(scope="session")
def example_records(example: Inventory, dkim_keys: dict[str, str]) -> MailRecords:
    return mail_records(example, dkim_keys)


@pytest.fixture
def inventory_copy(tmp_path: Path) -> Path:
    """A copy of the example inventory a test may edit (the same vault password)."""
    copy = tmp_path / "inventory"
    shutil.copytree(EXAMPLE, copy)
    return copy


def edit_settings(directory: Path, old: str, new: str) -> None:
    settings = directory / "group_vars/all/provision.yml"
    text = settings.read_text()
    assert old in text
    settings.write_text(text.replace(old, new))


@pytest.fixture
def knot(tmp_path: Path) -> Iterator[AuthoritativeServer]:
    """A Knot server of the test's own that accepts updates signed with KEY (serials stay its own)."""
    with AuthoritativeServer(tmp_path / "knot", update_key=KEY) as server:
        yield server


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "update.key"
    path.write_text(f'# the test key\nkey "{KEY.name}" {{\n\talgorithm {KEY.algorithm};\n'
                    f'\tsecret "{KEY.secret}";\n}};\n')
    os.chmod(path, 0o600)
    return path
