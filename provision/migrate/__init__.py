"""Mail migration between IMAP accounts, our own server and archives: export, import and migrate.

Sources and sinks speak in archive terms (folder names '/'-separated, flags and keywords normalised), so
that every pair of them is copied by the same copier, and every run ends with the same verification."""

from __future__ import annotations

from provision.errors import ProvisionError


class MigrateError(ProvisionError):
    """A migration step failed in a way the user can act on."""


class AccountError(MigrateError):
    """One account cannot be migrated (login refused, server gone); the others carry on."""
