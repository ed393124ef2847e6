"""The conventions every command follows, and the README's promises about them."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys

from provision import __version__
from provision.cli import COMMANDS, build_parser, main
from provision.console import table
from provision.inventory import vault
from tests.conftest import REPO, provision


def test_version():
    done = provision("--version")
    assert done.returncode == 0
    assert done.stdout.strip() == f"provision {__version__}"


def test_help_documents_exit_statuses():
    done = provision("--help")
    assert done.returncode == 0
    for line in ("0    success", "1    the job ran and found or met a failure",
                 "2    bad usage or bad input; nothing was changed"):
        assert line in done.stdout


def test_bad_usage_exits_2():
    done = provision("no-such-command")
    assert done.returncode == 2
    assert "invalid choice" in done.stderr


def _commands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    return next(action.choices for action in parser._actions
                if isinstance(action, argparse._SubParsersAction))


def test_a_command_built_alone_reads_as_among_all():
    every = _commands(build_parser())
    assert list(every) == list(COMMANDS)
    for name in COMMANDS:
        alone = _commands(build_parser(["-v", "--json", name]))
        assert {COMMANDS[other] for other in alone} == {COMMANDS[name]}  # its module's commands only
        assert alone[name].format_help() == every[name].format_help()
    for before in (["-h"], ["--he"], ["-vq"]):  # help, or flags the CLI does not look into: all
        assert list(_commands(build_parser([*before, "users", "list"]))) == list(COMMANDS)


def test_a_command_loads_only_what_it_needs():
    """SSH, LDAP and the checks cost every call half a second; init and inventory check need none."""
    program = ("import sys; from provision.cli import main; status = main(['inventory', 'check', "
               "'inventory.example']); print(status, sorted({'paramiko', 'ldap3', 'provision.check.runner'} "
               "& set(sys.modules)))")
    password = REPO / "inventory.example/vault-password.example"
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, cwd=REPO,
                          timeout=60, env={**os.environ, vault.PASSWORD_FILE_VARIABLE: str(password)})
    assert done.stdout.splitlines()[-1] == "0 []", done.stderr


def test_global_options_stand_before_or_after_the_command(capsys):
    assert main(["sandbox", "down", "--json"]) == 2
    assert '"error": "name one sandbox, or give --all"' in capsys.readouterr().out


def test_table_aligns_columns():
    text = table([{"a": "x", "b": 1}, {"a": "longer", "b": None}], [("a", "name"), ("b", "n")])
    assert text.splitlines() == ["NAME    N", "x       1", "longer"]


def test_ci_runs_the_readme_test_command():
    commands = re.findall(r"```sh\n(.+?)\n```", (REPO / "README.md").read_text())
    assert len(commands) >= 2
    assert commands[0].startswith("./install.sh && ")
    assert commands[1] == (REPO / ".ci/run").read_text().strip().splitlines()[-1]
