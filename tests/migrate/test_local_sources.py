"""Local migration sources (Maildir, mbox, Takeout) never follow a link or read a special file: a
customer's export could otherwise pull any file the controller can read into a mailbox."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from provision.migrate import AccountError
from provision.migrate.local import LocalCollections, LocalMail
from tests.conftest import provision

SECRET = b"root:$y$secret-hash:19000:0:99999:7:::\n"
MESSAGE = b"From: a@example.org\nSubject: hello\n\nbody\n"


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    """Stands for /etc/shadow: a file outside the export."""
    path = tmp_path / "outside" / "2.x:2,"
    path.parent.mkdir()
    path.write_bytes(SECRET)
    return path


def maildir(root: Path) -> Path:
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True)
    (root / "cur" / "1.x:2,S").write_bytes(MESSAGE)
    return root


def migrate(source: Path) -> tuple[int, str]:
    """A dry run against a port nobody listens on: a refusal comes before any connection."""
    done = provision("migrate", str(source), "imaps://bob@127.0.0.1:1", "--users", "bob@example.org",
                     "--dry-run", timeout=120)
    return done.returncode, done.stderr + done.stdout


def test_the_issue_probe_is_refused_before_anything_is_copied(tmp_path: Path) -> None:
    source = maildir(tmp_path / "md")
    (source / "cur" / "2.x:2,").symlink_to("/etc/shadow")
    status, said = migrate(source)
    assert status == 2, said
    assert f"{source}/cur/2.x:2, is a symbolic link: not followed" in said
    assert "nothing was copied" in said


@pytest.mark.parametrize("layout", ["message", "folder", "cur", "mbox", "takeout folder", "fifo", "root"])
def test_every_kind_of_link_or_special_file_is_refused(tmp_path: Path, secret: Path, layout: str) -> None:
    if layout in ("mbox", "takeout folder"):
        source = tmp_path / "Takeout" / "Mail"
        source.mkdir(parents=True)
        (source / "Inbox.mbox").write_bytes(b"From x Mon Nov 02 10:00:00 2026\n" + MESSAGE)
        outside = tmp_path / "elsewhere"
        outside.mkdir()
        (outside / "All.mbox").write_bytes(b"From x Mon Nov 02 10:00:00 2026\n" + SECRET)
        if layout == "mbox":
            (source / "All.mbox").symlink_to(outside / "All.mbox")
        else:
            (source / "Labels").symlink_to(outside)
        source = source.parent
    else:
        source = maildir(tmp_path / "md")
        if layout == "message":
            (source / "new" / "2.x").symlink_to(secret)
        elif layout == "folder":
            (source / ".Stolen").symlink_to(secret.parent)
        elif layout == "cur":
            os.rename(source / "cur", source / "cur.real")
            (source / "cur").symlink_to(secret.parent)
        elif layout == "fifo":
            os.mkfifo(source / "new" / "3.x")
        else:
            (tmp_path / "link").symlink_to(source)
            source = tmp_path / "link"
    status, said = migrate(source)
    assert status == 2, said
    assert "symbolic link: not followed" in said or "not a regular file" in said, said
    assert "Traceback" not in said


def test_a_directory_swapped_for_a_link_after_the_scan_is_not_followed(tmp_path: Path, secret: Path) -> None:
    source = maildir(tmp_path / "md")
    mail = LocalMail(source, "bob@example.org")
    [folder] = mail.folders()
    view = mail.open(folder)
    metas = [meta for meta, _ in view.listing]
    os.rename(source / "cur", source / "cur.real")
    (source / "cur").symlink_to(secret.parent)
    os.rename(secret, secret.parent / "1.x:2,S")
    with pytest.raises(AccountError, match="cur on its way is a symbolic link"):
        list(mail.bodies(view, metas))


def test_takeout_calendars_do_not_follow_links(tmp_path: Path, secret: Path) -> None:
    (tmp_path / "Takeout").mkdir()
    (tmp_path / "Takeout" / "Work.ics").symlink_to(secret)
    (tmp_path / "Takeout" / "Home.ics").write_text("BEGIN:VCALENDAR\nEND:VCALENDAR\n")
    found = LocalCollections(tmp_path / "Takeout").collections()
    assert [collection.name for collection in found] == ["Home"]


def test_a_plain_maildir_and_mbox_still_read(tmp_path: Path) -> None:
    source = maildir(tmp_path / "md")
    (source / ".Sent" / "cur").mkdir(parents=True)
    (source / ".Empty" / "cur").mkdir(parents=True)
    (source / ".Sent" / "cur" / "2.x:2,S").write_bytes(MESSAGE)
    mail = LocalMail(source, "bob@example.org")
    assert [folder.name for folder in mail.folders()] == ["INBOX", "Empty", "Sent"]
    mbox = tmp_path / "old.mbox"
    mbox.write_bytes(b"From x Mon Nov 02 10:00:00 2026\n" + MESSAGE)
    [folder] = LocalMail(mbox, "bob@example.org").folders()
    assert folder.name == "INBOX"
