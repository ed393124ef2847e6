"""Write a generated corpus, read it back: same bytes, flags, keywords, dates and folders."""

from __future__ import annotations

import os
import tarfile
from datetime import datetime
from pathlib import Path

import pytest

from provision.archive import ArchiveError
from provision.archive.names import folder_dirname, safe_name
from provision.archive.reader import ArchiveReader
from provision.archive.verify import verify
from tests.archive.corpus import ICS, SIEVE, USER, VCF, Built, write_corpus


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return write_corpus(tmp_path_factory.mktemp("archive") / "acme")


def test_messages_read_back_exactly(built: Built) -> None:
    with ArchiveReader(built.root) as archive:
        user = archive.user(USER)
        records = list(archive.messages(user))
        assert len(records) == len(built.samples) == user.messages
        by_hash = {record.sha256: record for record in records}
        for sample in built.samples:
            record = by_hash[sample.sha256]
            assert b"".join(archive.message_chunks(user, record)) == sample.data
            assert record.folder == sample.folder
            assert record.size == len(sample.data)
            assert record.flags == sorted(set(sample.flags))
            assert record.keywords == sorted(sample.keywords)
            assert record.message_id == sample.message_id
            date = datetime.fromisoformat(record.internaldate)
            assert date == sample.date and date.utcoffset() == sample.date.utcoffset()
            mtime = os.stat(built.root / archive.message_path(user, record)).st_mtime
            assert mtime == int(sample.date.timestamp())


def test_same_message_id_different_bytes_both_kept(built: Built) -> None:
    with ArchiveReader(built.root) as archive:
        user = archive.user(USER)
        same = [r for r in archive.messages(user, "Gesendete Objekte/Übersicht")]
    assert [r.message_id for r in same] == ["<same@example.com>"] * 2
    assert len({r.sha256 for r in same}) == 2


def test_flags_in_file_names(built: Built) -> None:
    with ArchiveReader(built.root) as archive:
        user = archive.user(USER)
        names = {r.folder: r.file for r in archive.messages(user)}
    assert names["Drafts"].endswith(":2,D")
    assert names["Gesendete Objekte/Übersicht"].endswith(":2,S")  # the second of the two, Seen only
    assert all(",S=" in name for name in names.values())


def test_folders_collections_scripts_and_directory(built: Built) -> None:
    with ArchiveReader(built.root) as archive:
        user = archive.user(USER)
        folders = {f.name: f for f in archive.folders(user)}
        assert folders["Sent"].special_use == "\\Sent" and folders["Sent"].uidvalidity == 7
        assert folders["Sent"].source_name == "INBOX.Sent"
        sent = folders["Gesendete Objekte/Übersicht"]
        assert sent.path.endswith("/Maildir/.Gesendete Objekte.&ANw-bersicht")
        assert folders["Archiv.2023/Q1 & Q2/.."].path.endswith("/Maildir/.Archiv%2E2023.Q1 &- Q2.%2E%2E")
        collections = {c.name: c for c in archive.collections(user)}
        assert b"".join(archive.chunks(collections["Work/Team"].path)) == ICS
        assert b"".join(archive.chunks(collections["Kontakte"].path)) == VCF
        assert collections["Work/Team"].displayname == "Team" and collections["Work/Team"].color == "#ff0000"
        assert {c.name: c.items for c in user.collections} == {"Work/Team": 2, "Aufgaben": 1, "Kontakte": 2}
        [script] = archive.sieve_scripts(user)
        assert script.active and b"".join(archive.chunks(script.path)) == SIEVE
        assert archive.table("users")[0]["display_name"] == "Anna Müller"
        assert archive.table("aliases") == [{"alias": "info@example.com", "target": USER}]
        assert archive.table("groups") == []
        assert [u.name for u in archive.users] == [USER, "bob@example.com"]


def test_sound_archive_verifies(built: Built) -> None:
    report = verify(built.root)
    assert report.sound, [p.line() for p in report.problems]
    assert report.version == "1"
    assert [(u.name, u.messages, u.calendars, u.contacts) for u in report.users] == [
        (USER, len(built.samples), 3, 2), ("bob@example.com", 1, 0, 0)]


@pytest.mark.parametrize("top", ["acme", None])
def test_tar_verifies_and_reads(built: Built, tmp_path: Path, top: str | None) -> None:
    packed = tmp_path / "acme.tar"
    with tarfile.open(packed, "w", format=tarfile.PAX_FORMAT) as tar:
        if top:
            tar.add(built.root, arcname=top)
        else:
            for child in sorted(built.root.iterdir()):
                tar.add(child, arcname=child.name)
    assert verify(packed).sound
    with ArchiveReader(packed) as archive:
        user = archive.user(USER)
        first = next(archive.messages(user))
        assert b"".join(archive.message_chunks(user, first)) == built.samples[0].data


def test_names_never_leave_their_directory() -> None:
    assert folder_dirname("INBOX") == ""
    assert folder_dirname("../../etc") == ".%2E%2E.%2E%2E.etc"
    assert folder_dirname("Entwürfe") == ".Entw&APw-rfe"
    assert folder_dirname("台北") == ".&U,BTFw-"  # RFC 3501's own example
    assert safe_name("..") == "%2E." and safe_name("a/b") == "a%2Fb"
    with pytest.raises(ArchiveError):
        folder_dirname("x" * 300)
