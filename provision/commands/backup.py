"""`provision backup`: set up, run, list, check the customer's backups, and hand over the key."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from provision import remote
from provision.ansible.run import Playbook, run_or_raise
from provision.backup import server
from provision.backup.hosts import authorize
from provision.console import Console, table
from provision.errors import ExitStatus, ProvisionError
from provision.inventory import vault
from provision.inventory.load import load
from provision.inventory.model import Inventory
from provision.inventory.secrets import password
from provision.sandbox import machine

NO_KEY_NO_RESTORE = ("without this key and the passphrase (provision secret DIR vault_backup_passphrase) "
                     "no archive can be restored: keep both, apart from the server")


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "backup", parents=[common], help="the server's encrypted backups on its backup host",
        description="Nightly borg archives of the server (mail, directory, calendars and contacts, DKIM "
                    "and TLS keys, the services' /etc) in an append-only repository on the backup host "
                    "named by backup_host in the inventory. Exit status 0: done and sound; 1: the "
                    "backup failed or the repository is damaged; 2: bad usage, nothing was touched.",
    )
    parser.add_argument("dir", metavar="DIR", type=Path, help="the customer's inventory directory")
    actions = parser.add_subparsers(title="actions", metavar="ACTION", parser_class=type(parser))
    actions.required = True
    init = actions.add_parser("init", parents=[common],
                              help="set up the backups: the role on the server, the repository account "
                                   "on the backup host, the encrypted repository")
    init.set_defaults(handler=_init)
    now = actions.add_parser("now", parents=[common], help="back up now, as the nightly timer does")
    now.set_defaults(handler=_now)
    listing = actions.add_parser("list", parents=[common], help="the archives in the repository")
    listing.set_defaults(handler=_list)
    check = actions.add_parser("check", parents=[common],
                               help="borg's integrity check of the repository, then the last archive "
                                    "(or --archive) extracted and compared with its manifest")
    check.add_argument("--archive", metavar="NAME", help="the archive to spot-check (default: the last)")
    check.set_defaults(handler=_check)
    key = actions.add_parser("key-export", parents=[common],
                             help="the repository key, for the consultant's safe (" + NO_KEY_NO_RESTORE + ")")
    key.add_argument("--output", metavar="FILE", type=Path, help="write it here (mode 0600), not to stdout")
    key.set_defaults(handler=_key_export)


def _connect(inventory: Inventory) -> remote.Connection:
    connection = remote.connect(remote.login_of(inventory))
    server.require_installed(connection, inventory)
    return connection


def _init(args: argparse.Namespace, console: Console) -> int:
    inventory = load(args.dir)
    host = server.backup_host(inventory)  # before anything is touched
    secrets = vault.read(inventory.directory)
    if server.PASSPHRASE not in secrets:
        console.info(f"writing a new repository passphrase to the vault as {server.PASSPHRASE}")
        vault.write(inventory.directory, {**secrets, server.PASSPHRASE: password(40)})
    console.info(f"installing the backup role on {inventory.host.address}")
    run_or_raise(Playbook.for_inventory("site.yml", inventory, {**inventory.ansible_vars(),
                                                             **machine.connection_vars(inventory)},
                                     tags="backup"), console)
    with remote.connect(remote.login_of(inventory)) as connection:
        public_key = connection.run(["cat", server.PUBLIC_KEY]).text.strip()
        console.info(f"letting {inventory.host.address} append to its repository on {host.address}")
        authorize(inventory, host, [public_key], console)
        console.info("creating the encrypted repository")
        done = server.run(connection, "init")
        if done.status != 0:
            raise ProvisionError(f"the repository could not be created: {_last_line(done)}",
                                 f"check that {inventory.host.address} reaches {host.address} on port 22")
    console.result({"status": "ok", "backup_host": host.address},
                   f"backups of {inventory.host.address} go to {host.address} every night\n"
                   f"now: provision backup {args.dir} key-export --output FILE ({NO_KEY_NO_RESTORE})")
    return ExitStatus.OK


def _now(args: argparse.Namespace, console: Console) -> int:
    inventory = load(args.dir)
    with _connect(inventory) as connection:
        console.info(f"backing up {inventory.host.address} (the same run as the nightly timer's) ...")
        connection.run(["systemctl", "start", "provision-backup.service"], check=False, timeout=server.LONG)
        found = server.status(connection) or {}
    ok = found.get("state") == "ok"
    stats = found.get("stats") or {}
    text = (f"archive {found.get('last_archive')}: {stats.get('original_size', 0)} bytes read, "
            f"{stats.get('deduplicated_size', 0)} bytes new after deduplication and compression, "
            f"{found.get('started')} to {found.get('finished')}" if ok else
            f"the backup failed: {found.get('last_line') or 'no status written'}")
    console.result(found, text)
    return ExitStatus.OK if ok else ExitStatus.FAILURE


def _list(args: argparse.Namespace, console: Console) -> int:
    inventory = load(args.dir)
    with _connect(inventory) as connection:
        archives = server.answer(server.run(connection, "list"), "borg list")["archives"]
    rows = [{"name": archive["name"], "time": archive["time"]} for archive in archives]
    console.result(rows, table(rows, [("name", "archive"), ("time", "time")]) if rows else "no archives yet")
    return ExitStatus.OK


def _check(args: argparse.Namespace, console: Console) -> int:
    inventory = load(args.dir)
    with _connect(inventory) as connection:
        console.info("checking the repository and the archive (reads all of it) ...")
        found = server.answer(server.run(connection, "check", *([args.archive] if args.archive else [])),
                              "the check")
    differences = found.get("differences") or []
    sound = found["repository"] == "ok" and not differences
    lines = [f"repository: {found['repository']}"
             + (f" ({found['repository_problem']})" if found.get("repository_problem") else "")]
    if "archive" in found:
        lines.append(f"archive {found['archive']}: "
                     + ("matches its manifest" if not differences else f"{len(differences)} differences"))
    lines += differences
    console.result({**found, "sound": sound}, "\n".join(lines))
    return ExitStatus.OK if sound else ExitStatus.FAILURE


def _key_export(args: argparse.Namespace, console: Console) -> int:
    inventory = load(args.dir)
    with _connect(inventory) as connection:
        done = server.run(connection, "key-export")
    if done.status != 0:
        raise ProvisionError(f"the key could not be exported: {_last_line(done)}")
    if args.output:
        descriptor = os.open(args.output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(done.stdout)
        console.result({"file": str(args.output)}, f"the key is in {args.output}: {NO_KEY_NO_RESTORE}")
    else:
        console.info(NO_KEY_NO_RESTORE)
        console.result({"key": done.text}, done.text.rstrip())
    return ExitStatus.OK


def _last_line(done: remote.Output) -> str:
    said = (done.stderr or done.stdout).decode(errors="replace").strip().splitlines()
    return said[-1] if said else f"exit {done.status}"
