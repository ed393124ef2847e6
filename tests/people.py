"""People and a group on the shared mail server, for the calendar, contacts and web tests.

Three people with known passwords: A and B in a team group (`provision groups`), C outside
it. Everyone made here is removed at the end.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.conftest import MailServer, provision


@dataclass(frozen=True)
class Person:
    uid: str
    mail: str
    name: str
    password: str


@dataclass(frozen=True)
class Team:
    name: str
    a: Person
    b: Person
    c: Person


def users(server: MailServer, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    return provision("users", args[0], str(server.inventory), *args[1:], input=input, env=server.env,
                     timeout=120)


def calendars(server: MailServer, *args: str) -> subprocess.CompletedProcess[str]:
    return provision("calendars", args[0], str(server.inventory), *args[1:], env=server.env, timeout=120)


def sync(server: MailServer) -> str:
    done = calendars(server, "sync")
    assert done.returncode == 0, done.stderr
    return done.stdout


def _add(server: MailServer, tag: str, label: str) -> Person:
    uid = f"{label.lower()}{tag}"
    person = Person(uid, f"{uid}@example.test", f"{label} Tester{tag}", f"pw-{uuid.uuid4().hex}")
    done = users(server, "add", uid, "--name", person.name, "--mail", person.mail, "--password-stdin",
                 input=person.password + "\n")
    assert done.returncode == 0, done.stderr
    return person


def groups(server: MailServer, *args: str) -> None:
    done = provision("groups", args[0], str(server.inventory), *args[1:], env=server.env, timeout=120)
    assert done.returncode == 0, done.stderr


def set_members(server: MailServer, name: str, add: list[Person], remove: list[Person]) -> None:
    groups(server, "members", name, *[f"--add={person.uid}" for person in add],
           *[f"--remove={person.uid}" for person in remove])


@pytest.fixture(scope="session")
def team(mail_server) -> Iterator[Team]:
    tag = uuid.uuid4().hex[:6]
    people = [_add(mail_server, tag, label) for label in ("A", "B", "C")]
    name = f"team{tag}"
    groups(mail_server, "add", name, "--mail", f"{name}@example.test", "--member", people[0].uid,
           "--member", people[1].uid)
    sync(mail_server)  # the group's calendar and task list, the address book
    try:
        yield Team(name, *people)
    finally:
        groups(mail_server, "remove", name)
        for person in people:
            users(mail_server, "remove", person.uid)
        sync(mail_server)
