"""Copies one folder from a source to a sink: only messages whose bytes the target does not hold, in
batches bounded in bytes (memory does not grow with the folder), then checks that every source message
is at the target. Nothing is ever changed at the source."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Protocol

from provision.migrate.folders import Folder
from provision.migrate.identity import identify
from provision.migrate.imap import Meta
from provision.migrate.report import FolderReport
from provision.migrate.sinks import Sink
from provision.migrate.sources import Source, SourceFolder
from provision.migrate.spool import HashSet
from provision.migrate.state import Known

BATCH_BYTES = 8 * 1024 * 1024
BATCH_MESSAGES = 100
MARK_AT_ONCE = 1000  # source UIDs marked to copy per write to the listing


class Advance(Protocol):
    def __call__(self, messages: int, size: int) -> None: ...


def plan_folder(source: Source, sink: Sink, folder: Folder) -> FolderReport:
    """What a copy would do, from listings alone: a source message the state has never hashed counts as
    to copy (a real run may find it is already there)."""
    view = source.open(folder)
    target = sink.folder(folder, create=False)
    report = FolderReport(folder.name)
    report.source_messages, report.source_bytes = view.listing.totals()
    report.target_messages, report.target_bytes = target.held.messages, target.held.bytes
    for meta, known in _distinct(view, report):
        if known is not None and target.present(known):
            report.skipped += 1
        else:
            report.copied += 1
            report.copied_bytes += meta.size
    return report


def copy_folder(source: Source, sink: Sink, folder: Folder, advance: Advance) -> FolderReport:
    view = source.open(folder)
    target = sink.folder(folder, create=True)
    report = FolderReport(folder.name)
    seen = HashSet()  # bytes handled in this folder: a second copy is a duplicate
    todo: list[int] = []
    for meta, known in _distinct(view, report):
        if known is not None and target.present(known):
            report.skipped += 1
            seen.add(known.sha256)
        else:
            todo.append(meta.uid)
        if len(todo) >= MARK_AT_ONCE:
            view.listing.mark(todo)
            todo = []
    view.listing.mark(todo)
    with _Prefetch(source, view) as fetched:
        for batch, bodies in fetched:
            found: list[tuple[int, Known]] = []
            out: list[tuple[Meta, bytes, Known]] = []
            for meta, data in bodies:
                known = identify(data)
                found.append((meta.uid, known))
                if known.sha256 in seen:
                    report.duplicates += 1
                elif target.present(known):
                    report.skipped += 1
                else:
                    out.append((meta, data, known))
                seen.add(known.sha256)
            source.remember(view, found)  # before appending: a kill between the two copies nothing twice
            target.append(out)
            report.copied += len(out)
            report.copied_bytes += sum(len(data) for _, data, _ in out)
            advance(len(batch), sum(meta.size for meta in batch))
    return verify_folder(view, sink, folder, report)


def verify_folder(view: SourceFolder, sink: Sink, folder: Folder, report: FolderReport) -> FolderReport:
    """Count both sides afresh and name every source message whose bytes are not at the target."""
    target = sink.folder(folder, create=False)
    report.source_messages = report.source_bytes = 0
    report.missing = []
    hashes = HashSet()
    for meta, known in view.listing:
        if known is None:
            continue  # expunged at the source while we ran: nothing to copy
        if known.sha256 in hashes:
            continue
        hashes.add(known.sha256)
        report.source_messages += 1
        report.source_bytes += known.size
        if not target.present(known):
            report.missing.append(known.message_id or f"(no Message-ID; {meta.internaldate.isoformat()}, "
                                                      f"{known.size} bytes, source UID {meta.uid})")
    report.target_messages, report.target_bytes = target.held.messages, target.held.bytes
    return report


def _distinct(view: SourceFolder, report: FolderReport) -> Iterator[tuple[Meta, Known | None]]:
    """Source messages with what is known of their bytes; bytes seen twice in the folder only once."""
    seen = HashSet()
    for meta, known in view.listing:
        if known is not None:
            if known.sha256 in seen:
                report.duplicates += 1
                continue
            seen.add(known.sha256)
        yield meta, known


class _Prefetch:
    """Fetches the next batches from the source in a thread while the current one is appended: the
    source's and the target's round trips overlap. At most DEPTH batches wait, so memory stays bounded."""

    DEPTH = 2

    def __init__(self, source: Source, view: SourceFolder):
        self._queue: queue.Queue[object] = queue.Queue(maxsize=self.DEPTH)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._produce, args=(source, view), daemon=True)

    def __enter__(self) -> Iterator[tuple[list[Meta], list[tuple[Meta, bytes]]]]:
        self._thread.start()
        return self._consume()

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _produce(self, source: Source, view: SourceFolder) -> None:
        try:
            for batch in batches(view.listing.todo()):
                if not self._put((batch, list(source.bodies(view, batch)))):
                    return
            self._put(None)
        except BaseException as error:  # handed to the consumer, which raises it in its own thread
            self._put(error)

    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def _consume(self) -> Iterator[tuple[list[Meta], list[tuple[Meta, bytes]]]]:
        while (item := self._queue.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]


def batches(metas: Iterable[Meta]) -> Iterator[list[Meta]]:
    """Batches of at most BATCH_MESSAGES and BATCH_BYTES (a larger message goes alone)."""
    batch: list[Meta] = []
    size = 0
    for meta in metas:
        if batch and (len(batch) >= BATCH_MESSAGES or size + meta.size > BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(meta)
        size += meta.size
    if batch:
        yield batch
