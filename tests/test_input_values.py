"""Values that reach LDAP or Ansible are checked before anything is reached: reserved DAV names,
control characters, telephone numbers, CSV rows that do not fit, addresses (issue 12, item 10)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from provision.inventory import values
from tests.conftest import REPO, provision


def add(tmp_path: Path, uid: str, *options: str) -> tuple[int, str]:
    """users add against an inventory that does not exist: a refusal here comes before it is read."""
    done = provision("users", "add", str(tmp_path / "no-inventory"), uid, "--password-stdin", *options,
                     input="never-used\n", timeout=60)
    return done.returncode, done.stderr


@pytest.mark.parametrize("uid", ["groups", "company", "profile.mobileconfig"])
def test_uids_the_dav_layout_uses_are_refused(tmp_path: Path, uid: str) -> None:
    status, said = add(tmp_path, uid, "--name", "X", "--mail", f"{uid}@example.org")
    assert status == 2
    assert f'"{uid}" is reserved: https://HOST/{uid}/ holds shared collections' in said


def test_the_reserved_names_are_the_radicale_roles_roots() -> None:
    defaults = yaml.safe_load((REPO / "playbooks/roles/radicale/defaults/main.yml").read_text())
    assert {defaults["radicale_groups_root"], defaults["radicale_company_root"]} <= set(values.DAV_RESERVED)


@pytest.mark.parametrize("options, complaint", [
    (["--name", "X", "--mail", "anna@example.org", "--phone", "+49 30 1\nmail: evil@example.org"],
     "holds a control character"),
    (["--name", "Anna\tBerg", "--mail", "anna@example.org"], "holds a control character"),
    (["--name", "Anna", "--mail", "anna@example.org", "--phone", "call me"], "is not a telephone number"),
])
def test_directory_attributes_with_control_characters_or_nonsense_are_refused(
        tmp_path: Path, options: list[str], complaint: str) -> None:
    status, said = add(tmp_path, "anna", *options)
    assert status == 2, said
    assert complaint in said and "LDAP" not in said


def test_users_set_checks_its_values_before_the_directory(tmp_path: Path) -> None:
    done = provision("users", "set", str(tmp_path / "no-inventory"), "anna", "--phone", "1\n2", timeout=60)
    assert done.returncode == 2
    assert "holds a control character" in done.stderr


@pytest.mark.parametrize("text, lines", [
    ("uid,name,mail,aliases,phone\nanna,Anna,anna@example.org,,,surplus\nbob,Bob,bob@example.org,,\n"
     "carl,Carl,carl@example.org,,,x,y\n",
     ["line 2: 1 more cells than the header has columns", "line 4: 2 more cells than the header"]),
    ('uid,name,mail,aliases,phone\nanna,"Anna Berg,anna@example.org,,\nbob,Bob,bob@example.org,,\n',
     ["line 2: a quote opened on this line is never closed"]),
])
def test_csv_rows_that_do_not_fit_are_reported_and_nothing_is_imported(tmp_path: Path, text: str,
                                                                       lines: list[str]) -> None:
    sheet = tmp_path / "people.csv"
    sheet.write_text(text)
    done = provision("users", "import", str(tmp_path / "no-inventory"), str(sheet),
                     "--password-out", str(tmp_path / "pw.csv"), timeout=60)
    assert done.returncode == 2
    for line in lines:
        assert f"{sheet} {line}" in done.stderr
    assert f"{sheet}: nothing was imported" in done.stderr
    assert "is not a text" not in done.stderr
    assert not (tmp_path / "pw.csv").exists()


@pytest.mark.parametrize("host", ["999.1.1.1", "1.2.3", "10.0.0.256", "2001:db8::zz"])
def test_a_bad_ip_address_is_called_one(tmp_path: Path, host: str) -> None:
    done = provision("init", str(tmp_path / "acme"), "--domain", "example.org", "--hostname",
                     "mail.example.org", "--host", host, "--public-ipv4", "203.0.113.25", timeout=60)
    assert done.returncode == 2
    assert f'--host: "{host}" is not a valid IP address' in done.stderr
    assert "not a name" not in done.stderr


def test_values_refuse_control_characters_everywhere_text_is_taken() -> None:
    for bad in ("a\nb", "a\rb", "a\x00b", "a\x1bb"):
        with pytest.raises(values.Invalid, match="control character"):
            values.text(bad)
    assert values.text("Zoë Ångström 🙂") == "Zoë Ångström 🙂"
    assert values.phone("+49 (30) 123-45/67") == "+49 (30) 123-45/67"
