"""The portable archive: a directory (or tar) of Maildirs, .ics/.vcf collections, directory files and
Sieve scripts, with a manifest that checksums every file. Specified in docs/archive-format.md."""

from __future__ import annotations

from provision.errors import ProvisionError, UsageError

FORMAT = "provision-archive"
FORMAT_VERSION = "1"


class ArchiveError(ProvisionError):
    """The archive cannot be written or read as asked."""


class NotAnArchive(UsageError):
    """The path is not an archive at all, or cannot be read."""
