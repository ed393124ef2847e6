"""provision render: every config file rendered locally, with no secret in it."""

from __future__ import annotations

import hashlib
import json
import os
import shutil

import pytest

from provision.inventory import vault
from tests.conftest import REPO, provision

EXAMPLE = REPO / "inventory.example"
ENV = {"PROVISION_VAULT_PASSWORD_FILE": str(EXAMPLE / "vault-password.example")}
# What `provision render` writes for the example inventory: the SHA-256 and path of each file.
EXPECTED = REPO / "tests/commands/example.sha256"


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    out = tmp_path_factory.mktemp("rendered") / "out"
    done = provision("render", str(EXAMPLE), str(out), env=ENV)
    assert done.returncode == 0, done.stderr + done.stdout
    return out / "mail"


def test_every_role_renders_its_files(rendered):
    files = {str(path.relative_to(rendered)) for path in rendered.rglob("*") if path.is_file()}
    assert {"base/etc/nftables.conf", "postfix/etc/postfix/main.cf", "postfix/etc/postfix/master.cf",
            "dovecot/etc/dovecot/dovecot.conf", "dkim/etc/opendkim.conf",
            "directory/etc/default/slapd"} <= files


def test_the_example_renders_as_reviewed(rendered):
    """Any change to what apply writes shows here: review the files, then write the listing anew
    with PROVISION_RENDER_REVIEWED=1 pytest tests/commands/test_render.py -k reviewed."""
    listing = "".join(f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {path.relative_to(rendered)}\n"
                      for path in sorted(rendered.rglob("*")) if path.is_file())
    if os.environ.get("PROVISION_RENDER_REVIEWED") == "1":
        EXPECTED.write_text(listing)
    expected, actual = set(EXPECTED.read_text().splitlines()), set(listing.splitlines())
    assert sorted(line.split()[1] for line in expected ^ actual) == []


def test_settings_reach_the_files(rendered):
    main_cf = (rendered / "postfix/etc/postfix/main.cf").read_text()
    assert "myhostname = mail.example.org\n" in main_cf
    assert "message_size_limit = 52428800\n" in main_cf


def test_every_config_file_is_marked_as_managed(rendered):
    def marked(text: str) -> bool:
        return "managed by provision" in "".join(text.splitlines(True)[:3])

    unmarked = [str(path.relative_to(rendered)) for path in rendered.rglob("*")
                if path.is_file() and not marked(path.read_text())]
    assert unmarked == []


def test_no_secret_is_written(rendered, monkeypatch):
    monkeypatch.setenv(*next(iter(ENV.items())))
    secrets = []
    for value in vault.read(EXAMPLE).values():
        secrets += list(value.values()) if isinstance(value, dict) else [value]
    texts = [path.read_text() for path in rendered.rglob("*") if path.is_file()]

    def middle(secret: str) -> str:  # PEM keys share their first and last lines
        return secret[len(secret) // 2 - 8:len(secret) // 2 + 8]

    assert not [name for name in map(str, secrets) for text in texts if middle(name) in text]
    senders = (rendered / "postfix/etc/postfix/ldap/senders.cf").read_text()
    assert "bind_pw = <vault_ldap_postfix_password>" in senders


def test_refuses_a_directory_with_files_in_it(tmp_path):
    (tmp_path / "old").write_text("x")
    done = provision("render", str(EXAMPLE), str(tmp_path), env=ENV)
    assert done.returncode == 2
    assert "exists and is not empty" in done.stderr


def test_role_variables_in_the_inventory_reach_the_roles(tmp_path):
    """A role's documented variable set beside the settings, or in a file of its own in group_vars/all,
    is what the role renders with, as Ansible's own group_vars would be."""
    inventory = tmp_path / "acme"
    shutil.copytree(EXAMPLE, inventory)
    settings = inventory / "group_vars/all/provision.yml"
    settings.write_text(settings.read_text() + "\npostfix_role_addresses: [postmaster, abuse, security]\n")
    (inventory / "group_vars/all/roles.yml").write_text("postfix_role_addresses_to: it@example.org\n")
    done = provision("render", str(inventory), str(tmp_path / "out"), env=ENV)
    assert done.returncode == 0, done.stderr + done.stdout
    table = (tmp_path / "out/mail/postfix/etc/postfix/role-addresses").read_text()
    assert "security@example.org it@example.org" in table
    assert "postmaster@example.org it@example.org" in table


def test_a_setting_or_a_template_in_a_role_variables_file_is_refused(tmp_path):
    inventory = tmp_path / "acme"
    shutil.copytree(EXAMPLE, inventory)
    (inventory / "group_vars/all/roles.yml").write_text(
        "provision_hostname: other.example.org\ntls_names: \"{{ lookup('pipe', 'id') }}\"\n")
    done = provision("render", str(inventory), str(tmp_path / "out"), env=ENV)
    assert done.returncode == 2
    assert "roles.yml: provision_hostname: belongs elsewhere" in done.stderr
    assert "roles.yml: tls_names: holds a Jinja template" in done.stderr


def test_a_customer_with_a_backup_host_sees_the_backup_files(tmp_path):
    inventory = tmp_path / "acme"
    shutil.copytree(EXAMPLE, inventory)
    settings = inventory / "group_vars/all/provision.yml"
    settings.write_text(settings.read_text() + "\nbackup_host: backup.example.org\n")
    done = provision("render", str(inventory), str(tmp_path / "out"), env=ENV)
    assert done.returncode == 0, done.stderr + done.stdout
    backup = tmp_path / "out/mail/backup"
    config = json.loads((backup / "etc/provision/backup/backup.json").read_text())
    assert next(iter(config)) == "managed"
    assert config["repository"] == "ssh://borg@backup.example.org/srv/borg/mail.example.org"
    assert "OnCalendar=*-*-* 02:30:00" in (backup / "etc/systemd/system/provision-backup.timer").read_text()
