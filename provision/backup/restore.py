"""Restoring an archive of one inventory's server onto another inventory's server."""

from __future__ import annotations

from typing import Any

from provision import remote
from provision.ansible.run import Playbook, run_or_raise
from provision.backup import server
from provision.backup.hosts import authorize
from provision.console import Console
from provision.errors import ProvisionError, UsageError
from provision.inventory import vault
from provision.inventory.model import Inventory
from provision.sandbox import machine

# A message file in any Maildir folder of any mailbox (cur/ or new/).
HAS_MAIL = "find /var/vmail -regextype posix-extended -regex '.*/(cur|new)/[^/]+' -type f -print -quit"


def repository_path(source: Inventory) -> str:
    return str(source.role_vars.get("backup_repository_path") or f"/srv/borg/{source.settings.hostname}")


def restore(source: Inventory, archive: str, target: Inventory, force: bool,
            console: Console) -> dict[str, Any]:
    """Restore archive of source's repository onto target's server; the comparison with its manifest."""
    public_key = prepare(source, target, force, console)
    return {**load_archive(target, archive, console), "public_key": public_key}


def prepare(source: Inventory, target: Inventory, force: bool, console: Console) -> str:
    """Give target's server the backup role reading source's repository, and let its key in there; the
    key. Refuses (UsageError, before any change) a target that holds mail, unless force: the restore
    merges the archive's mail in and never deletes what the archive lacks, but a live server's
    directory is replaced by the archive's."""
    host = server.backup_host(source)
    passphrase = vault.read(source.directory).get(server.PASSPHRASE)
    if not passphrase:
        raise UsageError(f"{source.directory}'s vault has no {server.PASSPHRASE}",
                         f"run provision backup {source.directory} init first")
    with remote.connect(remote.login_of(target)) as connection:
        if connection.run(["sh", "-c", HAS_MAIL], check=False).text.strip() and not force:
            raise UsageError(f"{target.host.address} holds mail already: a restore there replaces its "
                             "directory and merges the archive's mail into what it has",
                             "restore onto a fresh server, or give --force (mail not in the archive is kept)")
    console.info(f"giving {target.host.address} the backup role, reading {host.address}:"
                 f"{repository_path(source)}")
    run_or_raise(Playbook.for_inventory("site.yml", target, {
        **target.ansible_vars(), **machine.connection_vars(target), "backup_host": host.address,
        "backup_repository_path": repository_path(source), "backup_passphrase": passphrase},
        tags="backup"), console)
    with remote.connect(remote.login_of(target)) as connection:
        public_key = connection.run(["cat", server.PUBLIC_KEY]).text.strip()
    authorize(source, host, [public_key], console)
    return public_key


def newest(target: Inventory) -> str:
    """The newest archive in the repository target's server reads."""
    with remote.connect(remote.login_of(target)) as connection:
        archives = server.answer(server.run(connection, "list"), "borg list")["archives"]
    if not archives:
        raise UsageError("the repository holds no archive yet", "run provision backup DIR now")
    return str(archives[-1]["name"])


def load_archive(target: Inventory, archive: str, console: Console) -> dict[str, Any]:
    """provision-backup restore on target's server: its answer (differences, manifest)."""
    with remote.connect(remote.login_of(target)) as connection:
        console.info(f"restoring {archive} onto {target.host.address} ...")
        found = server.answer(server.run(connection, "restore", archive), f"the restore of {archive}")
        # The company address book and group calendars, made anew from the restored directory.
        connection.run(["systemctl", "start", "provision-dav-sync.service"], check=False)
    return dict(found)


def unauthorize(source: Inventory, public_key: str, console: Console) -> None:
    """Take a drill server's key off the backup host again."""
    try:
        authorize(source, server.backup_host(source), [], console, revoke=[public_key])
    except ProvisionError as error:
        console.warn(f"the drill's key stays on the backup host: {error.message}")
