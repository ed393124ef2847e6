"""The local state of migrations: which bytes (SHA-256) sit behind which UID, at sources and targets.

A re-run asks it instead of downloading what it has seen before, so re-runs cost a listing per folder.
It is a cache, never the truth: a UID it does not know (a message appended just before a kill -9, a
lost state file) is hashed from the server when its Message-ID and size match a message to copy, so a
resumed run finds what the killed one appended and copies nothing twice. Keys carry the folder's
UIDVALIDITY: when a server renumbers a folder the old UIDs are simply never asked for again."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS message (
    account TEXT NOT NULL, folder TEXT NOT NULL, uidvalidity INTEGER NOT NULL, uid INTEGER NOT NULL,
    sha256 TEXT NOT NULL, size INTEGER NOT NULL, message_id TEXT,
    PRIMARY KEY (account, folder, uidvalidity, uid)
) WITHOUT ROWID;
"""


@dataclass(frozen=True)
class Known:
    sha256: str
    size: int
    message_id: str | None
    loose: str | None = field(default=None, compare=False)  # computed from bytes at hand, never stored


def default_path() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local/state"
    return Path(base) / "provision" / "migrate.sqlite"


class State:
    """One SQLite file shared by the workers, a connection per thread (sqlite3 objects are not shared)."""

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._local = threading.local()
        self._db().executescript(SCHEMA)

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=60)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
        return db

    def known(self, account: str, folder: str, uidvalidity: int) -> Iterator[tuple[int, Known]]:
        """What is known of a folder's UIDs, read as it is consumed."""
        rows = self._db().execute(
            "SELECT uid, sha256, size, message_id FROM message"
            " WHERE account=? AND folder=? AND uidvalidity=?",
            (account, folder, uidvalidity))
        return ((uid, Known(sha, size, message_id)) for uid, sha, size, message_id in rows)

    def remember(self, account: str, folder: str, uidvalidity: int, rows: list[tuple[int, Known]]) -> None:
        with self._db() as db:
            db.executemany("INSERT OR REPLACE INTO message VALUES (?, ?, ?, ?, ?, ?, ?)",
                           [(account, folder, uidvalidity, uid, item.sha256, item.size, item.message_id)
                            for uid, item in rows])
