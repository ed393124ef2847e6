"""Fixtures for the inventory tests: the CLI run in-process, and a valid inventory made by init."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from provision.cli import main

INIT_OPTIONS = ("--domain", "example.org", "--domain", "bücher.example", "--hostname", "mail.example.org",
                "--host", "203.0.113.25", "--public-ipv6", "2001:db8::25")


@pytest.fixture(scope="session")
def init_options() -> tuple[str, ...]:
    """The options of `provision init` for the test customer, with a Unicode domain."""
    return INIT_OPTIONS


@dataclass
class Run:
    status: int
    out: str
    err: str


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home of the test's own, so default vault password files land there."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("PROVISION_VAULT_PASSWORD_FILE", raising=False)
    return home


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., Run]:
    """`provision ARGS...` as a user runs it, in this process; argparse exits count as statuses."""
    def run(*args: str) -> Run:
        try:
            status = main(list(args))
        except SystemExit as exit_:
            status = int(exit_.code or 0)
        captured = capsys.readouterr()
        return Run(status, captured.out, captured.err)
    return run


@pytest.fixture(scope="session")
def made_once(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One inventory written by `provision init` (a child process), and its vault password file."""
    base = tmp_path_factory.mktemp("made")
    password = base / "vault.password"
    done = subprocess.run([sys.executable, "-m", "provision", "init", str(base / "acme"), *INIT_OPTIONS],
                          capture_output=True, text=True,
                          env={**os.environ, "PROVISION_VAULT_PASSWORD_FILE": str(password)})
    assert done.returncode == 0, done.stderr
    return base / "acme", password


@pytest.fixture
def inventory(made_once: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh copy of the valid inventory, its vault password given by the environment."""
    source, password = made_once
    copy = tmp_path / "acme"
    shutil.copytree(source, copy)
    monkeypatch.setenv("PROVISION_VAULT_PASSWORD_FILE", str(password))
    return copy
