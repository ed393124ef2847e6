"""postfix-validate's own logic: the candidate is checked beside its pair under the live
name, a complaint names the live path and refuses it, and nothing is left behind.

postconf is a stand-in on PATH that complains about every line starting with "bad" in the
directory -c names, on stderr as Postfix does, and fails without both files (the candidate's
pair is the live file or an empty one; this machine has no /etc/postfix, so it is empty here).
A real Postfix refusing a broken main.cf is tests/commands/test_apply.py's.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.programs import PLAYBOOKS

PROGRAM = PLAYBOOKS / "roles/postfix/files/usr/local/lib/provision/postfix-validate"
POSTCONF = """#!/bin/sh
[ "$1" = -c ] || { echo "postconf: fatal: no -c" >&2; exit 1; }
case $3 in -n) file=main.cf ;; -M) file=master.cf ;; *) exit 1 ;; esac
echo "$3 $file" >> "$POSTCONF_SEEN"
[ -f "$2/main.cf" ] && [ -f "$2/master.cf" ] || { echo "postconf: fatal: $2: missing a file" >&2; exit 1; }
grep -q '^fatal' "$2/$file" && { echo "postconf: fatal: $2/$file: cannot parse" >&2; exit 1; }
echo "listing of $file"
grep -n '^bad' "$2/$file" | sed "s#^\\([0-9]*\\):.*#postconf: warning: $2/$file: line \\1: unknown#" >&2
exit 0
"""


@pytest.fixture
def validate(tmp_path: Path):
    tools = tmp_path / "bin"
    tools.mkdir()
    (tools / "postconf").write_text(POSTCONF)
    (tools / "postconf").chmod(0o755)
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    seen = tmp_path / "seen"
    environment = {**os.environ, "PATH": f"{tools}{os.pathsep}{os.environ['PATH']}", "TMPDIR": str(temporary),
                   "POSTCONF_SEEN": str(seen)}

    def run(name: str, text: str) -> subprocess.CompletedProcess[str]:
        candidate = tmp_path / f"candidate-{name}"
        candidate.write_text(text)
        done = subprocess.run(["sh", PROGRAM, name, candidate], env=environment, capture_output=True,
                              text=True, timeout=30, check=False)
        assert list(temporary.iterdir()) == []  # the staging directory is gone
        return done

    run.seen = seen
    return run


@pytest.mark.parametrize("name", ["main.cf", "master.cf"])
def test_a_clean_candidate_passes_both_listings(validate, name):
    done = validate(name, "myhostname = mail.example.test\n")
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    assert validate.seen.read_text() == "-n main.cf\n-M master.cf\n"


@pytest.mark.parametrize(("name", "where"), [("main.cf", "line 2"), ("master.cf", "line 1")])
def test_a_warning_refuses_the_candidate_and_names_the_live_file(validate, name, where):
    text = "bad first\n" if name == "master.cf" else "myhostname = mail.example.test\nbad = 1\n"
    done = validate(name, text)
    assert done.returncode == 1
    assert done.stderr == f"postconf: warning: /etc/postfix/{name}: {where}: unknown\n"


def test_a_failing_postconf_refuses_the_candidate(validate):
    done = validate("main.cf", "fatal = yes\n")
    assert done.returncode == 1
    assert done.stderr == "postconf: fatal: /etc/postfix/main.cf: cannot parse\n"
    assert validate.seen.read_text() == "-n main.cf\n"  # master.cf is not listed after main.cf failed
