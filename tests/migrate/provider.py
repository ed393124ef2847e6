"""A "provider" for migration tests: plain Debian Dovecot with Maildir on a sandbox, configured here over
SSH (not by the playbooks), users in a passwd-file, TLS from a test CA the client must be told to trust.
ManageSieve listens on 4190 (STARTTLS) for the users' Sieve scripts.
The same users also log in with OAuth2 access tokens (XOAUTH2, OAUTHBEARER): JWTs signed HS256 with a key
the sandbox holds, validated by Dovecot itself, as a provider's identity platform would issue them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from provision.sandbox import access, machine
from tests.marks import starts

CONFIG = """\
dovecot_config_version = 2.4.0
dovecot_storage_version = 2.4.0
protocols = imap sieve
listen = *
ssl = required
ssl_server_cert_file = /etc/dovecot/provider.crt
ssl_server_key_file = /etc/dovecot/provider.key
auth_mechanisms = plain xoauth2 oauthbearer
log_path = syslog
mail_driver = maildir
mail_path = ~/Maildir
mail_home = /srv/mail/%{user}
mail_uid = vmail
mail_gid = vmail
first_valid_uid = 5000
mail_max_userip_connections = 50
passdb passwd-file {
  passwd_file_path = /etc/dovecot/users
}
userdb static {
  fields {
    uid = vmail
    gid = vmail
    home = /srv/mail/%{user}
  }
}
namespace inbox {
  inbox = yes
  separator = .
  prefix = INBOX.
}
service imap-login {
  inet_listener imaps {
    port = 993
    ssl = yes
  }
}
# ManageSieve on the network, STARTTLS before the login, as providers offer it.
sieve_script personal {
  driver = file
  path = ~/sieve
  active_path = ~/.dovecot.sieve
}
service managesieve-login {
  inet_listener sieve {
    port = 4190
  }
}
# Dovecot 2.4 checks tokens without a passdb: locally, the key looked up as
# KEYS/<azp or default>/<alg>/<kid or default>, base64; the token's sub must be the login name.
oauth2 {
  introspection_mode = local
  username_attribute = sub
  issuers = https://login.provider.test
  oauth2_local_validation {
    dict fs {
      fs posix {
        prefix = /etc/dovecot/oauth2-keys/
      }
    }
  }
}
"""
KEYS = "/etc/dovecot/oauth2-keys"  # as in CONFIG
ISSUER = "https://login.provider.test"  # as in CONFIG

SETUP = """set -e
export DEBIAN_FRONTEND=noninteractive
test -x /usr/lib/dovecot/managesieve ||
  apt-get install -y -q dovecot-imapd dovecot-managesieved >/tmp/apt.log 2>&1
id vmail >/dev/null 2>&1 || useradd --system --uid 5000 --home /srv/mail --shell /usr/sbin/nologin vmail
mkdir -p /srv/mail && chown vmail:vmail /srv/mail
"""


@dataclass
class Provider:
    name: str
    address: str
    ca_file: Path
    passwords: dict[str, str]
    oauth2_key: bytes = field(repr=False)

    def token(self, user: str, lifetime: float = 600, key: bytes | None = None) -> str:
        """An OAuth2 access token for user, valid for lifetime seconds (negative: expired), signed with
        the provider's key or another one."""
        now = int(time.time())
        claims = {"iss": ISSUER, "sub": user, "iat": now + min(0, int(lifetime)) - 60,
                  "exp": now + int(lifetime)}
        return jwt(claims, key or self.oauth2_key)

    def url(self, user: str) -> str:
        return f"imaps://{user}@{self.address}"

    def ssh(self, script: str, input: str | None = None) -> str:
        done = access.ssh(machine.load(self.name), ["sh", "-c", script], input=input, timeout=600,
                          check=False)
        if done.returncode != 0:
            raise AssertionError(f"{script[:60]!r} failed on {self.name}: {done.stderr}{done.stdout}")
        return done.stdout


def jwt(claims: dict[str, object], key: bytes) -> str:
    """A JSON Web Token signed HS256 (RFC 7519)."""
    encode = lambda data: base64.urlsafe_b64encode(data).rstrip(b"=").decode()  # noqa: E731
    signed = ".".join(encode(json.dumps(part).encode()) for part in ({"alg": "HS256", "typ": "JWT"}, claims))
    return f"{signed}.{encode(hmac.digest(key, signed.encode(), hashlib.sha256))}"


def make_ca(directory: Path, address: str) -> tuple[Path, Path, Path]:
    """A test CA and a server certificate for the sandbox's address: (ca, cert, key)."""
    names = ("ca.key", "ca.crt", "server.key", "server.csr", "server.crt")
    ca_key, ca, key, csr, cert = (directory / name for name in names)
    run = lambda *argv: subprocess.run(argv, check=True, capture_output=True)  # noqa: E731
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", str(ca_key), "-out", str(ca), "-days", "2", "-subj", "/CN=provision test provider CA")
    run("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", str(key), "-out", str(csr), "-subj", f"/CN={address}")
    extensions = directory / "san.ext"
    extensions.write_text(f"subjectAltName=IP:{address}\n")
    run("openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
        "-out", str(cert), "-days", "2", "-extfile", str(extensions))
    return ca, cert, key


@starts("network")  # Dovecot on the provider sandbox
def configure(name: str, address: str, directory: Path, passwords: dict[str, str]) -> Provider:
    """Install and configure Dovecot on the sandbox `name`; returns how to reach it."""
    ca, cert, key = make_ca(directory, address)
    provider = Provider(name, address, ca, passwords, secrets.token_bytes(32))
    provider.ssh(SETUP)
    provider.ssh("cat > /etc/dovecot/dovecot.conf", CONFIG)
    provider.ssh(f"mkdir -p {KEYS}/default/HS256 && cd {KEYS} && umask 027 && cat > default/HS256/default && "
                 "chgrp -R dovecot .", base64.b64encode(provider.oauth2_key).decode())
    provider.ssh("cat > /etc/dovecot/provider.crt", cert.read_text())
    provider.ssh("umask 077; cat > /etc/dovecot/provider.key", key.read_text())
    set_users(provider, passwords)
    provider.ssh("systemctl restart dovecot && systemctl is-active dovecot")
    return provider


def set_users(provider: Provider, passwords: dict[str, str]) -> None:
    provider.passwords = dict(passwords)
    lines = "".join(f"{user}:{{PLAIN}}{password}::::::\n" for user, password in passwords.items())
    provider.ssh("umask 027; cat > /etc/dovecot/users; chgrp dovecot /etc/dovecot/users", lines)
