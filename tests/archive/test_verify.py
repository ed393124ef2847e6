"""Each kind of damage is found, named with its path, and makes `provision archive verify` exit 1."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from provision.archive.layout import INDEX
from provision.archive.reader import ArchiveReader
from provision.archive.verify import Problem, verify
from provision.cli import main
from tests.archive.corpus import USER, write_corpus


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_corpus(tmp_path_factory.mktemp("pristine") / "acme", big=False).root


@pytest.fixture
def archive(pristine: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(pristine, tmp_path / "acme"))


def _inbox_message(root: Path) -> str:
    with ArchiveReader(root) as reader:
        user = reader.user(USER)
        return reader.message_path(user, next(reader.messages(user, "INBOX")))


def _user_path(root: Path) -> str:
    with ArchiveReader(root) as reader:
        return reader.user(USER).path


def _edit_manifest(root: Path, change: Callable[[dict], None]) -> None:
    manifest = json.loads((root / "manifest.json").read_text())
    change(manifest)
    (root / "manifest.json").write_text(json.dumps(manifest))


def _relist(root: Path, path: str) -> None:
    """Make the manifest agree with a file changed on purpose, so only the deeper check can object."""
    data = (root / path).read_bytes()

    def update(manifest: dict) -> None:
        [entry] = [entry for entry in manifest["files"] if entry["path"] == path]
        entry.update(size=len(data), sha256=hashlib.sha256(data).hexdigest())
    _edit_manifest(root, update)


def _flip_byte(root: Path) -> str:
    path = _inbox_message(root)
    data = bytearray((root / path).read_bytes())
    data[10] ^= 0x01
    (root / path).write_bytes(data)
    return path


def _truncate(root: Path) -> str:
    path = f"{_user_path(root)}/calendars/Work%2FTeam.ics"
    (root / path).write_bytes((root / path).read_bytes()[:-5])
    return path


def _delete(root: Path) -> str:
    path = _inbox_message(root)
    (root / path).unlink()
    return path


def _extra(root: Path) -> str:
    path = f"{_user_path(root)}/Maildir/new/1700000000.stray:2,S"
    (root / path).write_bytes(b"Subject: stray\r\n\r\n")
    return path


def _count_off_by_one(root: Path) -> str:
    def bump(manifest: dict) -> None:
        manifest["users"][0]["folders"][0]["messages"] += 1
    _edit_manifest(root, bump)
    return json.loads((root / "manifest.json").read_text())["users"][0]["folders"][0]["path"]


def _bad_index_line(root: Path) -> str:
    path = f"{_user_path(root)}/{INDEX}"
    with open(root / path, "ab") as index:
        index.write(b'{"type": "message", "folder": "INBOX"\n')
    _relist(root, path)
    return path


def _future_version(root: Path) -> str:
    _edit_manifest(root, lambda manifest: manifest.update(version="2"))
    return "manifest.json"


DAMAGE = {
    "flipped byte": (_flip_byte, "checksum", "SHA-256 differs from the manifest: the file is corrupt"),
    "truncated file": (_truncate, "size", "size is 132 bytes, the manifest says 137"),
    "deleted file": (_delete, "missing", "missing (listed in the manifest)"),
    "extra file": (_extra, "extra", "not listed in the manifest"),
    "count off by one": (_count_off_by_one, "count", "manifest counts 2 messages, the index holds 1"),
    "bad index line": (_bad_index_line, "index", "line 17: not JSON: Expecting ',' delimiter: "
                                                 "line 1 column 38 (char 37)"),
    "future version": (_future_version, "version",
                       "archive format version '2' is not supported (this provision reads version 1)"),
}


@pytest.mark.parametrize("damage", DAMAGE)
def test_damage_is_reported(archive: Path, damage: str, capsys: pytest.CaptureFixture[str]) -> None:
    harm, kind, detail = DAMAGE[damage]
    path = harm(archive)
    report = verify(archive)
    assert Problem(path, kind, detail) in report.problems, [p.line() for p in report.problems]
    assert main(["archive", "verify", str(archive)]) == 1
    assert f"{path}: {detail}" in capsys.readouterr().out.splitlines()


def test_damage_reports_nothing_else(archive: Path) -> None:
    _flip_byte(archive)
    assert [p.kind for p in verify(archive).problems] == ["checksum"]


def test_sound_archive_exits_zero(archive: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--json", "archive", "verify", str(archive)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["sound"] and result["problems"] == [] and result["users"][0]["name"] == USER
    assert main(["archive", "show", str(archive)]) == 0
    assert USER in capsys.readouterr().out


def test_unfinished_archive_is_a_problem(archive: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (archive / "manifest.json").unlink()
    assert main(["archive", "verify", str(archive)]) == 1
    assert "manifest.json: missing: the export did not finish (resume it)" in capsys.readouterr().out


@pytest.mark.parametrize("make", ["empty directory", "text file", "nothing"])
def test_not_an_archive_exits_two(tmp_path: Path, make: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "thing"
    if make == "empty directory":
        path.mkdir()
    elif make == "text file":
        path.write_text("hello\n")
    assert main(["archive", "verify", str(path)]) == 2
    assert main(["archive", "show", str(path)]) == 2
    assert "provision: " in capsys.readouterr().err


def test_unknown_record_types_are_skipped(archive: Path) -> None:
    path = f"{_user_path(archive)}/{INDEX}"
    with open(archive / path, "ab") as index:
        index.write(b'{"type": "added-in-a-later-minor-version", "anything": 1}\n')
    _relist(archive, path)
    assert verify(archive).sound


def test_links_and_escaping_paths_are_problems(archive: Path) -> None:
    (archive / "directory" / "passwd").symlink_to("/etc/passwd")
    _edit_manifest(archive, lambda manifest: manifest["files"].append(
        {"path": "../outside", "size": 1, "sha256": "0" * 64}))
    problems = {(p.path, p.kind) for p in verify(archive).problems}
    assert problems == {("directory/passwd", "extra"), ("../outside", "unsafe")}


def test_someone_elses_manifest_is_not_an_archive(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text('{"name": "some-web-app", "version": "1"}')
    assert main(["archive", "verify", str(tmp_path)]) == 2
