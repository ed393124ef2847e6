"""Secrets read from files: one trailing newline dropped, and an empty, multi-line or unreadable file refused
(exit 2, one line) before anything is touched."""

from __future__ import annotations

import pytest

from provision import secretfile
from provision.errors import UsageError
from tests.conftest import provision


@pytest.mark.parametrize("text", ["pass word", "pass word\n", "pass word\r\n"])
def test_one_trailing_newline_is_not_part_of_the_secret(tmp_path, text):
    path = tmp_path / "secret"
    path.write_bytes(text.encode())
    assert secretfile.read(path, "password") == "pass word"


def test_only_one_newline_is_dropped(tmp_path):
    path = tmp_path / "secret"
    path.write_text("pass word\n\n")
    with pytest.raises(UsageError, match="holds more than one line"):
        secretfile.read(path, "password")


def _add_with(password_file: str) -> list[str]:
    """users add refuses the file before it reads the inventory (which here does not exist)."""
    done = provision("users", "add", "/nonexistent/inventory", "anna", "--name", "Anna", "--mail",
                     "anna@example.test", "--password-file", password_file)
    assert done.returncode == 2, done.stderr
    return done.stderr.splitlines()


def test_an_empty_file_is_refused(tmp_path):
    (tmp_path / "empty").write_text("\n")
    assert _add_with(str(tmp_path / "empty")) == [f"provision: {tmp_path / 'empty'} holds no password"]


def test_a_file_of_several_lines_is_refused(tmp_path):
    (tmp_path / "two").write_text("first\nsecond\n")
    assert _add_with(str(tmp_path / "two")) == [f"provision: {tmp_path / 'two'} holds more than one line",
                                                "provision: hint: write the password alone on one line"]


def test_a_missing_file_is_refused(tmp_path):
    missing = tmp_path / "missing"
    assert _add_with(str(missing)) == [
        f"provision: {missing} cannot be read (No such file or directory)"]
