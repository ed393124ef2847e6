"""What the CLI prints for people: plain text wherever it is not a terminal."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO

EXAMPLE = REPO / "inventory.example"


def test_a_table_written_to_a_file_is_plain_text(tmp_path):
    """`provision inventory check DIR > file`, even where the environment asks for colour."""
    written = tmp_path / "check.txt"
    with written.open("w") as out:
        done = subprocess.run([sys.executable, "-m", "provision", "inventory", "check", str(EXAMPLE)],
                              cwd=REPO, stdout=out, stderr=subprocess.PIPE, text=True, timeout=120,
                              env={"PATH": "/usr/bin:/bin", "FORCE_COLOR": "1", "TTY_COMPATIBLE": "1",
                                   "PROVISION_VAULT_PASSWORD_FILE": str(EXAMPLE / "vault-password.example")})
    assert done.returncode == 0, done.stderr
    text = written.read_text()
    assert text.splitlines()[0].split() == ["SETTING", "VALUE"]
    assert "domains       example.org, xn--bcher-kva.example" in text
    assert "\x1b" not in text and "\r" not in text
    assert all(line == line.rstrip() for line in text.splitlines())
