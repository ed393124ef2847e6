"""The installed `provision` through every command that reads or writes a vault, with the PATH of a root
login shell: nothing of the venv on it, as on a machine where only install.sh was run."""

from __future__ import annotations

import json

import yaml

from tests.conftest import MailServer
from tests.install.conftest import Installed


def test_init_secret_apply_and_users_with_a_plain_path(mail_server: MailServer, installed: Installed):
    env = mail_server.env
    # init, without --sandbox, on the sandbox's address: it says so and writes a sandbox inventory.
    host = mail_server.host
    made = installed.provision("init", "acme", "--domain", "acme.test", "--hostname", host.hostname,
                               "--host", host.address, env=env)
    assert made.returncode == 0, made.stderr
    assert f"{host.address} is the sandbox {host.name}" in made.stderr
    settings = yaml.safe_load((installed.workdir / "acme/group_vars/all/provision.yml").read_text())
    assert settings["provision_sandbox"] is True
    secret = installed.provision("secret", "acme", "vault_first_admin_password", env=env)
    assert secret.returncode == 0 and len(secret.stdout.strip()) >= 16, secret.stderr

    inventory = str(mail_server.inventory)
    applied = installed.provision("apply", inventory, env=env)
    assert applied.returncode == 0, applied.stderr + applied.stdout
    assert "nothing to change" in applied.stdout

    added = installed.provision("--json", "users", "add", inventory, "newcomer", "--name", "New Comer",
                                "--mail", "newcomer@example.test", env=env)
    assert added.returncode == 0, added.stderr
    try:
        exported = installed.provision("--json", "users", "export", inventory, env=env)
        assert exported.returncode == 0, exported.stderr
        assert "newcomer" in {row["uid"] for row in json.loads(exported.stdout)}
        # A reader that stops after one line: no traceback, nothing on stderr.
        head = installed.shell(f"provision users list {inventory} --json | head -1", env=env)
        assert (head.stdout, head.stderr) == ("[\n", "")
    finally:
        removed = installed.provision("users", "remove", inventory, "newcomer", "--purge", env=env)
        assert removed.returncode == 0, removed.stderr
