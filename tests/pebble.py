"""Pebble, the ACME test server (Debian package pebble), for tests that obtain real certificates.

Pebble runs as a child process with its own configuration under a test's temporary directory. It
listens with HTTPS on ADDRESS (the host's side of the sandbox network) on free ports, with a
certificate made here by a test CA of our own; ca_file is that CA, for clients to trust. Pebble
validates HTTP-01 challenges for real: it resolves a name with the DNS server it is given (e.g.
tests.dnsserver.AuthoritativeServer) and fetches the token from that address on port 80.

Pebble keeps its state in memory only and signs with keys it makes at start; roots() and
intermediates() return them from its management interface.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import re
import shutil
import socket
import ssl
import subprocess
import time
import urllib.request
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.marks import starts

ADDRESS = "198.51.100.1"  # the host on the sandbox network (bridge provision0)
START_SECONDS = 20.0
# Every issued certificate is logged as "Issued certificate serial <hex> for order <id>".
ISSUED = re.compile(r"Issued certificate serial ([0-9a-f]+) for order")
# Every request is logged as "<METHOD> <path> -> calling handler()".
ACME_REQUEST = re.compile(r" (GET|HEAD|POST) /\S* -> calling handler")
MANAGEMENT = re.compile(r" GET /(roots|intermediates|intermediate-keys|root-keys)/")


def free_port(address: str = ADDRESS) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((address, 0))
        return probe.getsockname()[1]


@starts("network")
class Pebble:
    """One Pebble server on ADDRESS; validates challenges on http_port, resolves names with dns_server."""

    def __init__(self, directory: Path, dns_server: str, http_port: int = 80) -> None:
        self.directory = directory
        self.dns_server = dns_server  # "ADDRESS:PORT"
        self.http_port = http_port
        self.port = free_port()
        self.management_port = free_port()
        self._process: subprocess.Popen[bytes] | None = None
        directory.mkdir(parents=True, exist_ok=True)

    @property
    def directory_url(self) -> str:
        return f"https://{ADDRESS}:{self.port}/dir"

    @property
    def ca_file(self) -> Path:
        """The CA that signs Pebble's own HTTPS certificate."""
        return self.directory / "https-ca.pem"

    @property
    def log(self) -> Path:
        return self.directory / "pebble.log"

    def start(self) -> Pebble:
        pebble = shutil.which("pebble") or "/usr/bin/pebble"
        if not Path(pebble).is_file():
            raise RuntimeError("pebble is missing: install the Debian package pebble")
        self._write_https_certificate()
        config = self.directory / "pebble-config.json"
        config.write_text(json.dumps({"pebble": {
            "listenAddress": f"{ADDRESS}:{self.port}",
            "managementListenAddress": f"{ADDRESS}:{self.management_port}",
            "certificate": str(self.directory / "https.pem"),
            "privateKey": str(self.directory / "https.key"),
            "httpPort": self.http_port,
            "tlsPort": 443,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": False,
        }}, indent=2))
        env = {
            "PATH": "/usr/bin:/bin",
            "PEBBLE_VA_NOSLEEP": "1",  # validate at once; the challenge is still real
            "PEBBLE_WFE_NONCEREJECT": "0",  # no random badNonce errors
            "PEBBLE_AUTHZREUSE": "0",  # every order validates its challenges again
        }
        with self.log.open("ab") as log:
            self._process = subprocess.Popen(
                [pebble, "-config", str(config), "-dnsserver", self.dns_server],
                stdout=log, stderr=subprocess.STDOUT, env=env, cwd=self.directory)
        deadline = time.monotonic() + START_SECONDS
        while True:
            try:
                self.get(self.directory_url)
                return self
            except OSError:
                if self._process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"pebble did not start:\n{self.log.read_text()[-2000:]}") from None
                time.sleep(0.1)

    def get(self, url: str) -> bytes:
        context = ssl.create_default_context(cafile=str(self.ca_file))
        with urllib.request.urlopen(url, context=context, timeout=5) as response:
            return response.read()

    def roots(self) -> str:
        """The root certificate Pebble signs with (PEM), from its management interface."""
        return self.get(f"https://{ADDRESS}:{self.management_port}/roots/0").decode()

    def intermediates(self) -> str:
        return self.get(f"https://{ADDRESS}:{self.management_port}/intermediates/0").decode()

    def acme_requests(self) -> list[str]:
        """Every request made to the ACME server so far (the management interface's left out)."""
        return [line for line in self.log.read_text().splitlines()
                if ACME_REQUEST.search(line) and not MANAGEMENT.search(line)]

    def issued_serials(self) -> list[int]:
        """Serials of the certificates issued so far, oldest first."""
        return [int(serial, 16) for serial in ISSUED.findall(self.log.read_text())]

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None

    def __enter__(self) -> Pebble:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _write_https_certificate(self) -> None:
        """A test CA (ca_file) and, signed by it, Pebble's certificate for ADDRESS."""
        now = datetime.datetime.now(datetime.UTC)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "provision tests: Pebble HTTPS CA")])
        ca = (x509.CertificateBuilder()
              .subject_name(ca_name).issuer_name(ca_name)
              .public_key(ca_key.public_key())
              .serial_number(x509.random_serial_number())
              .not_valid_before(now - datetime.timedelta(minutes=5))
              .not_valid_after(now + datetime.timedelta(days=2))
              .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
              .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                           key_encipherment=False, data_encipherment=False,
                                           key_agreement=False, key_cert_sign=True, crl_sign=True,
                                           encipher_only=False, decipher_only=False), critical=True)
              .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
              .sign(ca_key, hashes.SHA256()))
        key = ec.generate_private_key(ec.SECP256R1())
        leaf = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ADDRESS)]))
                .issuer_name(ca_name)
                .public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(days=2))
                .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ADDRESS))]),
                               critical=False)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                               critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                               critical=False)
                .sign(ca_key, hashes.SHA256()))
        self.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        (self.directory / "https.pem").write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
        key_file = self.directory / "https.key"
        key_file.touch(mode=0o600)
        key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                               serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
