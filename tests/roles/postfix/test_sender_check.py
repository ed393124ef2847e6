"""provision-sender-check's decisions: which From headers an authenticated login may send.

The owners table is a dict here, as smtpd_sender_login_maps would answer it; the postmap
lookup runs a stand-in postmap; the milter callbacks around the decisions need python3-milter
and a Postfix: tests/roles/test_security.py sends through them.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tests.programs import load

sender_check = load("postfix", "usr/local/lib/provision/provision-sender-check")

TABLE = {
    "anna@example.test": {"anna"},
    "info@example.test": {"anna", "bob"},  # a shared mailbox and its members
}


def refusal(login: str, *from_headers: str, delimiter: str = "+") -> str | None:
    return sender_check.from_refusal(login, list(from_headers), TABLE.get, delimiter)


@pytest.mark.parametrize("header", [
    "anna@example.test",
    "Anna <ANNA@Example.Test>",
    '"Info, Example" <info@example.test>',
    "anna+news@example.test",
    "Anna <anna@example.test>, Info <info@example.test>",
])
def test_a_login_sends_as_the_addresses_it_owns(header):
    assert refusal("anna", header) is None


def test_no_from_header_is_left_to_the_envelope_check():
    assert refusal("anna") is None


@pytest.mark.parametrize(("login", "header", "why"), [
    ("bob", "anna@example.test", "bob may not send as anna@example.test in the From header"),
    ("bob", "Anna <anna+news@example.test>", "bob may not send as anna+news@example.test in the From header"),
    ("anna", "nobody@example.test", "anna may not send as nobody@example.test in the From header"),
    ("anna", "anna", "anna may not send as anna in the From header"),
    ("anna", "<>", "anna may not send as an unreadable address in the From header"),
    ("bob", "Info <info@example.test>, anna@example.test",
     "bob may not send as anna@example.test in the From header"),
])
def test_a_login_is_refused_an_address_it_does_not_own(login, header, why):
    assert refusal(login, header) == why


def test_two_from_headers_are_refused():
    assert refusal("anna", "anna@example.test", "anna@example.test") == (
        "a message may have only one From header")


def test_without_a_delimiter_a_tagged_address_is_its_own():
    assert refusal("anna", "anna+news@example.test", delimiter="") == (
        "anna may not send as anna+news@example.test in the From header")


def test_an_empty_envelope_sender_is_refused():
    assert sender_check.envelope_refusal("anna", "<>") == (
        "anna may not send with an empty envelope sender (MAIL FROM:<>)")
    assert sender_check.envelope_refusal("anna", "<anna@example.test>") is None


@pytest.fixture
def postmap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A postmap on PATH that answers -q KEY TABLE from the file TABLE/KEY, exits 1 without
    it, and 2 for the key broken@."""
    program = tmp_path / "bin/postmap"
    program.parent.mkdir()
    program.write_text('#!/bin/sh\n[ "$2" = broken@example.test ] && { echo "postmap: fatal: no table" >&2; '
                       'exit 2; }\n[ -f "$3/$2" ] || exit 1\ncat "$3/$2"\n')
    program.chmod(program.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{program.parent}{os.pathsep}{os.environ['PATH']}")
    table = tmp_path / "table"
    table.mkdir()
    (table / "info@example.test").write_text("Anna, bob\n")
    return sender_check.postmap(str(table))


def test_postmap_answers_the_owners_or_none(postmap):
    assert postmap("info@example.test") == {"anna", "bob"}
    assert postmap("nobody@example.test") is None
    assert sender_check.from_refusal("bob", ["info@example.test"], postmap, "+") is None


def test_a_failed_lookup_is_not_a_refusal(postmap):
    with pytest.raises(sender_check.LookupFailed, match="postmap: fatal: no table"):
        sender_check.from_refusal("anna", ["broken@example.test"], postmap, "+")
