"""Writing a new inventory: settings, hosts and a vault of freshly generated secrets."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from provision.inventory import vault, write
from provision.inventory.load import load
from provision.inventory.model import Host, Inventory, Settings
from provision.inventory.secrets import new_vault


@dataclass(frozen=True)
class Created:
    inventory: Inventory
    files: list[Path]
    password_file: Path
    secret_names: list[str]


def create(directory: Path, host: Host, settings: Settings) -> Created:
    password_file = vault.ensure_password_file(directory)
    secrets = new_vault(settings.domains)
    files = [*write.write(directory, host, settings), vault.write(directory, secrets)]
    # The new inventory must pass the same checks as a hand-made one.
    return Created(load(directory), files, password_file, sorted(secrets))
