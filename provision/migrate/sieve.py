"""A person's Sieve scripts (filters, vacation replies) moved with their mail: read at the source over
ManageSieve, checked by the target (CHECKSCRIPT) and stored there, the active one activated. A script
the target refuses is reported with the target's reason, never dropped quietly; nothing is deleted."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from provision.archive.manifest import UserSummary
from provision.archive.reader import ArchiveReader
from provision.archive.writer import UserWriter
from provision.migrate.managesieve import Refused
from provision.migrate.report import SieveReport


class SieveSide(Protocol):
    label: str

    def scripts(self) -> dict[str, bool]: ...

    def get(self, name: str) -> bytes: ...

    def check(self, script: bytes) -> None: ...

    def put(self, name: str, script: bytes) -> None: ...

    def activate(self, name: str) -> None: ...

    def close(self) -> None: ...


def copy_scripts(source: SieveSide | None, target: SieveSide | None, *, dry_run: bool) -> SieveReport:
    report = SieveReport(offered=source is not None)
    if source is None:
        return report
    found = source.scripts()
    report.source_scripts = len(found)
    held = target.scripts() if target is not None else {}
    report.target_scripts = len(held)
    scripts = {name: source.get(name) for name in found}
    for name, script in scripts.items():
        if target is None:
            report.refused[name] = "the target offers no ManageSieve"
        elif name in held and target.get(name) == script:
            report.skipped += 1
        else:
            try:
                target.check(script)
                if not dry_run:
                    target.put(name, script)
                report.copied += 1
            except Refused as refused:
                report.refused[name] = refused.reason
    report.active = next((name for name, active in found.items() if active), None)
    if target is None:
        return report
    if report.active is not None and report.active not in report.refused and not dry_run and not held.get(
            report.active):
        target.activate(report.active)
    if dry_run:
        return report
    now = target.scripts()  # verify: every script the target took is there with the same bytes
    report.target_scripts = len(now)
    report.missing = sorted(name for name, script in scripts.items()
                            if name not in report.refused and (name not in now or target.get(name) != script))
    if report.active is not None and report.active not in report.refused and not now.get(report.active):
        report.missing.append(f"{report.active} (not active)")
    return report


Opener = Callable[[], SieveSide | None]  # None: that side keeps no Sieve scripts (or offers no ManageSieve)


def move(source: Opener, target: Opener, *, dry_run: bool) -> SieveReport:
    """Open both sides (in the worker), copy, close."""
    sides: list[SieveSide] = []
    try:
        source_side = source()
        if source_side is None:
            return SieveReport()
        sides.append(source_side)
        target_side = target()
        if target_side is not None:
            sides.append(target_side)
        return copy_scripts(source_side, target_side, dry_run=dry_run)
    finally:
        for side in sides:
            side.close()


class ArchiveScripts:
    """One user's scripts in a finished archive (read only), checked against their recorded hashes."""

    def __init__(self, reader: ArchiveReader, user: UserSummary):
        self.reader, self.label = reader, f"{user.name} in {reader.store.label}"
        self._records = {record.name: record for record in reader.sieve_scripts(user)}

    def scripts(self) -> dict[str, bool]:
        return {name: record.active for name, record in self._records.items()}

    def get(self, name: str) -> bytes:
        record = self._records[name]
        return b"".join(self.reader.chunks(record.path, record.size, record.sha256))

    def _read_only(self, *_: object) -> None:
        raise AssertionError("an archive being imported is not written to")

    check = put = activate = _read_only

    def close(self) -> None:
        self.reader.close()


class ArchiveWriterScripts:
    """One user's scripts in an archive being exported. An archive runs no Sieve: it takes every script
    as it is, and the importer's target checks it."""

    def __init__(self, user: UserWriter, label: str):
        self.user, self.label = user, label

    def scripts(self) -> dict[str, bool]:
        return {name: record.active for name, record in self.user.scripts.items()}

    def get(self, name: str) -> bytes:
        return (self.user.root / self.user.scripts[name].path).read_bytes()

    def check(self, script: bytes) -> None:
        pass

    def put(self, name: str, script: bytes) -> None:
        record = self.user.scripts.get(name)
        self.user.add_sieve(name, [script], active=record is not None and record.active)

    def activate(self, name: str) -> None:
        self.user.add_sieve(name, [self.get(name)], active=True)

    def close(self) -> None:
        pass


class NoScripts:
    """The target of a dry-run export: no archive yet, so nothing held and everything taken."""

    label = "nothing"

    def scripts(self) -> dict[str, bool]:
        return {}

    def get(self, name: str) -> bytes:
        raise KeyError(name)

    def check(self, script: bytes) -> None:
        pass

    def _writes(self, *_: object) -> None:
        raise AssertionError("a dry run writes nothing")

    put = activate = _writes

    def close(self) -> None:
        pass
