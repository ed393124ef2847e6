"""One progress bar for all workers: messages, bytes, rate and ETA, on stderr (stdout stays clean)."""

from __future__ import annotations

import threading
import time

from provision.console import Console

INTERVAL = 0.5
LOG_INTERVAL = 10.0  # when stderr is not a terminal: a line now and then instead of a redrawn bar


class Progress:
    def __init__(self, console: Console, messages: int, size: int):
        self.console = console
        self.total_messages, self.total_bytes = messages, size
        self.messages = self.bytes = 0
        self.started = time.monotonic()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._tty = console.err.isatty() and not console.json and console.verbosity >= 0
        self._thread = threading.Thread(target=self._draw, daemon=True)

    def __enter__(self) -> Progress:
        if self.console.verbosity >= 0:
            self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
            self._emit(final=True)

    def advance(self, messages: int, size: int) -> None:
        with self._lock:
            self.messages += messages
            self.bytes += size

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

    def _draw(self) -> None:
        last = 0.0
        while not self._stop.wait(INTERVAL):
            if self._tty or time.monotonic() - last >= LOG_INTERVAL:
                self._emit(final=False)
                last = time.monotonic()

    def _emit(self, final: bool) -> None:
        if self._tty:
            self.console.err.write("\r" + self.line() + ("\n" if final else ""))
            self.console.err.flush()
        elif final or self.console.verbosity >= 0:
            self.console.info(self.line())
