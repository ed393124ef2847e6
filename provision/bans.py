"""fail2ban's bans on the server: read from `fail2ban-client banned`, lifted with `fail2ban-client unban`."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from ipaddress import ip_address

from provision import remote

HINT = "is fail2ban running? provision check DIR tells"


@dataclass(frozen=True)
class Ban:
    jail: str
    address: str

    def row(self) -> dict[str, str]:
        return {"jail": self.jail, "address": self.address}


def parse(output: str) -> list[Ban]:
    """`fail2ban-client banned` prints a Python literal: [{'sshd': ['198.51.100.7']}, {'recidive': []}]."""
    try:
        jails = ast.literal_eval(output.strip())
        found = [Ban(jail, str(ip_address(address)))
                 for entry in jails for jail, addresses in entry.items() for address in addresses]
    except (ValueError, SyntaxError, AttributeError, TypeError):
        raise ValueError(f"fail2ban-client banned printed what is not its list: {output[:200]!r}") from None
    return sorted(found, key=lambda ban: (ip_address(ban.address).version, ip_address(ban.address), ban.jail))


def listed(connection: remote.Connection) -> list[Ban]:
    output = connection.run(["fail2ban-client", "banned"], hint=HINT).text
    try:
        return parse(output)
    except ValueError as error:
        raise remote.CommandFailed(str(error)) from None


def lift(connection: remote.Connection, address: str) -> None:
    """Unban address from every jail."""
    connection.run(["fail2ban-client", "unban", address], hint=HINT)
