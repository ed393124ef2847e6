"""The host area: the server itself, seen over SSH: services, disk, queue, updates, certificate, drift.

ssh names the target's server (provision.remote logs in to it), facts gathers everything in one
script per target and parses it; each other module judges one concern. Only inventory targets
have a host to log in to; for a bare domain the area reports nothing.
"""

from __future__ import annotations

from provision.check.model import Check, Status

AREA = "host"


def result(check_id: str, status: Status, message: str, fix: str = "") -> Check:
    return Check(check_id, AREA, status, message, fix)


def level(value: float, warn: float, crit: float) -> Status:
    """OK, WARN from warn on, CRIT from crit on (value and thresholds in the same unit)."""
    return Status.CRIT if value >= crit else Status.WARN if value >= warn else Status.OK
