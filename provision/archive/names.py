"""Names on disk: folder names to Maildir++ directories, other names to safe single path components.

Every function here returns one path component that cannot contain '/' and is never '.' or '..', so a
name taken from a mail server can never point outside the archive.
"""

from __future__ import annotations

from urllib.parse import quote

from provision import mutf7
from provision.archive import ArchiveError

INBOX = "INBOX"
MAX_COMPONENT_BYTES = 255  # what ext4, xfs and btrfs allow for one file name


def normalise_folder(name: str) -> str:
    """The archive's form of a folder name: '/'-separated, no empty parts, INBOX spelt in capitals."""
    parts = name.split("/")
    if not name or any(part == "" for part in parts):
        raise ArchiveError(f"folder name {name!r} has an empty part")
    if parts[0].upper() == INBOX:
        parts[0] = INBOX
    return "/".join(parts)


def folder_dirname(name: str) -> str:
    """The Maildir++ directory of a normalised folder: '' for INBOX (the Maildir root), else
    '.' + parts joined by '.', each part modified UTF-7 with '%' and '.' escaped as %25 and %2E."""
    if name == INBOX:
        return ""
    parts = [mutf7.encode(part).replace("%", "%25").replace(".", "%2E") for part in name.split("/")]
    return _checked("." + ".".join(parts), name)


def safe_name(name: str, suffix: str = "") -> str:
    """A user, collection or script name (plus suffix) as one path component: percent-encoded UTF-8,
    no leading dot."""
    if not name:
        raise ArchiveError("empty name")
    encoded = quote(name, safe="@+=,")
    if encoded.startswith("."):
        encoded = "%2E" + encoded[1:]
    return _checked(encoded + suffix, name)


def _checked(component: str, name: str) -> str:
    if len(component.encode()) > MAX_COMPONENT_BYTES:
        raise ArchiveError(f"name {name!r} is too long for a file name once encoded")
    return component
