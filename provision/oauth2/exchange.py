"""The form POSTs of RFC 6749 and RFC 8628: their JSON answers, OAuth errors as such."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from urllib.parse import urlencode

from provision.errors import ProvisionError

TIMEOUT = 30.0


class OAuthError(ProvisionError):
    """The authorization server answered with an OAuth error (RFC 6749 §5.2); code is its "error"."""

    def __init__(self, code: str, description: str, url: str):
        super().__init__(f"{url}: {code}" + (f" ({description})" if description else ""))
        self.code = code


def post(url: str, form: dict[str, str], ca_file: str | None = None) -> dict:
    """The JSON object the endpoint answers to the form; OAuthError for an OAuth error answer."""
    request = urllib.request.Request(url, urlencode(form).encode(), method="POST", headers={
        "Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"})
    context = ssl.create_default_context(cafile=ca_file)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT, context=context) as response:
            return _json(response.read(), url)
    except urllib.error.HTTPError as error:
        answer = _json(error.read(), url, f"HTTP {error.code}")
        raise OAuthError(str(answer.get("error", f"HTTP {error.code}")),
                         str(answer.get("error_description", "")), url) from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise ProvisionError(f"{url}: cannot be reached ({reason})",
                             "check the endpoint settings and the network") from None


def _json(body: bytes, url: str, status: str = "") -> dict:
    try:
        answer = json.loads(body)
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        raise ProvisionError(f"{url}: answered {status or 'with'} no JSON object")
    return answer
