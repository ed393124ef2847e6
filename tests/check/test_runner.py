"""The runner and the model without DNS: failing checks, ordering of statuses, selection."""

from __future__ import annotations

import pytest

from provision.check import report, runner
from provision.check.context import CheckModule, Context
from provision.check.model import Check, Options, Status, Target, worst
from provision.errors import UsageError


def _boom(context: Context, domain: str) -> list[Check]:
    raise RuntimeError(f"cannot parse the answer for {domain}")


def test_a_check_that_raises_is_unknown_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner, "AREAS", {"dns": (CheckModule("dns.boom", ("dns.boom.one",), _boom),)})
    reports = runner.run([Target("a.test", ("a.test",))], Options(), runner.Selection())
    [check] = reports[0].checks
    assert (check.id, check.status) == ("dns.boom.one", Status.UNKNOWN)
    assert check.message == "a.test: the check failed: RuntimeError: cannot parse the answer for a.test"


def test_statuses_order_as_monitoring_does() -> None:
    assert worst([Status.OK, Status.WARN, Status.UNKNOWN]) is Status.UNKNOWN
    assert worst([Status.UNKNOWN, Status.CRIT]) is Status.CRIT
    assert worst([]) is Status.OK
    assert [status.nagios_code for status in Status] == [0, 1, 2, 3]


def test_selection_names_unknown_checks_as_bad_usage() -> None:
    with pytest.raises(UsageError):
        runner.Selection(only=("dns.sp",)).validate()  # a prefix must end at a dot
    selection = runner.Selection(only=("dns",), skip=("dns.spf.pass",))
    selection.validate()
    assert selection.wants("dns.spf.all") and not selection.wants("dns.spf.pass")


def test_nagios_without_problems() -> None:
    ok = runner.TargetReport("a.test", [Check("dns.mx.present", "dns", Status.OK, "a.test: MX mail.a.test")])
    assert report.nagios([ok]) == ("MAIL OK - 0 CRIT, 0 UNKNOWN, 0 WARN, 1 OK | ok=1;;;0 warn=0;;;0 "
                                   "unknown=0;;;0 crit=0;;;0", 0)
