"""The `provision` command line: argument parsing and exit statuses, nothing else.

Each command group lives in its own module under provision.commands and adds
its parser with register(); its handler takes (args, console) and returns an
exit status.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import select
import sys
import traceback
from collections.abc import Sequence
from types import ModuleType

from provision import __version__
from provision.ansible import PLAYBOOKS, TEMPLATES
from provision.console import Console
from provision.errors import ExitStatus, ProvisionError

# Each command, in the order `provision --help` lists them, and the module under provision.commands that
# registers it. Running a command imports its own module only: all of them (paramiko, ldap3, the checks)
# cost half a second of CPU on every call.
COMMANDS = {"init": "inventory", "secret": "inventory", "inventory": "inventory", "apply": "apply",
            "render": "render", "dns": "dns", "check": "check", "archive": "archive", "export": "export",
            "import": "import_", "migrate": "migrate", "cutover": "cutover", "sandbox": "sandbox",
            "users": "users", "groups": "groups", "aliases": "aliases", "mailboxes": "mailboxes",
            "calendars": "calendars",
            "oauth2": "oauth2", "backup": "backup", "restore": "restore", "restore-drill": "restore",
            "templates": "templates", "updates": "updates", "monitor": "monitor",
            "bans": "bans"}
# What may stand before the command without needing the other commands (as --help does).
_BEFORE_COMMAND = re.compile(r"-v+|-q|--json|--verbose|--quiet")

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


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The parser for argv: with only the command argv names, or with every command."""
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
    for module in _command_modules(argv):
        module.register(groups, common)
    return parser


def _command_modules(argv: Sequence[str]) -> list[ModuleType]:
    """The module of the command argv runs, or all of them for the top-level help, errors and usage."""
    names = dict.fromkeys(COMMANDS.values())
    for word in argv:
        if word in COMMANDS:
            names = dict.fromkeys([COMMANDS[word]])
        if not _BEFORE_COMMAND.fullmatch(word):
            break
    return [importlib.import_module(f"provision.commands.{name}") for name in names]


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(argv).parse_args(argv)
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
