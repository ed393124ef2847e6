"""Shipping an archive as one file: a pax tar of the archive directory, optionally encrypted with age
(to recipients' public keys) or gpg (symmetric AES-256, passphrase on stdin, never on the command line).
The archive inside stays plain, so it can be verified after decryption (docs/archive-format.md §12-13)."""

from __future__ import annotations

import os
import tarfile
from collections.abc import Sequence
from pathlib import Path

from provision.archive import ArchiveError
from provision.archive.manifest import MANIFEST
from provision.process import run

GPG = ["gpg", "--batch", "--yes", "--quiet", "--no-symkey-cache", "--pinentry-mode", "loopback",
       "--passphrase-fd", "0"]


def pack(archive: Path, tar_path: Path) -> Path:
    """Tar a finished archive under its own directory name; refuses an unfinished one."""
    if not (archive / MANIFEST).is_file():
        raise ArchiveError(f"{archive} has no {MANIFEST}: finish the export before packing it")
    try:
        with tarfile.open(tar_path, "x", format=tarfile.PAX_FORMAT) as tar:
            tar.add(archive, arcname=archive.name, filter=_plain)  # add() walks directories in sorted order
    except FileExistsError:
        raise ArchiveError(f"{tar_path} exists already") from None
    return tar_path


def _plain(member: tarfile.TarInfo) -> tarfile.TarInfo:
    if not (member.isreg() or member.isdir()):
        raise ArchiveError(f"{member.name} is neither a file nor a directory")
    member.uid = member.gid = 0
    member.uname = member.gname = ""  # local account names mean nothing at the destination
    return member


def encrypt(path: Path, *, recipients: Sequence[str] = (), passphrase: str | None = None) -> Path:
    """Encrypt path to path.age for age recipients (public keys), or else to path.gpg with a passphrase."""
    if bool(recipients) == (passphrase is not None):
        raise ArchiveError("encrypt for age recipients or with a passphrase, not both or neither")
    target = path.with_name(path.name + (".age" if recipients else ".gpg"))
    if os.path.lexists(target):  # gpg --yes would write through a link there, or over another file
        raise ArchiveError(f"{target} exists already")
    if recipients:
        run(["age", "--encrypt", *(arg for key in recipients for arg in ("-r", key)), "-o", str(target),
             str(path)], timeout=None)
    else:
        run([*GPG, "--symmetric", "--cipher-algo", "AES256", "-o", str(target), str(path)],
            input=passphrase, timeout=None)
    return target


def decrypt(path: Path, target: Path, *, identity: Path | None = None, passphrase: str | None = None) -> Path:
    """Decrypt a .age file with an age identity file, or a .gpg file with its passphrase."""
    if path.suffix == ".age" and identity is not None:
        run(["age", "--decrypt", "-i", str(identity), "-o", str(target), str(path)], timeout=None)
    elif path.suffix == ".gpg" and passphrase is not None:
        run([*GPG, "--decrypt", "-o", str(target), str(path)], input=passphrase, timeout=None)
    else:
        raise ArchiveError(f"{path.name}: need an age identity for .age files or a passphrase for .gpg files")
    return target
