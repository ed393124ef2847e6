"""Jinja in an inventory is data, never code: Ansible templates what it reads, on the controller, as root,
so a customer's inventory could otherwise run any command there (issue 12, item 2)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from provision.inventory import load as loader
from provision.inventory import vault
from tests.inventory.conftest import Run

SETTINGS = "group_vars/all/provision.yml"


def probe(marker: Path) -> str:
    return f"{{{{ lookup('pipe', 'touch {marker}') }}}}"


def with_admin_name(inventory: Path, name: str) -> None:
    path = inventory / SETTINGS
    data = yaml.safe_load(path.read_text())
    data["provision_first_admin"]["name"] = name
    path.write_text(yaml.safe_dump(data, allow_unicode=True))


@pytest.mark.parametrize("command", [["inventory", "check"], ["apply", "--check"], ["render"]])
def test_the_issue_probe_is_refused_before_ansible(cli: Callable[..., Run], inventory: Path, tmp_path: Path,
                                                   command: list[str]) -> None:
    marker = tmp_path / "x"
    with_admin_name(inventory, probe(marker))
    hosts = inventory / "hosts.yml"  # were the check missing, ssh would find no server on loopback
    hosts.write_text(hosts.read_text().replace("203.0.113.25", "127.0.0.1"))
    argv = [*command, str(inventory)] + ([str(tmp_path / "out")] if command == ["render"] else [])
    done = cli(*argv)
    assert done.status == 2, done.err
    assert (f"{inventory / SETTINGS}: provision_first_admin.name: holds a Jinja template ({{{{, {{% or {{#), "
            "which Ansible would run") in done.err
    assert not marker.exists()


def test_every_file_and_key_is_checked(cli: Callable[..., Run], inventory: Path) -> None:
    hosts = inventory / "hosts.yml"
    hosts.write_text(hosts.read_text().replace("ansible_user: root", "ansible_user: '{% raw %}x'")
                     + "  vars: {ansible_connection: local}\n")
    settings = inventory / SETTINGS
    settings.write_text(settings.read_text() + "provision_smarthost: {host: relay.example.net, "
                        "username: \"{# x #}\"}\n")
    done = cli("inventory", "check", str(inventory))
    assert done.status == 2
    assert f"{hosts}: all.hosts.mail.ansible_user: holds a Jinja template" in done.err
    assert f"{hosts}: all.vars: is not used" in done.err
    assert f"{settings}: provision_smarthost.username: holds a Jinja template" in done.err


def test_unknown_host_variables_are_refused(cli: Callable[..., Run], inventory: Path) -> None:
    """Ansible is given only the checked host; a variable it would have read is refused, not dropped."""
    hosts = inventory / "hosts.yml"
    hosts.write_text(hosts.read_text().replace("ansible_user: root",
                                               "ansible_user: root\n      ansible_connection: local"))
    done = cli("inventory", "check", str(inventory))
    assert done.status == 2
    assert f"{hosts}: all.hosts.mail.ansible_connection: is not used" in done.err


def test_ansible_gets_every_value_as_unsafe(cli: Callable[..., Run], inventory: Path, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Past the check too (a value made in code, a check missed): Ansible renders the text, runs nothing."""
    monkeypatch.setattr(loader, "_no_templates", lambda *_, **__: None)
    marker = tmp_path / "x"
    with_admin_name(inventory, probe(marker))
    out = tmp_path / "out"
    done = cli("render", str(inventory), str(out))
    assert done.status == 0, done.err + done.out
    assert not marker.exists()
    rendered = "".join(path.read_text(errors="replace") for path in out.rglob("*") if path.is_file())
    assert probe(marker) in rendered


def test_a_secret_with_a_template_is_refused_and_not_shown(cli: Callable[..., Run], inventory: Path) -> None:
    secret = "pw{{ lookup('env', 'HOME') }}"
    vault.write(inventory, {**vault.read(inventory), "vault_first_admin_password": secret})
    done = cli("inventory", "check", str(inventory))
    assert done.status == 2
    assert "vault.yml: vault_first_admin_password: holds a Jinja template" in done.err
    assert secret not in done.err + done.out


def test_a_link_among_the_template_overrides_is_refused(cli: Callable[..., Run], inventory: Path,
                                                        tmp_path: Path) -> None:
    """Ansible would render the file it points at and copy the result to the customer's server."""
    overrides = inventory / "templates/postfix/etc/postfix"
    overrides.mkdir(parents=True)
    (overrides / "master.cf.j2").symlink_to("/etc/shadow")
    done = cli("render", str(inventory), str(tmp_path / "out"))
    assert done.status == 2
    assert f"{overrides / 'master.cf.j2'} is a symbolic link: not followed" in done.err
