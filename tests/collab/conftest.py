"""People and a group on the shared mail server, for the calendar and contacts tests.

Three people with known passwords: A and B in a team group, C outside it. The group is
made with ldap3 in the tree the directory role builds (groupOfNames under ou=groups),
the way the groups commands store one. Everyone made here is removed at the end.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import ldap3
import pytest

from provision.directory.connect import base_dn, connect
from provision.inventory.load import load
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


@contextmanager
def directory(server: MailServer) -> Iterator[tuple[ldap3.Connection, str]]:
    """The server's directory as the CLI reaches it (SSH tunnel), and its base DN."""
    with pytest.MonkeyPatch.context() as patch:
        for key, value in server.env.items():  # the vault password, as the CLI children get it
            patch.setenv(key, value)
        inventory = load(server.inventory)
        with connect(inventory) as connection:
            yield connection, base_dn(inventory)


def set_members(server: MailServer, name: str, members: list[Person]) -> None:
    """The group's members (groupOfNames, under ou=groups as the groups commands keep it)."""
    with directory(server) as (connection, base):
        dn = f"cn={name},ou=groups,{base}"
        member = [f"uid={person.uid},ou=people,{base}" for person in members]
        connection.search(f"ou=groups,{base}", f"(cn={name})", attributes=[])
        if not connection.entries:
            connection.add(dn, ["groupOfNames"], {"cn": name, "member": member})
        elif member:
            connection.modify(dn, {"member": [(ldap3.MODIFY_REPLACE, member)]})
        else:
            connection.delete(dn)


@pytest.fixture(scope="package")
def team(mail_server) -> Iterator[Team]:
    tag = uuid.uuid4().hex[:6]
    people = [_add(mail_server, tag, label) for label in ("A", "B", "C")]
    name = f"team{tag}"
    set_members(mail_server, name, people[:2])
    sync(mail_server)  # the group's calendar and task list, the address book
    try:
        yield Team(name, *people)
    finally:
        set_members(mail_server, name, [])
        for person in people:
            users(mail_server, "remove", person.uid)
        sync(mail_server)
