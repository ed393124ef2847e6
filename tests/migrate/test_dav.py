"""Calendars, task lists and address books: a provider's plain Radicale (set up by the test) to an archive,
into our own server (its Radicale storage), and back to another provider account."""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import RUN, MailServer, provision
from tests.migrate import davprovider
from tests.migrate.conftest import DOMAIN, Seeded
from tests.migrate.davprovider import DavProvider, collection_items, configure, seed

SEEDED = (6, 5, 4)  # events (every other one recurring with exceptions), tasks, vCards (half with photos)
STORAGE = "/var/lib/radicale/collections/collection-root"


def run(*args: str, env: dict[str, str] | None = None):
    return provision(*args, env=env, timeout=600)


@pytest.fixture(scope="module")
def dav(provider: Seeded) -> DavProvider:
    passwords = {f"{name}@{DOMAIN}": f"dav-{name}-{provider.provider.address}" for name in ("cal1", "cal2")}
    found = configure(provider.provider, provider.secrets, passwords)
    seed(found, f"cal1@{DOMAIN}", SEEDED)
    return found


@pytest.fixture(scope="module")
def person(mail_server: MailServer, tmp_path_factory) -> Iterator[str]:
    uid = f"dav{RUN}"
    password = tmp_path_factory.mktemp("person") / "password"
    password.write_text("a long enough test password\n")
    added = run("users", "add", str(mail_server.inventory), uid, "--name", "Dav Person", "--mail",
                f"{uid}@example.test", "--password-file", str(password), env=mail_server.env)
    assert added.returncode == 0, added.stderr
    synced = run("calendars", "sync", str(mail_server.inventory), env=mail_server.env)  # the login map
    assert synced.returncode == 0, synced.stderr
    try:
        yield uid
    finally:
        run("users", "remove", str(mail_server.inventory), uid, "--purge", env=mail_server.env)
        mail_server.host.ssh(f"rm -rf {STORAGE}/{uid}")


def secret(dav: DavProvider, directory: Path, user: str) -> Path:
    path = directory / f"{user}.password"
    path.write_text(dav.passwords[user] + "\n")
    path.chmod(0o600)
    return path


def content(data: bytes) -> list[bytes]:
    """An item as a reader sees it: unfolded lines, without the producer's PRODID, in any order."""
    lines = re.sub(rb"\r?\n[ \t]", b"", data).splitlines()
    return sorted(line for line in lines if line and not line.upper().startswith(b"PRODID"))


def items_by_uid(dav: DavProvider, user: str) -> dict[str, dict[str, list[bytes]]]:
    """collection -> UID -> content, read with plain HTTP from the provider."""
    found: dict[str, dict[str, list[bytes]]] = {}
    for collection, items in collection_items(dav, user).items():
        for data in items.values():
            uid = re.search(rb"^UID:(.*?)\r?$", data, re.M)
            assert uid, data[:200]
            found.setdefault(collection, {})[uid.group(1).decode()] = content(data)
    return found


def collection_rows(report: dict) -> dict[str, dict]:
    return {f"{c['kind']}:{c['name']}": c for user in report["users"] for c in user["collections"]}


def test_calendars_and_contacts_round_trip(provider: Seeded, dav: DavProvider, mail_server: MailServer,
                                           person: str, tmp_path: Path) -> None:
    """provider -> archive (export) -> our server (import) -> provider (migrate); re-runs copy nothing."""
    source, back = f"cal1@{DOMAIN}", f"cal2@{DOMAIN}"
    ca = ["--ca-file", str(dav.ca_file), "--state", str(tmp_path / "state")]
    address = f"{person}@example.test"

    archive = tmp_path / "archive"
    exported = run("--json", "export", dav.url(source), "-o", str(archive), "--password-file",
                   str(secret(dav, tmp_path, source)), *ca)
    assert exported.returncode == 0, exported.stderr + exported.stdout
    rows = collection_rows(json.loads(exported.stdout))
    assert {key: row["source_items"] for key, row in rows.items()} == {
        "calendar:arbeit": SEEDED[0], "tasks:aufgaben": SEEDED[1], "contacts:kontakte": SEEDED[2]}
    assert run("archive", "verify", str(archive)).returncode == 0
    manifest = json.loads((archive / "manifest.json").read_text())
    counted = {c["name"]: c["items"] for c in manifest["users"][0]["collections"]}
    # every other event carries a moved occurrence: a second VEVENT with the same UID
    assert counted == {"arbeit": SEEDED[0] + (SEEDED[0] + 1) // 2, "aufgaben": SEEDED[1],
                       "kontakte": SEEDED[2]}

    imported = run("--json", "import", str(archive), str(mail_server.inventory),
                   "--map", f"{source}={address}", *ca, env=mail_server.env)
    assert imported.returncode == 0, imported.stderr + imported.stdout
    report = json.loads(imported.stdout)
    assert report["complete"] and report["missing"] == 0
    assert sum(row["copied"] for row in collection_rows(report).values()) == sum(SEEDED)

    # Byte for byte on our server: each item file as the provider served it.
    served = {name: set(items.values()) for name, items in collection_items(dav, source).items()}
    for name, items in served.items():
        stored = mail_server.host.ssh(f"cat {STORAGE}/{person}/{name}/*").stdout.encode()
        for data in items:
            assert data.replace(b"\r\n", b"\n") in stored.replace(b"\r\n", b"\n"), (name, data[:120])

    again = run("--json", "migrate", dav.url(source), str(mail_server.inventory), "--map",
                f"{source}={address}", "--password-file", str(secret(dav, tmp_path, source)), *ca,
                env=mail_server.env)
    assert again.returncode == 0, again.stderr + again.stdout
    rows = collection_rows(json.loads(again.stdout))
    assert [row["copied"] for row in rows.values()] == [0, 0, 0]
    assert sorted(row["skipped"] for row in rows.values()) == sorted(SEEDED)

    moved = run("--json", "migrate", str(mail_server.inventory), dav.url(back), "--users", address,
                "--map", f"{address}={back}", "--target-password-file", str(secret(dav, tmp_path, back)), *ca,
                env=mail_server.env)
    assert moved.returncode == 0, moved.stderr + moved.stdout
    report = json.loads(moved.stdout)
    assert report["complete"], report

    original, returned = items_by_uid(dav, source), items_by_uid(dav, back)
    # our server also gave the person its own (empty) calendar, task list and address book
    assert {name for name, items in returned.items() if items} == set(original)
    for name in original:
        assert returned[name] == original[name], name
    photos = [line for items in returned.values() for lines in items.values() for line in lines
              if line.startswith(b"PHOTO")]
    assert len(photos) == (SEEDED[2] + 1) // 2 and all(len(photo) > 20000 for photo in photos)


def test_dav_login_refused_is_reported(dav: DavProvider, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong"
    wrong.write_text("not the password\n")
    done = run("migrate", dav.url(f"cal1@{DOMAIN}"), dav.url(f"cal2@{DOMAIN}"), "--dry-run",
               "--password-file", str(wrong), "--target-password-file", str(wrong),
               "--ca-file", str(dav.ca_file), "--state", str(tmp_path / "state"))
    assert done.returncode == 1
    assert "refused the login" in done.stderr


def test_takeout_calendars_and_contacts_reach_our_server(mail_server: MailServer, person: str,
                                                        tmp_path: Path) -> None:
    """A Takeout folder's .ics and .vcf land in the person's Radicale storage, one item per UID."""
    takeout = tmp_path / "Takeout"
    (takeout / "Calendar").mkdir(parents=True)
    (takeout / "Contacts" / "Alle Kontakte").mkdir(parents=True)
    (takeout / "Mail").mkdir()
    (takeout / "Mail" / "All mail Including Spam and Trash.mbox").write_bytes(
        b"From 1@xxx Mon Nov 02 10:00:00 +0000 2026\nX-Gmail-Labels: Inbox\nMessage-ID: <g1@gmail.test>\n"
        b"Subject: hello\n\nhi\n\n")
    events = [text.split("END:VCALENDAR")[0].split("PRODID:-//provider test//EN\r\n")[1]
              for _, text in davprovider.events("takeout@gmail.test", 4)]
    (takeout / "Calendar" / "Privat.ics").write_text(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Google Inc//Google Calendar 70.9054//EN\r\n"
        + "".join(events) + "END:VCALENDAR\r\n", newline="")
    (takeout / "Contacts" / "Alle Kontakte" / "Alle Kontakte.vcf").write_text(
        "".join(text for _, text in davprovider.cards("takeout@gmail.test", 3)), newline="")
    address = f"{person}@example.test"
    done = run("--json", "migrate", str(takeout), str(mail_server.inventory), "--users", address,
               "--state", str(tmp_path / "state"), env=mail_server.env)
    assert done.returncode == 0, done.stderr + done.stdout
    rows = collection_rows(json.loads(done.stdout))
    assert {key: (row["source_items"], row["copied"]) for key, row in rows.items()} == {
        "calendar:Privat": (4, 4), "contacts:Alle Kontakte": (3, 3)}
    home = f"{STORAGE}/{person}"
    paths = " ".join(shlex.quote(f"{home}/{name}") for name in ("Privat", "Alle%20Kontakte"))
    listed = mail_server.host.ssh(f"ls {paths}").stdout.split()
    assert len([name for name in listed if name.endswith((".ics", ".vcf"))]) == 7
