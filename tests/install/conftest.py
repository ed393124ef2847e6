"""provision as a user installs it: a wheel built from this checkout, in a venv of its own outside it."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO

# A root login shell's PATH: the venv's bin is not on it.
PLAIN_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin:/usr/local/bin", "HOME": "/root", "LANG": "C.UTF-8"}


@dataclass(frozen=True)
class Installed:
    venv: Path
    workdir: Path  # a directory outside the checkout to run in

    def provision(self, *args: str, env: dict[str, str] | None = None, timeout: float = 900,
                  input: str | None = None) -> subprocess.CompletedProcess[str]:
        """The installed `provision`, with nothing in its environment but a plain PATH and HOME."""
        return subprocess.run([str(self.venv / "bin/provision"), *args], capture_output=True, text=True,
                              env={**PLAIN_ENV, **(env or {})}, cwd=self.workdir, timeout=timeout,
                              input=input)

    def shell(self, command: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["sh", "-c", command], capture_output=True, text=True, cwd=self.workdir,
                              env={**PLAIN_ENV, "PATH": f"{self.venv / 'bin'}:{PLAIN_ENV['PATH']}",
                                   **(env or {})}, timeout=600)


def _run(argv: Sequence[str | Path], cwd: Path) -> None:
    done = subprocess.run([str(word) for word in argv], capture_output=True, text=True, cwd=cwd, timeout=600)
    assert done.returncode == 0, f"{argv} failed:\n{done.stdout}\n{done.stderr}"


@pytest.fixture(scope="session")
def installed() -> Iterator[Installed]:
    """`pip install` of a wheel of this checkout into a new venv, as install.sh does into its own.

    The new venv reuses the test venv's packages (a .pth file, so nothing is downloaded but the build
    backend) and gets their programs linked beside its python, where pip would have put them. Not under
    pytest's tmp_path: other test runs on the machine prune old pytest directories, this one's too.
    """
    with tempfile.TemporaryDirectory(prefix="provision-installed-") as temporary:
        yield _install(Path(temporary))


def _install(root: Path) -> Installed:
    wheels, venv = root / "wheels", root / "venv"
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--disable-pip-version-check", "--no-deps",
          "-w", wheels, REPO], cwd=root)
    _run([Path(sys.base_prefix) / "bin/python3", "-m", "venv", venv], cwd=root)
    site = next((venv / "lib").glob("python3*/site-packages"))
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    for program in Path(sys.executable).parent.glob("ansible*"):
        (venv / "bin" / program.name).symlink_to(program)
    # --ignore-installed: the provision of the reused packages must not count as installed here.
    _run([venv / "bin/pip", "install", "-q", "--disable-pip-version-check", "--no-deps", "--ignore-installed",
          *wheels.glob("provision-*.whl")], cwd=root)
    assert (venv / "bin/provision").is_file(), "pip did not install the wheel"
    workdir = root / "work"
    workdir.mkdir()
    os.chmod(workdir, 0o755)
    return Installed(venv, workdir)
