"""Everything the CLI prints goes through a Console.

Results go to stdout: a table or text for people, one JSON document with --json.
Progress and diagnostics go to stderr, so stdout stays parseable.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO


@dataclass
class Console:
    json: bool = False
    verbosity: int = 0  # -1 with --quiet, 1+ with -v
    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)
    # Set while a live display holds the terminal's last line (migrate's progress bar): it prints
    # messages above itself.
    above: Callable[[str], None] | None = None

    def info(self, message: str) -> None:
        """A progress line for people; silenced by --quiet."""
        if self.verbosity >= 0:
            self._say(message)

    def detail(self, message: str) -> None:
        """Shown only with -v."""
        if self.verbosity >= 1:
            self._say(message)

    def warn(self, message: str) -> None:
        self._say(f"warning: {message}")

    def _say(self, message: str) -> None:
        if self.above is not None:
            self.above(message)
        else:
            print(message, file=self.err, flush=True)

    def result(self, data: Any, text: str | None = None) -> None:
        """The command's result: `data` as JSON with --json, else `text`."""
        if self.json:
            json.dump(data, self.out, indent=2, sort_keys=True, default=str)
            self.out.write("\n")
        elif text:
            self.out.write(text if text.endswith("\n") else text + "\n")
        self.out.flush()


def table(rows: Iterable[dict[str, Any]], columns: Sequence[tuple[str, str]]) -> str:
    """Render rows as an aligned plain-text table; columns are (key, heading) pairs.

    Hand-made on purpose (rich draws the progress bar): a table is a string that commands join into
    longer reports, and it must read the same in a terminal, a pipe and a file, where scripts cut
    its columns. rich's table wraps to 80 columns outside a terminal, pads the last column, and
    reads user data as markup and emoji codes; with all of that turned off it would print just this.
    """
    rows = list(rows)
    cells = [[heading.upper() for _, heading in columns]]
    cells += [["" if row.get(key) is None else str(row.get(key)) for key, _ in columns] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in cells
    )
