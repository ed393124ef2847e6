"""The conventions every command follows, and the README's promises about them."""

from __future__ import annotations

import re

from provision import __version__
from provision.cli import main
from provision.console import table
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
