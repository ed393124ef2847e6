"""The company address book (CardDAV): every person in the directory, kept in step with it."""

from __future__ import annotations

import json

from tests.dav import request, vcard_fields, vcards
from tests.people import calendars, sync, users

BOOK = "/company/contacts/"


def book(server, person) -> dict[str, dict[str, list[str]]]:
    """The address book as person reads it: address -> the vCard's fields."""
    cards = [vcard_fields(card) for card in vcards(server.host.address, BOOK, person.uid, person.password)]
    return {card["EMAIL"][0]: card for card in cards}


def test_every_person_is_listed_with_name_and_address(mail_server, team):
    exported = users(mail_server, "export", "--format", "json")
    assert exported.returncode == 0, exported.stderr
    people = json.loads(exported.stdout)
    listed = book(mail_server, team.c)
    assert set(listed) == {person["mail"] for person in people}
    for person in people:
        assert listed[person["mail"]]["FN"] == [person["name"]]


def test_the_book_follows_users_set(mail_server, team):
    done = users(mail_server, "set", team.b.uid, "--phone", "+49 30 1234567", "--name", "Bea Changed")
    assert done.returncode == 0, done.stderr
    sync(mail_server)  # at once, rather than waiting for the timer's next run
    card = book(mail_server, team.a)[team.b.mail]
    assert (card["FN"], card["TEL"]) == (["Bea Changed"], ["+49 30 1234567"])
    assert "everything was in step" in calendars(mail_server, "sync").stdout


def test_the_book_is_read_only(mail_server, team):
    card = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:x\r\nFN:Forged\r\nEND:VCARD\r\n"
    response = request(mail_server.host.address, "PUT", f"{BOOK}forged.vcf", team.a.uid, team.a.password,
                       card, {"Content-Type": "text/vcard"})
    assert response.status == 403


def test_a_timer_keeps_the_book_in_step(mail_server):
    state = mail_server.host.ssh(["systemctl", "is-active", "provision-dav-sync.timer"])
    assert state.stdout.strip() == "active"
