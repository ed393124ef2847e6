"""The migration passes of a cutover, through provision.migrate's jobs and runner (the same copy,
identity and verification as `provision migrate`): a pass copies what the target lacks and reports
what is missing there."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from provision.console import Console
from provision.cutover.state import Direction, Pass, now
from provision.migrate.command import mail_sink, mail_source, sieve_openers
from provision.migrate.endpoints import Account, MailEndpoint, Tls, inventory_endpoint, read_accounts
from provision.migrate.report import RunReport
from provision.migrate.runner import Job, run
from provision.migrate.secrets import SecretOptions
from provision.migrate.state import State

NO_SECRETS = SecretOptions(None, False, None)  # every account names its own files in ACCOUNTS


@dataclass(frozen=True)
class Sides:
    """Both sides of a move: the provider's accounts (ACCOUNTS) and the inventory's server."""

    accounts_file: Path
    inventory: Path
    tls: Tls
    state: Path  # migrate's own state (which bytes sit behind which UID), shared with `provision migrate`
    workers: int

    def accounts(self) -> list[Account]:
        return read_accounts(self.accounts_file)

    def jobs(self, direction: Direction) -> tuple[str, str, list[Job]]:
        """(source, target, jobs) for a pass in this direction."""
        state = State(self.state)
        server = MailEndpoint(self.tls, NO_SECRETS, mailboxes=inventory_endpoint(str(self.inventory)))
        jobs = []
        for account in self.accounts():
            provider = MailEndpoint(self.tls, NO_SECRETS, account.url)
            if direction is Direction.TO_SERVER:
                source, target, moved = provider, server, account
            else:  # the same rows read backwards: our address is the source, the provider's the target
                source, target = server, provider
                moved = Account(account.target_user, account.source_user, None, account.target_password_file,
                                None, account.password_file)
            jobs.append(Job(moved.source_user, moved.target_user, mail_source(source, moved, state),
                            mail_sink(target, moved, state), None, sieve_openers(source, target, moved)))
        server_label, provider_label = str(self.inventory), str(self.accounts_file)
        if direction is Direction.TO_SERVER:
            return provider_label, server_label, jobs
        return server_label, provider_label, jobs

    def run(self, step: str, direction: Direction, console: Console, *, dry_run: bool = False
            ) -> tuple[Pass, RunReport]:
        source, target, jobs = self.jobs(direction)
        started, clock = now(), time.monotonic()
        report = run("cutover", source, target, jobs, console, dry_run=dry_run, workers=self.workers)
        copied = sum(user.total("copied") for user in report.users)
        missing = sum(user.missing for user in report.users)
        failed = [f"{user.user}: {user.error}" for user in report.users if user.error]
        return Pass(step, started, round(time.monotonic() - clock, 1), copied, missing, failed), report
