"""What `provision apply` would write on an inventory's server: `provision render`'s files, cached.

A render is an Ansible run of half a minute. Its output depends only on the inventory's files, the
playbooks and templates, the code of provision's render, Ansible's version and ANSIBLE_* settings,
so it is kept under a hash of all of them: the first check after any change renders (in a child
process, while the other checks run), the next ones read the cache. The cache holds what
`provision render` writes (secrets only as placeholders) and is readable by its owner only.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import signal
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
    """The files of one inventory's host: from the cache at once, or from a render started in the background.

    The render runs in a session of its own and writes its result into the cache itself: a check
    that stops waiting leaves it to finish, so the next check finds the files.
    """

    def __init__(self, directory: Path, host: str) -> None:
        self.directory = directory
        digest = key(directory)
        self.cached = _read(digest)
        self._process: subprocess.Popen[bytes] | None = None
        if self.cached is None:
            self._result = _result_file(digest)
            self._result.with_suffix(".error").unlink(missing_ok=True)
            self._process = subprocess.Popen(
                [sys.executable, "-m", __name__, str(directory), host, str(self._result)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True)

    def files(self, timeout: float) -> list[Rendered]:
        """The rendered files, waiting at most timeout seconds for a render in progress."""
        if self.cached is not None:
            return self.cached
        assert self._process is not None
        try:
            self._process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._process = None  # not cancelled: it finishes on its own, into the cache
            raise RenderError(f"rendering the config files takes over {timeout:g} s (Ansible, on a busy "
                              "machine); the render goes on in the background: check again in a minute, "
                              "or give a longer --timeout") from None
        failure = self._result.with_suffix(".error")
        if failure.is_file():
            raise RenderError(f"provision render {self.directory} failed: {failure.read_text()[-300:]}")
        self.cached = _load(self._result)
        if self.cached is None:
            raise RenderError(f"provision render {self.directory} left no result in {self._result}")
        return self.cached

    def cancel(self) -> None:
        """Stop a render in progress (the server is unreachable: nothing to compare with)."""
        if self._process is not None and self._process.poll() is None:
            os.killpg(self._process.pid, signal.SIGKILL)  # Ansible's processes too
            self._process.wait()


def render(directory: Path, host: str, result: Path) -> int:
    """`provision render` of directory, host's files stored at result; errors at result.error."""
    lock = result.with_suffix(".lock")
    with lock.open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # a second check of the inventory waits for the first render
        if result.is_file():
            return 0
        with tempfile.TemporaryDirectory(prefix="provision-drift-") as temporary:
            out = Path(temporary) / "out"
            command = [sys.executable, "-m", "provision", "--json", "render", str(directory), str(out)]
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode != 0:
                result.with_suffix(".error").write_text(done.stderr.strip() or done.stdout.strip())
                return 1
            _store(result, _collect(out / host))
    lock.unlink(missing_ok=True)
    _prune(result.parent)
    return 0


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
        if (found := _load(cache / f"{digest}.json")) is not None:
            return found
    return None


def _load(path: Path) -> list[Rendered] | None:
    try:
        entries = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return [Rendered(entry["role"], PurePosixPath(entry["path"]), entry["text"]) for entry in entries]


def _result_file(digest: str) -> Path:
    """Where a render of digest goes: the first cache directory that can be written, else a temporary one."""
    for cache in CACHES:
        try:
            cache.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError:
            continue
        if os.access(cache, os.W_OK):
            return cache / f"{digest}.json"
    return Path(tempfile.mkdtemp(prefix="provision-drift-")) / f"{digest}.json"


def _store(result: Path, files: list[Rendered]) -> None:
    partial = result.with_name(f".{result.name}.{os.getpid()}")
    partial.touch(mode=0o600)
    partial.write_text(json.dumps([{**asdict(file), "path": str(file.path)} for file in files]))
    partial.replace(result)


def _prune(cache: Path) -> None:
    renders = sorted(cache.glob("*.json"), key=lambda path: path.stat().st_mtime, reverse=True)
    for old in renders[KEPT:]:
        old.unlink(missing_ok=True)


if __name__ == "__main__":
    sys.exit(render(Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])))
