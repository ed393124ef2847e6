"""Fixtures shared by the whole suite: the CLI as a user runs it, and a booted sandbox."""

from __future__ import annotations

import atexit
import functools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.marks import declared, starts

REPO = Path(__file__).resolve().parent.parent
# The team fixture, shared by the calendar and web tests, and a real browser.
pytest_plugins = ["tests.people", "tests.browser"]
# This run's sandboxes carry its process id, so two runs side by side (a developer's and
# CI's) never take each other's sandboxes down.
RUN = f"t{os.getpid() % 100000}"
_RUN_NAME = re.compile(r"^t(\d+)(-|$)")


def sandbox_name(role: str = "") -> str:
    return f"{RUN}-{role}" if role else RUN


def pytest_sessionstart(session: pytest.Session) -> None:
    """Take down sandboxes left by test runs that were killed: their process is gone."""
    listed = provision("--json", "sandbox", "list")
    for box in json.loads(listed.stdout) if listed.returncode == 0 else []:
        owner = _RUN_NAME.match(box["name"])
        if owner and not Path(f"/proc/{owner.group(1)}").exists():
            provision("sandbox", "down", box["name"])


@pytest.hookimpl(tryfirst=True)  # before -m deselects by them
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test with what it starts (tests/marks.py), so the marks cannot drift from the code."""
    for item in items:
        for mark in sorted(declared(item)) if isinstance(item, pytest.Function) else ():
            item.add_marker(mark)


_running: list[pytest.Item] = []  # the test being set up, run or torn down, for start_sandbox's check


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    _running.append(item)
    try:
        return (yield)
    finally:
        _running.pop()


def provision(*args: str, uid: int | None = None, timeout: float = 900, input: str | None = None,
              env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the `provision` CLI in a child process, as a user would (as root unless uid is given)."""
    argv = [sys.executable, "-m", "provision", *args]
    env = {**os.environ, **env} if env else None
    if uid is not None:
        argv = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", *argv]
        env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(_readable_copy())}
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, input=input,
                          cwd=REPO if uid is None else "/", env=env)


@functools.cache
def _readable_copy() -> Path:
    """The package where any user can read it: the checkout may sit in root's home."""
    parent = Path(tempfile.mkdtemp(prefix="provision-src-"))
    parent.chmod(0o755)
    shutil.copytree(REPO / "provision", parent / "provision",
                    ignore=shutil.ignore_patterns("__pycache__"))
    atexit.register(shutil.rmtree, parent, ignore_errors=True)
    return parent


@dataclass
class SandboxHost:
    name: str
    address: str
    hostname: str

    def ssh(self, command: str | Sequence[str], check: bool = True) -> subprocess.CompletedProcess[str]:
        argv = [command] if isinstance(command, str) else list(command)
        done = provision("sandbox", "ssh", self.name, "--", *argv, timeout=600)
        if check and done.returncode != 0:
            raise AssertionError(f"{argv} failed on {self.name}: {done.stderr or done.stdout}")
        return done


@starts("sandbox")
def start_sandbox(name: str) -> SandboxHost:
    """Boot a sandbox through the CLI; a sandbox that cannot start fails the test, never skips it."""
    # The collection marks found no way here (a method of an object, say): -m would not leave it out.
    assert not _running or _running[-1].get_closest_marker("sandbox"), (
        f"{_running[-1].nodeid} boots a sandbox but is not marked sandbox: declare what boots it "
        "with @starts(\"sandbox\") (tests/marks.py)")
    leftover = provision("sandbox", "down", name)  # of an interrupted run
    assert leftover.returncode in (0, 2), f"could not clear an old sandbox {name}:\n{leftover.stderr}"
    done = provision("--json", "sandbox", "up", name)
    assert done.returncode == 0, f"sandbox {name} did not come up:\n{done.stderr}"
    info = json.loads(done.stdout)
    return SandboxHost(info["name"], info["address"], info["hostname"])


def stop_sandbox(name: str) -> None:
    done = provision("sandbox", "down", name)
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="session")
def sandbox() -> Iterator[SandboxHost]:
    """One booted sandbox for every test that does not disturb it."""
    host = start_sandbox(sandbox_name())
    yield host
    stop_sandbox(host.name)


@dataclass
class MailServer:
    """A sandbox provisioned by `provision init` and `provision apply`, and its inventory."""

    host: SandboxHost
    inventory: Path
    env: dict[str, str]
    fresh_check: subprocess.CompletedProcess[str] | None = None  # `apply --check` before the first apply

    def secret(self, name: str) -> str:
        done = provision("secret", str(self.inventory), name, env=self.env)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    def apply(self, *options: str) -> subprocess.CompletedProcess[str]:
        return provision("apply", str(self.inventory), *options, env=self.env)


@pytest.fixture(scope="session")
def mail_server(tmp_path_factory) -> Iterator[MailServer]:
    """One provisioned mail server for every test that leaves it as it found it."""
    host = start_sandbox(sandbox_name("mail"))
    directory = tmp_path_factory.mktemp("customer") / "example-gmbh"
    password_file = directory.parent / "vault.password"
    password_file.write_text("test vault password\n")
    env = {"PROVISION_VAULT_PASSWORD_FILE": str(password_file)}
    init = provision("init", str(directory), "--domain", "example.test", "--domain", "example.org",
                     "--hostname", host.hostname, "--host", host.address, "--sandbox", env=env)
    assert init.returncode == 0, init.stderr
    server = MailServer(host, directory, env)
    try:
        server.fresh_check = server.apply("--json", "--check")
        first = server.apply()
        assert first.returncode == 0, first.stderr + first.stdout
        yield server
    finally:
        stop_sandbox(host.name)
