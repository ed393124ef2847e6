"""Calendars and task lists with a real CalDAV client (the caldav library) on the shared mail server.

A and B are in the team group, C is not. Everything goes through nginx on 443 to Radicale,
whose logins are checked against the directory: the same passwords as for mail.
"""

from __future__ import annotations

import json
import uuid

import caldav
import pytest
from caldav.lib.error import DAVError

from tests.conftest import MailServer
from tests.dav import request
from tests.people import Person, calendars, set_members, users


def client(server: MailServer, person: Person, password: str | None = None) -> caldav.DAVClient:
    # The sandbox's self-signed certificate is for its names, which this host does not resolve:
    # the client talks to the address (the certificate's names are checked in test_web.py).
    return caldav.DAVClient(url=f"https://{server.host.address}/", username=person.uid,
                            password=person.password if password is None else password,
                            ssl_verify_cert=False, timeout=30)


def collection(server: MailServer, person: Person, path: str) -> caldav.Calendar:
    return client(server, person).calendar(url=f"https://{server.host.address}/{path}/")


def event(summary: str) -> str:
    return (f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//provision tests//EN\r\nBEGIN:VEVENT\r\n"
            f"UID:{uuid.uuid4()}\r\nDTSTAMP:20260101T090000Z\r\nDTSTART:20261201T090000Z\r\n"
            f"DTEND:20261201T100000Z\r\nSUMMARY:{summary}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")


def todo(summary: str) -> str:
    return (f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//provision tests//EN\r\nBEGIN:VTODO\r\n"
            f"UID:{uuid.uuid4()}\r\nDTSTAMP:20260101T090000Z\r\nSUMMARY:{summary}\r\nEND:VTODO\r\n"
            "END:VCALENDAR\r\n")


def summaries(items: list) -> set[str]:
    return {str(item.icalendar_component["SUMMARY"]) for item in items}


def status(server: MailServer, person: Person, path: str, method: str = "PROPFIND") -> int:
    return request(server.host.address, method, f"/{path}/", person.uid, person.password,
                   headers={"Depth": "0"}).status


def test_well_known_leads_a_client_to_its_own_calendar_tasks_and_contacts(mail_server, team):
    found = request(mail_server.host.address, "GET", "/.well-known/caldav", host=mail_server.host.hostname)
    assert (found.status, found.headers["location"]) == (301, f"https://{mail_server.host.hostname}/")
    assert request(mail_server.host.address, "GET", "/.well-known/carddav").status == 301
    principal = client(mail_server, team.c).principal()
    names = {calendar.url.path.rstrip("/").rsplit("/", 1)[-1]: calendar.get_supported_components()
             for calendar in principal.calendars()}
    assert names == {"calendar": ["VEVENT"], "tasks": ["VTODO"]}
    assert status(mail_server, team.c, f"{team.c.uid}/contacts") == 207


def test_the_address_logs_in_as_well_as_the_uid(mail_server, team):
    response = request(mail_server.host.address, "PROPFIND", f"/{team.a.uid}/", team.a.mail, team.a.password,
                       headers={"Depth": "0"})
    assert response.status == 207


def test_team_members_share_the_team_calendar_and_task_list(mail_server, team):
    meeting, chore = f"Team meeting {uuid.uuid4().hex[:6]}", f"Team chore {uuid.uuid4().hex[:6]}"
    collection(mail_server, team.a, f"groups/{team.name}/calendar").save_event(event(meeting))
    collection(mail_server, team.a, f"groups/{team.name}/tasks").save_todo(todo(chore))
    assert meeting in summaries(collection(mail_server, team.b, f"groups/{team.name}/calendar").events())
    assert chore in summaries(collection(mail_server, team.b, f"groups/{team.name}/tasks").todos())


def test_someone_outside_the_group_is_refused(mail_server, team):
    for name in ("calendar", "tasks"):
        assert status(mail_server, team.c, f"groups/{team.name}/{name}") == 403
        assert status(mail_server, team.c, f"groups/{team.name}/{name}", "GET") == 403
    with pytest.raises(DAVError):
        collection(mail_server, team.c, f"groups/{team.name}/calendar").save_event(event("intruder"))
    assert status(mail_server, team.c, f"{team.a.uid}/calendar") == 403


def test_leaving_the_group_takes_access_away_at_once(mail_server, team):
    path = f"groups/{team.name}/calendar"
    set_members(mail_server, team.name, add=[], remove=[team.b])
    try:
        assert status(mail_server, team.b, path) == 403
    finally:
        set_members(mail_server, team.name, add=[team.b], remove=[])
    assert status(mail_server, team.b, path) == 207


def test_a_share_gives_read_or_write_access_and_unshare_takes_it_back(mail_server, team):
    path, title = f"{team.a.uid}/calendar", f"Dentist {uuid.uuid4().hex[:6]}"
    collection(mail_server, team.a, path).save_event(event(title))
    assert status(mail_server, team.c, path) == 403

    done = calendars(mail_server, "share", path, "--with", team.c.uid, "--read")
    assert done.returncode == 0, done.stderr
    assert title in summaries(collection(mail_server, team.c, path).events())
    with pytest.raises(DAVError):
        collection(mail_server, team.c, path).save_event(event("not allowed"))

    assert calendars(mail_server, "share", path, "--with", team.c.uid, "--write").returncode == 0
    collection(mail_server, team.c, path).save_event(event("written by C"))
    assert "written by C" in summaries(collection(mail_server, team.a, path).events())
    listed = calendars(mail_server, "shares", "--json")
    assert {"collection": path, "user": team.c.uid, "access": "read and write"} in json.loads(listed.stdout)

    done = calendars(mail_server, "unshare", path, "--with", team.c.uid)
    assert done.returncode == 0, done.stderr
    assert status(mail_server, team.c, path) == 403


def test_share_refuses_what_does_not_exist(mail_server, team):
    missing = calendars(mail_server, "share", f"{team.a.uid}/nothing", "--with", team.c.uid, "--read")
    assert missing.returncode == 2 and "no collection" in missing.stderr
    nobody = calendars(mail_server, "share", f"{team.a.uid}/calendar", "--with", "nobody-here", "--read")
    assert nobody.returncode == 2 and "no person" in nobody.stderr
    assert calendars(mail_server, "unshare", f"{team.a.uid}/calendar", "--with", team.b.uid).returncode == 2


def test_wrong_password_and_disabled_person_are_refused(mail_server, team):
    assert status(mail_server, team.b, f"{team.b.uid}/calendar") == 207
    wrong = request(mail_server.host.address, "PROPFIND", f"/{team.b.uid}/", team.b.uid, "wrong",
                    headers={"Depth": "0"})
    assert wrong.status == 401
    assert users(mail_server, "disable", team.b.uid).returncode == 0
    try:
        assert status(mail_server, team.b, f"{team.b.uid}/calendar") == 401
        with pytest.raises(DAVError):
            client(mail_server, team.b).principal()
    finally:
        assert users(mail_server, "enable", team.b.uid).returncode == 0
    assert status(mail_server, team.b, f"{team.b.uid}/calendar") == 207
