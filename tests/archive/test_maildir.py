"""Flags, keywords and Message-ID as the Maildir writer sees them."""

from __future__ import annotations

from pathlib import Path

import pytest

from provision.archive import ArchiveError
from provision.archive.maildir import (
    info_letters,
    letters_in,
    make_maildir,
    normalise_flags,
    normalise_keywords,
    receive,
)


def test_imap_flags_map_to_maildir_letters() -> None:
    flags = normalise_flags(["\\seen", "\\ANSWERED", "\\Flagged", "\\Deleted", "\\Draft", "\\Recent"])
    assert flags == ["\\Answered", "\\Deleted", "\\Draft", "\\Flagged", "\\Seen"]
    assert info_letters(flags) == "DFRST"
    assert letters_in("1.abc.archive,S=3:2,DFRSTab") == "DFRST"  # Dovecot keyword letters are not flags
    assert letters_in("1.abc.archive,S=3") == ""


def test_bad_flags_and_keywords_are_refused() -> None:
    with pytest.raises(ArchiveError, match="unknown system flag"):
        normalise_flags(["\\Important"])
    with pytest.raises(ArchiveError, match="not an IMAP atom"):
        normalise_keywords(["two words"])
    assert normalise_keywords(["Work", "$Forwarded", "Work"]) == ["$Forwarded", "Work"]


@pytest.mark.parametrize(("data", "expected"), [
    (b"Subject: x\r\n\r\nMessage-ID: <in-body@x>\r\n", None),
    (b"\r\nMessage-ID: <no-header@x>\r\n", None),
    (b"message-id:   <lower@x>  \nSubject: y\n\n", "<lower@x>"),
    (b"Message-ID: <first@x>\r\nMessage-ID: <second@x>\r\n\r\n", "<first@x>"),
    (b"Message-ID:\r\n\t<folded@x>\r\n\r\n", "<folded@x>"),
    (b"Message-ID: \r\n\r\n", None),
])
def test_message_id_comes_from_the_header_only(tmp_path: Path, data: bytes, expected: str | None) -> None:
    make_maildir(tmp_path)
    pieces = [data[i:i + 3] for i in range(0, len(data), 3)]  # boundaries inside the header
    pending = receive(tmp_path, pieces)
    assert pending.message_id == expected and pending.tmp.read_bytes() == data
