"""`provision restore` and `provision restore-drill`: an archive back onto a server, and the proof that
it rebuilds the customer's server."""

from __future__ import annotations

import argparse
from pathlib import Path

from provision.backup import drill, restore
from provision.console import Console
from provision.errors import ExitStatus, UsageError
from provision.inventory.load import load


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "restore", parents=[common], help="restore an archive onto a server",
        description="Extract an archive of DIR's server (every chunk checked; a damaged archive is refused "
                    "before anything changes) and load it onto TARGET's server: the directory replaced by "
                    "the archive's, mail merged in (mail not in the archive is never deleted), calendars and "
                    "contacts copied. TARGET must hold no mail unless --force. Exit status 0: restored and "
                    "matching the archive's manifest; 1: failed or differing; 2: refused, nothing changed.",
    )
    parser.add_argument("dir", metavar="DIR", type=Path, help="the inventory whose backups to read")
    parser.add_argument("--archive", required=True, metavar="NAME",
                        help="the archive (provision backup DIR list)")
    parser.add_argument("--to", required=True, metavar="TARGET", type=Path,
                        help="the inventory of the server to restore onto (a sandbox's or another)")
    parser.add_argument("--force", action="store_true", help="restore onto a server that holds mail")
    parser.set_defaults(handler=_restore)

    drill_parser = commands.add_parser(
        "restore-drill", parents=[common], help="prove that an archive rebuilds the server",
        description="Boot a fresh sandbox, apply DIR's inventory to it, restore the archive, compare it "
                    "with the archive's manifest, log in over IMAP and CalDAV with the first admin's "
                    "password, run provision check on it, report, and remove the sandbox. Exit status 0: "
                    "the drill passed.",
    )
    drill_parser.add_argument("dir", metavar="DIR", type=Path, help="the customer's inventory directory")
    drill_parser.add_argument("--archive", metavar="NAME", help="default: the newest archive")
    drill_parser.add_argument("--report", metavar="FILE", type=Path, help="also write FILE.html or FILE.md")
    drill_parser.add_argument("--sandbox", metavar="NAME", default="drill",
                              help="the sandbox's name (default: %(default)s)")
    drill_parser.set_defaults(handler=_drill)


def _restore(args: argparse.Namespace, console: Console) -> int:
    source, target = load(args.dir), load(args.to)
    found = restore.restore(source, args.archive, target, args.force, console)
    differences = found["differences"]
    console.result({key: found[key] for key in ("archive", "differences", "manifest")},
                   f"{args.archive} restored onto {target.host.address}: "
                   + ("every count and hash matches the archive's manifest" if not differences else
                      f"{len(differences)} differences from the archive's manifest\n"
                      + "\n".join(differences)))
    return ExitStatus.OK if not differences else ExitStatus.FAILURE


def _drill(args: argparse.Namespace, console: Console) -> int:
    if args.report and args.report.suffix not in drill.REPORTS:
        raise UsageError(f"--report {args.report}: name a .html or .md file")
    source = load(args.dir)
    done = drill.run(source, args.archive, args.sandbox, console)
    drill.record(source, done)
    report = drill.markdown(done)
    if args.report:
        args.report.write_text(drill.REPORTS[args.report.suffix](done))
    console.result(done.as_dict(), report.rstrip())
    return ExitStatus.OK if done.ok else ExitStatus.FAILURE
