"""Run the selected checks for many targets at once, each check module with a time limit."""

from __future__ import annotations

import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from provision.check.areas import AREAS, all_ids
from provision.check.context import CheckModule, Context, Shared, Unanswered, make_resolver
from provision.check.model import Check, Options, Status, Target, worst
from provision.errors import UsageError

WORKERS = 32
POLL_SECONDS = 0.05


@dataclass(frozen=True)
class Selection:
    """--only and --skip: area names, check ids or id prefixes such as dns.spf."""

    only: tuple[str, ...] = ()
    skip: tuple[str, ...] = ()

    def validate(self) -> None:
        known = all_ids()
        for selector in (*self.only, *self.skip):
            if not any(_covers(selector, check_id) for check_id in known):
                raise UsageError(f"no check or area {selector!r}",
                                 f"areas: {', '.join(AREAS)}; checks: {', '.join(known)}")

    def wants(self, check_id: str) -> bool:
        return (not self.only or any(_covers(selector, check_id) for selector in self.only)) and not any(
            _covers(selector, check_id) for selector in self.skip)


def _covers(selector: str, check_id: str) -> bool:
    return check_id == selector or check_id.startswith(selector + ".")


@dataclass
class TargetReport:
    target: str
    checks: list[Check] = field(default_factory=list)
    domains: tuple[str, ...] = ()  # the mail domains, primary first: what customers call it

    @property
    def status(self) -> Status:
        return worst([check.status for check in self.checks])

    def count(self, status: Status) -> int:
        return sum(check.status is status for check in self.checks)


@dataclass(frozen=True)
class _Job:
    target: int
    module: CheckModule
    domain: str


def run(targets: list[Target], options: Options, selection: Selection) -> list[TargetReport]:
    """Every selected check for every target, run concurrently; results in a stable order."""
    modules = [module for modules in AREAS.values() for module in modules
               if any(selection.wants(check_id) for check_id in module.ids)]
    shared = Shared()
    contexts = [Context(target, options, make_resolver(options), shared) for target in targets]
    jobs = [_Job(number, module, domain) for number, target in enumerate(targets) for module in modules
            for domain in (target.domains if module.per_domain else ("",))]
    results = _run_jobs(jobs, contexts, options.check_timeout)
    reports = [TargetReport(target.name, domains=target.domains) for target in targets]
    for number, job in enumerate(jobs):
        reports[job.target].checks += [check for check in results[number] if selection.wants(check.id)]
    return reports


def _run_jobs(jobs: list[_Job], contexts: list[Context], limit: float) -> dict[int, list[Check]]:
    started: dict[int, float] = {}
    results: dict[int, list[Check]] = {}
    # Threads cannot be killed: a job over its limit is reported and left to end at its own
    # network timeouts, so the pool is not waited for.
    pool = ThreadPoolExecutor(max_workers=WORKERS)
    futures: dict[Future[list[Check]], int] = {
        pool.submit(_run_job, job, contexts[job.target], started, number): number
        for number, job in enumerate(jobs)
    }
    pending = set(futures)
    try:
        while pending:
            done, pending = wait(pending, timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
            for future in done:
                results[futures[future]] = future.result()
            now = time.monotonic()
            for future in list(pending):
                number = futures[future]
                if number in started and now - started[number] > limit:
                    pending.discard(future)
                    results[number] = [_unknown(jobs[number], f"did not finish within {limit:g} s")]
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return results


def _run_job(job: _Job, context: Context, started: dict[int, float], number: int) -> list[Check]:
    started[number] = time.monotonic()
    try:
        return job.module.run(context, job.domain)
    except Unanswered as error:
        return [_unknown(job, str(error))]
    except Exception as error:  # a bug or an unforeseen answer must not hide the other results
        return [_unknown(job, f"the check failed: {type(error).__name__}: {error}")]


def _unknown(job: _Job, reason: str) -> Check:
    area = job.module.prefix.split(".")[0]
    subject = f"{job.domain}: " if job.domain else ""
    return Check(job.module.ids[0], area, Status.UNKNOWN, f"{subject}{reason}",
                 "check the DNS servers and the network, then run the check again")
