"""The pure parts of migration: folder mapping, wire parsing, names, batches, reports, accounts files."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from provision import mutf7
from provision.archive.reader import ArchiveReader
from provision.archive.writer import ArchiveWriter
from provision.errors import UsageError
from provision.files import Output
from provision.migrate import report, sieve, wire
from provision.migrate.copier import BATCH_BYTES, batches
from provision.migrate.endpoints import parse_url, read_accounts
from provision.migrate.folders import Listed, source_folders, wire_name
from provision.migrate.imap import Meta, Throttle, parse_date, uid_set


def listed(name: str, delimiter: str = "/", *attributes: str) -> Listed:
    return Listed(name, delimiter, frozenset(attributes))


def test_localized_and_special_use_folders_map_to_roles() -> None:
    found = source_folders([
        listed("INBOX", "."), listed("INBOX.Gesendete Objekte", "."),
        listed("INBOX.Gesendete Objekte.Alt", "."),
        listed("INBOX.Entw&APw-rfe", "."), listed("INBOX.Gel&APY-schte Elemente", "."),
        listed("INBOX.Postausgang", "."),
    ], "INBOX.")
    assert [(folder.name, folder.special_use) for folder in found] == [
        ("INBOX", None), ("Drafts", "\\Drafts"), ("Postausgang", None), ("Sent", "\\Sent"),
        ("Sent/Alt", None), ("Trash", "\\Trash")]


def test_gmail_views_are_not_copied_and_labels_are_folders() -> None:
    found = source_folders([
        listed("INBOX"), listed("[Gmail]", "/", "\\Noselect"), listed("[Gmail]/All Mail", "/", "\\All"),
        listed("[Gmail]/Sent Mail", "/", "\\Sent"), listed("[Gmail]/Starred", "/", "\\Flagged"),
        listed("[Gmail]/Important", "/", "\\Important"), listed("[Gmail]/Spam", "/", "\\Junk"),
        listed("Kunden/M&APw-ller", "/"),
    ], "")
    assert [folder.name for folder in found] == ["INBOX", "Junk", "Kunden/Müller", "Sent"]


def test_special_use_wins_over_the_name() -> None:
    found = source_folders([listed("Sent Items", "/"), listed("Outbox", "/", "\\Sent")], "")
    assert {(folder.wire, folder.name) for folder in found} == {("Sent Items", "Sent"), ("Outbox", "Sent")}


def test_wire_names_on_the_target() -> None:
    assert wire_name("Projekte/Übersicht", ".", "INBOX.") == "INBOX.Projekte.&ANw-bersicht"
    assert wire_name("INBOX/Sub", "/", "") == "INBOX/Sub"
    assert wire_name("a.b/c", ".", "") == "a_b.c"  # a delimiter inside a part cannot be kept


@pytest.mark.parametrize("text", ["Übersicht & Co", "日本語/メール", "plain", "&", "a&b-c"])
def test_modified_utf7_round_trip(text: str) -> None:
    assert mutf7.decode(mutf7.encode(text)) == text


def test_fetch_answers_with_literals() -> None:
    data = [(b'1 (UID 5 FLAGS (\\Seen $Work) BODY[HEADER.FIELDS (MESSAGE-ID)] {17}', b"Message-ID: <a>\r\n"),
            b" RFC822.SIZE 30)", (b"2 (UID 9 BODY[] {3}", b"a)b"), b")"]
    items = list(wire.fetch_items(data))
    assert items[0]["UID"] == "5" and items[0]["FLAGS"] == ["\\Seen", "$Work"]
    assert items[0]["BODY[HEADER.FIELDS (MESSAGE-ID)]"] == b"Message-ID: <a>\r\n"
    assert items[0]["RFC822.SIZE"] == "30"
    assert items[1] == {"UID": "9", "BODY[]": b"a)b"}


def test_uid_sets_and_dates() -> None:
    assert uid_set([5, 1, 2, 3, 7, 8]) == "1:3,5,7:8"
    date = parse_date(" 6-Mar-2023 01:59:59 -0530")
    assert date.utcoffset().total_seconds() == -(5 * 3600 + 30 * 60)
    assert date.day == 6 and date.month == 3


def test_batches_are_bounded_in_bytes_and_count() -> None:
    def meta(uid: int, size: int) -> Meta:
        return Meta(uid, size, (), (), datetime.now(UTC), None)
    sizes = [BATCH_BYTES // 3] * 4 + [BATCH_BYTES * 2] + [10] * 250
    found = list(batches([meta(uid, size) for uid, size in enumerate(sizes)]))
    assert [len(batch) for batch in found][:3] == [3, 1, 1]
    assert all(sum(m.size for m in batch) <= BATCH_BYTES or len(batch) == 1 for batch in found)
    assert sum(len(batch) for batch in found) == len(sizes)


def test_accounts_file_and_urls(tmp_path: Path) -> None:
    accounts = tmp_path / "accounts.csv"
    accounts.write_text("source,target\nimaps://anna%40old.example@imap.old.example:1993,anna@new.example\n")
    [account] = read_accounts(accounts)
    assert account.url is not None
    assert (account.source_user, account.target_user, account.url.port) == (
        "anna@old.example", "anna@new.example", 1993)
    with pytest.raises(UsageError, match="process list"):
        parse_url("imaps://anna:secret@imap.example.com")
    accounts.write_text("source,target,password\nimaps://a@h,b\n")
    with pytest.raises(UsageError, match="unknown fields"):
        read_accounts(accounts)


def test_reports_name_what_is_missing(tmp_path: Path) -> None:
    run = report.RunReport("migrate", "imaps://a@h", "inventory", False, "2026-11-23T06:00:00+00:00")
    run.users = [report.UserReport("a@h", "a@n", [report.FolderReport("INBOX", 2, 20, 1, 10, 1, 10, 0, 0,
                                                                      ["<lost@x>"])]),
                 report.UserReport("b@h", "b@n", error="b@h: login refused")]
    assert not run.complete
    assert "missing: a@h INBOX: <lost@x>" in report.text(run)
    assert "INCOMPLETE: 1 messages missing, users failed: b@h" in report.text(run)
    for name in ("r.html", "r.md"):
        with Output(tmp_path / name, secret=False) as out:
            report.write(run, out)
    assert "<code>&lt;lost@x&gt;</code>" in (tmp_path / "r.html").read_text()
    assert "| a@h | INBOX | `<lost@x>` |" in (tmp_path / "r.md").read_text()


def test_throttling_waits_as_the_server_suggests() -> None:
    said: list[str] = []
    throttle = Throttle(notify=said.append)
    throttle.wait("anna@imap.example", b"NO Request is throttled. Suggested Backoff Time: 20 milliseconds")
    assert throttle.waits == 1 and 0.015 < throttle.seconds < 0.05
    assert said == ["anna@imap.example: the server throttles; waiting 0 s"]


def test_sieve_scripts_go_through_an_archive_and_are_taken_once(tmp_path: Path) -> None:
    """Exported (into an archive being written) and imported (from the finished one) by the copier that
    migrate uses; the second pass finds the same bytes and copies nothing."""
    scripts = {"vacation": b'require ["vacation"];\r\nvacation "away";\r\n', "filter": b"keep;\n"}
    source = ArchiveWriter(tmp_path / "first").user("a@h")
    for name, data in scripts.items():
        source.add_sieve(name, [data], active=name == "vacation")
    exported = ArchiveWriter(tmp_path / "second")
    into = sieve.ArchiveWriterScripts(exported.user("a@h"), "a@h in second")
    done = sieve.copy_scripts(sieve.ArchiveWriterScripts(source, "a@h in first"), into, dry_run=False)
    assert (done.copied, done.target_scripts, done.active, done.missing) == (2, 2, "vacation", [])
    assert sieve.copy_scripts(sieve.ArchiveWriterScripts(source, "first"), into, dry_run=False).skipped == 2
    exported.finish()
    reader = ArchiveReader(tmp_path / "second")
    side = sieve.ArchiveScripts(reader, reader.user("a@h"))
    assert side.scripts() == {"vacation": True, "filter": False}
    assert {name: side.get(name) for name in scripts} == scripts
    side.close()
