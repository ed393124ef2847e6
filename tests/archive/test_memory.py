"""A 50 MB message goes through the writer, the reader and verify without being held in memory."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path

from provision.archive.reader import ArchiveReader
from provision.archive.verify import verify
from provision.archive.writer import ArchiveWriter
from tests.archive.corpus import DATE, USER

CHUNK = 64 * 1024
SIZE = 50 * 1024 * 1024
LIMIT = 4 * 1024 * 1024  # a few chunks plus the header look-ahead, far below the message


def _chunks() -> Iterator[bytes]:
    pattern = bytes(range(256)) * (CHUNK // 256)
    yield b"Message-ID: <huge@example.com>\r\nSubject: huge\r\n\r\n"
    for _ in range(SIZE // CHUNK):
        yield bytes(pattern)  # a fresh buffer each time, as a socket read would give


def _peak(work: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        work()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_huge_message_is_streamed(tmp_path: Path) -> None:
    writer = ArchiveWriter(tmp_path / "acme")
    user = writer.user(USER)
    added = []
    assert _peak(lambda: added.append(user.add_message("INBOX", _chunks(), internaldate=DATE))) < LIMIT
    [record] = added
    assert record.size > SIZE and record.message_id == "<huge@example.com>"
    writer.finish()

    with ArchiveReader(tmp_path / "acme") as archive:
        anna = archive.user(USER)
        sizes = []
        assert _peak(lambda: sizes.append(sum(map(len, archive.message_chunks(anna, record))))) < LIMIT
        assert sizes == [record.size]
    reports = []
    assert _peak(lambda: reports.append(verify(tmp_path / "acme"))) < LIMIT
    assert reports[0].sound
