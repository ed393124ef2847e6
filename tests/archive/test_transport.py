"""Pack an archive into a tar, encrypt it, decrypt it, and verify what comes out."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from provision.archive import ArchiveError
from provision.archive.transport import decrypt, encrypt, pack
from provision.archive.verify import verify
from provision.cli import main
from provision.errors import ProvisionError
from tests.archive.corpus import write_corpus


@pytest.fixture
def packed(tmp_path: Path) -> Path:
    return pack(write_corpus(tmp_path / "acme", big=False).root, tmp_path / "acme.tar")


@pytest.fixture
def gnupg_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A throw-away GnuPG home, so the test neither reads nor changes anyone's keyring."""
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    monkeypatch.setenv("GNUPGHOME", str(home))
    yield home
    subprocess.run(["gpgconf", "--kill", "gpg-agent"], env={**os.environ, "GNUPGHOME": str(home)},
                   check=False)


def test_tar_holds_one_plain_directory(packed: Path) -> None:
    report = verify(packed)
    assert report.sound and report.users


def test_unfinished_archive_is_not_packed(tmp_path: Path) -> None:
    (tmp_path / "half").mkdir()
    with pytest.raises(ArchiveError, match="finish the export"):
        pack(tmp_path / "half", tmp_path / "half.tar")


@pytest.mark.skipif(not shutil.which("gpg"), reason="gpg is not installed")
def test_gpg_round_trip(packed: Path, tmp_path: Path, gnupg_home: Path) -> None:
    sealed = encrypt(packed, passphrase="correct horse battery staple")
    assert sealed.name == "acme.tar.gpg" and b"manifest.json" not in sealed.read_bytes()
    with pytest.raises(ProvisionError):
        decrypt(sealed, tmp_path / "wrong.tar", passphrase="wrong")
    opened = decrypt(sealed, tmp_path / "opened.tar", passphrase="correct horse battery staple")
    assert opened.read_bytes() == packed.read_bytes() and verify(opened).sound


@pytest.mark.skipif(not shutil.which("age-keygen"), reason="age is not installed")
def test_age_round_trip(packed: Path, tmp_path: Path) -> None:
    key = tmp_path / "key.txt"
    subprocess.run(["age-keygen", "-o", str(key)], capture_output=True, check=True)
    recipient = subprocess.run(["age-keygen", "-y", str(key)], capture_output=True, text=True,
                               check=True).stdout.strip()
    sealed = encrypt(packed, recipients=[recipient])
    assert sealed.name == "acme.tar.age"
    damaged = tmp_path / "damaged.tar.age"
    data = bytearray(sealed.read_bytes())
    data[-100] ^= 1
    damaged.write_bytes(data)
    with pytest.raises(ProvisionError):
        decrypt(damaged, tmp_path / "damaged.tar", identity=key)
    opened = decrypt(sealed, tmp_path / "opened.tar", identity=key)
    assert opened.read_bytes() == packed.read_bytes() and verify(opened).sound


def test_cli_packs_plain(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = write_corpus(tmp_path / "acme", big=False).root
    assert main(["archive", "pack", str(root)]) == 0
    assert verify(tmp_path / "acme.tar").sound
    assert main(["archive", "pack", str(root)]) == 1  # never overwrites
    assert "exists already" in capsys.readouterr().err


@pytest.mark.skipif(not shutil.which("gpg"), reason="gpg is not installed")
def test_cli_packs_encrypted_and_leaves_no_plain_tar(tmp_path: Path, gnupg_home: Path) -> None:
    root = write_corpus(tmp_path / "acme", big=False).root
    secret = tmp_path / "passphrase"
    secret.write_text("correct horse battery staple\n")
    assert main(["archive", "pack", str(root), "--passphrase-file", str(secret)]) == 0
    assert not (tmp_path / "acme.tar").exists()
    opened = decrypt(tmp_path / "acme.tar.gpg", tmp_path / "opened.tar",
                     passphrase="correct horse battery staple")
    assert verify(opened).sound


def test_cli_refuses_to_pack_what_is_not_finished(tmp_path: Path) -> None:
    (tmp_path / "half").mkdir()
    assert main(["archive", "pack", str(tmp_path / "half")]) == 2
