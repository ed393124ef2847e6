"""`provision migrate SOURCE TARGET`: move mail from IMAP accounts (or our server) straight to another
server, incremental and resumable, then verify that every message arrived."""

from __future__ import annotations

import argparse

from provision.console import Console
from provision.migrate import command


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "migrate", parents=[common], help="move mail between IMAP servers, verified",
        description="Copy every folder of every account from SOURCE to TARGET: only messages the target "
                    "does not hold yet (identity: Message-ID and SHA-256 of the bytes), with flags, keywords "
                    "and INTERNALDATE. Safe to interrupt and run again. Nothing is deleted at the source. "
                    "Exit status 1 if any account failed or any message is missing at the target.",
    )
    parser.add_argument("source", metavar="SOURCE", help=command.SOURCE_HELP)
    parser.add_argument("target", metavar="TARGET", help=command.TARGET_HELP)
    command.add_common(parser, "source")
    command.add_target_secrets(parser)
    parser.set_defaults(handler=_migrate)


def _migrate(args: argparse.Namespace, console: Console) -> int:
    return command.migrate(args, console)
