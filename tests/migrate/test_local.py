"""Local sources into a provider's IMAP account: a Google Takeout folder whose labels become folders
without duplicated messages, and a plain mbox."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from tests.conftest import provision
from tests.migrate.conftest import Seeded
from tests.migrate.provider import set_users

# (labels, Message-ID): what Takeout writes in X-Gmail-Labels
TAKEOUT = [
    ("Inbox,Opened,Projekte/Übersicht", "<t1@gmail.test>"),
    ("Sent,Opened", "<t2@gmail.test>"),
    ("Important,Category Updates", "<t3@gmail.test>"),  # archived: views only
    ("Inbox,Projekte/Übersicht,Starred,Unread", "<t4@gmail.test>"),
    ("Inbox,Opened", "<t5@gmail.test>"),
]


def message(labels: str, message_id: str) -> bytes:
    """As Takeout writes it: LF line ends (IMAP carries CRLF: see crlf)."""
    return (f"X-GM-THRID: 1\nX-Gmail-Labels: {labels}\nMessage-ID: {message_id}\n"
            f"From: a@gmail.test\nDate: Mon, 02 Nov 2026 10:00:00 +0000\nSubject: {message_id}\n\n"
            "Hallo,\n>From the start: a quoted From line\n").encode()


def crlf(data: bytes) -> bytes:
    return data.replace(b"\n", b"\r\n")


def mbox(messages: list[bytes]) -> bytes:
    """mboxrd: From lines escaped with one more '>'."""
    out = b""
    for data in messages:
        escaped = b"".join(b">" + line if line.lstrip(b">").startswith(b"From ") else line
                           for line in data.splitlines(keepends=True))
        out += b"From 1234@xxx Mon Nov 02 10:00:00 +0000 2026\n" + escaped + b"\n"
    return out


def run(*args: str):
    return provision(*args, timeout=600)


@pytest.fixture(scope="module")
def local(provider: Seeded) -> Seeded:
    """Two more empty provider accounts, for this module alone."""
    added = {provider.user(name): f"pw-{name}-local" for name in ("takeout", "mbox")}
    set_users(provider.provider, {**provider.provider.passwords, **added})
    return provider


def test_takeout_labels_become_folders_without_duplicates(local: Seeded, tmp_path: Path) -> None:
    provider = local
    takeout = tmp_path / "takeout" / "Takeout" / "Mail"
    takeout.mkdir(parents=True)
    messages = [message(labels, mid) for labels, mid in TAKEOUT]
    (takeout / "All mail Including Spam and Trash.mbox").write_bytes(mbox(messages))
    (takeout / "Inbox.mbox").write_bytes(mbox(messages[:1]))  # the same message a second time
    options = ["--users", provider.user("takeout"), "--ca-file", str(provider.provider.ca_file),
               "--state", str(tmp_path / "state"),
               "--target-password-file", str(provider.password_file("takeout"))]

    done = run("--json", "migrate", str(tmp_path / "takeout"), provider.url("takeout"), *options)
    assert done.returncode == 0, done.stderr + done.stdout
    assert json.loads(done.stdout)["complete"]

    found = provider.snapshot("takeout")
    sha = [hashlib.sha256(crlf(data)).hexdigest() for data in messages]
    held = {folder: [item[0] for item in items] for folder, items in found.items()}
    sub = next(name for name in held if name.endswith("Übersicht"))
    assert sorted(held["INBOX"]) == sorted([sha[0], sha[3], sha[4]])  # t1 once, though in two files
    assert sorted(held[sub]) == sorted([sha[0], sha[3]])
    assert held["INBOX.Sent"] == [sha[1]]
    assert held["INBOX.Archive"] == [sha[2]]
    for items in found.values():
        assert len(items) == len(set(items))
    flags = {item[0]: item[1] for item in found["INBOX"]}
    assert flags[sha[0]] == ("\\Seen",) and flags[sha[3]] == ("\\Flagged",)

    again = run("--json", "migrate", str(tmp_path / "takeout"), provider.url("takeout"), *options)
    assert again.returncode == 0, again.stderr
    users = json.loads(again.stdout)["users"]
    assert sum(folder["copied"] for user in users for folder in user["folders"]) == 0
    assert provider.snapshot("takeout") == found


def test_plain_mbox_lands_in_inbox_byte_identical(local: Seeded, tmp_path: Path) -> None:
    provider = local
    messages = [message("", f"<m{number}@mbox.test>") for number in range(3)]
    path = tmp_path / "old.mbox"
    path.write_bytes(mbox(messages))
    done = run("--json", "migrate", str(path), provider.url("mbox"), "--users", provider.user("mbox"),
               "--ca-file", str(provider.provider.ca_file), "--state", str(tmp_path / "state"),
               "--target-password-file", str(provider.password_file("mbox")))
    assert done.returncode == 0, done.stderr + done.stdout
    inbox = [item[0] for item in provider.snapshot("mbox")["INBOX"]]
    assert sorted(inbox) == sorted(hashlib.sha256(crlf(data)).hexdigest() for data in messages)
