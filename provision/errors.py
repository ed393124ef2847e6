"""The exceptions a user may see, and the exit status each one means."""

from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    OK = 0
    FAILURE = 1  # the job ran and found or met a failure
    USAGE = 2  # bad usage or bad input: nothing was touched
    INTERRUPTED = 130


class ProvisionError(Exception):
    """A failure the user can act on: printed as one line, no traceback."""

    status = ExitStatus.FAILURE

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def lines(self) -> list[str]:
        return [self.message] + ([f"hint: {self.hint}"] if self.hint else [])


class UsageError(ProvisionError):
    """Bad usage or bad input, found before anything was changed."""

    status = ExitStatus.USAGE


class ProblemsError(UsageError):
    """Several problems with one input, each reported on its own line."""

    def __init__(self, summary: str, problems: list[str]):
        super().__init__(summary)
        self.problems = problems

    def lines(self) -> list[str]:
        return [*self.problems, self.message]
