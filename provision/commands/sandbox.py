"""`provision sandbox`: start, list, enter and stop local Debian servers."""

from __future__ import annotations

import argparse
import os

from provision.console import Console, table
from provision.errors import ExitStatus, UsageError
from provision.process import program
from provision.sandbox import access, machine
from provision.sandbox.network import DEFAULT_NETWORK


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "sandbox", parents=[common], help="throw-away Debian servers on this machine",
        description="Start, list, enter and stop local Debian 13 servers (systemd-nspawn, "
                    "each in its own network namespace). Needs root.",
    )
    actions = parser.add_subparsers(title="actions", metavar="ACTION", parser_class=type(parser))
    actions.required = True

    up = actions.add_parser("up", parents=[common], help="create and boot a sandbox")
    up.add_argument("name", metavar="NAME")
    up.add_argument("--release", default="trixie", help="Debian release (default: %(default)s)")
    up.add_argument("--hostname", metavar="FQDN", help="default: NAME.example.test")
    up.add_argument("--network", default=DEFAULT_NETWORK, metavar="CIDR",
                    help="the sandbox network, if free on this machine (default: %(default)s)")
    up.set_defaults(handler=_up)

    listing = actions.add_parser("list", parents=[common], help="list the sandboxes")
    listing.set_defaults(handler=_list)

    ssh = actions.add_parser("ssh", parents=[common], help="log in to a sandbox, or run a command there")
    ssh.add_argument("name", metavar="NAME")
    ssh.add_argument("command", nargs=argparse.REMAINDER, metavar="-- CMD",
                     help="command to run instead of a login shell; the remote shell reads it, as with ssh")
    ssh.set_defaults(handler=_ssh)

    down = actions.add_parser("down", parents=[common], help="stop a sandbox and remove all traces")
    down.add_argument("name", metavar="NAME", nargs="?")
    down.add_argument("--all", action="store_true", help="every sandbox")
    down.set_defaults(handler=_down)


def _up(args: argparse.Namespace, console: Console) -> int:
    box = machine.up(args.name, release=args.release, hostname=args.hostname, cidr=args.network,
                     console=console)
    console.result(box.as_dict(),
                   f"{box.name} is up at {box.address} ({box.hostname})\n"
                   f"  provision sandbox ssh {box.name}\n"
                   f"  ssh config: {access.SSH_CONFIG}   Ansible inventory: {access.INVENTORY}")
    return ExitStatus.OK


def _list(args: argparse.Namespace, console: Console) -> int:
    machine.require_root()
    boxes = [box.as_dict() for box in machine.all_sandboxes()]
    console.result(boxes, table(boxes, [("name", "name"), ("address", "address"), ("state", "state"),
                                        ("hostname", "hostname"), ("release", "release")])
                   if boxes else "no sandboxes")
    return ExitStatus.OK


def _ssh(args: argparse.Namespace, console: Console) -> int:
    if console.json:
        raise UsageError("--json: sandbox ssh hands the terminal to ssh, which prints no JSON")
    machine.require_root()
    machine.load(args.name)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    # OpenSSH, not provision.remote: a person's login wants ssh's terminal handling and prompts.
    argv = access.ssh_argv(args.name, batch=bool(command))
    os.execv(program(argv[0]), [*argv, *command])


def _down(args: argparse.Namespace, console: Console) -> int:
    if bool(args.name) == args.all:
        raise UsageError("name one sandbox, or give --all")
    if args.all:
        names = machine.down_all(console)
    else:
        machine.down(args.name, console)
        names = [args.name]
    console.result({"removed": names}, f"removed: {', '.join(names)}" if names else "no sandboxes")
    return ExitStatus.OK
