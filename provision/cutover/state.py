"""The cutover's state, in a JSON file beside the inventory: which steps are done, the DNS records as
they were before the cutover (to restore on rollback), when the TTLs were lowered, and every
migration pass. It names files and records, never a secret."""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path

from provision.errors import ProblemsError, UsageError

FILE = "cutover-state.json"
VERSION = 1


class Step(StrEnum):
    PREFLIGHT = "preflight"
    PRE_SYNC = "pre-sync"
    TTL = "ttl"
    SWITCH = "switch"
    FINAL_DELTA = "final-delta"
    VERIFY = "verify"
    TTL_RESTORE = "ttl-restore"


STEPS = tuple(Step)


class Direction(StrEnum):
    TO_SERVER = "to-server"  # the provider's accounts move to the inventory's server
    TO_PROVIDER = "to-provider"  # the inventory's mailboxes move back to the provider's accounts


@dataclass
class Rrset:
    """The records at one name and type, rdata in zone-file form."""

    name: str
    type: str
    ttl: int
    values: list[str] = field(default_factory=list)


@dataclass
class Pass:
    step: str
    started: str
    seconds: float
    copied: int
    missing: int
    failed: list[str] = field(default_factory=list)


@dataclass
class Done:
    started: str
    finished: str
    summary: str


@dataclass
class Cutover:
    direction: Direction
    accounts: str  # the accounts file, absolute
    done: dict[str, Done] = field(default_factory=dict)
    old: list[Rrset] | None = None  # as the DNS held them at preflight; None when changed by hand
    ttl_lowered_at: float | None = None  # wall clock: a resumed run waits only what is left
    old_ttl: int = 0
    passes: list[Pass] = field(default_factory=list)
    rolled_back: str | None = None  # when
    version: int = VERSION

    def next_step(self) -> Step | None:
        return next((step for step in STEPS if step.value not in self.done), None)

    def is_done(self, step: Step) -> bool:
        return step.value in self.done

    def data(self) -> dict[str, object]:
        return asdict(self)


def path_in(directory: Path) -> Path:
    return directory / FILE


def load(directory: Path) -> Cutover | None:
    """The cutover begun for this inventory, or None; a damaged or foreign file is refused, not replaced."""
    path = path_in(directory)
    if path.is_symlink():
        raise UsageError(f"{path}: is a symbolic link", "the state file must be a regular file")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        raise UsageError(f"{path}: cannot be read ({error})",
                         "restore it from a backup; removing it starts the cutover over") from None
    try:
        if data.get("version") != VERSION:
            raise ValueError(f"version {data.get('version')!r}, not {VERSION}")
        return Cutover(
            direction=Direction(data["direction"]), accounts=str(data["accounts"]),
            done={name: Done(**value) for name, value in data["done"].items() if name in set(STEPS)},
            old=None if data["old"] is None else [Rrset(**item) for item in data["old"]],
            ttl_lowered_at=data["ttl_lowered_at"], old_ttl=int(data["old_ttl"]),
            passes=[Pass(**item) for item in data["passes"]], rolled_back=data["rolled_back"])
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise UsageError(f"{path}: is not a cutover state file ({error})",
                         "restore it from a backup; removing it starts the cutover over") from None


def save(directory: Path, cutover: Cutover) -> None:
    """Written whole to a new file that replaces the old one: a kill leaves the old or the new state."""
    path = path_in(directory)
    partial = path.with_name(f".{FILE}.{os.getpid()}")
    partial.write_text(json.dumps(cutover.data(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(partial, path)


def begun(directory: Path, direction: Direction, accounts: Path, *, ended: bool = False) -> Cutover:
    """The cutover to go on with: the one begun with the same accounts and direction, or a new one;
    a rolled back one only to look at (ended)."""
    found = load(directory)
    wanted = str(accounts.resolve())
    if found is None:
        return Cutover(direction, wanted)
    problems = []
    if found.accounts != wanted:
        problems.append(f"the cutover was begun --from {found.accounts}, not {wanted}")
    if found.direction is not direction:
        problems.append(f"the cutover moves {found.direction}, not {direction}")
    if found.rolled_back and not ended:
        problems.append(f"the cutover was rolled back at {found.rolled_back}")
    if problems:
        raise ProblemsError(f"{path_in(directory)} holds another cutover: finish or roll back that one; to "
                            "start over, remove the file", problems)
    return found


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
