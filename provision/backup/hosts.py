"""The backup host's side, set up by playbooks/backup-host.yml: which servers' keys may append."""

from __future__ import annotations

from provision.ansible.run import Playbook, Target, run_or_raise
from provision.backup.server import BackupHost
from provision.console import Console
from provision.inventory.model import Host, Inventory
from provision.sandbox import machine


def authorize(inventory: Inventory, host: BackupHost, public_keys: list[str], console: Console,
              revoke: list[str] | None = None) -> None:
    """Let public_keys append to the inventory's repository on the backup host, and revoke others."""
    variables = {"provision_hostname": inventory.settings.hostname, "backup_host_client_keys": public_keys,
                 "backup_host_revoked_keys": revoke or [],
                 **{key: value for key, value in inventory.role_vars.items()
                    if key.startswith("backup_host_") and key != "backup_host_login"},
                 **machine.connection_vars_at(host.address)}
    target = Target(name="backup", host=Host("backup", host.address, host.user), hostvars=variables)
    run_or_raise(Playbook(name="backup-host.yml", targets=[target]), console)

