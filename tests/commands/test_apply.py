"""provision apply against a fresh sandbox: the roles converge, then change nothing."""

from __future__ import annotations

import json
import shutil
import smtplib
import socket
import time
from pathlib import Path

import pytest

from tests.conftest import provision


def test_check_on_a_new_server_changes_nothing(mail_server):
    """The fixture ran `apply --check` on the fresh sandbox before the first apply."""
    preview = mail_server.fresh_check
    assert preview.returncode == 0, preview.stderr
    result = json.loads(preview.stdout)
    assert result["check"] and result["hosts"]["mail"]["changed"] > 0
    assert "Install Postfix" in " ".join(result["changed_tasks"])


def test_second_apply_changes_nothing(mail_server):
    again = mail_server.apply("--json")
    assert again.returncode == 0, again.stderr
    result = json.loads(again.stdout)
    assert result["status"] == "ok"
    assert result["hosts"]["mail"]["changed"] == 0, result["changed_tasks"]
    assert "\nnothing to change\n" in mail_server.apply().stdout


def test_host_is_named(mail_server):
    host = mail_server.host
    assert host.ssh("hostname --fqdn").stdout.strip() == host.hostname


def test_firewall_drops_what_is_not_served(mail_server):
    host = mail_server.host
    host.ssh("systemd-run --unit=stray-listener python3 -m http.server 8080")
    try:
        time.sleep(0.5)
        assert host.ssh("python3 -c \"import socket; socket.create_connection(('127.0.0.1', 8080), 2)\"")
        with pytest.raises(OSError):
            socket.create_connection((host.address, 8080), timeout=2).close()
        socket.create_connection((host.address, 22), timeout=2).close()
    finally:
        host.ssh("systemctl stop stray-listener")


def test_check_diff_shows_a_change_and_makes_none(mail_server):
    host, directory, env = mail_server.host, mail_server.inventory, mail_server.env
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


def test_broken_template_override_fails_and_postfix_keeps_serving(mail_server):
    override = mail_server.inventory / "templates/postfix/etc/postfix/main.cf.j2"
    override.parent.mkdir(parents=True)
    override.write_text("# a customer's own main.cf, with a mistake\nmyhostname mail.example.test\n")
    try:
        broken = mail_server.apply()
        assert broken.returncode == 1
        assert "Write the Postfix configuration" in broken.stderr
        assert "missing '=' after attribute name" in broken.stderr
        assert mail_server.host.ssh("postconf -h myhostname").stdout.strip() == mail_server.host.hostname
        with smtplib.SMTP(mail_server.host.address, 25, timeout=20) as smtp:
            smtp.ehlo("client.example.net")
            smtp.mail("someone@example.net")
            assert smtp.rcpt("admin@example.test")[0] == 250
    finally:
        shutil.rmtree(mail_server.inventory / "templates")
    assert mail_server.apply().returncode == 0


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
