"""Writing a new inventory's files from the typed model, with comments for the person who edits them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import idna
import yaml

from provision.inventory import HOSTS_FILE, SETTINGS_FILE
from provision.inventory.model import Host, Settings, TlsMode, plain

HOSTS_TEMPLATE = """\
# The customer's mail server and how Ansible reaches it over ssh.
all:
  hosts:
    {name}:
      ansible_host: {address}
      ansible_user: {user}
"""

SETTINGS_TEMPLATE = """\
# This customer's mail server settings, read by `provision` and by the Ansible roles.
# Check them after an edit with: provision inventory check DIR
# Secrets (passwords, DKIM keys) live in vault.yml next to this file, encrypted with
# ansible-vault; never write one here.

# The mail domains this server receives mail for; the first is the primary domain.
# Internationalized names may be written in Unicode; Ansible gets their xn-- form.
provision_domains:
{domains}

# The server's fully qualified host name: MX target, HELO name and TLS certificate name.
provision_hostname: {hostname}

# The server's public addresses; the host name's A (and AAAA) records point here.
provision_public_ipv4: {public_ipv4}
{public_ipv6}

# Who receives certificate expiry notices and DMARC reports.
provision_admin_email: {admin_email}

# TLS certificates: acme (Let's Encrypt, or another ACME server by its directory URL),
# self-signed (test servers only), or files (certificate chain and key taken from this
# machine; relative paths start at the inventory directory).
provision_tls_mode: {tls_mode}
{acme_directory}
{acme_ca_file}
{tls_cert_file}
{tls_key_file}

# Relay outgoing mail through a provider's server (optional). Its password goes in the
# vault as vault_smarthost_password.
{smarthost}

# Largest message accepted, in MB (1 to 1024).
provision_message_size_limit_mb: {message_size_limit_mb}

# Mailbox quota for new users, in MB; 0 means unlimited.
provision_default_quota_mb: {default_quota_mb}

# Automatic package updates: security (default), all, or manual.
provision_update_policy: {update_policy}

# The first user, who is also the mail administrator; their password is
# vault_first_admin_password (show it with: provision secret DIR vault_first_admin_password).
provision_first_admin:
{first_admin}

# DKIM selector: each domain's public key is published at SELECTOR._domainkey.DOMAIN.
provision_dkim_selector: {dkim_selector}

# Webmail (Roundcube) at https://HOSTNAME/mail/: reading and sending mail, vacation replies,
# filters, the company address book and password change in the browser.
provision_webmail: {webmail}

# Viruses: ClamAV scans attachments and viruses are refused. Its signatures need about 1.5 GB of
# memory (a host of 3 GiB or more; provision check warns below), and freshclam's first download
# of them after apply takes some minutes.
provision_antivirus: {antivirus}

# true only for a local test server (provision sandbox): allows private addresses.
provision_sandbox: {sandbox}
"""

# Shown commented out when a setting is not used, so the file lists every setting.
EXAMPLES = {
    "public_ipv6": "2001:db8::25",
    "acme_directory": "https://acme-v02.api.letsencrypt.org/directory",
    "acme_ca_file": "acme-ca.pem  # CA of a private ACME server",
    "tls_cert_file": "tls/fullchain.pem",
    "tls_key_file": "tls/privkey.pem",
    "smarthost": "\n#   host: smtp.provider.example\n#   port: 587\n#   username: customer-login",
}


def scalar(value: Any) -> str:
    """value as one line of YAML, quoted only where YAML needs it."""
    text = yaml.safe_dump(plain(value), allow_unicode=True, width=1000)
    return text.removesuffix("\n").removesuffix("\n...")


def _mapping(value: Any) -> str:
    return "\n".join(f"  {key}: {scalar(item)}" for key, item in plain(value).items())


def _domain_line(domain: str) -> str:
    unicode = idna.decode(domain)
    return f"  - {domain}" + (f"  # {unicode}" if unicode != domain else "")


def _optional(name: str, value: Any) -> str:
    if value is None:
        example = EXAMPLES[name]
        return f"# provision_{name}:" + (example if example.startswith("\n") else f" {example}")
    if name == "smarthost":
        return f"provision_{name}:\n{_mapping(value)}"
    return f"provision_{name}: {scalar(value)}"


def settings_text(settings: Settings) -> str:
    fields = {name: scalar(getattr(settings, name)) for name in Settings.names()}
    fields["domains"] = "\n".join(_domain_line(domain) for domain in settings.domains)
    fields["first_admin"] = _mapping(settings.first_admin)
    for name in EXAMPLES:
        fields[name] = _optional(name, getattr(settings, name))
    if settings.tls_mode is not TlsMode.ACME:
        fields["acme_directory"] = _optional("acme_directory", None)
    return SETTINGS_TEMPLATE.format(**fields)


def hosts_text(host: Host) -> str:
    return HOSTS_TEMPLATE.format(name=host.name, address=scalar(host.address), user=scalar(host.user))


def write(directory: Path, host: Host, settings: Settings) -> list[Path]:
    """Write hosts.yml and provision.yml (not the vault); the paths written."""
    written = []
    for relative, text in ((HOSTS_FILE, hosts_text(host)), (SETTINGS_FILE, settings_text(settings))):
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
