"""A folder's bookkeeping kept on disk instead of in memory: its listing, what is known of each
message's bytes, the hashes a target holds. Copying a folder of a million messages then needs no more
memory than one of a hundred.

Each spool is a private SQLite database in a temporary file that SQLite deletes when it is closed; only
its page cache stays in memory. One lock per spool: the prefetching thread reads what the copying
thread writes."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator
from datetime import datetime

from provision.migrate.imap import Meta
from provision.migrate.state import Known

PAGE = 1000  # rows read at a time
CACHE_KIB = 2048
_SEP = "\x1f"  # joins flags, keywords and labels, which never contain it


class _Database:
    def __init__(self, schema: str):
        self._db = sqlite3.connect("", check_same_thread=False)  # "": a temporary file, not memory
        self._db.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
        self._db.executescript(schema)
        self._lock = threading.Lock()

    def _run(self, sql: str, args: Iterable[object] = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, tuple(args)).fetchall()

    def _many(self, sql: str, rows: Iterable[tuple]) -> None:
        with self._lock, self._db:
            self._db.executemany(sql, rows)


class HashSet(_Database):
    """A set of SHA-256 hex digests."""

    def __init__(self) -> None:
        super().__init__("CREATE TABLE hash (sha256 TEXT PRIMARY KEY) WITHOUT ROWID;")

    def add(self, digest: str) -> None:
        self.update([digest])

    def update(self, digests: Iterable[str]) -> None:
        self._many("INSERT OR IGNORE INTO hash VALUES (?)", ((digest,) for digest in digests))

    def __contains__(self, digest: object) -> bool:
        return bool(self._run("SELECT 1 FROM hash WHERE sha256=?", (digest,)))


class Listing(_Database):
    """A source folder's messages in UID order, with what is known of their bytes and whether they
    are to be copied."""

    def __init__(self) -> None:
        super().__init__("""
            CREATE TABLE message (
                uid INTEGER PRIMARY KEY, size INTEGER, flags TEXT, keywords TEXT, internaldate TEXT,
                message_id TEXT, labels TEXT, sha256 TEXT, known_size INTEGER, known_id TEXT,
                todo INTEGER NOT NULL DEFAULT 0);""")

    @classmethod
    def holding(cls, messages: Iterable[tuple[Meta, Known]]) -> Listing:
        """A listing of messages whose bytes are known already (an archive, local files)."""
        listing = cls()
        pairs = list(messages)
        listing.add(meta for meta, _ in pairs)
        listing.learn((meta.uid, known) for meta, known in pairs)
        return listing

    def add(self, metas: Iterable[Meta]) -> None:
        self._many("INSERT OR REPLACE INTO message (uid, size, flags, keywords, internaldate, message_id,"
                   " labels) VALUES (?, ?, ?, ?, ?, ?, ?)",
                   ((meta.uid, meta.size, _SEP.join(meta.flags), _SEP.join(meta.keywords),
                     meta.internaldate.isoformat(), meta.message_id, _SEP.join(meta.labels))
                    for meta in metas))

    def learn(self, found: Iterable[tuple[int, Known]]) -> None:
        """What is known of these UIDs' bytes; UIDs not listed are ignored."""
        self._many("UPDATE message SET sha256=?, known_size=?, known_id=? WHERE uid=?",
                   ((known.sha256, known.size, known.message_id, uid) for uid, known in found))

    def mark(self, uids: list[int]) -> None:
        self._many("UPDATE message SET todo=1 WHERE uid=?", ((uid,) for uid in uids))

    def totals(self) -> tuple[int, int]:
        """(messages, bytes) as listed."""
        count, size = self._run("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM message")[0]
        return count, size

    def __iter__(self) -> Iterator[tuple[Meta, Known | None]]:
        return self._pages("")

    def todo(self) -> Iterator[Meta]:
        return (meta for meta, _ in self._pages("AND todo=1"))

    def _pages(self, condition: str) -> Iterator[tuple[Meta, Known | None]]:
        last = -1
        while rows := self._run(f"SELECT * FROM message WHERE uid>? {condition} ORDER BY uid LIMIT {PAGE}",
                                (last,)):
            for uid, size, flags, keywords, date, message_id, labels, sha256, known_size, known_id, _ in rows:
                meta = Meta(uid, size, _split(flags), _split(keywords), datetime.fromisoformat(date),
                            message_id, _split(labels))
                yield meta, Known(sha256, known_size, known_id) if sha256 else None
            last = rows[-1][0]


class TargetIndex(_Database):
    """A target folder's messages that the state does not know, by Message-ID and size, to be hashed
    from the server only when a source message could be one of them; and the loose hashes of those
    hashed so far."""

    def __init__(self) -> None:
        super().__init__("""
            CREATE TABLE unknown (uid INTEGER PRIMARY KEY, message_id TEXT, size INTEGER);
            CREATE INDEX unknown_key ON unknown (message_id, size);
            CREATE TABLE loose (loose TEXT PRIMARY KEY, uid INTEGER) WITHOUT ROWID;""")

    def add(self, metas: Iterable[Meta]) -> None:
        self._many("INSERT OR REPLACE INTO unknown VALUES (?, ?, ?)",
                   ((meta.uid, meta.message_id, meta.size) for meta in metas))

    def listed(self, uids: list[int]) -> set[int]:
        """Those of these UIDs that are in the index."""
        marks = ",".join("?" * len(uids))
        return {uid for uid, in self._run(f"SELECT uid FROM unknown WHERE uid IN ({marks})", uids)}

    def forget(self, uids: Iterable[int]) -> None:
        self._many("DELETE FROM unknown WHERE uid=?", ((uid,) for uid in uids))

    def take(self, message_id: str | None, size: int | None) -> list[int]:
        """The unknown UIDs with this Message-ID (and size, if given); they are no longer unknown."""
        where = "message_id IS ?" + (" AND size=?" if size is not None else "")
        args = (message_id, size) if size is not None else (message_id,)
        uids = [uid for uid, in self._run(f"SELECT uid FROM unknown WHERE {where}", args)]
        self.forget(uids)
        return uids

    def hashed(self, uid: int, known: Known) -> None:
        if known.loose:
            self._many("INSERT OR REPLACE INTO loose VALUES (?, ?)", [(known.loose, uid)])

    def loose_uid(self, loose: str | None) -> int | None:
        found = self._run("SELECT uid FROM loose WHERE loose=?", (loose,)) if loose else []
        return found[0][0] if found else None


def _split(text: str) -> tuple[str, ...]:
    return tuple(text.split(_SEP)) if text else ()
