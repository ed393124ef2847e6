"""The export, import and migrate commands: their shared options, how arguments become jobs, and how
the result is shown (table, --json, --report FILE) and turned into an exit status."""

from __future__ import annotations

import argparse
import functools
import threading
from collections.abc import Callable
from pathlib import Path

from provision import files
from provision.archive import ArchiveError
from provision.archive.reader import ArchiveReader
from provision.archive.verify import verify
from provision.archive.writer import ArchiveWriter
from provision.commands import arguments
from provision.console import Console
from provision.errors import ExitStatus, ProvisionError, UsageError
from provision.migrate import davsides, directory, sieve
from provision.migrate import report as reports
from provision.migrate.dav import parse_url as parse_dav_url
from provision.migrate.dav_collections import ArchiveWriterCollections, CollectionSide, NoCollections, NoMail
from provision.migrate.davsides import CollectionEndpoint
from provision.migrate.endpoints import (
    Account,
    MailEndpoint,
    Tls,
    inventory_endpoint,
    kind_of,
    parse_maps,
    parse_url,
    read_accounts,
    select,
)
from provision.migrate.imap import Throttle
from provision.migrate.local import LocalMail, refuse_links
from provision.migrate.runner import Job, run
from provision.migrate.secrets import SecretOptions
from provision.migrate.sinks import ArchiveSink, ImapSink, NullSink, Sink
from provision.migrate.sources import ArchiveSource, ImapSource, Source
from provision.migrate.state import State, default_path

SOURCE_HELP = ("imaps://USER@HOST[:PORT], an accounts file (.csv or .yaml: source, target, password_file, "
               "oauth2_token_file, target_password_file), a customer inventory directory (our server, "
               "mailboxes reached with doveadm over SSH, calendars in Radicale's storage), "
               "https://USER@HOST[:PORT][/PATH] (a CalDAV/CardDAV account), or a Google Takeout folder, "
               "mbox or Maildir (with --users ADDRESS)")
TARGET_HELP = ("imaps://[USER@]HOST[:PORT], https://USER@HOST[:PORT][/PATH] (CalDAV/CardDAV) or a customer "
               "inventory directory")


def add_common(parser: argparse.ArgumentParser, secrets_for: str) -> None:
    parser.add_argument("--dry-run", action="store_true",
                        help="log in, list and count everything, print the plan and an estimate; "
                             "change nothing")
    parser.add_argument("--users", action="append", default=[], metavar="USER[,USER...]",
                        help="only these source accounts (repeatable)")
    parser.add_argument("--map", action="append", default=[], metavar="OLD=NEW",
                        help="move account OLD to address NEW at the target (repeatable)")
    parser.add_argument("--workers", type=arguments.count(minimum=1), default=4, metavar="N",
                        help="users moved at once (default 4)")
    parser.add_argument("--ca-file", metavar="FILE", help="also trust this CA (PEM) for IMAP servers")
    parser.add_argument("--insecure", action="store_true",
                        help="do not verify IMAP servers' certificates (never over the Internet)")
    secret = parser.add_mutually_exclusive_group()
    secret.add_argument("--password-file", metavar="FILE", help=f"password of the {secrets_for} account")
    secret.add_argument("--password-stdin", action="store_true",
                        help=f"read the {secrets_for} account's password from stdin")
    secret.add_argument("--oauth2-token-file", metavar="FILE",
                        help=f"OAuth2 access token for the {secrets_for} account (XOAUTH2); re-read at "
                             "every login, so a renewed token is picked up")
    parser.add_argument("--state", metavar="FILE", type=Path, default=None,
                        help=f"what earlier runs saw (default {default_path()})")
    parser.add_argument("--report", metavar="FILE.html|FILE.md", type=Path,
                        help="also write the verification report for the customer")
    directory.add_options(parser)


def add_target_secrets(parser: argparse.ArgumentParser) -> None:
    secret = parser.add_mutually_exclusive_group()
    secret.add_argument("--target-password-file", metavar="FILE", help="password of the target account")
    secret.add_argument("--target-oauth2-token-file", metavar="FILE",
                        help="OAuth2 token of the target account")


def _users(args: argparse.Namespace) -> list[str]:
    return [user for item in args.users for user in item.split(",") if user]


def _tls(args: argparse.Namespace) -> Tls:
    if args.ca_file and not Path(args.ca_file).is_file():
        raise UsageError(f"--ca-file {args.ca_file}: no such file")
    return Tls(args.ca_file, args.insecure)


def _secrets(args: argparse.Namespace) -> SecretOptions:
    return SecretOptions(args.password_file, args.password_stdin, args.oauth2_token_file)


def source_accounts(spec: str, args: argparse.Namespace) -> tuple[list[Account], MailEndpoint]:
    """The accounts SOURCE names (after --users and --map) and how to open them."""
    kind, maps, users = kind_of(spec), parse_maps(args.map), _users(args)
    if kind == "imap":
        url = parse_url(spec)
        if not url.user:
            raise UsageError(f"{spec}: name the account (imaps://USER@HOST) or give an accounts file")
        accounts = [Account(url.user, url.user, url)]
        endpoint = MailEndpoint(_tls(args), _secrets(args), url)
    elif kind == "accounts":
        accounts = read_accounts(Path(spec))
        endpoint = MailEndpoint(_tls(args), _secrets(args))
    elif kind == "dav":
        url = parse_dav_url(spec)
        if not url.user:
            raise UsageError(f"{spec}: name the account (https://USER@HOST/)")
        accounts = [Account(url.user, url.user)]
        endpoint = MailEndpoint(_tls(args), _secrets(args))  # no mail: only calendars and contacts
    elif kind == "local":
        if len(users) != 1:
            raise UsageError(f"{spec}: say whose mail it is with --users ADDRESS (one)")
        refuse_links(Path(spec))
        accounts = [Account(users[0], users[0])]
        endpoint = MailEndpoint(_tls(args), _secrets(args), local=Path(spec))
    elif kind == "inventory":
        if not users:
            raise UsageError("name the mailboxes to take from our server with --users")
        accounts = [Account(user, user) for user in users]
        endpoint = MailEndpoint(_tls(args), _secrets(args), mailboxes=inventory_endpoint(spec))
    else:
        raise UsageError(f"{spec} is an archive: use `provision import` to load it into a server")
    accounts = select(accounts, users)
    return [Account(a.source_user, maps.get(a.source_user, a.target_user), a.url, a.password_file,
                    a.token_file, a.target_password_file) for a in accounts], endpoint


def target_endpoint(spec: str, args: argparse.Namespace, secrets: SecretOptions
                    ) -> tuple[MailEndpoint, str | None]:
    """How to open target accounts, and the single account a URL with a user names."""
    kind = kind_of(spec)
    if kind == "imap":
        url = parse_url(spec)
        return MailEndpoint(_tls(args), secrets, url), url.user
    if kind == "dav":
        return MailEndpoint(_tls(args), secrets), parse_dav_url(spec).user
    if kind == "inventory":
        return MailEndpoint(_tls(args), secrets, mailboxes=inventory_endpoint(spec)), None
    raise UsageError(f"{spec}: the target must be an imaps:// or https:// URL or an inventory directory")


def _single_target(accounts: list[Account], named: str | None, maps: dict[str, str]) -> list[Account]:
    if named is None:
        return accounts
    if len(accounts) != 1:
        raise UsageError("the target URL names one account, the source has several",
                         "name only the target server (imaps://HOST) and map addresses in the accounts file")
    account = accounts[0]
    target = maps.get(account.source_user, named)
    return [Account(account.source_user, target, account.url, account.password_file, account.token_file,
                    account.target_password_file)]


def _state(args: argparse.Namespace) -> State:
    return State(files.not_a_link(args.state or default_path()))


Command = Callable[[argparse.Namespace, Console], int]


def _reporting(command: Command) -> Command:
    """--report FILE opened before the command makes or copies anything: a bad name (a missing
    directory, a link) fails first, not after the work."""
    @functools.wraps(command)
    def run(args: argparse.Namespace, console: Console) -> int:
        if not args.report:
            args.report_out = None
            return command(args, console)
        with files.Output(args.report, secret=False, replace=True) as args.report_out:
            return command(args, console)
    return run


@_reporting
def migrate(args: argparse.Namespace, console: Console) -> int:
    accounts, source = source_accounts(args.source, args)
    target_secrets = SecretOptions(args.target_password_file, False, args.target_oauth2_token_file)
    target, named = target_endpoint(args.target, args, target_secrets)
    accounts = _single_target(accounts, named, parse_maps(args.map))
    state = _state(args)
    directory.move(args, console, args.source, args.target)
    mail = "dav" not in (kind_of(args.source), kind_of(args.target))
    source_sides = _collection_endpoint(args.source, args, _secrets(args), False)
    target_sides = _collection_endpoint(args.target, args, target_secrets, True)
    jobs = [Job(account.source_user, account.target_user,
                mail_source(source, account, state) if mail else _no_mail(account),
                mail_sink(target, account, state) if mail else (lambda _: NullSink()),
                _pair(source_sides, target_sides, account),
                sieve_openers(source, target, account) if mail else None) for account in accounts]
    try:
        return _finish("migrate", args, console, jobs)
    finally:
        for sides in (source_sides, target_sides):
            if sides is not None:
                sides.close()


@_reporting
def export(args: argparse.Namespace, console: Console) -> int:
    accounts, source = source_accounts(args.source, args)
    state = _state(args)
    writer: ArchiveWriter | None = None
    if not args.dry_run:
        kind = args.source if kind_of(args.source) != "imap" else parse_url(args.source).server
        writer = ArchiveWriter(files.not_a_link(Path(args.output)),
                               {"kind": kind_of(args.source), "from": kind})
        if writer.resumed:
            console.info(f"resuming the unfinished export in {args.output}")
        directory.export(args, console, args.source, writer)
    lock = threading.Lock()

    def sink_for(account: Account) -> Callable[[Throttle], Sink]:
        def make(_: Throttle) -> Sink:
            if writer is None:
                return NullSink()
            with lock:  # the archive index is shared by the workers
                user = writer.user(account.target_user)
            return ArchiveSink(user, f"{account.target_user} in {args.output}")
        return make

    def scripts_for(user: str) -> sieve.SieveSide:
        if writer is None:
            return sieve.NoScripts()
        with lock:
            return sieve.ArchiveWriterScripts(writer.user(user), f"{user} in {args.output}")

    def collections_for(user: str) -> CollectionSide:
        if writer is None:
            return NoCollections()
        with lock:
            return ArchiveWriterCollections(writer.user(user), f"{user} in {args.output}")

    source_sides = _collection_endpoint(args.source, args, _secrets(args), False)
    mail = kind_of(args.source) != "dav"
    jobs = [Job(account.source_user, account.target_user,
                mail_source(source, account, state) if mail else _no_mail(account), sink_for(account),
                None if source_sides is None else davsides.pair(
                    source_sides, collections_for, account.source_user, account.target_user,
                    account.password_file),
                (functools.partial(source.sieve, account.source_user, account.url, account.password_file,
                                   account.token_file), functools.partial(scripts_for, account.target_user))
                if mail else None) for account in accounts]
    try:
        return _finish("export", args, console, jobs,
                       after=lambda report: _close_archive(writer, report, console))
    finally:
        if source_sides is not None:
            source_sides.close()


def _close_archive(writer: ArchiveWriter | None, report: reports.RunReport, console: Console) -> None:
    if writer is None:
        return
    if report.complete:
        manifest = writer.finish()
        console.info(f"archive finished: {manifest.messages} messages, {manifest.bytes} bytes, "
                     f"{len(manifest.files)} files")
    else:
        writer.close()
        console.warn("the archive is not finished: run the same command again to complete it")


@_reporting
def import_(args: argparse.Namespace, console: Console) -> int:
    archive = Path(args.archive)
    checked = verify(archive)  # before the target is touched: a damaged archive imports nothing
    if not checked.sound:
        lines = [problem.line() for problem in checked.problems[:20]]
        raise ArchiveDamaged(f"{archive} is damaged ({len(checked.problems)} problems); nothing was imported",
                             lines)
    reader = ArchiveReader(archive)
    names = [user.name for user in reader.users]
    reader.close()
    users, maps = _users(args), parse_maps(args.map)
    unknown = set(users) - set(names)
    if unknown:
        raise UsageError(f"the archive has no users {', '.join(sorted(unknown))}")
    accounts = [Account(name, maps.get(name, name)) for name in names if not users or name in users]
    target, named = target_endpoint(args.target, args, _secrets(args))
    accounts = _single_target(accounts, named, maps)
    state = _state(args)

    def source_for(account: Account) -> Callable[[Throttle], Source]:
        def make(_: Throttle) -> Source:
            reader = ArchiveReader(archive)  # one per worker: a tar file is not shared between threads
            return ArchiveSource(reader, reader.user(account.source_user))
        return make

    def scripts_of(account: Account) -> tuple[sieve.Opener, sieve.Opener]:
        def source_scripts() -> sieve.SieveSide:
            reader = ArchiveReader(archive)
            return sieve.ArchiveScripts(reader, reader.user(account.source_user))
        return source_scripts, functools.partial(target.sieve, account.target_user,
                                                 password_file=account.target_password_file)

    directory.move(args, console, str(archive), args.target)
    mail = kind_of(args.target) != "dav"
    target_sides = _collection_endpoint(args.target, args, _secrets(args), True)
    jobs = [Job(account.source_user, account.target_user, source_for(account) if mail else _no_mail(account),
                mail_sink(target, account, state) if mail else (lambda _: NullSink()),
                _pair(davsides.archive(archive), target_sides, account),
                scripts_of(account) if mail else None) for account in accounts]
    try:
        return _finish("import", args, console, jobs, source_label=str(archive))
    finally:
        if target_sides is not None:
            target_sides.close()


class ArchiveDamaged(ProvisionError):
    def __init__(self, message: str, problems: list[str]):
        super().__init__(message, "get an intact copy of the archive; `provision archive verify` lists "
                                  "every problem")
        self.problems = problems

    def lines(self) -> list[str]:
        return [*self.problems, *super().lines()]


def _collection_endpoint(spec: str, args: argparse.Namespace, secrets: SecretOptions, target: bool
                         ) -> CollectionEndpoint | None:
    """Calendars and contacts: a DAV account or our server's Radicale; None where there are none."""
    kind = kind_of(spec)
    if kind == "dav":
        return davsides.dav(spec, _tls(args).ca_file, args.insecure, secrets)
    if kind == "inventory":
        return davsides.inventory(spec, target)
    if kind == "local" and not target:
        return davsides.local(Path(spec))
    return None


def _pair(source: CollectionEndpoint | None, target: CollectionEndpoint | None, account: Account
          ) -> Callable[[], tuple[CollectionSide, CollectionSide]] | None:
    if source is None or target is None:
        return None
    return davsides.pair(source, lambda user: target.open(user, account.target_password_file),
                         account.source_user, account.target_user, account.password_file)


def sieve_openers(source: MailEndpoint, target: MailEndpoint, account: Account
           ) -> tuple[sieve.Opener, sieve.Opener]:
    return (functools.partial(source.sieve, account.source_user, account.url, account.password_file,
                              account.token_file),
            functools.partial(target.sieve, account.target_user, password_file=account.target_password_file))


def _no_mail(account: Account) -> Callable[[Throttle], Source]:
    return lambda _: NoMail(account.source_user)


def mail_source(endpoint: MailEndpoint, account: Account, state: State) -> Callable[[Throttle], Source]:
    if endpoint.local is not None:
        local = endpoint.local
        return lambda _: LocalMail(local, account.source_user)

    def make(throttle: Throttle) -> Source:
        return ImapSource(endpoint.account(account.source_user, throttle, account.url, account.password_file,
                                           account.token_file), state)
    return make


def mail_sink(endpoint: MailEndpoint, account: Account, state: State) -> Callable[[Throttle], Sink]:
    def make(throttle: Throttle) -> Sink:
        return ImapSink(endpoint.account(account.target_user, throttle,
                                         password_file=account.target_password_file), state)
    return make


def _finish(command: str, args: argparse.Namespace, console: Console, jobs: list[Job],
            after: Callable[[reports.RunReport], None] | None = None, source_label: str | None = None) -> int:
    if not jobs:
        raise UsageError("no accounts to move")
    target = getattr(args, "output", None) or getattr(args, "target", "")
    try:
        report = run(command, source_label or args.source, target, jobs, console, dry_run=args.dry_run,
                     workers=args.workers)
    except ArchiveError as bad:
        raise ProvisionError(str(bad)) from None
    if after is not None:
        after(report)
    console.result(report.data(), reports.text(report))
    if args.report_out:
        reports.write(report, args.report_out)
        console.info(f"report written to {args.report}")
    if args.dry_run:
        return ExitStatus.OK if not any(user.error for user in report.users) else ExitStatus.FAILURE
    return ExitStatus.OK if report.complete else ExitStatus.FAILURE
