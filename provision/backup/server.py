"""The backup role's program on the customer's server, run over SSH: its commands and their answers."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from provision import remote
from provision.errors import ProvisionError, UsageError
from provision.inventory.model import Inventory

PROGRAM = "/usr/local/sbin/provision-backup"
PUBLIC_KEY = "/root/.ssh/provision-backup.pub"
STATUS = "/var/lib/provision-backup/status.json"
PASSPHRASE = "vault_backup_passphrase"
LONG = 6 * 3600.0  # seconds a backup, check or restore may run without a word


@dataclass(frozen=True)
class BackupHost:
    address: str
    user: str  # how provision logs in to set it up


def backup_host(inventory: Inventory) -> BackupHost:
    """The inventory's backup host; UsageError when it names none."""
    address = str(inventory.role_vars.get("backup_host") or "")
    if not address:
        raise UsageError(f"{inventory.directory} names no backup host",
                         "set backup_host: ADDRESS in group_vars/all/provision.yml (and optionally "
                         "backup_host_login: USER), then run provision backup DIR init")
    return BackupHost(address, str(inventory.role_vars.get("backup_host_login") or "root"))


def run(connection: remote.Connection, *words: str, timeout: float = LONG) -> remote.Output:
    """provision-backup WORDS as root; its output whatever its status (the callers read it)."""
    return connection.run([PROGRAM, *words], timeout=timeout, check=False)


def answer(output: remote.Output, what: str) -> Any:
    """The JSON document of a provision-backup command, or ProvisionError with its last line."""
    try:
        return json.loads(output.text)
    except ValueError:
        said = output.stderr.decode(errors="replace").strip().splitlines()
        raise ProvisionError(f"{what} failed: {said[-1] if said else f'exit {output.status}'}",
                             "see the server's journal: journalctl -u provision-backup") from None


def require_installed(connection: remote.Connection, inventory: Inventory) -> None:
    if connection.run(["test", "-x", PROGRAM], check=False).status != 0:
        raise UsageError(f"the backup role is not on {inventory.host.address}",
                         f"run provision backup {inventory.directory} init")


def status(connection: remote.Connection) -> dict[str, Any] | None:
    """The last run's status file, None when no run has written one."""
    done = connection.run(["cat", STATUS], check=False)
    if done.status != 0:
        return None
    try:
        found = json.loads(done.text)
    except ValueError:
        return None
    return found if isinstance(found, dict) else None
