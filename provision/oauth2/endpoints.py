"""The authorization servers of the providers, as settings: any standards-conforming one works."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from provision.errors import UsageError


@dataclass(frozen=True)
class Endpoints:
    device: str  # the device authorization endpoint (RFC 8628 §3.1)
    token: str  # the token endpoint (RFC 6749 §3.2)
    scope: str  # IMAP access, and a refresh token (offline access) where the provider asks for it


# Microsoft's are per tenant ("organizations" for any work account); Google's need a client secret too.
PROVIDERS = {
    "microsoft": Endpoints("https://login.microsoftonline.com/{tenant}/oauth2/v2.0/devicecode",
                           "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token",
                           "https://outlook.office.com/IMAP.AccessAsUser.All offline_access"),
    "google": Endpoints("https://oauth2.googleapis.com/device/code", "https://oauth2.googleapis.com/token",
                        "https://mail.google.com/"),
}


def endpoints(provider: str, tenant: str, device: str | None, token: str | None,
              scope: str | None) -> Endpoints:
    """The provider's endpoints, each replaced by the one given; a custom provider gives all three."""
    known = PROVIDERS.get(provider)
    if known is None and not (device and token and scope):
        raise UsageError("--provider custom needs --device-endpoint, --token-endpoint and --scope")
    chosen = Endpoints(device or known.device.format(tenant=tenant),  # type: ignore[union-attr]
                       token or known.token.format(tenant=tenant),  # type: ignore[union-attr]
                       scope or known.scope)  # type: ignore[union-attr]
    for url in (chosen.device, chosen.token):
        check_url(url)
    return chosen


def check_url(url: str) -> None:
    """HTTPS, or plain HTTP to this machine's own loopback (a local authorization server)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname and _loopback(parts.hostname):
        return
    raise UsageError(f"{url}: an endpoint must be https:// (http:// only on loopback)")


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"
