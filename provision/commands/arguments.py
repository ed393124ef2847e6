"""Number options, checked while the command line is parsed: a bad value is refused (exit 2) before
anything is read, connected to or created."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable


def count(minimum: int = 1) -> Callable[[str], int]:
    """A whole number of at least minimum (workers, retries)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, not {value}")
        return value
    return parse


def seconds(maximum: float) -> Callable[[str], float]:
    """A duration of more than 0 and at most maximum seconds; inf and nan are no durations."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
        if not math.isfinite(value) or not 0 < value <= maximum:
            raise argparse.ArgumentTypeError(f"must be more than 0 and at most {maximum:g} seconds, "
                                             f"not {text}")
        return value
    return parse
