"""The server's state, gathered by one shell script over one SSH connection per target, parsed to facts.

The script prints sections: `### NAME`, the command's output (stderr too), then `### exit STATUS`.
The check modules share one Session per target: the first to ask connects and gathers; drift later
runs its own script over the same connection. `apt-get -s upgrade` reads every package list (seconds):
it runs in a second session channel beside the rest, and the outputs are parsed together.
"""

from __future__ import annotations

import datetime
import json
import shlex
import threading
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

from cryptography import x509

from provision import remote
from provision.check.context import Context
from provision.check.host import AREA
from provision.check.host.ssh import Server, execute, server_of
from provision.check.model import Check, Status
from provision.inventory.model import TlsMode
from provision.layout import CERTIFICATE

MOUNTS = ("/", "/var")
T = TypeVar("T")
COMMAND_TIMEOUT = 30.0  # seconds without output; apt-get -s reads every package list


@dataclass(frozen=True)
class Section:
    lines: tuple[str, ...]
    status: int

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@dataclass(frozen=True)
class Usage:
    path: str  # as asked: / or /var, which may be on the same file system
    percent: int | None  # None: no such limit on this file system (inodes on btrfs)


@dataclass(frozen=True)
class Queued:
    id: str
    queue: str  # deferred, active, hold, incoming or maildrop
    arrival: int  # seconds since the epoch
    recipient: str  # the first one
    reason: str  # why delivery to it waits; "" when it was not tried yet


@dataclass(frozen=True)
class SigningKey:
    """A DKIM key OpenDKIM signs with (its KeyTable), as the public key's PEM made on the server."""

    selector: str
    path: str
    public_pem: str | None  # None: the key could not be read; problem says why
    problem: str = ""


@dataclass(frozen=True)
class Facts:
    now: int  # the server's clock, for the queue's ages
    services: dict[str, str]  # unit -> its `systemctl is-active` state
    disk: tuple[Usage, ...] | None
    inodes: tuple[Usage, ...] | None
    queue: tuple[Queued, ...] | None
    security_updates: tuple[str, ...] | None  # packages
    reboot_required: bool
    certificate_expiry: datetime.datetime | None
    memory_kib: int | None = None  # MemTotal
    signing_keys: dict[str, SigningKey] = field(default_factory=dict)  # domain -> key
    problems: dict[str, str] = field(default_factory=dict)  # fact -> why it is None


def units(server: Server) -> tuple[str, ...]:
    """The services the inventory's roles start: base, directory, dkim, resolver, rspamd (and its Valkey,
    and with antivirus ClamAV's clamd and freshclam), fail2ban, postfix, dovecot, radicale (and its
    directory sync), web; with ACME the tls role's challenge server and certbot's renewals."""
    settings = server.inventory.settings
    acme = ("lighttpd", "certbot.timer") if settings.tls_mode is TlsMode.ACME else ()
    antivirus = ("clamav-daemon", "clamav-freshclam") if settings.antivirus else ()
    return ("nftables", "slapd", "opendkim", "unbound", "rspamd", "valkey-server", *antivirus, "fail2ban",
            "postfix", "dovecot", "radicale", "provision-dav-sync.timer", "nginx", *acme)


PRELUDE = """export LC_ALL=C
run() { echo "### $1"; shift; "$@" 2>&1; echo "### exit $?"; }
"""
UPDATES_SCRIPT = PRELUDE + "run updates apt-get -s -o Debug::NoLocking=true upgrade\n"
# Each KeyTable line is "NAME DOMAIN:SELECTOR:KEYFILE"; only the public half leaves the server.
SIGNING_KEYS = """table=$(awk '$1 == "KeyTable" { print $2 }' /etc/opendkim.conf 2>/dev/null)
[ -n "$table" ] && grep -v '^[[:space:]]*#' "${table#file:}" | while read -r name spec; do
    [ -n "$spec" ] || continue
    rest=${spec#*:}
    run "dkim ${spec%%:*} ${rest%%:*} ${spec##*:}" openssl pkey -in "${spec##*:}" -pubout
done
"""


def script(unit_names: tuple[str, ...]) -> str:
    """Everything but the updates (UPDATES_SCRIPT), which run beside it."""
    mounts = " ".join(MOUNTS)
    return PRELUDE + f"""run now date +%s
run services systemctl is-active {shlex.join(unit_names)}
run disk df -P -k {mounts}
run inodes df -P -i {mounts}
run queue postqueue -j
run reboot test -e /var/run/reboot-required
run certificate cat {CERTIFICATE}
run memory cat /proc/meminfo
""" + SIGNING_KEYS


def parse(output: str, unit_names: tuple[str, ...]) -> Facts:
    sections = parse_sections(output)
    problems: dict[str, str] = {}

    def fact(name: str, parser: Callable[[Section], T]) -> T | None:
        try:
            return parser(sections[name])
        except KeyError:
            problems[name] = "the gathering script stopped before this step"
        except ValueError as error:
            problems[name] = str(error)
        return None

    now = fact("now", lambda section: int(section.text))
    if now is None:
        raise remote.Unreachable(f"the server's answer could not be read: {output[:200]!r}",
                                 "run the check again")
    return Facts(
        now=now,
        services=parse_services(sections.get("services", Section((), 1)), unit_names),
        disk=fact("disk", parse_df),
        inodes=fact("inodes", parse_df),
        queue=fact("queue", parse_queue),
        security_updates=fact("updates", parse_security_updates),
        reboot_required=sections.get("reboot", Section((), 1)).status == 0,
        certificate_expiry=fact("certificate", parse_certificate),
        memory_kib=fact("memory", parse_memory),
        signing_keys=parse_signing_keys(sections),
        problems=problems,
    )


def parse_sections(output: str) -> dict[str, Section]:
    sections: dict[str, Section] = {}
    name, lines = "", []
    for line in output.splitlines():
        if line.startswith("### exit ") and name:
            sections[name] = Section(tuple(lines), int(line.split()[2]))
            name, lines = "", []
        elif line.startswith("### "):
            name, lines = line[4:].strip(), []
        elif name:
            lines.append(line)
    return sections


def parse_services(section: Section, unit_names: tuple[str, ...]) -> dict[str, str]:
    """`systemctl is-active A B...` prints one state per unit, in order; a missing line is unknown."""
    states = [line.strip() for line in section.lines]
    return {unit: states[number] if number < len(states) else "unknown"
            for number, unit in enumerate(unit_names)}


def parse_memory(section: Section) -> int:
    """/proc/meminfo's MemTotal, in KiB."""
    for line in section.lines:
        name, _, value = line.partition(":")
        if name == "MemTotal" and value.split()[:1] and value.split()[0].isdigit():
            return int(value.split()[0])
    raise ValueError(f"/proc/meminfo has no MemTotal: {section.text[:200]!r}")


def parse_df(section: Section, paths: tuple[str, ...] = MOUNTS) -> tuple[Usage, ...]:
    """`df -P -k PATH...` or `df -P -i PATH...`: one row per path, in order; the 5th column is the use."""
    rows = [line.split(None, 5) for line in section.lines[1:]]
    if section.status != 0 or len(rows) != len(paths) or any(len(row) < 6 for row in rows):
        raise ValueError(f"df failed: {section.text[:200]}")
    return tuple(Usage(path, None if row[4] == "-" else int(row[4].rstrip("%")))
                 for path, row in zip(paths, rows, strict=True))


def parse_queue(section: Section) -> tuple[Queued, ...]:
    """`postqueue -j`: one JSON object per message."""
    if section.status != 0:
        raise ValueError(f"postqueue failed: {section.text[:200]}")
    try:
        messages = [json.loads(line) for line in section.lines if line.startswith("{")]
        return tuple(Queued(message["queue_id"], message["queue_name"], int(message["arrival_time"]),
                            *_first_recipient(message)) for message in messages)
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"postqueue -j printed what is not its JSON: {error}") from None


def _first_recipient(message: dict) -> tuple[str, str]:
    recipients = message.get("recipients") or [{}]
    return recipients[0].get("address", ""), recipients[0].get("delay_reason", "")


def parse_security_updates(section: Section) -> tuple[str, ...]:
    """Packages `apt-get -s upgrade` would install from a -security suite.

    An Inst line: `Inst NAME [OLD] (NEW ORIGIN:RELEASE/SUITE [ARCH])`, several origins comma-separated.
    """
    if section.status != 0:
        raise ValueError(f"apt-get -s upgrade failed: {section.text[-200:]}")
    installs = [line.split() for line in section.lines if line.startswith("Inst ")]
    return tuple(words[1] for words in installs if any("-security" in word for word in words[2:]))


def parse_signing_keys(sections: dict[str, Section]) -> dict[str, SigningKey]:
    """The sections named "dkim DOMAIN SELECTOR KEYFILE": openssl's public key PEM, or its complaint."""
    keys = {}
    for name, section in sections.items():
        words = name.split(" ", 3)
        if words[0] != "dkim" or len(words) != 4:
            continue
        _, domain, selector, path = words
        if section.status == 0 and "-----BEGIN PUBLIC KEY-----" in section.text:
            keys[domain] = SigningKey(selector, path, section.text)
        else:
            keys[domain] = SigningKey(selector, path, None,
                                      f"openssl cannot read {path}: {section.text[:200]}")
    return keys


def parse_certificate(section: Section) -> datetime.datetime:
    """The expiry of the first certificate in the file: the server's own, before its CA chain."""
    if section.status != 0:
        raise ValueError(f"{CERTIFICATE} cannot be read: {section.text[:200]}")
    try:
        return x509.load_pem_x509_certificates(section.text.encode())[0].not_valid_after_utc
    except ValueError:
        raise ValueError(f"{CERTIFICATE} holds no PEM certificate") from None


@dataclass
class Session:
    """One target's connection and facts, made by the first check module that asks."""

    server: Server | None
    lock: threading.Lock = field(default_factory=threading.Lock)
    connection: remote.Connection | None = None
    facts: Facts | None = None
    failure: remote.Unreachable | None = None
    failure_reported: bool = False

    def run(self, text: str) -> str:
        """Run a script over the session's connection (gather() made it)."""
        assert self.connection is not None
        return execute(self.connection, text, COMMAND_TIMEOUT)


@dataclass(frozen=True)
class Found:
    """What gather() hands a check module: the server, its facts, and the session for more scripts."""

    server: Server
    facts: Facts
    session: Session


_sessions: weakref.WeakKeyDictionary[Context, Session] = weakref.WeakKeyDictionary()
_sessions_lock = threading.Lock()


def gather(context: Context, check_id: str) -> Found | list[Check]:
    """The target's server and facts, or what check_id reports instead.

    A bare domain has no server: nothing. An unreachable server: one UNKNOWN for the whole area,
    given to the first module that asks; the others report nothing.
    """
    session = _session(context)
    if session.server is None:
        return []
    with session.lock:
        _connect(session, session.server, context)
        if session.facts is not None:
            return Found(session.server, session.facts, session)
        if session.failure_reported:
            return []
        session.failure_reported = True
    failure = session.failure
    assert failure is not None
    return [Check(check_id, AREA, Status.UNKNOWN,
                  f"{session.server.login}: {failure}; the other host checks were skipped", failure.hint)]


def quietly(context: Context) -> Found | None:
    """The target's server and facts for checks of other areas; None where gather() has to say why."""
    session = _session(context)
    if session.server is None:
        return None
    with session.lock:
        _connect(session, session.server, context)
        return Found(session.server, session.facts, session) if session.facts is not None else None


def _session(context: Context) -> Session:
    with _sessions_lock:
        session = _sessions.get(context)
        if session is None:
            session = _sessions[context] = Session(server_of(context.target))
        return session


def _connect(session: Session, server: Server, context: Context) -> None:
    """Gather the facts once, or note why that failed (the caller holds the session's lock)."""
    if session.facts is None and session.failure is None:
        try:
            session.facts = _gather(session, server, context.options.timeout)
        except remote.Unreachable as error:
            session.failure = error


def _gather(session: Session, server: Server, timeout: float) -> Facts:
    connection = remote.connect(server.ssh, timeout)
    session.connection = connection
    # Closed when the runner lets go of the target's context: drift may still need the connection.
    weakref.finalize(session, connection.close)
    unit_names = units(server)
    with ThreadPoolExecutor(max_workers=1) as pool:
        updates = pool.submit(execute, connection, UPDATES_SCRIPT, COMMAND_TIMEOUT)
        output = execute(connection, script(unit_names), COMMAND_TIMEOUT)
        return parse(output + updates.result(), unit_names)
