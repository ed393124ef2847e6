"""A consultant's fleet, offline: consultant.yml under the customers' own settings, shown with their
origins, and one render over every customer in which a broken customer is refused alone."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import provision

SIZE_LINE = "provision_message_size_limit_mb: 50\n"


@pytest.fixture
def fleet(made_once: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Customers a, b and c made by init; the consultant sets the message size limit and where role
    mail goes, b leaves the size to the consultant, and c's inventory is broken."""
    source, password = made_once
    monkeypatch.setenv("PROVISION_VAULT_PASSWORD_FILE", str(password))
    fleet = tmp_path / "fleet"
    for name in "abc":
        shutil.copytree(source, fleet / "customers" / name)
    (fleet / "consultant.yml").write_text("provision_message_size_limit_mb: 30\n"
                                          "postfix_role_addresses_to: noc@consultant.example\n")
    settings = fleet / "customers/b/group_vars/all/provision.yml"
    settings.write_text(settings.read_text().replace(SIZE_LINE, ""))
    broken = fleet / "customers/c/group_vars/all/provision.yml"
    broken.write_text(broken.read_text().replace(SIZE_LINE, "provision_message_size_limit_mb: lots\n"))
    return fleet


def test_show_origin_names_the_consultant_and_the_customer(fleet, cli):
    shown = cli("--json", "inventory", "show", str(fleet), "--origin")
    assert shown.status == 1, shown.err  # c is refused
    result = json.loads(shown.out)
    size = "provision_message_size_limit_mb"
    a, b = result["customers"]["a"], result["customers"]["b"]
    assert a[size] == {"value": 50, "origin": str(fleet / "customers/a/group_vars/all/provision.yml")}
    assert b[size] == {"value": 30, "origin": str(fleet / "consultant.yml")}
    assert b["postfix_role_addresses_to"]["origin"] == str(fleet / "consultant.yml")
    assert b["provision_dkim_selector"]["origin"].endswith("customers/b/group_vars/all/provision.yml")
    assert b["provision_public_ipv6"]["origin"].endswith("provision.yml")
    assert b["provision_acme_ca_file"] == {"value": None, "origin": "default"}
    assert list(result["refused"]) == ["c"]
    assert "provision_message_size_limit_mb" in result["refused"]["c"][0]
    table = cli("inventory", "show", str(fleet / "customers/b"), "--origin")
    assert table.status == 0, table.err
    line = next(line for line in table.out.splitlines() if line.startswith(size))
    assert line.split() == [size, "30", str(fleet / "consultant.yml")]


def test_a_single_inventory_shows_its_own_file(inventory, cli):
    shown = cli("--json", "inventory", "show", str(inventory))
    assert shown.status == 0, shown.err
    settings = json.loads(shown.out)["settings"]
    assert settings["provision_hostname"]["origin"] == str(inventory / "group_vars/all/provision.yml")


def test_consultant_cannot_set_a_customers_own_setting(fleet, cli):
    (fleet / "consultant.yml").write_text("provision_hostname: mail.consultant.example\nprovision_color: 3\n")
    checked = cli("inventory", "check", str(fleet / "customers/a"))
    assert checked.status == 2
    assert (f"{fleet / 'consultant.yml'}: provision_hostname: is the customer's own, not one for every "
            "customer") in checked.err
    assert f"{fleet / 'consultant.yml'}: provision_color: is not a provision setting" in checked.err
    shown = cli("inventory", "show", str(fleet))  # every customer refused: bad input, nothing shown
    assert shown.status == 2 and shown.out == ""
    assert f"a: {fleet / 'consultant.yml'}: provision_hostname: is the customer's own" in shown.err


def test_fleet_render_refuses_the_broken_customer_alone(fleet, tmp_path):
    own = fleet / "templates/postfix/etc/aliases.j2"  # the consultant's, for every customer
    own.parent.mkdir(parents=True)
    own.write_text("# the consultant's aliases\nroot: {{ postfix_role_addresses_to }}\n")
    customers = fleet / "customers/b/templates/postfix/etc/aliases.j2"  # b's own, over the consultant's
    customers.parent.mkdir(parents=True)
    customers.write_text("# b's aliases\n")
    out = tmp_path / "out"
    done = provision("--json", "render", str(fleet), str(out), "--forks", "3")
    assert done.returncode == 1, done.stderr
    result = json.loads(done.stdout)
    assert result["failed"] == ["c"]
    assert [result["customers"][name]["status"] for name in "abc"] == ["ok", "ok", "refused"]
    assert "c: " in done.stderr and "provision_message_size_limit_mb" in done.stderr
    main_cf = {name: (out / name / "postfix/etc/postfix/main.cf").read_text() for name in "ab"}
    assert "message_size_limit = 52428800\n" in main_cf["a"]  # a's own 50 MiB
    assert "message_size_limit = 31457280\n" in main_cf["b"]  # the consultant's 30 MiB
    consultants = "# the consultant's aliases\nroot: noc@consultant.example\n"
    assert (out / "a/postfix/etc/aliases").read_text() == consultants
    assert (out / "b/postfix/etc/aliases").read_text() == "# b's aliases\n"
    assert not (out / "c").exists()
    assert "<vault_ldap_postfix_password>" in (out / "a/postfix/etc/postfix/ldap/aliases.cf").read_text()


def test_customer_of_a_fleet_alone_has_the_consultants_layer(fleet, tmp_path):
    out = tmp_path / "out"
    done = provision("render", str(fleet / "customers/b"), str(out))
    assert done.returncode == 0, done.stderr
    assert "message_size_limit = 31457280\n" in (out / "mail/postfix/etc/postfix/main.cf").read_text()


def test_unknown_customer_is_refused_before_anything_is_written(fleet, tmp_path):
    done = provision("render", str(fleet), str(tmp_path / "out"), "--customers", "a,zed")
    assert done.returncode == 2
    assert "no customer named zed\nprovision: hint: the customers are: a, b, c\n" in done.stderr
    assert not (tmp_path / "out").exists()


def test_an_extra_role_that_is_nowhere_is_refused_before_the_run(fleet, tmp_path):
    (fleet / "customers/a/group_vars/all/roles.yml").write_text("hooks_extra_roles: [audit]\n")
    missing = provision("render", str(fleet / "customers/a"), str(tmp_path / "out"))
    assert missing.returncode == 2
    assert (f"mail: hooks_extra_roles: audit is not a role in roles/ of {fleet} or {fleet / 'customers/a'}"
            in missing.stderr)
    role = fleet / "roles/audit/tasks/main.yml"  # the consultant's, for every customer
    role.parent.mkdir(parents=True)
    role.write_text("- name: Audit\n  ansible.builtin.debug: {msg: audited}\n")
    found = provision("render", str(fleet / "customers/a"), str(tmp_path / "again"))
    assert found.returncode == 0, found.stderr
