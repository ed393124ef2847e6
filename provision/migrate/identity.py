"""A message's identity: the SHA-256 of its exact bytes, with its Message-ID and size as the cheap
keys that say which messages at a target could be the same before anything is downloaded."""

from __future__ import annotations

import hashlib

from provision.archive.maildir import message_id
from provision.migrate.state import Known


def identify(data: bytes) -> Known:
    return Known(hashlib.sha256(data).hexdigest(), len(data), message_id(data))
