"""The installed package works on its own: no checkout, no PATH beyond a root login shell's."""

from __future__ import annotations

import shutil
import tomllib

from tests.conftest import REPO
from tests.install.conftest import Installed


def test_the_version_and_where_the_playbooks_are(installed: Installed):
    version = installed.provision("--version")
    assert version.returncode == 0, version.stderr
    assert version.stdout.startswith("provision 0.")
    helped = installed.provision("--help")
    package = next((installed.venv / "lib").glob("python3*/site-packages")) / "provision"
    assert f"playbooks in use: {package / 'playbooks'}\n" in helped.stdout
    assert f"templates in use: {package / 'templates'}\n" in helped.stdout


def test_render_runs_from_the_package_outside_the_checkout(installed: Installed):
    # Its own names: the session's other tests work in the same directory.
    inventory = installed.workdir / "render-acme"
    shutil.copytree(REPO / "inventory.example", inventory)
    # A customer's own template, laid over the packaged one (the roles' links are made per run).
    override = inventory / "templates/base/etc/hostname.j2"
    override.parent.mkdir(parents=True)
    override.write_text("# managed by provision: the customer's own\n{{ provision_hostname }}\n")
    password = {"PROVISION_VAULT_PASSWORD_FILE": str(inventory / "vault-password.example")}
    done = installed.provision("render", "render-acme", "render-out", env=password)
    assert done.returncode == 0, done.stderr + done.stdout
    rendered = installed.workdir / "render-out/mail"
    assert "myhostname = mail.example.org\n" in (rendered / "postfix/etc/postfix/main.cf").read_text()
    assert (rendered / "base/etc/hostname").read_text() == ("# managed by provision: the customer's own\n"
                                                            "mail.example.org\n")


def test_the_wheel_lists_every_package_of_the_checkout():
    """pyproject.toml names the packages one by one (package-dir mappings need that): none may be missing."""
    listed = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    inits = (REPO / "provision").rglob("__init__.py")
    found = {".".join(init.relative_to(REPO).parent.parts) for init in inits}
    assert set(listed) == found | {"provision.playbooks", "provision.templates"}
