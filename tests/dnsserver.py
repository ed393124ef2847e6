"""A real authoritative DNS server (Knot DNS) on loopback, for tests that need DNS answers.

The server runs as a child process with its own configuration, run directory and storage under a
test's temporary directory, listens on 127.0.0.1 on a free high port, and serves zones given as
Python data. load() can be called again to serve other zones (Knot reloads in place).

With an update_key, every zone accepts RFC 2136 updates signed with that TSIG key.

Zones listed as "signed" are signed by Knot itself (automatic DNSSEC signing, one ECDSA P-256 key per
zone, NSEC); ValidatingResolver (Unbound) validates them with their keys as trust anchors.

Zones listed as "unanswered" never get an answer: Knot forwards their queries (mod-dnsproxy) to a
second listener that reads nothing and never replies, and waits longer than any test resolver does,
so clients see a real timeout.
"""

from __future__ import annotations

import select
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import dns.exception
import dns.name
import dns.rdatatype
import dns.resolver

from tests.marks import starts

ADDRESS = "127.0.0.1"
PROXY_WAIT_MS = 1500  # how long Knot waits for the silent listener: longer than test resolvers wait
RESOLVER_LIFETIME = 1.0
START_SECONDS = 10.0
SOA = "SOA ns.invalid. hostmaster.invalid. {serial} 3600 600 86400 300"


def free_port(address: str = ADDRESS) -> int:
    """A port free for both UDP and TCP on address right now."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind((address, 0))
            port = tcp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind((address, port))
                except OSError:
                    continue
            return port


@dataclass(frozen=True)
class TsigKey:
    name: str
    algorithm: str  # e.g. hmac-sha256
    secret: str  # base64


class SilentListener:
    """UDP and TCP sockets on one port that take queries and never answer them.

    Knot's proxy holds a UDP worker until it gives up on us, and the kernel spreads queries over
    Knot's workers by source port, so a later query can wait behind that worker. The listener notes
    when it last received a query, so that wait_idle() can let such a worker free up first.
    """

    def __init__(self) -> None:
        self.port = free_port()
        self.last_query = 0.0
        self._udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._udp.bind((ADDRESS, self.port))
        self._tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._tcp.bind((ADDRESS, self.port))
        self._tcp.listen(64)  # connections wait in the backlog; nothing ever reads them
        self._open = True
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while self._open:
            if select.select([self._udp], [], [], 0.1)[0]:
                self._udp.recv(65535)
                self.last_query = time.monotonic()

    def wait_idle(self, held_for: float) -> None:
        """Sleep until held_for seconds have passed since the last query arrived."""
        time.sleep(max(0.0, self.last_query + held_for - time.monotonic()))

    def close(self) -> None:
        self._open = False
        self._reader.join()
        self._udp.close()
        self._tcp.close()


@starts("network")
class AuthoritativeServer:
    """Knot DNS serving the zones given to load(), on address (loopback unless a sandbox must ask it)
    and a free port."""

    def __init__(self, directory: Path, update_key: TsigKey | None = None, address: str = ADDRESS) -> None:
        self.directory = directory
        self.update_key = update_key
        self.address = address
        self.port = free_port(address)
        self._silent = SilentListener()
        self._process: subprocess.Popen[bytes] | None = None
        self._serial = 0
        self._answered: list[str] = []
        self._signed: set[str] = set()
        for sub in ("run", "storage", "zones"):
            (directory / sub).mkdir(parents=True, exist_ok=True)

    @property
    def config(self) -> Path:
        return self.directory / "knot.conf"

    @property
    def log(self) -> Path:
        return self.directory / "knot.log"

    def load(
        self,
        zones: Mapping[str, str | Iterable[str]],
        *,
        unanswered: Iterable[str] = (),
        failing: Iterable[str] = (),
        signed: Iterable[str] = (),
    ) -> None:
        """Serve exactly these zones, replacing any served before, and wait until they are live.

        zones maps each apex to zone-file text or lines, with absolute owner names; the SOA and NS
        records at the apex are added. Zones named in unanswered time out; zones named in failing
        have no zone file, so Knot answers SERVFAIL for them. Zones named in signed are served signed.
        """
        self._serial += 2  # signing bumps a zone's serial by one
        silent = {_absolute(apex) for apex in unanswered}
        self._signed = {_absolute(apex) for apex in signed}
        broken = {_absolute(apex) for apex in failing}
        files: dict[str, str] = {}
        for number, apex in enumerate(sorted(silent | broken | {_absolute(apex) for apex in zones})):
            files[apex] = f"{number}.zone"
            path = self.directory / "zones" / files[apex]
            path.unlink(missing_ok=True)
            if apex not in broken:
                header = [
                    f"{owner(apex)} 3600 {SOA.format(serial=self._serial)}",
                    f"{owner(apex)} 3600 NS ns.invalid.",
                ]
                lines = [] if apex in silent else self._lines(zones, apex)
                path.write_text("\n".join(header + lines) + "\n")
        self.config.write_text(self._config_text(files, silent))
        self._answered = [apex for apex in files if apex not in silent | broken]
        if self._process is None:
            self._start()
        else:
            self._control("reload")
            self._control("-b", "zone-reload", check=False)  # fails when a zone is meant to fail
        self._wait_for_serial()

    def keys(self, apex: str) -> list[str]:
        """The signed zone's DNSKEY records in zone-file form: the trust anchors of its signatures."""
        answer = self.resolver().resolve(dns.name.from_text(apex), dns.rdatatype.DNSKEY, search=False)
        return [f"{answer.qname} DNSKEY {record}" for record in answer]

    def resolver(self, lifetime: float = RESOLVER_LIFETIME) -> dns.resolver.Resolver:
        """A resolver that asks this server only (never /etc/resolv.conf) and gives up after lifetime s.

        lifetime must stay below PROXY_WAIT_MS, so that unanswered zones time out at the client.
        """
        assert lifetime < PROXY_WAIT_MS / 1000
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [self.address]
        resolver.port = self.port
        resolver.timeout = lifetime
        resolver.lifetime = lifetime
        return resolver

    def wait_idle(self) -> None:
        """Wait until no Knot worker is still waiting on an unanswered query; call it between tests."""
        self._silent.wait_idle(PROXY_WAIT_MS / 1000 + 0.05)

    def stop(self) -> None:
        """Stop Knot (waiting for it to exit) and close the silent listener."""
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=PROXY_WAIT_MS / 1000 + 5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
        self._silent.close()

    def __enter__(self) -> AuthoritativeServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @staticmethod
    def _lines(zones: Mapping[str, str | Iterable[str]], apex: str) -> list[str]:
        lines = [
            text.splitlines() if isinstance(text, str) else text
            for name, text in zones.items()
            if _absolute(name) == apex
        ]
        return [line for group in lines for line in group]

    def _config_text(self, files: Mapping[str, str], silent: set[str]) -> str:
        directory = self.directory
        zones = "".join(
            f'  - domain: "{apex}"\n    file: "{file}"\n'
            + ("    module: mod-dnsproxy/silent\n" if apex in silent else "")
            + ("    acl: update\n" if self.update_key else "")
            + ("    dnssec-signing: on\n    dnssec-policy: test\n" if apex in self._signed else "")
            for apex, file in files.items()
        )
        return f"""server:
    rundir: "{directory / "run"}"
    listen: {self.address}@{self.port}
    # Queries to unanswered zones hold a worker until the proxy gives up, so keep spares.
    udp-workers: 8
    tcp-workers: 2
    background-workers: 2
database:
    storage: "{directory / "storage"}"
control:
    listen: "{directory / "run" / "knot.sock"}"
log:
  - target: "{self.log}"
    any: info
remote:
  - id: silent
    address: {ADDRESS}@{self._silent.port}
policy:
  - id: test
    algorithm: ecdsap256sha256
    single-type-signing: on
    nsec3: off
mod-dnsproxy:
  - id: silent
    remote: silent
    timeout: {PROXY_WAIT_MS}
    fallback: off
{self._update_acl()}template:
  - id: default
    storage: "{directory / "zones"}"
    zonefile-load: whole
    journal-content: none
    zonefile-sync: -1
    semantic-checks: off
zone:
{zones}"""

    def _update_acl(self) -> str:
        key = self.update_key
        if key is None:
            return ""
        return f"""key:
  - id: {key.name}
    algorithm: {key.algorithm}
    secret: {key.secret}
acl:
  - id: update
    key: {key.name}
    action: update
"""

    def _start(self) -> None:
        knotd = shutil.which("knotd") or "/usr/sbin/knotd"
        if not Path(knotd).is_file():
            raise RuntimeError("knotd is missing: install the Debian package knot (./install.sh does)")
        with self.log.open("ab") as log:
            self._process = subprocess.Popen([knotd, "-c", str(self.config)], stdout=log, stderr=log)
        deadline = time.monotonic() + START_SECONDS
        while self._control("status", check=False).returncode != 0:
            if self._process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"knotd did not start:\n{self.log.read_text()[-2000:]}")
            time.sleep(0.02)

    def _control(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        knotc = shutil.which("knotc") or "/usr/sbin/knotc"
        done = subprocess.run(
            [knotc, "-c", str(self.config), *args], capture_output=True, text=True, timeout=30
        )
        if check and done.returncode != 0:
            raise RuntimeError(f"knotc {' '.join(args)} failed: {done.stdout}{done.stderr}")
        return done

    def _wait_for_serial(self) -> None:
        """Wait until every answered zone serves this load's SOA serial."""
        resolver = self.resolver(lifetime=0.5)
        deadline = time.monotonic() + START_SECONDS
        for apex in self._answered:
            while (self._serial_of(resolver, apex) or 0) < self._serial:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"zone {apex} was not loaded:\n{self.log.read_text()[-2000:]}")
                time.sleep(0.02)

    @staticmethod
    def _serial_of(resolver: dns.resolver.Resolver, apex: str) -> int | None:
        try:
            answer = resolver.resolve(dns.name.from_text(apex), dns.rdatatype.SOA, search=False)
        except dns.exception.DNSException:
            return None
        return answer.rrset[0].serial if answer.rrset else None  # type: ignore[attr-defined]


@starts("network")
class ValidatingResolver:
    """Unbound on ADDRESS and a free port: a validating resolver that asks the authoritative server only.

    trust_anchors are DNSKEY or DS records in zone-file form (AuthoritativeServer.keys()); answers
    under them are validated (AD when secure, SERVFAIL when bogus), all others are insecure.
    """

    def __init__(self, directory: Path, server: AuthoritativeServer, trust_anchors: Iterable[str]) -> None:
        unbound = shutil.which("unbound") or "/usr/sbin/unbound"
        if not Path(unbound).is_file():
            raise RuntimeError("unbound is missing: install it with ./install.sh --tests")
        directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.log = directory / "unbound.log"
        config = directory / "unbound.conf"
        anchors = "".join(f'    trust-anchor: "{anchor}"\n' for anchor in trust_anchors)
        config.write_text(f"""server:
    interface: {ADDRESS}@{self.port}
    port: {self.port}
    access-control: 127.0.0.0/8 allow
    do-not-query-localhost: no
    username: ""
    chroot: ""
    directory: "{directory}"
    pidfile: "{directory / "unbound.pid"}"
    use-syslog: no
    logfile: "{self.log}"
    verbosity: 1
    val-log-level: 2
    num-threads: 1
    module-config: "validator iterator"
    qname-minimisation: no
    ede: yes
    # Tests change zones between queries: nothing is answered from an older load.
    cache-max-ttl: 0
    cache-max-negative-ttl: 0
    # Unbound answers NXDOMAIN itself for the special-use names the tests use (RFC 6761).
    local-zone: "test." nodefault
    local-zone: "invalid." nodefault
{anchors}forward-zone:
    name: "."
    forward-addr: {ADDRESS}@{server.port}
""")
        with self.log.open("ab") as log:
            self._process = subprocess.Popen([unbound, "-d", "-c", str(config)], stdout=log, stderr=log)
        deadline = time.monotonic() + START_SECONDS
        while not self._answers():
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"unbound did not start:\n{self.log.read_text()[-2000:]}")
            time.sleep(0.05)

    def _answers(self) -> bool:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            return probe.connect_ex((ADDRESS, self.port)) == 0

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()

    def __enter__(self) -> ValidatingResolver:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def owner(name: str) -> str:
    """name in zone-file form, absolute, with every octet outside letters, digits, "-" and "_" escaped.

    Test data has names with spaces, ":" or "/" in them; escaping keeps them one DNS name.
    """
    labels = name.removesuffix(".").split(".") if name not in ("", ".") else []
    return "".join(_escape(label.encode(), _NAME_PLAIN) + "." for label in labels) or "."


def txt(strings: Iterable[str | bytes]) -> str:
    """TXT (or SPF) rdata: each string quoted, over-long ones split at 255 octets as publishers do.

    str is taken as octets where it can be (latin-1), so test data can hold arbitrary bytes.
    """
    quoted = []
    for string in strings:
        octets = string if isinstance(string, bytes) else _octets(string)
        quoted += [
            f'"{_escape(octets[start : start + 255], _TEXT_PLAIN)}"' for start in range(0, len(octets), 255)
        ]
    return " ".join(quoted or ['""'])


def _octets(text: str) -> bytes:
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode()


_NAME_PLAIN = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")
_TEXT_PLAIN = frozenset(range(0x20, 0x7F)) - frozenset(b'"\\')


def _escape(octets: bytes, plain: frozenset[int]) -> str:
    return "".join(chr(octet) if octet in plain else f"\\{octet:03d}" for octet in octets)


def _absolute(name: str) -> str:
    return name if name.endswith(".") else name + "."
