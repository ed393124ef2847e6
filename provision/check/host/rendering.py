"""What `provision apply` would write on an inventory's server: `provision render`'s files, cached.

A render is an Ansible run of half a minute. Its output depends only on the inventory's files, the
playbooks and templates, the code of provision's render, Ansible's version and ANSIBLE_* settings, so it is
kept under a hash of all of them: the first check after any change renders (in a child process,
while the other checks run), the next ones read the cache. The cache holds what `provision render`
writes (secrets only as placeholders) and is readable by its owner only.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from importlib.metadata import version
from pathlib import Path, PurePosixPath

import provision
from provision.ansible import PLAYBOOKS, TEMPLATES

CACHES = (Path("/var/cache/provision/render"), Path.home() / ".cache/provision/render")
# provision's code a render runs: the command, the Ansible runner, the inventory's settings.
RENDER_CODE = tuple(Path(provision.__file__).parent / name
                    for name in ("commands/render.py", "ansible", "inventory"))
KEPT = 64  # renders kept; the oldest go first
SKIPPED = {".git", "__pycache__"}


class RenderError(Exception):
    pass


@dataclass(frozen=True)
class Rendered:
    role: str
    path: PurePosixPath  # where apply writes it on the server
    text: str


class Render:
    """The files of one inventory's host: from the cache at once, or a render started in the background."""

    def __init__(self, directory: Path, host: str) -> None:
        self.directory, self.host = directory, host
        self.key = key(directory)
        self.cached = _read(self.key)
        self._temporary: tempfile.TemporaryDirectory[str] | None = None
        self._process: subprocess.Popen[str] | None = None
        if self.cached is None:
            self._temporary = tempfile.TemporaryDirectory(prefix="provision-drift-")
            self._process = subprocess.Popen(
                [sys.executable, "-m", "provision", "--json", "render", str(directory), self._out()],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def files(self, timeout: float) -> list[Rendered]:
        """The rendered files, waiting at most timeout seconds for a render in progress."""
        if self.cached is not None:
            return self.cached
        assert self._process is not None
        try:
            _, errors = self._process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.cancel()
            raise RenderError(f"rendering the config files took over {timeout:g} s: give a longer --timeout "
                              "(a check module may take 12 times it, at least 60 s)") from None
        try:
            if self._process.returncode != 0:
                raise RenderError(f"provision render {self.directory} failed: {errors.strip()[-300:]}")
            self.cached = _collect(Path(self._out()) / self.host)
        finally:
            self.cancel()
        _write(self.key, self.cached)
        return self.cached

    def cancel(self) -> None:
        """Stop a render in progress and remove its files."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        if self._temporary is not None:
            self._temporary.cleanup()
            self._temporary = None

    def _out(self) -> str:
        assert self._temporary is not None
        return str(Path(self._temporary.name) / "out")


def _collect(host: Path) -> list[Rendered]:
    return [Rendered(file.relative_to(host).parts[0], PurePosixPath("/", *file.relative_to(host).parts[1:]),
                     file.read_text())
            for file in sorted(host.rglob("*")) if file.is_file()]


def key(directory: Path) -> str:
    """A hash of everything a render reads: change any of it and the cached render is not used."""
    digest = hashlib.sha256()
    digest.update(f"ansible-core {version('ansible-core')}\n".encode())
    for name, value in sorted(os.environ.items()):
        if name.startswith("ANSIBLE_"):
            digest.update(f"{name}={value}\n".encode())
    for root in (*RENDER_CODE, PLAYBOOKS, TEMPLATES, directory):
        digest.update(f"tree {root.resolve()}\n".encode())
        for path in _tree(root):
            digest.update(f"{path.relative_to(root)}\0".encode() + _content(path) + b"\0")
    return digest.hexdigest()


def _tree(root: Path) -> Iterator[Path]:
    if root.is_file():
        yield root
        return
    for current, directories, files in os.walk(root):
        directories[:] = sorted(name for name in directories if name not in SKIPPED)
        base = Path(current)
        yield from (base / name for name in sorted(files) if not name.endswith(".pyc"))
        # Links to directories (the roles' templates) are not walked: their target is hashed as text.
        yield from (base / name for name in directories if (base / name).is_symlink())


def _content(path: Path) -> bytes:
    try:
        return f"-> {os.readlink(path)}".encode() if path.is_dir() else path.read_bytes()
    except OSError as error:  # removed or changed while hashed: a key no render will match again
        return f"unreadable: {error}".encode()


def _read(digest: str) -> list[Rendered] | None:
    for cache in CACHES:
        try:
            entries = json.loads((cache / f"{digest}.json").read_text())
        except (OSError, ValueError):
            continue
        return [Rendered(entry["role"], PurePosixPath(entry["path"]), entry["text"]) for entry in entries]
    return None


def _write(digest: str, files: list[Rendered]) -> None:
    """Keep the render in the first cache directory that can be written; no cache is no error."""
    text = json.dumps([{**asdict(file), "path": str(file.path)} for file in files])
    for cache in CACHES:
        try:
            cache.mkdir(parents=True, exist_ok=True, mode=0o700)
            partial = cache / f".{digest}.{os.getpid()}"
            partial.touch(mode=0o600)
            partial.write_text(text)
            partial.replace(cache / f"{digest}.json")
        except OSError:
            continue
        _prune(cache)
        return


def _prune(cache: Path) -> None:
    renders = sorted(cache.glob("*.json"), key=lambda path: path.stat().st_mtime, reverse=True)
    for old in renders[KEPT:]:
        old.unlink(missing_ok=True)
