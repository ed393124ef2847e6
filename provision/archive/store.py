"""Read access to an archive as a directory or as a tar file, with the same paths in both."""

from __future__ import annotations

import os
import stat
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Protocol

from provision import files
from provision.archive import NotAnArchive
from provision.archive.layout import INDEX
from provision.archive.manifest import MANIFEST


@dataclass(frozen=True)
class Entry:
    path: str
    kind: str  # file, directory or other (links, devices: never part of an archive)


class Store(Protocol):
    label: str

    def entries(self) -> Iterator[Entry]: ...

    def exists(self, path: str) -> bool: ...

    def open(self, path: str) -> BinaryIO: ...

    def close(self) -> None: ...


def safe_path(path: str) -> bool:
    """Whether a path taken from an archive stays inside it."""
    parts = path.split("/")
    return bool(path) and not path.startswith("/") and all(part not in ("", ".", "..") for part in parts)


class DirectoryStore:
    def __init__(self, root: Path):
        self.root = root
        self.label = str(root)

    def entries(self) -> Iterator[Entry]:
        for top, directories, names in os.walk(self.root):
            for name in sorted(directories) + sorted(names):
                full = Path(top, name)
                mode = full.lstat().st_mode
                kind = "file" if stat.S_ISREG(mode) else "directory" if stat.S_ISDIR(mode) else "other"
                yield Entry(full.relative_to(self.root).as_posix(), kind)
            directories.sort()

    def exists(self, path: str) -> bool:
        return safe_path(path) and (self.root / path).is_file()

    def open(self, path: str) -> BinaryIO:
        if not safe_path(path):
            raise FileNotFoundError(path)
        try:  # no link followed on the way either: users/NAME swapped for a link after verify
            return os.fdopen(files.open_beneath(self.root, Path(path)), "rb")
        except files.Refused as refused:
            raise OSError(refused.message) from None

    def close(self) -> None:
        pass


class TarStore:
    """A tar of the archive: its files at the top, or inside one top-level directory."""

    def __init__(self, path: Path):
        self.label = str(path)
        self.tar = tarfile.open(path, "r:*")  # noqa: SIM115 - closed by close()
        members = {str(PurePosixPath(member.name)).lstrip("/"): member for member in self.tar.getmembers()}
        members.pop(".", None)
        tops = {name.split("/")[0] for name in members}
        prefix = ""
        if MANIFEST not in members and INDEX not in members and len(tops) == 1:
            prefix = f"{tops.pop()}/"
        self.members = {name[len(prefix):]: member for name, member in members.items()
                        if name.startswith(prefix)}

    def entries(self) -> Iterator[Entry]:
        for path, member in self.members.items():
            kind = "file" if member.isreg() else "directory" if member.isdir() else "other"
            yield Entry(path, kind)

    def exists(self, path: str) -> bool:
        return path in self.members and self.members[path].isreg()

    def open(self, path: str) -> BinaryIO:
        if not self.exists(path):
            raise FileNotFoundError(path)
        stream = self.tar.extractfile(self.members[path])
        assert stream is not None  # a regular member always has data
        return stream

    def close(self) -> None:
        self.tar.close()


def open_store(path: Path | str) -> Store:
    """The archive at path as a Store; NotAnArchive if it is neither a directory nor a tar file."""
    path = Path(path)
    try:
        if path.is_dir():
            os.listdir(path)
            return DirectoryStore(path)
        if path.is_file() and tarfile.is_tarfile(path):
            return TarStore(path)
    except (OSError, tarfile.TarError) as bad:
        raise NotAnArchive(f"{path}: cannot read: {bad}") from None
    raise NotAnArchive(f"{path} is neither an archive directory nor a tar file")
