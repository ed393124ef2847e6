"""Which monitor host an inventory names, what the monitor role gets from it, and the run of its playbook."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from provision import remote
from provision.ansible.run import Playbook, Target, run_or_raise
from provision.console import Console
from provision.errors import ProblemsError
from provision.inventory import vault
from provision.inventory.model import Host, Inventory, TlsMode
from provision.layout import CERTIFICATE
from provision.sandbox import machine

PASSWORD = "vault_monitor_smtp_password"
ADDRESS = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
SMARTHOST = re.compile(r"^[^\s:]+:[0-9]{1,5}$")


@dataclass(frozen=True)
class MonitorHost:
    address: str
    user: str  # how provision logs in to set it up and to read its APIs

    @property
    def login(self) -> remote.Login:
        box = machine.at(self.address)
        return remote.Login(self.address, self.user, box, sandboxed=box is not None)


def monitor_host(inventory: Inventory, for_apply: bool = False) -> MonitorHost:
    """The inventory's monitor host; ProblemsError, a line per problem, when the inventory cannot be
    watched (for_apply: also what the notices and the exporters need)."""
    settings = inventory.role_vars
    address = str(settings.get("monitor_host") or "")
    problems = [] if address else ["monitor_host: is missing: set monitor_host: ADDRESS (and optionally "
                                   "monitor_host_login: USER) in group_vars/all/provision.yml"]
    if for_apply:
        problems += _apply_problems(inventory, address)
    if problems:
        raise ProblemsError(f"{inventory.directory}: {len(problems)} problem{'s' * (len(problems) > 1)} "
                            "with the monitoring", problems)
    return MonitorHost(address, str(settings.get("monitor_host_login") or "root"))


def _apply_problems(inventory: Inventory, address: str) -> list[str]:
    settings = inventory.role_vars
    problems = []
    if settings.get("exporters_enabled") is not True:
        problems.append("exporters_enabled: is not true: the server exports no metrics; set it and run "
                        "provision apply")
    elif address and address not in (settings.get("exporters_monitor_addresses") or []):
        problems.append(f"exporters_monitor_addresses: lacks the monitor host {address}: add it and run "
                        "provision apply")
    recipients = settings.get("monitor_alert_recipients")
    if not isinstance(recipients, list) or not recipients:
        problems.append("monitor_alert_recipients: is missing: list the addresses alerts go to")
    else:
        problems += [f"monitor_alert_recipients: {item!r} is not a mail address" for item in recipients
                     if not ADDRESS.match(str(item))]
    if not SMARTHOST.match(str(settings.get("monitor_smtp_smarthost") or "")):
        problems.append("monitor_smtp_smarthost: is not HOST:PORT: name the relay notices go through "
                        "(not the customer's server, which may be the one that is down)")
    if not ADDRESS.match(str(settings.get("monitor_alert_from") or "")):
        problems.append("monitor_alert_from: is not a mail address: give the notices' sender")
    if settings.get("monitor_smtp_username") and PASSWORD not in vault.read(inventory.directory):
        problems.append(f"{PASSWORD}: is not in the vault: monitor_smtp_username needs the relay's "
                        "password there (ansible-vault edit)")
    return problems


def apply(inventory: Inventory, host: MonitorHost, console: Console) -> list[str]:
    """The monitor role on the monitor host, watching the inventory's server; the tasks that changed."""
    settings = inventory.role_vars
    customer = {"name": inventory.settings.domains[0], "address": inventory.host.address,
                "hostname": inventory.settings.hostname, "ca": _own_certificate(inventory),
                "recipients": list(settings["monitor_alert_recipients"])}
    variables: dict[str, Any] = {
        **{key: value for key, value in settings.items()
           if key.startswith("monitor_") and key not in ("monitor_host", "monitor_host_login",
                                                          "monitor_alert_recipients")},
        "monitor_customers": [customer], **machine.connection_vars_at(host.address)}
    if settings.get("monitor_smtp_username"):
        variables["monitor_smtp_password"] = vault.read(inventory.directory)[PASSWORD]
    target = Target(name=host.address, host=Host("monitor", host.address, host.user), hostvars=variables)
    return run_or_raise(Playbook(name="monitor-host.yml", targets=[target]), console).changed_tasks


def _own_certificate(inventory: Inventory) -> str:
    """A self-signed server's certificate, which the monitor host trusts for that server alone."""
    if inventory.settings.tls_mode != TlsMode.SELF_SIGNED:
        return ""
    with remote.connect(remote.login_of(inventory)) as connection:
        return connection.run(["cat", CERTIFICATE]).text
