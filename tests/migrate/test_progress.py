"""The copy's progress: a live bar on a terminal, plain lines in a log."""

from __future__ import annotations

import io
import os
import re
import threading
import time

from provision.console import Console
from provision.migrate.progress import Progress


def _copy(console: Console, seconds: float) -> None:
    """40 messages of 100 kB in the given time, a worker's warning half-way."""
    with Progress(console, 40, 4_000_000) as progress:
        for count in range(40):
            progress.advance(1, 100_000)
            if count == 20:
                console.warn("a worker was throttled")
            time.sleep(seconds / 40)


def test_on_a_terminal_the_bar_redraws_in_place_with_warnings_above_it():
    leader, follower = os.openpty()
    shown = bytearray()
    reader = threading.Thread(target=lambda: _drain(leader, shown), daemon=True)
    reader.start()
    with open(follower, "w", encoding="utf-8") as terminal:
        _copy(Console(err=terminal), seconds=1.5)
    reader.join(timeout=5)
    text = shown.decode()
    frames = [re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", frame) for frame in re.split(r"\r|\n", text)]
    counts = [int(found.group(1)) for frame in frames if (found := re.search(r"(\d+)/40 messages", frame))]
    assert len(set(counts)) >= 3 and counts[-1] == 40, counts  # it moved while the copy ran
    assert any("40/40 messages 4.0/4.0 MB" in frame for frame in frames)
    assert "\x1b[" in text  # redrawn in place, not a new line per refresh
    assert "warning: a worker was throttled" in frames  # a line of its own, not inside the bar


def _drain(leader: int, into: bytearray) -> None:
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed
            return
        if not chunk:
            return
        into.extend(chunk)


def test_in_a_log_it_is_plain_lines():
    log = io.StringIO()
    _copy(Console(err=log), seconds=0.7)
    lines = log.getvalue().splitlines()
    assert any(line.startswith("[") and " messages, " in line for line in lines[:-1])  # while it ran
    assert "warning: a worker was throttled" in lines
    assert lines[-1].startswith("[########################] 40/40 messages, 4.0/4.0 MB, ")
    assert "\x1b" not in log.getvalue() and "\r" not in log.getvalue()


def test_quiet_shows_nothing():
    log = io.StringIO()
    _copy(Console(err=log, verbosity=-1), seconds=0.1)
    assert log.getvalue() == "warning: a worker was throttled\n"
