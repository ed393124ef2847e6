"""Full verification of an archive on its own: every file against the manifest, every index line,
every count. Returns a report naming each problem with its path instead of stopping at the first."""

from __future__ import annotations

import hashlib
import tarfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from provision.archive import ArchiveError, NotAnArchive, layout, maildir
from provision.archive.manifest import (
    MANIFEST,
    FileEntry,
    Manifest,
    ManifestError,
    UnsupportedVersion,
    UserSummary,
    parse_manifest,
)
from provision.archive.records import (
    ArchiveRecord,
    CollectionRecord,
    FolderRecord,
    MessageRecord,
    Record,
    RecordError,
    SieveRecord,
    UserRecord,
    parse,
    read_lines,
)
from provision.archive.store import Store, open_store, safe_path


@dataclass(frozen=True)
class Problem:
    path: str
    kind: str  # missing, extra, size, checksum, unreadable, count, index, flags, manifest, version, unsafe
    detail: str

    def line(self) -> str:
        return f"{self.path}: {self.detail}"


@dataclass(frozen=True)
class UserReport:
    name: str
    folders: int
    messages: int
    bytes: int
    calendars: int  # events and tasks
    contacts: int
    problems: int


@dataclass
class VerifyReport:
    archive: str
    version: str | None = None
    users: list[UserReport] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    files: int = 0

    @property
    def sound(self) -> bool:
        return not self.problems


def verify(path: Path | str) -> VerifyReport:
    """Verify the archive at path (directory or tar); NotAnArchive if it is not one at all."""
    store = open_store(path)
    try:
        return _Verification(store).run()
    finally:
        store.close()


class _Verification:
    def __init__(self, store: Store):
        self.store = store
        self.report = VerifyReport(store.label)

    def problem(self, path: str, kind: str, detail: str) -> None:
        self.report.problems.append(Problem(path, kind, detail))

    def run(self) -> VerifyReport:
        manifest = self.load_manifest()
        if manifest is None:
            return self.report
        self.report.version = manifest.version
        listed = self.check_files(manifest)
        self.check_archive_index(manifest)
        for user in manifest.users:
            self.check_user(user, listed)
        for path in manifest.directory:
            if path not in listed:
                self.problem(path, "missing", "named as a directory file but not listed with a checksum")
        self.check_totals(manifest)
        self.report.users = [self.user_report(user) for user in manifest.users]
        return self.report

    def load_manifest(self) -> Manifest | None:
        if not self.store.exists(MANIFEST):
            if not self.store.exists(layout.INDEX):
                raise NotAnArchive(f"{self.store.label} is not an archive: it has no {MANIFEST}")
            self.problem(MANIFEST, "missing", "missing: the export did not finish (resume it)")
            return None
        with self.store.open(MANIFEST) as stream:
            data = stream.read()
        try:
            return parse_manifest(data)
        except UnsupportedVersion as bad:
            self.problem(MANIFEST, "version", bad.message)
        except ManifestError as bad:
            self.problem(MANIFEST, "manifest", bad.message)
        return None

    def check_files(self, manifest: Manifest) -> dict[str, FileEntry]:
        """Each file present is listed with its size and SHA-256; each listed file is present."""
        listed: dict[str, FileEntry] = {}
        for entry in manifest.files:
            if not safe_path(entry.path) or entry.path == MANIFEST:
                self.problem(entry.path, "unsafe", "listed with a path outside the archive or reserved")
            elif entry.path in listed:
                self.problem(entry.path, "manifest", "listed twice in the manifest")
            else:
                listed[entry.path] = entry
        seen = set()
        for item in self.store.entries():
            if item.kind == "directory" or item.path == MANIFEST:
                continue
            if item.kind != "file":
                self.problem(item.path, "extra", "not a regular file (links and devices are not allowed)")
            elif item.path not in listed:
                self.problem(item.path, "extra", "not listed in the manifest")
            else:
                seen.add(item.path)
                self.check_file(listed[item.path])
        for path in sorted(set(listed) - seen):
            self.problem(path, "missing", "missing (listed in the manifest)")
        self.report.files = len(seen)
        return listed

    def check_file(self, entry: FileEntry) -> None:
        digest = hashlib.sha256()
        size = 0
        try:
            with self.store.open(entry.path) as stream:
                while chunk := stream.read(1 << 20):
                    digest.update(chunk)
                    size += len(chunk)
        except (OSError, tarfile.TarError) as bad:
            self.problem(entry.path, "unreadable", f"cannot be read: {bad}")
            return
        if size != entry.size:
            self.problem(entry.path, "size", f"size is {size} bytes, the manifest says {entry.size}")
        elif digest.hexdigest() != entry.sha256:
            self.problem(entry.path, "checksum", "SHA-256 differs from the manifest: the file is corrupt")

    def read_index(self, path: str) -> list[Record]:
        """The valid records of an index file; each bad line is a problem."""
        if not self.store.exists(path):
            return []  # reported as missing by check_files if listed; else the user check says so
        records: list[Record] = []
        try:
            self.read_records(path, records)
        except (OSError, tarfile.TarError) as bad:
            self.problem(path, "unreadable", f"cannot be read: {bad}")
        return records

    def read_records(self, path: str, records: list[Record]) -> None:
        with self.store.open(path) as stream:
            for number, line in read_lines(stream):
                try:
                    record = parse(line)
                except RecordError as bad:
                    self.problem(path, "index", f"line {number}: {bad}")
                    continue
                if record:
                    records.append(record)

    def check_archive_index(self, manifest: Manifest) -> None:
        records = self.read_index(layout.INDEX)
        if records and not isinstance(records[0], ArchiveRecord):
            self.problem(layout.INDEX, "index", "line 1: not the archive record")
        indexed = {(record.name, record.path) for record in records if isinstance(record, UserRecord)}
        counted = {(user.name, user.path) for user in manifest.users}
        for name, path in sorted(indexed - counted):
            self.problem(path, "count", f"user {name} is in the index but not in the manifest")
        for name, path in sorted(counted - indexed):
            self.problem(path, "count", f"user {name} is in the manifest but not in the index")

    def check_user(self, user: UserSummary, listed: dict[str, FileEntry]) -> None:
        try:
            self.check_user_files(user, listed)
        except ArchiveError as bad:  # a name no conforming writer could have stored
            self.problem(user.path, "index", bad.message)

    def check_user_files(self, user: UserSummary, listed: dict[str, FileEntry]) -> None:
        if user.path != layout.user_path(user.name):
            self.problem(user.path, "manifest", f"is not where user {user.name} belongs")
            return
        index = f"{user.path}/{layout.INDEX}"
        if index not in listed:
            self.problem(index, "missing", "the user's index is not listed in the manifest")
        records = self.read_index(index)
        folders = {r.name: r for r in records if isinstance(r, FolderRecord)}
        messages = [r for r in records if isinstance(r, MessageRecord)]
        indexed_files = {f"{user.path}/{layout.INDEX}"}
        indexed_files |= self.check_messages(user, folders, messages, listed)
        indexed_files |= self.check_collections(user, records, listed)
        for path in sorted(listed):
            if path.startswith(f"{user.path}/") and path not in indexed_files:
                self.problem(path, "extra", "listed in the manifest but in no index")

    def check_messages(self, user: UserSummary, folders: dict[str, FolderRecord],
                       messages: list[MessageRecord], listed: dict[str, FileEntry]) -> set[str]:
        counts: Counter[str] = Counter()
        sizes: Counter[str] = Counter()
        paths = set()
        for folder in folders.values():
            if folder.path != layout.folder_path(user.path, folder.name):
                self.problem(folder.path, "index", f"is not where folder {folder.name!r} belongs")
        for key, times in Counter(message.key for message in messages).items():
            if times > 1:
                self.problem(f"{user.path}/{layout.INDEX}", "index", f"message {key[1]} in {key[0]!r} "
                                                                       f"is indexed {times} times")
        for message in messages:
            if message.folder not in folders:
                self.problem(f"{user.path}/{layout.INDEX}", "index",
                             f"message {message.file} is in undeclared folder {message.folder!r}")
                continue
            path = f"{folders[message.folder].path}/cur/{message.file}"
            paths.add(path)
            counts[message.folder] += 1
            sizes[message.folder] += message.size
            self.check_listed(path, message.size, message.sha256, listed)
            if maildir.letters_in(message.file) != maildir.info_letters(message.flags):
                self.problem(path, "flags", f"file name flags differ from the index's {message.flags}")
        self.check_folder_counts(user, folders, counts, sizes)
        return paths

    def check_folder_counts(self, user: UserSummary, folders: dict[str, FolderRecord],
                            counts: Counter[str], sizes: Counter[str]) -> None:
        summary = {folder.name: folder for folder in user.folders}
        for name in sorted(set(folders) | set(summary)):
            path = folders[name].path if name in folders else summary[name].path
            if name not in summary or name not in folders:
                where = "index" if name in folders else "manifest"
                self.problem(path, "count", f"folder {name!r} is only in the {where}")
                continue
            if summary[name].messages != counts[name]:
                self.problem(path, "count", f"manifest counts {summary[name].messages} messages, "
                                            f"the index holds {counts[name]}")
            if summary[name].bytes != sizes[name]:
                self.problem(path, "count", f"manifest counts {summary[name].bytes} bytes, "
                                            f"the index holds {sizes[name]}")
        if user.messages != sum(counts.values()) or user.bytes != sum(sizes.values()):
            self.problem(user.path, "count",
                         f"manifest counts {user.messages} messages / {user.bytes} bytes, "
                         f"the index {sum(counts.values())} / {sum(sizes.values())}")

    def check_collections(self, user: UserSummary, records: list[Record],
                          listed: dict[str, FileEntry]) -> set[str]:
        latest: dict[tuple[str, str], CollectionRecord | SieveRecord] = {}
        for record in records:
            if isinstance(record, CollectionRecord):
                latest[(record.collection, record.name)] = record
            elif isinstance(record, SieveRecord):
                latest[("sieve", record.name)] = record
        for record in latest.values():
            where = (layout.collection_path(user.path, record.collection, record.name)
                     if isinstance(record, CollectionRecord) else layout.sieve_path(user.path, record.name))
            if record.path != where:
                self.problem(record.path, "index", f"is not where {record.kind} {record.name!r} belongs")
            self.check_listed(record.path, record.size, record.sha256, listed)
        items = {(item.collection, item.name): item.items for item in user.collections}
        indexed = {key: record.items for key, record in latest.items()
                   if isinstance(record, CollectionRecord)}
        if items != indexed:
            self.problem(user.path, "count",
                         "collections or their item counts differ between manifest and index")
        scripts = sum(isinstance(record, SieveRecord) for record in latest.values())
        if user.sieve_scripts != scripts:
            self.problem(user.path, "count", f"manifest counts {user.sieve_scripts} Sieve scripts, "
                                             f"the index {scripts}")
        return {record.path for record in latest.values()}

    def check_listed(self, path: str, size: int, sha256: str, listed: dict[str, FileEntry]) -> None:
        entry = listed.get(path)
        if entry is None:
            self.problem(path, "missing", "in the index but not listed in the manifest")
        elif (entry.size, entry.sha256) != (size, sha256):
            self.problem(path, "index", "size or SHA-256 in the index differs from the manifest")

    def check_totals(self, manifest: Manifest) -> None:
        messages = sum(user.messages for user in manifest.users)
        size = sum(user.bytes for user in manifest.users)
        if (manifest.messages, manifest.bytes) != (messages, size):
            self.problem(MANIFEST, "count", f"totals say {manifest.messages} messages / {manifest.bytes} "
                                            f"bytes, the users add up to {messages} / {size}")

    def user_report(self, user: UserSummary) -> UserReport:
        problems = sum(problem.path.startswith(f"{user.path}/") or problem.path == user.path
                       for problem in self.report.problems)
        return UserReport(user.name, len(user.folders), user.messages, user.bytes,
                          user.items("calendar", "tasks"), user.items("contacts"), problems)
