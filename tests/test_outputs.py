"""Every output file is opened before anything is made, never through a link, and 0600 when it holds
secrets: a --password-out that cannot be written fails before an account exists (issue 12, item 8)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from provision.files import Output, Refused
from tests.conftest import provision

SHEET = "uid,name,mail,aliases,phone\nanna,Anna Berg,anna@example.org,,\n"


@pytest.fixture
def sheet(tmp_path: Path) -> Path:
    path = tmp_path / "people.csv"
    path.write_text(SHEET)
    return path


def bad_outputs(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """(path, what the user is told) for each kind of output that cannot be made."""
    dangling = tmp_path / "dangling.csv"
    dangling.symlink_to(tmp_path / "elsewhere" / "stolen.csv")
    existing = tmp_path / "existing.csv"
    existing.write_text("older passwords\n")
    return {"dangling link": (dangling, f"{dangling} is a symbolic link"),
            "missing directory": (tmp_path / "no" / "such" / "pw.csv", "cannot be made (No such file"),
            "existing file": (existing, f"{existing} exists")}


@pytest.mark.parametrize("kind", ["dangling link", "missing directory", "existing file"])
def test_users_import_refuses_a_bad_password_file_before_the_directory_is_reached(
        tmp_path: Path, sheet: Path, kind: str) -> None:
    """The inventory does not even exist: the output is refused before it would be read."""
    path, told = bad_outputs(tmp_path)[kind]
    done = provision("users", "import", str(tmp_path / "no-inventory"), str(sheet),
                     "--password-out", str(path), timeout=60)
    assert done.returncode == 2, done.stderr
    assert told in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "elsewhere").exists()


@pytest.mark.parametrize("kind", ["dangling link", "missing directory", "existing file"])
def test_users_add_refuses_a_bad_password_file_first(tmp_path: Path, kind: str) -> None:
    path, told = bad_outputs(tmp_path)[kind]
    done = provision("users", "add", str(tmp_path / "no-inventory"), "anna", "--name", "Anna Berg",
                     "--mail", "anna@example.org", "--password-out", str(path), timeout=60)
    assert done.returncode == 2, done.stderr
    assert told in done.stderr


@pytest.mark.parametrize(("option", "name"), [("--report", "report.html"), ("--state", "state.sqlite")])
def test_migrate_refuses_an_output_through_a_link_before_it_copies(tmp_path: Path, option: str,
                                                                   name: str) -> None:
    source = tmp_path / "md"
    for sub in ("cur", "new", "tmp"):
        (source / sub).mkdir(parents=True)
    link = tmp_path / name
    link.symlink_to(tmp_path / f"elsewhere-{name}")
    done = provision("migrate", str(source), "imaps://bob@127.0.0.1:1", "--users", "bob@example.org",
                     "--dry-run", option, str(link), timeout=120)
    assert done.returncode == 2, done.stderr
    assert f"{link} is a symbolic link" in done.stderr
    assert not (tmp_path / f"elsewhere-{name}").exists()


def test_a_secret_output_is_new_and_private_and_gone_if_never_written(tmp_path: Path) -> None:
    path = tmp_path / "passwords.csv"
    with Output(path, secret=True) as out:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not path.exists()  # nothing was written: no empty file left
    with Output(path, secret=True) as out:
        out.write("anna,secret\n")
    assert path.read_text() == "anna,secret\n"
    with pytest.raises(Refused, match="exists"):
        Output(path, secret=True)


def test_a_report_may_replace_an_older_one_which_stays_until_the_new_text_is_written(tmp_path: Path) -> None:
    path = tmp_path / "report.md"
    path.write_text("last week's report\n")
    out = Output(path, secret=False, replace=True)
    assert path.read_text() == "last week's report\n"  # the run has not finished yet
    out.write("# this week\n")
    out.close()
    assert path.read_text() == "# this week\n"
    fifo = tmp_path / "fifo.md"
    os.mkfifo(fifo)
    with pytest.raises(Refused, match=r"not a regular file|cannot be made"):  # never blocks
        Output(fifo, secret=False, replace=True)


