"""The README's exit statuses, held where they were broken: bad input is 2 before anything is made, an
unexpected error is one line, a reader that goes away ends nothing but us."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from provision.cli import main
from provision.commands import sandbox
from tests.conftest import REPO, provision

EXAMPLE = REPO / "inventory.example"
ENV = {"PROVISION_VAULT_PASSWORD_FILE": str(EXAMPLE / "vault-password.example")}


@pytest.mark.parametrize("timeout", ["inf", "1e9", "nan", "0", "-1", "soon"])
def test_check_refuses_a_timeout_that_is_no_duration(timeout):
    done = provision("check", "example.org", "--timeout", timeout)
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1].startswith("provision: error: argument --timeout: ")


def test_migrate_refuses_no_workers_before_it_makes_anything(tmp_path):
    archive = tmp_path / "archive"
    done = provision("export", str(tmp_path / "source"), "-o", str(archive), "--workers", "0")
    assert done.returncode == 2
    assert "argument --workers: must be at least 1, not 0" in done.stderr
    assert not archive.exists()


def test_a_missing_password_file_is_one_line_and_exit_2():
    done = provision("users", "passwd", str(EXAMPLE), "anna", "--password-file", "/nonexistent", env=ENV)
    assert done.returncode == 2
    assert done.stderr == "provision: /nonexistent cannot be read (No such file or directory)\n"


@pytest.mark.parametrize("argv", [["--json", "sandbox", "ssh", "x"],
                                  ["--json", "users", "export", str(EXAMPLE), "--format", "csv"],
                                  ["--json", "check", "example.org", "--nagios"]])
def test_json_that_a_command_cannot_honour_is_refused(argv):
    done = provision(*argv, env=ENV)
    assert done.returncode == 2
    assert '"error": ' in done.stdout


def test_an_unexpected_error_is_one_line_and_exit_1(monkeypatch, capsys):
    def broken(args, console):
        raise RuntimeError("no such thing\nand more")
    monkeypatch.setattr(sandbox, "_list", broken)
    assert main(["sandbox", "list"]) == 1
    assert capsys.readouterr().err == ("provision: unexpected error: RuntimeError: no such thing "
                                       "(run with -vv for the traceback)\n")
    assert main(["-vv", "sandbox", "list"]) == 1
    assert "Traceback (most recent call last)" in capsys.readouterr().err


def test_a_reader_that_went_away_ends_the_command_quietly():
    """`provision ... --json | head -1`: the reader closes the pipe before the output is written."""
    reader, writer = os.pipe()
    os.close(reader)
    done = subprocess.run([sys.executable, "-m", "provision", "--json", "inventory", "check", str(EXAMPLE)],
                          stdout=writer, stderr=subprocess.PIPE, text=True, cwd=REPO,
                          env={**os.environ, **ENV}, timeout=120)
    os.close(writer)
    assert done.stderr == ""
    assert done.returncode == 1
