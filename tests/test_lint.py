"""The code and the playbooks pass the linters the project holds itself to."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def test_python_passes_ruff():
    done = subprocess.run([BIN / "ruff", "check", "provision", "tests", "playbooks"], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


def test_playbooks_pass_ansible_lint():
    done = subprocess.run([BIN / "ansible-lint", "--nocolor", "--offline", "site.yml", "render.yml"],
                          cwd=REPO / "playbooks", capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Passed" in done.stdout + done.stderr
