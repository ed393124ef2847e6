"""One HTTPS GET to an address the checks resolved themselves: verified, no redirects, bounded."""

from __future__ import annotations

import http.client
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path

from provision.check.model import Address


class FetchError(Exception):
    """The request failed; the message says at which step."""


@dataclass(frozen=True)
class Response:
    status: int
    content_type: str
    location: str
    body: bytes


def get(host: str, path: str, addresses: list[Address], *, port: int = 443, ca_file: Path | None = None,
        timeout: float = 10.0, limit: int = 65536) -> Response:
    """GET https://host:port/path from the first of addresses that accepts a connection.

    The certificate must be valid for host (system CAs, plus ca_file if given). Redirects are
    returned, not followed; a body over limit octets is an error.
    """
    context = ssl.create_default_context()
    if ca_file is not None:
        context.load_verify_locations(cafile=str(ca_file))
    errors = []
    for address in addresses:
        try:
            raw = socket.create_connection((str(address), port), timeout=timeout)
        except OSError as error:
            errors.append(f"{address} port {port}: {error.strerror or error}")
            continue
        with raw:
            return _exchange(context, raw, host, path, limit)
    raise FetchError(f"cannot connect to {host}: {'; '.join(errors) or 'no address'}")


def _exchange(context: ssl.SSLContext, raw: socket.socket, host: str, path: str, limit: int) -> Response:
    try:
        with context.wrap_socket(raw, server_hostname=host) as tls:
            request = (f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: provision-check\r\n"
                       "Connection: close\r\n\r\n")
            tls.sendall(request.encode("ascii"))
            response = http.client.HTTPResponse(tls, method="GET")
            response.begin()
            body = response.read(limit + 1)
    except ssl.SSLCertVerificationError as error:
        raise FetchError(f"the certificate of {host} is not valid: {error.verify_message}") from None
    except (OSError, http.client.HTTPException) as error:
        raise FetchError(f"HTTPS to {host} failed: {error or type(error).__name__}") from None
    if len(body) > limit:
        raise FetchError(f"https://{host}{path} is larger than {limit // 1024} KiB")
    return Response(response.status, response.getheader("Content-Type", ""),
                    response.getheader("Location", ""), body)
