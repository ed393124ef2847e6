"""Fixtures for the check tests: Knot serving the test zones, and an HTTPS server for MTA-STS policies."""

from __future__ import annotations

import datetime
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from provision.check import runner
from provision.check.model import Check, Options, Status, Target
from provision.cli import main
from tests.check import zones
from tests.dnsserver import AuthoritativeServer
from tests.marks import starts


@pytest.fixture(scope="session")
def dns_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthoritativeServer]:
    """Knot serving every test zone, the slow ones unanswered and broken.test failing."""
    with AuthoritativeServer(tmp_path_factory.mktemp("knot")) as server:
        server.load(zones.zones(), unanswered=zones.SILENT, failing=zones.FAILING)
        yield server


@pytest.fixture(scope="session")
@starts("network")
def https_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    """An HTTPS server on 127.0.0.1 answering as mta-sts.<every test domain>: its port and CA file."""
    directory = tmp_path_factory.mktemp("https")
    names = [*(f"mta-sts.{domain}" for domain in zones.zones()), "acme.good.test"]
    ca_file, chain, key = _certificates(directory, names)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(chain, key)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _PolicyHandler)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1], ca_file
    httpd.shutdown()
    httpd.server_close()


class _PolicyHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        host = (self.headers.get("Host") or "").split(":")[0]
        status, headers, body = zones.POLICIES.get(host, (200, {}, zones.POLICY))
        self.send_response(status)
        for name, value in {"Content-Type": "text/plain", **headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: object) -> None:
        pass


_CA_USAGE = x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                          data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                          encipher_only=False, decipher_only=False)


def _certificates(directory: Path, names: list[str]) -> tuple[Path, Path, Path]:
    """A test CA and a server certificate for names, signed by it, as PEM files."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "provision test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(_CA_USAGE, critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    leaf_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    leaf = (x509.CertificateBuilder().subject_name(leaf_name)
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name) for name in names]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    ca_file, chain, key_file = directory / "ca.pem", directory / "chain.pem", directory / "key.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    chain.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return ca_file, chain, key_file


@pytest.fixture
def options(dns_server: AuthoritativeServer, https_server: tuple[int, Path]) -> Options:
    """Ask only the test server, trust only the test CA, list only in the test block lists."""
    port, ca_file = https_server
    return Options(nameservers=(("127.0.0.1", dns_server.port),), timeout=0.5, check_timeout=10.0,
                   dnsbl=("bl.test",), domain_dnsbl=("dbl.test",), ca_file=ca_file, https_port=port)


@pytest.fixture
def run_checks(options: Options) -> Callable[..., list[Check]]:
    """The checks selected by only (ids or prefixes) for a domain or Target."""
    def run(target: str | Target, *only: str, **changes: object) -> list[Check]:
        if isinstance(target, str):
            target = Target(target, (target,))
        chosen = Options(**{**options.__dict__, **changes})
        return runner.run([target], chosen, runner.Selection(only))[0].checks
    return run


def status(checks: list[Check], check_id: str) -> Status:
    """The one status reported for check_id (the worst, when there are several)."""
    found = [check for check in checks if check.id == check_id]
    assert found, f"no {check_id} in {checks}"
    return max((check.status for check in found), key=lambda s: s.rank)


def find(checks: list[Check], check_id: str) -> Check:
    return next(check for check in checks if check.id == check_id)


@dataclass
class Run:
    status: int
    out: str
    err: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], dns_server: AuthoritativeServer) -> Callable[..., Run]:
    """`provision check ARGS...` in this process, asking only the test server and test block lists."""
    def run(*args: str) -> Run:
        network = ["--nameserver", f"127.0.0.1:{dns_server.port}", "--dnsbl", "bl.test",
                   "--domain-dnsbl", "dbl.test", "--timeout", "0.5"]
        try:
            code = main(["check", *args, *network])
        except SystemExit as exit_:
            code = int(exit_.code or 0)
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)
    return run


def settle(server: AuthoritativeServer) -> None:
    """Wait until Knot has no worker held by an unanswered query, however many were queued."""
    while True:
        started = time.monotonic()
        server.wait_idle()
        if time.monotonic() - started < 0.1:
            return
