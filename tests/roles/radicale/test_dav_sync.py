"""provision-dav-sync's work on a storage of its own: the company address book, the group
collections, the login map and the Apple profiles, from people and groups as slapd lists them.

The settings are the radicale role's config file, rendered with the role's defaults and the
storage moved into a temporary directory; the real run is tests/collab/test_contacts.py's.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.programs import defaults, load, render_template

dav_sync = load("radicale", "usr/local/sbin/provision-dav-sync")

ALICE = {"uid": ["alice"], "cn": ["Alice Admin"], "sn": ["Admin"], "givenname": ["Alice"],
         "mail": ["alice@example.test"], "maillocaladdress": ["Postmaster@example.test"],
         "telephonenumber": ["+49 30 1234, ext. 5"]}
BOB = {"uid": ["bob"], "cn": ["Bob; Builder"], "sn": ["Builder"], "mail": ["bob@example.test"]}


@pytest.fixture
def sync(tmp_path: Path):
    variables = defaults("radicale", provision_domains=["example.test"],
                         provision_hostname="mail.example.test",
                         radicale_storage=str(tmp_path / "collections"), radicale_data=str(tmp_path / "dav"))
    config = tmp_path / "radicale.conf"
    config.write_text(render_template("radicale", "etc/provision/dav/radicale.conf.j2", variables))
    profile = tmp_path / "apple-profile.xml"
    profile.write_text(render_template("radicale", "etc/provision/dav/apple-profile.xml.j2", variables))
    (tmp_path / "collections").mkdir()
    owner = (os.getuid(), os.getgid())
    return dav_sync.Sync(dav_sync.Settings(str(config)), owner, os.getgid(), str(profile))


def test_a_first_run_makes_everything_and_a_second_changes_nothing(sync, tmp_path):
    changes = sync.run([ALICE, BOB], [{"cn": ["sales"]}])
    company = tmp_path / "collections/collection-root/company/contacts"
    assert f"made {company}" in changes
    assert {"company address book: wrote alice.vcf", "company address book: wrote bob.vcf",
            "wrote the login map", "wrote the profile alice.mobileconfig"} <= set(changes)
    assert json.loads((company / ".Radicale.props").read_text()) == {"D:displayname": "Company",
                                                                     "tag": "VADDRESSBOOK"}
    sales = tmp_path / "collections/collection-root/groups/sales"
    assert json.loads((sales / "tasks/.Radicale.props").read_text()) == {
        "D:displayname": "sales tasks", "tag": "VCALENDAR", "C:supported-calendar-component-set": "VTODO"}
    assert json.loads((tmp_path / "dav/logins.json").read_text()) == {
        "alice@example.test": "alice", "postmaster@example.test": "alice", "bob@example.test": "bob"}
    assert sync.run([ALICE, BOB], [{"cn": ["sales"]}]) == []


def test_a_vcard_escapes_what_vcard_text_reserves():
    card = dav_sync.vcard(BOB | {"telephonenumber": ["1,2"]})
    assert "\r\nFN:Bob\\; Builder\r\n" in card and "\r\nTEL;TYPE=WORK,VOICE:1\\,2\r\n" in card
    assert card == dav_sync.vcard(BOB | {"telephonenumber": ["1,2"]})  # the same UID every time
    assert card.endswith("END:VCARD\r\n")


def test_people_who_left_are_dropped_but_group_collections_stay(sync, tmp_path):
    sync.run([ALICE, BOB], [{"cn": ["sales"]}])
    changes = sync.run([ALICE], [])
    assert "company address book: removed bob.vcf" in changes
    assert "removed the profile bob.mobileconfig" in changes
    assert (tmp_path / "collections/collection-root/groups/sales/calendar/.Radicale.props").is_file()


def test_a_profile_names_its_person_escaped_for_xml(sync, tmp_path):
    sync.run([BOB | {"cn": ["Bob & Co <b>"]}], [])
    profile = (tmp_path / "dav/profiles/bob.mobileconfig").read_text()
    assert "Bob &amp; Co &lt;b&gt;" in profile and "bob@example.test" in profile
    assert "${" not in profile
    assert (tmp_path / "dav/profiles/bob@example.test.mobileconfig").read_text() == profile


def test_groups_whose_name_is_no_path_part_are_passed_over(sync, tmp_path):
    sync.run([], [{"cn": ["a/b"]}, {"cn": [".hidden"]}, {}])
    assert sorted(os.listdir(tmp_path / "collections/collection-root")) == ["company"]
