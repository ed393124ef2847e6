"""The steps of a cutover, in order. Each one is shown before it runs, records itself in the state
file when it is done, and can be run again: DNS changes are computed from what the server holds now,
migration passes copy only what the target lacks, and a wait for the old TTL counts from when the TTL
was lowered, not from when the step was started again."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import dns.rdatatype

from provision.check import runner
from provision.check.model import Options, Status, Target
from provision.console import Console
from provision.cutover import dns as records
from provision.cutover.dns import Dns
from provision.cutover.state import STEPS, Cutover, Direction, Done, Pass, Rrset, Step, now, save
from provision.cutover.sync import Sides
from provision.errors import ProvisionError
from provision.migrate.report import RunReport

COUNTDOWN_EVERY = 30.0  # seconds between the lines of a countdown


@dataclass(frozen=True)
class Timing:
    """The knobs: production defaults, small in tests."""

    short_ttl: int = 300
    little: int = 100  # a pre-sync pass that copies at most this many messages ends the pre-sync
    quiet_passes: int = 3  # final delta: this many passes in a row copy nothing, then one more
    pass_interval: float = 60.0
    max_passes: int = 60  # per step: mail that never stops arriving fails the step instead of looping
    old_ttl: int = 3600  # the wait when the records are changed by hand (the old TTL is not read then)


DESCRIPTIONS = {
    Step.PREFLIGHT: "check the target, log in to every account, read the records to change (or print them)",
    Step.PRE_SYNC: "copy everything, then delta passes until one copies at most {little} messages",
    Step.TTL: "lower the TTL of MX, SPF and autoconfig to {short_ttl} s, then wait out the old TTL",
    Step.SWITCH: "point MX, SPF and autoconfig at the new side",
    Step.FINAL_DELTA: "delta passes every {pass_interval:g} s until {quiet_passes} in a row find nothing "
                      "new, then one more",
    Step.VERIFY: "a last pass: nothing missing at the target; the DNS serves the new records",
    Step.TTL_RESTORE: "put the TTLs back to normal",
}


class NeedsHands(ProvisionError):
    """A DNS change the user makes: the records are printed, the step waits for --changed-by-hand."""


@dataclass
class Cutting:
    """One run of the state machine: the state, both sides, the DNS and the records wanted."""

    directory: Path
    cutover: Cutover
    sides: Sides
    dns: Dns
    domains: tuple[str, ...]
    new: list[Rrset]  # the records at the new side, at their normal TTL
    timing: Timing
    console: Console
    check_target: Target | None  # None: no live check of the target (it is the provider)
    check_options: Options = field(default_factory=Options)
    check_skip: tuple[str, ...] = ()
    by_hand: bool = False  # the user changed the records the pending DNS step printed
    sleep: Callable[[float], None] = time.sleep

    def describe(self, step: Step) -> str:
        return DESCRIPTIONS[step].format(**vars(self.timing))

    def run(self, until: Step | None) -> list[Step]:
        """Run the pending steps up to until (all when None); the steps done this time."""
        ran = []
        for step in STEPS:
            if self.cutover.is_done(step):
                continue
            self.console.info(f"== {step}: {self.describe(step)}")
            started = now()
            summary = STEP_FUNCTIONS[step](self)
            self.cutover.done[step.value] = Done(started, now(), summary)
            save(self.directory, self.cutover)
            self.console.info(f"   {step} done: {summary}")
            ran.append(step)
            if step is until:
                break
        return ran

    def save(self) -> None:
        save(self.directory, self.cutover)

    def record(self, found: Pass) -> Pass:
        self.cutover.passes.append(found)
        self.save()
        self.console.info(f"   pass {len(self.cutover.passes)}: {found.copied} copied, "
                          f"{found.missing} missing"
                          + (f", {len(found.failed)} accounts failed" if found.failed else ""))
        if found.failed:
            raise ProvisionError(f"{len(found.failed)} account(s) failed: " + "; ".join(found.failed),
                                 "fix them and run the same command again: what was copied stays copied")
        return found

    def sync(self, step: Step, *, dry_run: bool = False) -> Pass:
        found, _ = self.sides.run(step.value, self.cutover.direction, self.console, dry_run=dry_run)
        return self.record(found)

    def change_dns(self, wanted: list[Rrset], what: str) -> str:
        if self.dns.server is None:
            if not self.by_hand:
                lines = "\n".join(f"  {line}" for line in records.zone_lines(wanted))
                self.console.result(None, f"change these records by hand ({what}):\n{lines}")
                raise NeedsHands(f"the DNS is changed by hand: {what}",
                                 "change the records shown, then run again with --changed-by-hand")
            self.by_hand = False  # it answers for this one change only
            return f"{what}: changed by hand"
        changes = self.dns.apply(wanted)
        for change in changes:
            self.console.detail(f"   {change.action.value} {change.name} "
                                f"{dns.rdatatype.to_text(change.rdtype)} ttl {change.ttl}")
        return f"{what}: {len(changes)} RRset(s) changed"

    def wait_old_ttl(self) -> None:
        assert self.cutover.ttl_lowered_at is not None
        until = self.cutover.ttl_lowered_at + self.cutover.old_ttl
        left = until - time.time()
        if left <= 0:
            return
        self.console.info(f"   waiting {left:.0f} s for the old TTL ({self.cutover.old_ttl} s) to run out, "
                          f"until {time.strftime('%H:%M:%S', time.gmtime(until))} UTC")
        while (left := until - time.time()) > 0:
            self.sleep(min(COUNTDOWN_EVERY, left))
            left = until - time.time()
            if left > 0:
                self.console.info(f"   {left:.0f} s left")


def preflight(cut: Cutting) -> str:
    said = []
    if cut.check_target is not None:
        selection = runner.Selection(("services", "host"), cut.check_skip)
        report = runner.run([cut.check_target], cut.check_options, selection)[0]
        bad = [check for check in report.checks if check.status is Status.CRIT]
        for check in bad:
            cut.console.warn(f"{check.id}: {check.message}")
        if bad:
            raise ProvisionError(f"provision check of the target: {len(bad)} CRIT",
                                 "fix them (or leave them out with --check-skip) and run again")
        said.append(f"check: {report.count(Status.OK)} OK, {report.count(Status.WARN)} WARN")
    found = cut.sync(Step.PREFLIGHT, dry_run=True)  # logs in to both sides of every account
    said.append(f"{len(cut.sides.accounts())} accounts log in, {found.copied} messages to copy")
    if cut.dns.server is None:
        lines = "\n".join(f"  {line}" for line in records.zone_lines(cut.new))
        cut.console.result(None, f"the DNS is changed by hand; at the switch the records become:\n{lines}")
        cut.cutover.old_ttl = cut.timing.old_ttl
        said.append("DNS by hand")
    else:
        if cut.cutover.old is None:  # taken once: a later run must not take records the cutover changed
            cut.cutover.old = cut.dns.capture(cut.domains)
            cut.cutover.old_ttl = max((rrset.ttl for rrset in cut.cutover.old), default=0)
            cut.save()
        cut.dns.may_update()
        said.append(f"DNS by RFC 2136 at {cut.dns.server.address}, old TTL {cut.cutover.old_ttl} s")
    return "; ".join(said)


def pre_sync(cut: Cutting) -> str:
    for number in range(1, cut.timing.max_passes + 1):
        found = cut.sync(Step.PRE_SYNC)
        if found.copied <= cut.timing.little:
            return f"{number} pass(es), the last copied {found.copied}"
    raise ProvisionError(f"{cut.timing.max_passes} passes each copied more than {cut.timing.little} messages",
                         "run again; raise --little if the source is always this busy")


def lower_ttl(cut: Cutting) -> str:
    said = "nothing to lower"
    if cut.cutover.ttl_lowered_at is None:
        if cut.dns.server is None:
            said = cut.change_dns([Rrset(name, kind, cut.timing.short_ttl, ["(the present values)"])
                                   for name, kind in records.names(cut.domains)], "lower the TTLs")
        else:
            assert cut.cutover.old is not None
            said = cut.change_dns(records.lowered(cut.cutover.old, cut.timing.short_ttl), "TTLs lowered")
        cut.cutover.ttl_lowered_at = time.time()
        cut.save()
    cut.wait_old_ttl()
    return f"{said}; waited out the old TTL of {cut.cutover.old_ttl} s"


def switch(cut: Cutting) -> str:
    return cut.change_dns(records.with_ttl(cut.new, cut.timing.short_ttl), f"switched to the {_side(cut)}")


def final_delta(cut: Cutting) -> str:
    quiet = 0
    for number in range(1, cut.timing.max_passes + 1):
        found = cut.sync(Step.FINAL_DELTA)
        quiet = quiet + 1 if found.copied == 0 else 0
        if quiet == cut.timing.quiet_passes:
            last = cut.sync(Step.FINAL_DELTA)
            return f"{number + 1} passes; {quiet} in a row found nothing new, the last copied {last.copied}"
        cut.sleep(cut.timing.pass_interval)
    raise ProvisionError(f"mail still arrives at the old side after {cut.timing.max_passes} passes",
                         "check that the old MX is gone from the DNS, then run again")


def verify(cut: Cutting) -> str:
    found = cut.sync(Step.VERIFY)
    if found.missing:
        raise ProvisionError(f"{found.missing} messages or scripts are missing at the target",
                             "run again; `provision migrate` with --report names each of them")
    said = [f"nothing missing ({found.copied} copied in the last pass)"]
    if cut.dns.server is not None:
        served = {(rrset.name, rrset.type): rrset.values for rrset in cut.dns.capture(cut.domains)}
        wrong = [f"{rrset.name} {rrset.type}" for rrset in cut.new
                 if sorted(served.get((rrset.name, rrset.type), [])) != sorted(rrset.values)]
        if wrong:
            raise ProvisionError(f"the DNS does not serve the new records at {', '.join(wrong)}",
                                 "someone changed them: run again from the switch with `provision cutover "
                                 "rollback` or fix them by hand")
        said.append("the DNS serves the new records")
    if cut.check_target is not None:
        report = runner.run([cut.check_target], cut.check_options, runner.Selection(("dns.mx",)))[0]
        bad = [check for check in report.checks if check.status is Status.CRIT]
        if bad:
            raise ProvisionError("provision check: " + "; ".join(check.message for check in bad))
        said.append(f"check dns.mx: {report.status}")
    return "; ".join(said)


def restore_ttl(cut: Cutting) -> str:
    return cut.change_dns(cut.new, "TTLs back to normal")


def _side(cut: Cutting) -> str:
    return "new server" if cut.cutover.direction is Direction.TO_SERVER else "provider"


STEP_FUNCTIONS: dict[Step, Callable[[Cutting], str]] = {
    Step.PREFLIGHT: preflight, Step.PRE_SYNC: pre_sync, Step.TTL: lower_ttl, Step.SWITCH: switch,
    Step.FINAL_DELTA: final_delta, Step.VERIFY: verify, Step.TTL_RESTORE: restore_ttl,
}


def rollback(cut: Cutting) -> tuple[str, RunReport | None]:
    """The old records back, and what reached the new side meanwhile (the messages it holds that the old
    side lacks, counted by a dry run of the opposite move)."""
    if cut.cutover.is_done(Step.TTL_RESTORE):
        raise ProvisionError("the cutover is finished: there is nothing to roll back",
                             "to move back, run a cutover in the other direction")
    said = "the DNS was not changed yet"
    if cut.cutover.ttl_lowered_at is not None:
        if cut.dns.server is None:
            said = cut.change_dns([Rrset(name, kind, cut.cutover.old_ttl, ["(the values before the cutover)"])
                                   for name, kind in records.names(cut.domains)], "the old records back")
        else:
            assert cut.cutover.old is not None
            said = cut.change_dns(cut.cutover.old, "the old records back")
    arrived = None
    if cut.cutover.is_done(Step.SWITCH):
        back = Direction.TO_PROVIDER if cut.cutover.direction is Direction.TO_SERVER else Direction.TO_SERVER
        found, arrived = cut.sides.run("rollback", back, cut.console, dry_run=True)
        cut.cutover.passes.append(found)
    cut.cutover.rolled_back = now()
    cut.save()
    return said, arrived
