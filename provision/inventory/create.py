"""Writing a new inventory: settings, hosts and a vault of freshly generated secrets."""

from __future__ import annotations

import os
import shutil
import tempfile
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
    """The inventory, written in a directory beside it and renamed into place once complete.

    An interrupted create (Ctrl-C, a failing ansible-vault) leaves no half-made inventory that a
    second run would stumble on. directory may exist if it is empty.
    """
    password_file = vault.ensure_password_file(directory)
    secrets = new_vault(settings.domains)
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    try:
        umask = os.umask(0o022)
        os.umask(umask)
        staging.chmod(0o777 & ~umask)  # as a directory made by hand, not mkdtemp's 0700
        files = [*write.write(staging, host, settings), vault.write(staging, secrets, key_file=password_file)]
        staging.rename(directory)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    # The new inventory must pass the same checks as a hand-made one.
    return Created(load(directory), [directory / file.relative_to(staging) for file in files], password_file,
                   sorted(secrets))
