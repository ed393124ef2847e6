"""The customer's settings as typed values, and the only producer of Ansible variables from them.

Field names are the Ansible variable names without their `provision_` prefix, so
ansible_vars() is one mechanical mapping.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, is_dataclass
from enum import Enum, StrEnum
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path
from typing import Any

PREFIX = "provision_"
LETS_ENCRYPT = "https://acme-v02.api.letsencrypt.org/directory"


class TlsMode(StrEnum):
    ACME = "acme"
    SELF_SIGNED = "self-signed"
    FILES = "files"


class UpdatePolicy(StrEnum):
    SECURITY = "security"
    ALL = "all"
    MANUAL = "manual"


@dataclass(frozen=True)
class Smarthost:
    host: str
    username: str
    port: int = 587


@dataclass(frozen=True)
class FirstAdmin:
    uid: str
    name: str
    email: str


@dataclass(frozen=True)
class Settings:
    domains: tuple[str, ...]  # A-labels; the first is the primary domain
    hostname: str
    public_ipv4: IPv4Address
    admin_email: str
    first_admin: FirstAdmin
    public_ipv6: IPv6Address | None = None
    tls_mode: TlsMode = TlsMode.ACME
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    acme_directory: str = LETS_ENCRYPT
    acme_ca_file: Path | None = None
    smarthost: Smarthost | None = None
    message_size_limit_mb: int = 50
    default_quota_mb: int = 10240  # 0: unlimited
    update_policy: UpdatePolicy = UpdatePolicy.SECURITY
    dkim_selector: str = "mail"
    webmail: bool = False  # Roundcube at https://HOSTNAME/mail/ (the webmail role)
    antivirus: bool = False  # ClamAV through Rspamd (the rspamd role); needs about 1.5 GB of memory
    sandbox: bool = False

    @classmethod
    def names(cls) -> list[str]:
        return [field.name for field in fields(cls)]

    def ansible_vars(self) -> dict[str, Any]:
        """Every setting as `provision_NAME`, defaults included and unset options as None."""
        return {PREFIX + name: plain(getattr(self, name)) for name in sorted(self.names())}


@dataclass(frozen=True)
class Host:
    name: str  # the inventory host name
    address: str  # ansible_host
    user: str = "root"  # ansible_user


@dataclass(frozen=True)
class Inventory:
    directory: Path
    host: Host
    settings: Settings
    # The roles' own variables the customer sets (postfix_role_addresses_to, tls_names, ...): each
    # role's defaults/main.yml documents them; they reach Ansible beside the settings.
    role_vars: dict[str, Any] = field(default_factory=dict)
    # Where each variable the consultant or customer set came from (consultant.yml or the customer's
    # file); what is missing here has its default.
    origins: dict[str, Path] = field(default_factory=dict)
    consultant: Path | None = None  # the fleet directory whose consultant.yml lies under this inventory

    @property
    def layers(self) -> tuple[Path, ...]:
        """The directories whose templates/ replace provision's own, the lowest first."""
        return (self.consultant, self.directory) if self.consultant else (self.directory,)

    def ansible_vars(self) -> dict[str, Any]:
        return {**self.role_vars, **self.settings.ansible_vars()}


def plain(value: Any) -> Any:
    """A value as YAML/JSON types: records become mappings, addresses and paths strings."""
    if is_dataclass(value) and not isinstance(value, type):
        return {field.name: plain(getattr(value, field.name)) for field in fields(value)}
    if isinstance(value, tuple | list):
        return [plain(item) for item in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, IPv4Address | IPv6Address | Path):
        return str(value)
    return value
