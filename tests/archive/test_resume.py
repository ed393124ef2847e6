"""An export interrupted half-way resumes without losing or doubling anything."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from provision.archive import ArchiveError
from provision.archive.layout import folder_path, user_path
from provision.archive.reader import ArchiveReader
from provision.archive.verify import verify
from provision.archive.writer import ArchiveWriter
from tests.archive.corpus import DATE, ICS, USER, samples, write_corpus


def _interrupted_export(root: Path) -> None:
    """Write half the corpus, then leave the debris a killed process would: a partial message in tmp/,
    a message renamed into cur/ but never indexed, a half-written index line, a half-written table."""
    writer = ArchiveWriter(root, {"kind": "test"})
    user = writer.user(USER)
    corpus = samples(big=False)
    for sample in corpus[: len(corpus) // 2]:
        user.add_message(sample.folder, sample.chunks(), internaldate=sample.date, flags=sample.flags,
                         keywords=sample.keywords)
    user.add_collection("calendar", "Work", [ICS])
    inbox = root / folder_path(user_path(USER), "INBOX")
    (inbox / "tmp" / "123.part").write_bytes(b"Subject: half a mess")
    (inbox / "cur" / "1.unindexed.archive,S=5:2,S").write_bytes(b"x\r\n\r\n")
    with open(root / user_path(USER) / "index.jsonl", "ab") as index:
        index.write(b'{"type": "message", "folder": "IN')
    (root / "directory").mkdir()
    (root / "directory" / ".users.csv.tmp").write_bytes(b"email,disp")
    del writer, user  # dropped without finish(), as a crash would
    gc.collect()


def test_resume_adds_nothing_twice(tmp_path: Path) -> None:
    root = tmp_path / "acme"
    _interrupted_export(root)
    assert verify(root).problems[0].line() == "manifest.json: missing: the export did not finish (resume it)"

    writer = ArchiveWriter(root)
    assert writer.resumed
    user = writer.user(USER)
    corpus = samples(big=False)
    added = [user.add_message(sample.folder, sample.chunks(), internaldate=sample.date, flags=sample.flags,
                              keywords=sample.keywords) is not None for sample in corpus]
    assert added == [False] * (len(corpus) // 2) + [True] * (len(corpus) - len(corpus) // 2)
    assert user.holds("INBOX", corpus[0].sha256, corpus[0].message_id)
    user.add_collection("calendar", "Work", [ICS])  # exported again: replaces, does not add
    writer.finish()

    report = verify(root)
    assert report.sound, [p.line() for p in report.problems]
    with ArchiveReader(root) as archive:
        anna = archive.user(USER)
        records = list(archive.messages(anna))
        assert sorted(r.sha256 for r in records) == sorted(s.sha256 for s in corpus)
        assert len(archive.collections(anna)) == 1 and anna.items("calendar") == 2
    assert not (root / folder_path(user_path(USER), "INBOX") / "cur" / "1.unindexed.archive,S=5:2,S").exists()


def test_finished_archive_is_not_reopened(tmp_path: Path) -> None:
    root = write_corpus(tmp_path / "acme", big=False).root
    with pytest.raises(ArchiveError, match="finished archive"):
        ArchiveWriter(root)


def test_new_archive_needs_an_empty_place(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ArchiveError, match="not empty"):
        ArchiveWriter(tmp_path)


def test_internaldate_needs_an_offset(tmp_path: Path) -> None:
    user = ArchiveWriter(tmp_path / "acme").user(USER)
    with pytest.raises(ArchiveError, match="time zone"):
        user.add_message("INBOX", [b"x"], internaldate=DATE.replace(tzinfo=None))


def test_activating_a_script_deactivates_the_others(tmp_path: Path) -> None:
    writer = ArchiveWriter(tmp_path / "acme")
    user = writer.user(USER)
    user.add_sieve("old", [b"keep;\n"], active=True)
    user.add_sieve("new", [b"discard;\n"], active=True)
    writer.finish()
    with ArchiveReader(tmp_path / "acme") as archive:
        scripts = archive.sieve_scripts(archive.user(USER))
    assert {s.name: s.active for s in scripts} == {"old": False, "new": True}


def test_directory_tables_take_only_their_columns(tmp_path: Path) -> None:
    writer = ArchiveWriter(tmp_path / "acme")
    with pytest.raises(ArchiveError, match="directory table aliases"):
        writer.write_table("aliases", [{"alias": "a@example.com", "password": "secret"}])
    with pytest.raises(ArchiveError, match="unknown directory table"):
        writer.write_table("passwords", [])


def test_one_writer_at_a_time(tmp_path: Path) -> None:
    first = ArchiveWriter(tmp_path / "acme")
    with pytest.raises(ArchiveError, match="another export is writing"):
        ArchiveWriter(tmp_path / "acme")
    first.close()
    assert ArchiveWriter(tmp_path / "acme").resumed
