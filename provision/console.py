"""Everything the CLI prints goes through a Console.

Results go to stdout: a table or text for people, one JSON document with --json.
Progress and diagnostics go to stderr, so stdout stays parseable.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO


@dataclass
class Console:
    json: bool = False
    verbosity: int = 0  # -1 with --quiet, 1+ with -v
    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)

    def info(self, message: str) -> None:
        """A progress line for people; silenced by --quiet."""
        if self.verbosity >= 0:
            print(message, file=self.err, flush=True)

    def detail(self, message: str) -> None:
        """Shown only with -v."""
        if self.verbosity >= 1:
            print(message, file=self.err, flush=True)

    def warn(self, message: str) -> None:
        print(f"warning: {message}", file=self.err, flush=True)

    def result(self, data: Any, text: str | None = None) -> None:
        """The command's result: `data` as JSON with --json, else `text`."""
        if self.json:
            json.dump(data, self.out, indent=2, sort_keys=True, default=str)
            self.out.write("\n")
        elif text:
            self.out.write(text if text.endswith("\n") else text + "\n")
        self.out.flush()


def table(rows: Iterable[dict[str, Any]], columns: Sequence[tuple[str, str]]) -> str:
    """Render rows as an aligned plain-text table; columns are (key, heading) pairs."""
    rows = list(rows)
    cells = [[heading.upper() for _, heading in columns]]
    cells += [["" if row.get(key) is None else str(row.get(key)) for key, _ in columns] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in cells
    )
