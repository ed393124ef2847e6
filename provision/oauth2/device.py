"""The device authorization grant (RFC 8628): the person approves the login in a browser elsewhere
while this polls the token endpoint."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from provision.errors import ProvisionError
from provision.oauth2.endpoints import Endpoints
from provision.oauth2.exchange import OAuthError, post

GRANT = "urn:ietf:params:oauth:grant-type:device_code"


@dataclass(frozen=True)
class Client:
    client_id: str
    client_secret: str = ""  # Google's device clients have one; a public client has none
    ca_file: str | None = None

    def form(self, **fields: str) -> dict[str, str]:
        return {"client_id": self.client_id, **({"client_secret": self.client_secret} if self.client_secret
                                                 else {}), **fields}


def login(endpoints: Endpoints, client: Client, show: Callable[[str, str, str], None],
          sleep: Callable[[float], None] = time.sleep) -> dict:
    """The token endpoint's answer once the person has approved; show(uri, code, complete_uri) tells them."""
    started = post(endpoints.device, client.form(scope=endpoints.scope), client.ca_file)
    try:
        device_code, user_code = str(started["device_code"]), str(started["user_code"])
        uri = str(started.get("verification_uri") or started["verification_url"])  # Google's older name
    except KeyError as missing:
        raise ProvisionError(f"{endpoints.device}: the answer has no {missing}") from None
    show(uri, user_code, str(started.get("verification_uri_complete", "")))
    interval = float(started.get("interval") or 5)
    deadline = time.monotonic() + float(started.get("expires_in") or 900)
    while time.monotonic() < deadline:
        sleep(interval)
        try:
            return post(endpoints.token, client.form(grant_type=GRANT, device_code=device_code),
                        client.ca_file)
        except OAuthError as error:
            if error.code == "slow_down":  # §3.5: wait 5 seconds longer from now on
                interval += 5
            elif error.code != "authorization_pending":
                raise ProvisionError(_REFUSALS.get(error.code, error.message)) from None
    raise ProvisionError("the code expired before the login was approved", "run provision oauth2 login again")


_REFUSALS = {"access_denied": "the login was declined in the browser",
             "expired_token": "the code expired before the login was approved"}
