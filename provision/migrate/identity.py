"""A message's identity: the SHA-256 of its exact bytes, with its Message-ID and size as the cheap
keys that say which messages at a target could be the same before anything is downloaded.

Servers store line ends their own way: Dovecot drops a bare CR at the very end of a message, and hands
back a bare LF as CRLF. Such a message comes back from the target with other bytes than were sent, so it
also carries a loose hash, of its bytes without CR and trailing LFs, by which a later run still finds it."""

from __future__ import annotations

import hashlib

from provision.archive.maildir import message_id
from provision.migrate.state import Known


def identify(data: bytes) -> Known:
    return Known(hashlib.sha256(data).hexdigest(), len(data), message_id(data), loose(data))


def loose(data: bytes) -> str:
    return hashlib.sha256(data.replace(b"\r", b"").rstrip(b"\n")).hexdigest()
