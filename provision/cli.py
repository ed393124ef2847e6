"""The `provision` command line: argument parsing and exit statuses, nothing else.

Each command group lives in its own module under provision.commands and adds
its parser with register(); its handler takes (args, console) and returns an
exit status.
"""

from __future__ import annotations

import argparse
import os
import select
import sys
import traceback
from collections.abc import Sequence

from provision import __version__
from provision.ansible import PLAYBOOKS, TEMPLATES
from provision.commands import (
    aliases,
    apply,
    archive,
    calendars,
    check,
    dns,
    export,
    groups,
    import_,
    inventory,
    mailboxes,
    migrate,
    render,
    sandbox,
    users,
)
from provision.console import Console
from provision.errors import ExitStatus, ProvisionError

COMMAND_GROUPS = (inventory, apply, render, dns, check, archive, export, import_, migrate, sandbox, users,
                  groups, aliases, mailboxes, calendars)

EPILOG = f"""\
exit status:
  0    success
  1    the job ran and found or met a failure
  2    bad usage or bad input; nothing was changed
  130  interrupted

playbooks in use: {PLAYBOOKS}
templates in use: {TEMPLATES}
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's own exit status is 2 as well
        self.print_usage(sys.stderr)
        self.exit(ExitStatus.USAGE, f"provision: error: {message}\n")


def _global_options() -> argparse.ArgumentParser:
    # SUPPRESS defaults let the options stand before or after the subcommand
    # without the subparser's defaults overwriting what was given earlier.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="print one JSON document on stdout instead of tables")
    common.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS,
                        help="say more (repeat for more detail)")
    common.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                        help="print only results and errors")
    return common


def build_parser() -> argparse.ArgumentParser:
    common = _global_options()
    parser = _Parser(
        prog="provision",
        description="Stand up, check and migrate a small business's own mail server.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"provision {__version__}")
    groups = parser.add_subparsers(title="commands", metavar="COMMAND", parser_class=_Parser)
    groups.required = True
    for module in COMMAND_GROUPS:
        module.register(groups, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    verbosity = -1 if getattr(args, "quiet", False) else getattr(args, "verbose", 0)
    console = Console(json=getattr(args, "json", False), verbosity=verbosity)
    try:
        return _handle(args, console)
    except KeyboardInterrupt:
        print("provision: interrupted", file=sys.stderr)
        return int(ExitStatus.INTERRUPTED)
    except BrokenPipeError:
        if not _reader_gone():
            return _unexpected(console)
        # Whoever read our output stopped (`| head`): nothing is left to say, and nobody to say it to.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return int(ExitStatus.FAILURE)
    except Exception:
        return _unexpected(console)


def _handle(args: argparse.Namespace, console: Console) -> int:
    """The command's exit status; a failure the user can act on is said the way it says itself."""
    try:
        return int(args.handler(args, console))
    except ProvisionError as error:
        return _failed(error, console)


def _failed(error: ProvisionError, console: Console) -> int:
    for line in error.lines():
        print(f"provision: {line}", file=sys.stderr)
    if console.json:
        console.result({"error": error.message, "problems": getattr(error, "problems", [])})
    return int(error.status)


def _unexpected(console: Console) -> int:
    """The last resort: a bug or a failure nobody foresaw, said in one line; -vv shows where."""
    kind, error, _ = sys.exc_info()
    assert kind is not None
    if console.verbosity >= 2:
        traceback.print_exc()
    said = str(error).strip().splitlines()
    print(f"provision: unexpected error: {kind.__name__}{': ' + said[0] if said else ''}"
          " (run with -vv for the traceback)", file=sys.stderr)
    return int(ExitStatus.FAILURE)


def _reader_gone() -> bool:
    """Whether stdout is a pipe whose reading end was closed (the kernel flags that as an error)."""
    try:
        poll = select.poll()
        poll.register(sys.stdout.fileno(), select.POLLERR)
        return bool(poll.poll(0))
    except (OSError, ValueError):
        return False
