"""provision updates status: one run over the fleet's servers, apt's own answer per customer."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from provision.commands.updates import pending
from tests.conftest import provision, sandbox_name, start_sandbox, stop_sandbox


def test_security_updates_are_told_apart():
    said = ("Reading package lists...\n"
            "Inst libssl3t64 [3.5.1-1] (3.5.1-1+deb13u1 Debian-Security:13/stable-security [amd64])\n"
            "Inst tzdata [2025b-4] (2025b-4+deb13u1 Debian:13.2/stable [all])\n"
            "Inst linux-image-6.12 (6.12.48-1 Debian:13.2/stable, Debian-Security:13/stable-security "
            "[amd64])\n"
            "Conf tzdata (2025b-4+deb13u1 Debian:13.2/stable [all])\n")
    found = pending({"List the pending updates": {"stdout": said},
                     "Look for the reboot flag": {"stat": {"exists": True}}})
    assert found == {"security": ["libssl3t64 3.5.1-1+deb13u1", "linux-image-6.12 6.12.48-1"],
                     "other": ["tzdata 2025b-4+deb13u1"], "reboot": True}


@pytest.fixture(scope="module")
def fleet(tmp_path_factory) -> Iterator[tuple[Path, object, dict[str, str]]]:
    """Two customers whose inventories point at one fresh sandbox (status only reads)."""
    box = start_sandbox(sandbox_name("up"))
    try:
        fleet = tmp_path_factory.mktemp("updates")
        password = fleet / "vault.password"
        password.write_text("test vault password\n")
        env = {"PROVISION_VAULT_PASSWORD_FILE": str(password)}
        for name in ("u1", "u2"):
            made = provision("init", str(fleet / "customers" / name), "--domain", f"{name}.example.test",
                             "--hostname", box.hostname, "--host", box.address, "--sandbox", env=env)
            assert made.returncode == 0, made.stderr
        (fleet / "consultant.yml").write_text("provision_update_policy: security\n")
        yield fleet, box, env
    finally:
        stop_sandbox(box.name)


def test_status_is_what_apt_says_on_each_server(fleet):
    directory, box, env = fleet
    truth = box.ssh("apt-get --simulate --quiet dist-upgrade").stdout.count("\nInst ")
    done = provision("--json", "updates", "status", str(directory), env=env)
    assert done.returncode == 0, done.stderr
    customers = json.loads(done.stdout)["customers"]
    for name in ("u1", "u2"):
        assert customers[name]["status"] == "ok"
        assert len(customers[name]["security"]) + len(customers[name]["other"]) == truth
        assert customers[name]["reboot"] is False
    box.ssh("touch /run/reboot-required")
    try:
        flagged = provision("updates", "status", str(directory), "--customers", "u2", env=env)
        assert flagged.returncode == 0, flagged.stderr
        header, row = flagged.stdout.splitlines()[:2]
        assert header.split() == ["CUSTOMER", "STATUS", "SECURITY", "OTHER", "REBOOT"]
        assert row.split()[0:2] == ["u2", "ok"] and row.split()[-1] == "yes"
    finally:
        box.ssh("rm -f /run/reboot-required")


def test_an_unreachable_customer_fails_alone(fleet):
    """u3's server does not let its login in: ssh fails for u3, and the others are still answered."""
    directory, _, env = fleet
    away = directory / "customers/u3"
    shutil.copytree(directory / "customers/u2", away)
    hosts = away / "hosts.yml"
    hosts.write_text(hosts.read_text().replace("ansible_user: root", "ansible_user: nobody-here"))
    try:
        done = provision("--json", "updates", "status", str(directory), env=env)
        assert done.returncode == 1, done.stderr
        result = json.loads(done.stdout)
        assert result["failed"] == ["u3"]
        assert result["customers"]["u1"]["status"] == result["customers"]["u2"]["status"] == "ok"
        assert "u3: unreachable" in result["customers"]["u3"]["failures"][0]
    finally:
        shutil.rmtree(away)
