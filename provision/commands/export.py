"""`provision export SOURCE -o ARCHIVE`: IMAP accounts (or our server) into a portable archive."""

from __future__ import annotations

import argparse

from provision.console import Console
from provision.migrate import command


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "export", parents=[common], help="export mail accounts into an archive",
        description="Write every folder of every account of SOURCE into ARCHIVE (docs/archive-format.md). "
                    "An interrupted export resumes when run again with the same ARCHIVE; the manifest is "
                    "written once every account is complete.",
    )
    parser.add_argument("source", metavar="SOURCE", help=command.SOURCE_HELP)
    parser.add_argument("-o", "--output", metavar="ARCHIVE", required=True, help="archive directory to write")
    command.add_common(parser, "source")
    parser.set_defaults(handler=_export)


def _export(args: argparse.Namespace, console: Console) -> int:
    return command.export(args, console)
