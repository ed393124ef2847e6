"""`provision templates copy`: a shipped template copied into an inventory or fleet, to be edited there."""

from __future__ import annotations

import argparse
from pathlib import Path

from provision.ansible import overrides
from provision.console import Console
from provision.errors import ExitStatus, UsageError


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = commands.add_parser("templates", parents=[common], help="copy a shipped template to override it")
    actions = parser.add_subparsers(title="actions", metavar="ACTION", parser_class=type(parser))
    actions.required = True
    copy = actions.add_parser(
        "copy", parents=[common], help="copy a shipped template into DIR/templates/ for editing",
        description="Copy provision's template ROLE/PATH to DIR/templates/ROLE/PATH, where it replaces "
                    "the shipped one for DIR (a customer's inventory, or a fleet directory: every "
                    "customer). The shipped text and its SHA-256 are recorded, so that `provision render "
                    "DIR --overrides` shows what later releases change in it.")
    copy.add_argument("dir", metavar="DIR", type=Path, help="a customer's inventory or a fleet directory")
    copy.add_argument("template", metavar="ROLE/PATH", help="e.g. postfix/etc/postfix/main.cf.j2")
    copy.set_defaults(handler=_copy)


def _copy(args: argparse.Namespace, console: Console) -> int:
    if not args.dir.is_dir():
        raise UsageError(f"{args.dir} is not a directory",
                         hint="give a customer's inventory or a fleet directory")
    target = overrides.copy(args.dir, args.template)
    console.result({"template": args.template, "override": str(target)},
                   f"copied to {target}: edit it there; provision render {args.dir} --overrides shows "
                   "what later releases change in the shipped one")
    return ExitStatus.OK
