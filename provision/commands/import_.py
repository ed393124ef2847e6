"""`provision import ARCHIVE TARGET`: load a verified archive's mail into a server."""

from __future__ import annotations

import argparse

from provision.console import Console
from provision.migrate import command


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "import", parents=[common], help="import an archive's mail into a server, verified",
        description="Verify ARCHIVE completely (a damaged one is refused before the target is touched), then "
                    "append every message the target does not hold yet, and verify the target. "
                    "Exit status 1 if any account failed or any message is missing.",
    )
    parser.add_argument("archive", metavar="ARCHIVE", help="archive directory or .tar file")
    parser.add_argument("target", metavar="TARGET", help=command.TARGET_HELP)
    command.add_common(parser, "target")
    parser.set_defaults(handler=_import)


def _import(args: argparse.Namespace, console: Console) -> int:
    return command.import_(args, console)
