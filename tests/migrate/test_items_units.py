"""Calendar and contact items split, joined and identified; LDIF written and read back; mbox spans. No
servers: these are the parts whose every case a sandbox test cannot reach."""

from __future__ import annotations

import os
from pathlib import Path

from provision.directory.ldif import entries
from provision.migrate.directory import _entry
from provision.migrate.items import digest, join, split
from provision.migrate.local import LocalMail, _labels

ZONE = b"BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nEND:VTIMEZONE\r\n"
SERIES = (b"BEGIN:VEVENT\r\nUID:series\r\nDTSTART;TZID=Europe/Berlin:20261201T090000\r\nRRULE:FREQ=WEEKLY\r\n"
          b"END:VEVENT\r\nBEGIN:VEVENT\r\nUID:series\r\nRECURRENCE-ID;TZID=Europe/Berlin:20261208T090000\r\n"
          b"SUMMARY:moved, and a long line folded\r\n  here\r\nEND:VEVENT\r\n")
TASK = b"BEGIN:VTODO\r\nUID:task\r\nSUMMARY:t\r\nEND:VTODO\r\n"


def calendar(*parts: bytes, prodid: bytes = b"-//a//EN") -> bytes:
    head = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:" + prodid + b"\r\n"
    return head + b"".join(parts) + b"END:VCALENDAR\r\n"


def test_a_recurring_event_and_its_exception_are_one_item_with_their_time_zone() -> None:
    items = split(calendar(ZONE, SERIES, TASK), "calendar")
    assert [item.uid for item in items] == ["series", "task"]
    assert items[0].data == calendar(ZONE, SERIES) and items[0].count == 2
    assert items[1].data == calendar(TASK)  # no time zone it does not use


def test_split_then_join_gives_the_file_back_byte_for_byte() -> None:
    whole = calendar(ZONE, SERIES, TASK)
    assert join(split(whole, "calendar"), "calendar") == whole
    cards = b"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:c1\r\nFN:A\r\nEND:VCARD\r\nBEGIN:VCARD\nUID:c2\nEND:VCARD\n"
    assert [item.uid for item in split(cards, "contacts")] == ["c1", "c2"]
    assert join(split(cards, "contacts"), "contacts") == cards


def test_identity_survives_reserialisation_but_not_a_change() -> None:
    item = calendar(ZONE, SERIES)
    reordered = SERIES.replace(b"RRULE:FREQ=WEEKLY\r\n", b"").replace(
        b"UID:series\r\nDTSTART", b"UID:series\r\nRRULE:FREQ=WEEKLY\r\nDTSTART")
    refolded = calendar(reordered.replace(b"folded\r\n  here", b"fol\r\n ded here"),
                        prodid=b"-//Radicale//NONSGML//EN")
    assert digest(item) == digest(refolded)
    assert digest(item) != digest(item.replace(b"SUMMARY:moved", b"SUMMARY:cancelled"))


def test_ldif_values_that_are_not_safe_strings_go_base64_and_come_back() -> None:
    entry = _entry("uid=jörg,ou=people,dc=example,dc=test",
                   {"cn": ["Jörg Müller"], "userPassword": ["{ARGON2}$argon2id$v=19$m=65536" + "x" * 80],
                    "description": [" leading space"]})
    assert b"cn:: " in entry and b"description:: " in entry
    assert all(len(line) <= 77 for line in entry.split(b"\n"))
    (parsed,) = entries(entry)
    assert parsed["dn"] == ["uid=jörg,ou=people,dc=example,dc=test"]
    assert parsed["userPassword"] == ["{ARGON2}$argon2id$v=19$m=65536" + "x" * 80]
    assert parsed["description"] == [" leading space"]


def test_takeout_labels() -> None:
    folders, flags = _labels("Inbox,Opened,Important,Category Social,Work/Q1,Starred")
    assert [folder.name for folder in folders] == ["INBOX", "Work/Q1"]
    assert sorted(flags) == ["\\Flagged", "\\Seen"]
    folders, flags = _labels("Important,Unread")
    assert [(folder.name, folder.special_use) for folder in folders] == [("Archive", "\\Archive")]
    assert not flags


def test_mbox_messages_come_out_unescaped(tmp_path: Path) -> None:
    path = tmp_path / "box.mbox"
    path.write_bytes(b"From a Mon Nov 02 10:00:00 2026\nSubject: 1\n\n>From here\n>>From there\n\n"
                     b"From b Mon Nov 02 11:00:00 2026\nSubject: 2\n\nFrom-less\n")
    mail = LocalMail(path, "someone@example.test")
    (folder,) = mail.folders()
    view = mail.open(folder)
    metas = [meta for meta, _ in view.listing]
    bodies = [data for _, data in mail.bodies(view, metas)]
    assert bodies == [b"Subject: 1\r\n\r\nFrom here\r\n>From there\r\n", b"Subject: 2\r\n\r\nFrom-less\r\n"]
    assert [meta.internaldate.hour for meta in metas] == [10, 11]


def test_maildir_folders_flags_and_dates(tmp_path: Path) -> None:
    for folder in ("", ".Sent", ".Projekte.&ANw-bersicht"):
        for sub in ("cur", "new", "tmp"):
            (tmp_path / folder / sub).mkdir(parents=True, exist_ok=True)
    (tmp_path / "cur" / "1.a:2,FS").write_bytes(b"Subject: a\n\nx\n")
    (tmp_path / "new" / "2.b").write_bytes(b"Subject: b\r\n\r\ny\r\n")
    (tmp_path / ".Projekte.&ANw-bersicht" / "cur" / "3.c:2,RS").write_bytes(b"Subject: c\n\nz\n")
    os.utime(tmp_path / "cur" / "1.a:2,FS", (1700000000, 1700000000))
    mail = LocalMail(tmp_path, "someone@example.test")
    assert [folder.name for folder in mail.folders()] == ["INBOX", "Projekte/Übersicht", "Sent"]
    inbox = [meta for meta, _ in mail.open(mail.folders()[0]).listing]
    assert sorted(meta.flags for meta in inbox) == [(), ("\\Flagged", "\\Seen")]
    assert min(meta.internaldate.timestamp() for meta in inbox) == 1700000000
    ((projects, _),) = mail.open(mail.folders()[1]).listing
    assert projects.flags == ("\\Answered", "\\Seen")
