"""host.queue.size and host.queue.oldest_deferred: mail waiting in Postfix's queue, and for how long.

A small business's server sends a few hundred messages a day: more than 50 waiting means deliveries
are failing, more than 500 an outage or a spam run from a stolen account. A message deferred for
an hour has failed several retries; after a day its sender still does not know (Postfix warns
after 4 h and gives up after 5 days).
"""

from __future__ import annotations

from provision.check.context import CheckModule, Context
from provision.check.host import facts, result
from provision.check.model import Check, Status

SIZE, OLDEST = "host.queue.size", "host.queue.oldest_deferred"
SIZE_WARN, SIZE_CRIT = 50, 500  # messages; WARN above the first, CRIT above the second
AGE_WARN, AGE_CRIT = 3600, 86400  # seconds


def run_size(context: Context, domain: str) -> list[Check]:
    gathered = facts.gather(context, SIZE)
    if isinstance(gathered, list):
        return gathered
    server, found = gathered.server, gathered.facts
    if found.queue is None:
        return [result(SIZE, Status.UNKNOWN, found.problems["queue"],
                       f"check Postfix: {server.shell('systemctl status postfix')}")]
    count = len(found.queue)
    deferred = sum(message.queue == "deferred" for message in found.queue)
    status = Status.CRIT if count > SIZE_CRIT else Status.WARN if count > SIZE_WARN else Status.OK
    message = f"{count} message(s) in the queue, {deferred} deferred"
    if status is Status.OK:
        return [result(SIZE, status, message)]
    return [result(SIZE, status, f"{message} (warn above {SIZE_WARN}, critical above {SIZE_CRIT})",
                   f"see who sends them and why they wait: {server.shell('postqueue -p | tail -n 40')}; "
                   "if a stolen account sends spam, disable it and delete its mail with postsuper -d")]


def run_oldest(context: Context, domain: str) -> list[Check]:
    gathered = facts.gather(context, OLDEST)
    if isinstance(gathered, list):
        return gathered
    server, found = gathered.server, gathered.facts
    if found.queue is None:
        return [result(OLDEST, Status.UNKNOWN, found.problems["queue"])]
    deferred = [message for message in found.queue if message.queue == "deferred"]
    if not deferred:
        return [result(OLDEST, Status.OK, "no deferred message")]
    oldest = min(deferred, key=lambda message: message.arrival)
    age = max(0, found.now - oldest.arrival)
    status = Status.CRIT if age > AGE_CRIT else Status.WARN if age > AGE_WARN else Status.OK
    why = f": {oldest.reason}" if oldest.reason else ""
    message = f"oldest deferred message {oldest.id}, {_duration(age)} old, to {oldest.recipient}{why}"
    if status is Status.OK:
        return [result(OLDEST, status, message)]
    return [result(OLDEST, status, f"{message} (warn after {_duration(AGE_WARN)}, critical after "
                   f"{_duration(AGE_CRIT)})",
                   "fix the cause above, then retry: " + server.shell("postqueue -f")
                   + f"; or delete it: {server.shell(f'postsuper -d {oldest.id}')}")]


def _duration(seconds: int) -> str:
    if seconds >= 86400:
        return f"{seconds // 86400} d {seconds % 86400 // 3600} h"
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    return f"{seconds // 60} min {seconds % 60} s"


MODULES = (CheckModule(SIZE, (SIZE,), run_size, per_domain=False),
           CheckModule(OLDEST, (OLDEST,), run_oldest, per_domain=False))
