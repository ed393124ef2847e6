"""Files named by a user or found in a customer's data, read and written safely: a symbolic link is never
followed and a special file (FIFO, device, socket) never read, so that a crafted export or accounts file
cannot pull /etc/shadow or another customer's vault password into a mailbox or a login; and an output
file is opened before anything is changed, never through a link, so that no link can redirect it and no
work is done whose result (a password) then cannot be written."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import IO

from provision.errors import UsageError

READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
DIRECTORY = os.O_RDONLY | os.O_NOFOLLOW | os.O_DIRECTORY | os.O_CLOEXEC
WRITE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


class Refused(UsageError):
    """A path that is a link or a special file, or an output that cannot be made: "PATH what"."""

    def __init__(self, path: Path | str, what: str, hint: str | None = None):
        super().__init__(f"{path} {what}", hint)
        self.what = what


LINK = "is a symbolic link: not followed"


def _refusal(path: Path | str, error: OSError) -> Refused:
    if error.errno in (errno.ELOOP, errno.ENOTDIR) and os.path.islink(path):
        return Refused(path, LINK, "give the file itself, not a link to it")
    return Refused(path, f"cannot be read ({error.strerror})")


def _regular(descriptor: int, path: Path | str) -> int:
    if not stat.S_ISREG(os.fstat(descriptor).st_mode):
        os.close(descriptor)
        raise Refused(path, "is not a regular file (a FIFO, device, socket or directory)",
                      "give a plain file")
    os.set_blocking(descriptor, True)
    return descriptor


def open_input(path: Path | str) -> int:
    """A descriptor of a regular file that path names itself (not through a link)."""
    try:
        return _regular(os.open(path, READ), path)
    except OSError as error:
        raise _refusal(path, error) from None


def read_bytes(path: Path | str) -> bytes:
    with os.fdopen(open_input(path), "rb") as stream:
        return stream.read()


def read_text(path: Path | str, encoding: str = "utf-8") -> str:
    with os.fdopen(open_input(path), "r", encoding=encoding) as stream:
        return stream.read()


def open_text(path: Path | str, encoding: str = "utf-8") -> IO[str]:
    """A text stream for csv: newline='' keeps quoted line breaks in a cell."""
    return os.fdopen(open_input(path), "r", encoding=encoding, newline="")


class Output:
    """An output file, opened before the work whose result it takes (so a bad name fails before an
    account is made), never through a link. A secret one is new and 0600; a report may replace an
    older regular file, which is emptied only when the new text is written. One that is never written
    is removed again if it was made for this run."""

    def __init__(self, path: Path, *, secret: bool, replace: bool = False):
        self.path, self.written = path, False
        try:
            try:
                descriptor, self.created = os.open(path, WRITE, 0o600 if secret else 0o644), True
            except FileExistsError:
                if secret or not replace or path.is_symlink():
                    raise
                descriptor, self.created = os.open(path, (WRITE & ~os.O_EXCL) | os.O_NONBLOCK, 0o644), False
                _regular(descriptor, path)
        except FileExistsError:
            raise Refused(path, "is a symbolic link" if path.is_symlink() else "exists",
                          "name a new file: it is written only to a new one") from None
        except OSError as error:
            raise Refused(path, f"cannot be made ({error.strerror})",
                          "name a new file in a directory that exists and you can write") from None
        self.stream: IO[str] = os.fdopen(descriptor, "w", encoding="utf-8", newline="")

    def write(self, text: str) -> None:
        if not self.written and not self.created:
            self.stream.truncate(0)
        self.written = True
        self.stream.write(text)
        self.stream.flush()

    def close(self) -> None:
        self.stream.close()
        if self.created and not self.written:
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> Output:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def not_a_link(path: Path) -> Path:
    """An output directory (render, export) or a source named on the command line, never a link: what
    is written there, or read from there, is then where the name says."""
    if path.is_symlink():
        raise Refused(path, LINK, "name the file or directory itself")
    return path


def walk(root: Path) -> tuple[list[Path], list[str]]:
    """The regular files beneath root (relative paths, sorted), and a line for every link or special
    file found there: those are not followed, not read, and make the caller refuse the tree."""
    files: list[Path] = []
    problems: list[str] = []

    def visit(descriptor: int, relative: Path) -> None:
        with os.scandir(descriptor) as entries:
            listed = sorted(entries, key=lambda entry: entry.name)
        for entry in listed:
            where = relative / entry.name
            if entry.is_symlink():
                problems.append(f"{root / where} {LINK}")
            elif entry.is_dir(follow_symlinks=False):
                try:
                    child = os.open(entry.name, DIRECTORY, dir_fd=descriptor)
                except OSError as error:
                    problems.append(f"{root / where} cannot be read ({error.strerror})")
                    continue
                try:
                    visit(child, where)
                finally:
                    os.close(child)
            elif entry.is_file(follow_symlinks=False):
                files.append(where)
            else:
                problems.append(f"{root / where} is not a regular file (a FIFO, device or socket)")

    top = open_directory(root)
    try:
        visit(top, Path())
    finally:
        os.close(top)
    return files, problems


def open_directory(path: Path) -> int:
    try:
        return os.open(path, DIRECTORY)
    except OSError as error:
        if error.errno in (errno.ELOOP, errno.ENOTDIR) and os.path.islink(path):
            raise Refused(path, LINK, "give the directory itself") from None
        raise Refused(path, f"cannot be read ({error.strerror})") from None


def open_beneath(root: Path, relative: Path) -> int:
    """A descriptor of root/relative reached one component at a time without following any link, so a
    directory replaced by a link after walk() saw it is refused, not followed."""
    directory = open_directory(root)
    try:
        for part in relative.parts[:-1]:
            try:
                inner = os.open(part, DIRECTORY, dir_fd=directory)
            except OSError as error:
                raise Refused(root / relative, f"cannot be read: {part} on its way is a symbolic link "
                              f"or gone ({error.strerror}): not followed") from None
            os.close(directory)
            directory = inner
        try:
            return _regular(os.open(relative.name, READ, dir_fd=directory), root / relative)
        except OSError as error:
            if error.errno == errno.ELOOP:
                raise Refused(root / relative, LINK) from None
            raise Refused(root / relative, f"cannot be read ({error.strerror})") from None
    finally:
        os.close(directory)
