"""`provision archive`: check and summarise portable migration archives (docs/archive-format.md)."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from pathlib import Path

from provision import secretfile
from provision.archive import transport
from provision.archive.manifest import MANIFEST
from provision.archive.reader import ArchiveReader
from provision.archive.verify import VerifyReport, verify
from provision.console import Console, table
from provision.errors import ExitStatus, UsageError

USER_COLUMNS = [("name", "user"), ("folders", "folders"), ("messages", "messages"), ("bytes", "bytes"),
                ("calendars", "calendars"), ("contacts", "contacts"), ("status", "status")]


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "archive", parents=[common], help="check and summarise migration archives",
        description="Portable archives of mail, calendars, contacts, directory and Sieve scripts "
                    "(a directory or a tar of one; format in docs/archive-format.md).",
    )
    actions = parser.add_subparsers(title="actions", metavar="ACTION", parser_class=type(parser))
    actions.required = True

    check = actions.add_parser(
        "verify", parents=[common], help="check every file, index line and count of an archive",
        description="Exit status 0 if the archive is sound, 1 if any problem was found (each listed), "
                    "2 if ARCHIVE is not an archive.",
    )
    check.add_argument("archive", metavar="ARCHIVE", help="archive directory or .tar file")
    check.set_defaults(handler=_verify)

    show = actions.add_parser("show", parents=[common], help="summarise an archive from its manifest")
    show.add_argument("archive", metavar="ARCHIVE", help="archive directory or .tar file")
    show.set_defaults(handler=_show)

    pack = actions.add_parser(
        "pack", parents=[common], help="tar a finished archive for transport, optionally encrypted",
        description="Write ARCHIVE.tar next to ARCHIVE (pax format), encrypted to ARCHIVE.tar.age for age "
                    "recipients or ARCHIVE.tar.gpg with a passphrase; the plain tar is then removed.",
    )
    pack.add_argument("archive", metavar="ARCHIVE", help="finished archive directory")
    secret = pack.add_mutually_exclusive_group()
    secret.add_argument("--age-recipient", action="append", default=[], metavar="KEY",
                        help="age public key (age1...) to encrypt to; repeat for several")
    secret.add_argument("--passphrase-file", metavar="FILE",
                        help="encrypt with gpg (AES-256) using the passphrase in FILE (one line)")
    pack.set_defaults(handler=_pack)


def _verify(args: argparse.Namespace, console: Console) -> int:
    console.info(f"verifying {args.archive} ...")
    report = verify(args.archive)
    console.result(_report_data(report), _report_text(report))
    return ExitStatus.OK if report.sound else ExitStatus.FAILURE


def _report_data(report: VerifyReport) -> dict[str, object]:
    return {"archive": report.archive, "version": report.version, "sound": report.sound,
            "files": report.files, "users": [asdict(user) for user in report.users],
            "problems": [asdict(problem) for problem in report.problems]}


def _report_text(report: VerifyReport) -> str:
    rows = [{**asdict(user), "status": "ok" if not user.problems else f"{user.problems} problems"}
            for user in report.users]
    lines = [table(rows, USER_COLUMNS)] if rows else []
    lines += [problem.line() for problem in report.problems]
    verdict = "sound" if report.sound else f"{len(report.problems)} problems"
    lines.append(f"{report.archive}: format version {report.version or 'unknown'}, "
                 f"{report.files} files checked, {verdict}")
    return "\n".join(lines)


def _pack(args: argparse.Namespace, console: Console) -> int:
    archive = Path(args.archive)
    if not (archive / MANIFEST).is_file():
        raise UsageError(f"{archive} is not a finished archive (no {MANIFEST})")
    passphrase = secretfile.read(args.passphrase_file, "passphrase") if args.passphrase_file else None
    packed = transport.pack(archive, archive.with_name(archive.name + ".tar"))
    if args.age_recipient or passphrase:
        try:
            sealed = transport.encrypt(packed, recipients=args.age_recipient, passphrase=passphrase)
        finally:
            packed.unlink()
        packed = sealed
    console.result({"file": str(packed), "bytes": packed.stat().st_size},
                   f"{packed} ({packed.stat().st_size} bytes)")
    return ExitStatus.OK


def _show(args: argparse.Namespace, console: Console) -> int:
    with ArchiveReader(args.archive) as archive:
        manifest = archive.manifest
    rows = [{"name": user.name, "folders": len(user.folders), "messages": user.messages, "bytes": user.bytes,
             "calendars": user.items("calendar", "tasks"), "contacts": user.items("contacts"),
             "status": "not verified"} for user in manifest.users]
    source = ", ".join(f"{key}={value}" for key, value in sorted(manifest.source.items())) or "unknown"
    text = (f"{args.archive}: format version {manifest.version}, written by {manifest.generator}\n"
            f"source: {source}; exported {manifest.started} to {manifest.finished}\n"
            f"{manifest.messages} messages, {manifest.bytes} bytes, {len(manifest.files)} files\n"
            + table(rows, USER_COLUMNS[:-1]))
    console.result(asdict(manifest) | {"files": len(manifest.files)}, text)
    return ExitStatus.OK
