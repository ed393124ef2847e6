"""Every file read from a path a user or a customer gave is read without following a link and never
when it is a FIFO or device: an accounts file, password and token files, user CSVs, inventory files,
certificate files an inventory names, TSIG keys, passphrase files and archives (issue 12, item 1)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from provision.archive.store import DirectoryStore
from provision.files import Refused
from provision.migrate.endpoints import read_accounts
from provision.migrate.secrets import SecretOptions
from tests.conftest import REPO, provision

SECRET = "the-vault-password-of-another-customer\n"


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "other-customer.password"
    path.write_text(SECRET)
    return path


def linked(tmp_path: Path, name: str, target: Path) -> Path:
    link = tmp_path / name
    link.symlink_to(target)
    return link


def test_a_password_file_named_in_a_customers_accounts_file_is_not_followed(tmp_path: Path,
                                                                           secret: Path) -> None:
    """The password would be sent to the customer's IMAP server: a link must not choose it."""
    link = linked(tmp_path, "bob.password", secret)
    accounts = tmp_path / "accounts.csv"
    accounts.write_text(f"source,target,password_file\nimaps://bob@imap.example.net,bob@example.org,{link}\n")
    [account] = read_accounts(accounts)
    with pytest.raises(Refused, match="is a symbolic link: not followed"):
        SecretOptions().for_user(account.source_user, account.password_file)()


def test_an_accounts_file_that_is_a_link_is_refused(tmp_path: Path) -> None:
    real = tmp_path / "real.csv"
    real.write_text("source,target\nimaps://bob@imap.example.net,bob@example.org\n")
    with pytest.raises(Refused, match="is a symbolic link"):
        read_accounts(linked(tmp_path, "accounts.csv", real))


def test_a_fifo_as_password_file_is_refused_not_waited_for(tmp_path: Path) -> None:
    fifo = tmp_path / "password"
    os.mkfifo(fifo)
    done = provision("users", "add", str(tmp_path / "nowhere"), "bob", "--name", "Bob",
                     "--mail", "bob@example.org", "--password-file", str(fifo), timeout=30)
    assert done.returncode == 2, done.stderr
    assert f"{fifo} is not a regular file" in done.stderr


def test_a_users_csv_that_is_a_link_is_refused(tmp_path: Path, secret: Path) -> None:
    done = provision("users", "import", str(tmp_path / "nowhere"), str(linked(tmp_path, "new.csv", secret)),
                     "--password-out", str(tmp_path / "passwords.csv"), timeout=60)
    assert done.returncode == 2, done.stderr
    assert "new.csv is a symbolic link: not followed" in done.stderr


def test_inventory_files_that_are_links_are_refused(tmp_path: Path) -> None:
    inventory = tmp_path / "acme"
    shutil.copytree(REPO / "inventory.example", inventory)
    real = tmp_path / "hosts.yml"
    (inventory / "hosts.yml").rename(real)
    (inventory / "hosts.yml").symlink_to(real)
    done = provision("inventory", "check", str(inventory), timeout=120)
    assert done.returncode == 2
    assert f"{inventory / 'hosts.yml'}: is a symbolic link: not followed" in done.stderr


@pytest.mark.parametrize("setting", ["provision_tls_key_file", "provision_tls_cert_file"])
def test_a_certificate_file_an_inventory_names_must_be_pem_and_no_link(tmp_path: Path, secret: Path,
                                                                      setting: str) -> None:
    """Ansible copies these to the customer's server: not a vault password, not through a link."""
    inventory = tmp_path / "acme"
    shutil.copytree(REPO / "inventory.example", inventory)
    settings = inventory / "group_vars/all/provision.yml"
    link = linked(tmp_path, "key.pem", secret)
    settings.write_text(settings.read_text().replace("provision_tls_mode: acme", "provision_tls_mode: files")
                        + f"provision_tls_cert_file: {secret}\nprovision_tls_key_file: {secret}\n"
                        .replace(f"{setting}: {secret}", f"{setting}: {link}"))
    done = provision("inventory", "check", str(inventory), timeout=120)
    assert done.returncode == 2
    assert f"{setting}: {link} is a symbolic link" in done.stderr
    other = "provision_tls_cert_file" if setting.endswith("key_file") else "provision_tls_key_file"
    assert f"{other}: {secret} holds no PEM" in done.stderr


def test_an_archive_directory_with_a_linked_folder_is_not_followed(tmp_path: Path, secret: Path) -> None:
    archive = tmp_path / "archive"
    (archive / "users").mkdir(parents=True)
    (archive / "users" / "bob").symlink_to(secret.parent)
    with pytest.raises(OSError, match="symbolic link"):
        DirectoryStore(archive).open(f"users/bob/{secret.name}")


def test_a_tsig_key_file_that_is_a_link_is_not_followed(tmp_path: Path, secret: Path) -> None:
    shutil.copytree(REPO / "inventory.example", tmp_path / "inventory")
    link = linked(tmp_path, "secret.key", secret)
    done = provision("dns", "push", str(tmp_path / "inventory"), "--tsig-key", str(link),
                     "--server", "127.0.0.1", timeout=120)
    assert done.returncode == 2, done.stderr
    assert "is a symbolic link: not followed" in done.stderr
