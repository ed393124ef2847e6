"""Running local programs: argument lists only, never a shell."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from provision.errors import ProvisionError

# Where pip put the programs of provision's own dependencies (ansible-vault, ansible-playbook):
# the venv's bin, which a root login shell's PATH does not name.
BESIDE_INTERPRETER = Path(sys.executable).parent


def program(name: str) -> str:
    """The program to run for name: the one installed beside this Python first, then PATH's."""
    beside = BESIDE_INTERPRETER / name
    if os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which(name) or name


def search_path() -> str:
    """PATH for a child that looks up programs itself (ansible-playbook calls ansible-galaxy and ssh)."""
    return os.pathsep.join([str(BESIDE_INTERPRETER), os.environ.get("PATH", os.defpath)])


def run(
    argv: Sequence[str],
    *,
    check: bool = True,
    env: Mapping[str, str] | None = None,
    timeout: float | None = 120,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run argv and capture its output; a non-zero exit raises ProvisionError."""
    try:
        done = subprocess.run([program(argv[0]), *argv[1:]], capture_output=True, text=True, env=env,
                              timeout=timeout, input=input)
    except FileNotFoundError as missing:
        raise ProvisionError(
            f"{argv[0]} is not installed", hint="run ./install.sh as root to install what provision needs"
        ) from missing
    except subprocess.TimeoutExpired as slow:
        raise ProvisionError(f"{argv[0]} did not finish within {timeout:.0f} s") from slow
    if check and done.returncode != 0:
        reason = (done.stderr or done.stdout).strip().splitlines()
        raise ProvisionError(f"{' '.join(argv[:3])} failed: {reason[-1] if reason else done.returncode}")
    return done


def alive(pid: int) -> bool:
    """Whether pid runs; a zombie counts as ended (its parent may be long gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return False
