"""Passwords, tokens and passphrases the user hands over in a file (or on stdin): one rule for all.

The secret is the text without one trailing newline (\\n or \\r\\n, as an editor or `echo` leaves it).
A file that cannot be read, is empty, or holds more than one line is refused (exit 2) rather than
guessed at: a secret cut at its first line, or carrying a newline, would fail later and less clearly.
"""

from __future__ import annotations

from pathlib import Path

from provision import files
from provision.errors import UsageError


def read(path: str | Path, what: str) -> str:
    """The what ("password", "OAuth2 token") in the file at path."""
    try:
        text = files.read_text(path)  # never through a link: it may name another customer's secret
    except UnicodeDecodeError as bad:
        raise UsageError(f"cannot read the {what} file {path}: {bad}") from None
    return secret(text, str(path), what)


def secret(text: str, source: str, what: str) -> str:
    """The what in text read from source (a file's name, or "standard input")."""
    value = text[:-2] if text.endswith("\r\n") else text.removesuffix("\n")
    if not value:
        raise UsageError(f"{source} holds no {what}")
    if "\n" in value or "\r" in value:
        raise UsageError(f"{source} holds more than one line", f"write the {what} alone on one line")
    return value
