"""One progress display for all workers: messages, bytes, rate and ETA, on stderr (stdout stays clean).

On a terminal it is rich's live progress bar, which fits the terminal's width, redraws in place and
keeps the warnings of the workers above itself. Anywhere else (a pipe, a log file, CI) it is a plain
line now and then, with no control codes.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from provision.console import Console

if TYPE_CHECKING:
    import rich.progress

INTERVAL = 0.5
LOG_INTERVAL = 10.0  # when stderr is not a terminal: a line now and then


class Progress:
    def __init__(self, console: Console, messages: int, size: int):
        self.console = console
        self.total_messages, self.total_bytes = messages, size
        self.messages = self.bytes = 0
        self.started = time.monotonic()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._log, daemon=True)
        self._bar: rich.progress.Progress | None = None
        self._task: rich.progress.TaskID | None = None

    def __enter__(self) -> Progress:
        if self.console.verbosity < 0:
            return self
        if self.console.err.isatty() and not self.console.json:
            self._start_bar()
        else:
            self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._bar is not None:
            self._bar.stop()
            self.console.above = None
        elif self._thread.is_alive():
            self._thread.join()
            self.console.info(self.line())

    def advance(self, messages: int, size: int) -> None:
        with self._lock:
            self.messages += messages
            self.bytes += size
            if self._bar is not None and self._task is not None:
                self._bar.update(self._task, completed=self.bytes, messages=self.messages)

    def line(self) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-6)
        rate = self.bytes / elapsed
        left = max(self.total_bytes - self.bytes, 0)
        eta = f"{left / rate:.0f} s" if rate > 0 and left else "-"
        width = 24
        done = int(width * self.bytes / self.total_bytes) if self.total_bytes else width
        return (f"[{'#' * done}{'.' * (width - done)}] {self.messages}/{self.total_messages} messages, "
                f"{self.bytes / 1e6:.1f}/{self.total_bytes / 1e6:.1f} MB, {rate / 1e6:.1f} MB/s, "
                f"{self.messages / elapsed:.0f} msg/s, ETA {eta}")

    def _log(self) -> None:
        last = 0.0
        while not self._stop.wait(INTERVAL):
            if time.monotonic() - last >= LOG_INTERVAL:
                self.console.info(self.line())
                last = time.monotonic()

    def _start_bar(self) -> None:
        # Imported here: only a terminal needs it, and every other command starts faster without.
        from rich.console import Console as RichConsole
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )
        from rich.progress import Progress as Bar

        terminal = RichConsole(file=self.console.err, force_terminal=True, highlight=False, emoji=False,
                               markup=False)
        self._bar = Bar(BarColumn(), TextColumn("{task.fields[messages]}/{task.fields[of]} messages"),
                        DownloadColumn(binary_units=False), TransferSpeedColumn(), TimeRemainingColumn(),
                        console=terminal, refresh_per_second=1 / INTERVAL,
                        redirect_stdout=False, redirect_stderr=False)
        self._task = self._bar.add_task("copy", total=self.total_bytes or None, messages=0,
                                        of=self.total_messages)
        # What the workers say while the bar is shown goes above it, not into it.
        self.console.above = lambda message: terminal.out(message, highlight=False)
        self._bar.start()
