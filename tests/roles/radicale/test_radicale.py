"""provision_radicale's decisions, in the Radicale that Debian 13 ships (3.5): which logins
name a person and what each person may do where. Its settings are the radicale role's config
file, rendered with the role's defaults, and its login map and shares are files in a
temporary directory. The password check binds to slapd, which only a server has:
tests/calendars logs in through it.
"""

from __future__ import annotations

import configparser
import json
from pathlib import Path
from types import ModuleType

import pytest
from radicale import config

from tests.programs import defaults, load, render_template

SETTINGS = "/etc/provision/dav/radicale.conf"


@pytest.fixture
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The plugin as Radicale imports it, reading the rendered settings where the server has them."""
    variables = defaults("radicale", provision_domains=["example.test"],
                         provision_hostname="mail.example.test", radicale_data=str(tmp_path / "dav"),
                         radicale_shares_file=str(tmp_path / "shares.json"))
    settings = tmp_path / "radicale.conf"
    settings.write_text(render_template("radicale", "etc/provision/dav/radicale.conf.j2", variables))
    (tmp_path / "dav").mkdir()
    read = configparser.ConfigParser.read

    def read_settings(self, filenames, encoding=None):
        return read(self, str(settings) if filenames == SETTINGS else filenames, encoding)

    with monkeypatch.context() as patch:
        patch.setattr(configparser.ConfigParser, "read", read_settings)
        module = load("radicale", "usr/local/lib/provision/provision_radicale.py")
    (tmp_path / "dav/logins.json").write_text(json.dumps({"anna@example.test": "anna",
                                                          "info@example.test": "anna"}))
    (tmp_path / "shares.json").write_text(json.dumps({"bob/calendar": {"anna": "r", "carl": "rw",
                                                                        "dora": "RW"}}))
    return module


def authorization(plugin: ModuleType, user: str, path: str, groups: frozenset[str] = frozenset()) -> str:
    plugin._groups[user] = groups  # what the login of this request found in slapd
    return plugin.Rights(config.load()).authorization(user, path)


@pytest.mark.parametrize(("login", "uid"), [
    ("anna", "anna"), (" Anna ", "anna"), ("ANNA@example.test", "anna"), ("info@example.test", "anna"),
    ("nobody@example.test", None), ("groups", None), ("company", None), ("9lives", None),
    ("anna/../bob", None), ("", None),
])
def test_a_login_is_a_uid_or_an_address_the_login_map_names(plugin, login, uid):
    assert plugin._uid(login) == uid


def test_the_reserved_names_are_the_role_defaults(plugin):
    assert {plugin.GROUPS_ROOT, plugin.COMPANY_ROOT} == {"groups", "company"}


def test_a_login_without_a_password_or_uid_is_refused_before_slapd(plugin):
    auth = plugin.Auth(config.load())
    assert auth._login("anna", "") == ""
    assert auth._login("nobody@example.test", "secret") == ""


@pytest.mark.parametrize(("path", "granted"), [
    ("/", "R"), ("/anna/", "RW"), ("/anna/calendar/", "rw"), ("/anna/calendar/1.ics", "rw"),
    ("/groups/", "R"), ("/groups/sales/", "RW"), ("/groups/sales/tasks/", "rw"), ("/groups/board/", ""),
    ("/groups/board/tasks/", ""), ("/company/", "R"), ("/company/contacts/", "r"),
    ("/bob/", ""), ("/bob/contacts/", ""), ("/bob/calendar/", "r"), ("/bob/calendar/1.ics", "r"),
])
def test_a_person_owns_their_collections_and_reaches_their_groups_the_company_and_shares(
        plugin, path, granted):
    assert authorization(plugin, "anna", path, frozenset({"sales"})) == granted


def test_a_share_grants_only_what_it_may(plugin):
    assert authorization(plugin, "carl", "/bob/calendar/") == "rw"
    assert authorization(plugin, "dora", "/bob/calendar/") == ""  # r or rw, never the owner's RW


def test_nobody_logged_in_gets_nothing(plugin):
    assert authorization(plugin, "", "/") == ""


def test_changed_shares_take_effect_without_a_restart(plugin, tmp_path):
    assert authorization(plugin, "erik", "/bob/calendar/") == ""
    (tmp_path / "shares.json").write_text(json.dumps({"bob/calendar": {"erik": "rw"}, "padding": 1}))
    assert authorization(plugin, "erik", "/bob/calendar/") == "rw"
