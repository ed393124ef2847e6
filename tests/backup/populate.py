"""What a customer's server holds, put there as the customer's people would: a person with a password,
mail in folders with flags, a shared mailbox, an event, a task and a contact."""

from __future__ import annotations

import imaplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage

from tests.conftest import provision
from tests.dav import request


@dataclass(frozen=True)
class Person:
    uid: str
    mail: str
    password: str


def add_person(inventory: str, env: dict[str, str], uid: str, domain: str, password: str) -> Person:
    done = provision("users", "add", inventory, uid, "--name", uid.title(), "--mail", f"{uid}@{domain}",
                     "--password-stdin", input=password + "\n", env=env)
    assert done.returncode == 0, done.stderr
    return Person(uid, f"{uid}@{domain}", password)


def imap(address: str, person: Person) -> imaplib.IMAP4_SSL:
    client = imaplib.IMAP4_SSL(address, 993, ssl_context=ssl._create_unverified_context(), timeout=30)
    client.login(person.mail, person.password)
    return client


def message(number: int, sender: str, recipient: str) -> bytes:
    mail = EmailMessage()
    mail["From"], mail["To"] = sender, recipient
    mail["Subject"] = f"Angebot {number}"
    mail["Message-ID"] = f"<backup-{number}@{recipient.split('@')[1]}>"
    mail.set_content(f"Zeile {number}\n" * (number * 40))
    return mail.as_bytes()


def fill_mailbox(address: str, person: Person, count: int) -> None:
    """count messages: INBOX (every other one seen and flagged) and a folder Projekte/2026."""
    with imap(address, person) as client:
        client.create('"Projekte/2026"')
        for number in range(count):
            folder = "INBOX" if number % 3 else '"Projekte/2026"'
            flags = r"(\Seen \Flagged)" if number % 2 else "()"
            typ, _ = client.append(folder, flags, None, message(number, "kunde@example.net", person.mail))
            assert typ == "OK"


EVENT = """BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//provision tests//EN\r
BEGIN:VEVENT\r
UID:backup-event-1\r
DTSTAMP:20261201T090000Z\r
DTSTART:20261215T090000Z\r
DTEND:20261215T100000Z\r
SUMMARY:Jahresabschluss\r
END:VEVENT\r
END:VCALENDAR\r
"""
TASK = EVENT.replace("VEVENT", "VTODO").replace("backup-event-1", "backup-task-1").replace(
    "DTEND:20261215T100000Z\r\n", "")
CONTACT = ("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:backup-contact-1\r\nFN:Kunde Eins\r\nN:Eins;Kunde;;;\r\n"
           "END:VCARD\r\n")


def fill_collections(address: str, person: Person) -> None:
    for path, body, kind in ((f"/{person.uid}/calendar/event.ics", EVENT, "text/calendar"),
                             (f"/{person.uid}/tasks/task.ics", TASK, "text/calendar"),
                             (f"/{person.uid}/contacts/contact.vcf", CONTACT, "text/vcard")):
        # The first request makes the person's collections (Radicale makes them at first login).
        request(address, "PROPFIND", f"/{person.uid}/", person.uid, person.password, headers={"Depth": "0"})
        done = request(address, "PUT", path, person.uid, person.password, body, {"Content-Type": kind})
        assert done.status in (201, 204), (path, done.status, done.body[:200])
