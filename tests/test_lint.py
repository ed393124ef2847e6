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
    done = subprocess.run([BIN / "ansible-lint", "--nocolor", "--offline", "site.yml", "render.yml",
                           "backup-host.yml"],
                          cwd=REPO / "playbooks", capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Passed" in done.stdout + done.stderr


def test_every_program_for_the_server_is_linted():
    """The roles' programs: ruff reads each Python one (pyproject.toml names those without .py);
    sh parses each shell one (there is no shell linter among the project's tools). nginx's njs modules
    are left to `nginx -t`, which compiles them before any reload; files for /etc (Sieve scripts, fail2ban
    filters) are data, which their own services check."""
    programs = [path for path in (REPO / "playbooks/roles").glob("*/files/usr/**/*")
                if path.is_file() and path.suffix != ".js"]
    shell = [path for path in programs if path.read_text().startswith("#!/bin/sh")]
    listed = subprocess.run([BIN / "ruff", "check", "--show-files", "playbooks"], cwd=REPO,
                            capture_output=True, text=True, timeout=300)
    assert sorted(set(programs) - set(shell)) == sorted(
        path for path in map(Path, listed.stdout.split()) if "/files/" in str(path))
    for path in shell:
        parsed = subprocess.run(["sh", "-n", path], capture_output=True, text=True, timeout=60)
        assert parsed.returncode == 0, f"{path}: {parsed.stderr}"
