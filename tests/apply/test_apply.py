"""provision apply against a fresh sandbox: the roles converge, then change nothing."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest

from tests.conftest import provision, start_sandbox, stop_sandbox


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A fresh sandbox, an inventory made by `provision init`, and a first apply."""
    host = start_sandbox("pytest-apply")
    directory = tmp_path_factory.mktemp("customer") / "acme-gmbh"
    password_file = directory.parent / "vault.password"
    password_file.write_text("test vault password\n")
    env = {"PROVISION_VAULT_PASSWORD_FILE": str(password_file)}
    init = provision("init", str(directory), "--domain", "example.test", "--hostname", host.hostname,
                     "--host", host.address, "--sandbox", env=env)
    assert init.returncode == 0, init.stderr
    first = provision("--json", "apply", str(directory), env=env)
    assert first.returncode == 0, first.stderr
    yield host, directory, env
    stop_sandbox(host.name)


def test_second_apply_changes_nothing(server):
    _, directory, env = server
    again = provision("--json", "apply", str(directory), env=env)
    assert again.returncode == 0, again.stderr
    result = json.loads(again.stdout)
    assert result["status"] == "ok"
    assert result["hosts"]["mail"]["changed"] == 0, result["changed_tasks"]
    assert provision("apply", str(directory), env=env).stdout.rstrip().endswith("nothing to change")


def test_host_is_named(server):
    host, _, _ = server
    assert host.ssh("hostname --fqdn").stdout.strip() == host.hostname


def test_firewall_drops_what_is_not_served(server):
    host, _, _ = server
    host.ssh("systemd-run --unit=stray-listener python3 -m http.server 8080")
    try:
        time.sleep(0.5)
        assert host.ssh("python3 -c \"import socket; socket.create_connection(('127.0.0.1', 8080), 2)\"")
        with pytest.raises(OSError):
            socket.create_connection((host.address, 8080), timeout=2).close()
        socket.create_connection((host.address, 22), timeout=2).close()
    finally:
        host.ssh("systemctl stop stray-listener")


def test_check_diff_shows_a_change_and_makes_none(server):
    host, directory, env = server
    settings = directory / "group_vars/all/provision.yml"
    original = settings.read_text()
    settings.write_text(original.replace("provision_update_policy: security", "provision_update_policy: all")
                        if "provision_update_policy:" in original
                        else original + "provision_update_policy: all\n")
    try:
        preview = provision("apply", str(directory), "--check", "--diff", env=env)
        assert preview.returncode == 0, preview.stderr
        assert "+        \"origin=Debian,codename=${distro_codename},label=Debian\";" in preview.stderr
        assert "would be made" in preview.stdout
        on_server = host.ssh("cat /etc/apt/apt.conf.d/50unattended-upgrades").stdout
        assert "label=Debian\";" not in on_server.replace("label=Debian-Security", "")
    finally:
        settings.write_text(original)


def test_bad_inventory_is_refused_before_connecting(tmp_path):
    directory = tmp_path / "broken"
    (directory / "group_vars/all").mkdir(parents=True)
    (directory / "hosts.yml").write_text("all:\n  hosts:\n    mail:\n      ansible_host: 198.51.100.254\n")
    (directory / "group_vars/all/provision.yml").write_text("provision_domains: [not a domain]\n")
    started = time.monotonic()
    done = provision("apply", str(directory))
    assert done.returncode == 2
    assert "provision_domains" in done.stderr
    assert "unreachable" not in done.stderr and "»" not in done.stderr
    assert time.monotonic() - started < 10


assert Path("/opt/provision/venv/bin/ansible-playbook").exists(), "run ./install.sh --tests first"
