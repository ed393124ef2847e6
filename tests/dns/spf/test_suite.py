"""check_host() against the OpenSPF RFC 7208 suite, each scenario's zone data served by Knot DNS."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from provision.dns.spf import check_host
from tests.dns.spf.openspf import Case, Scenario, load_suite, suite_path, zones
from tests.dnsserver import AuthoritativeServer

SUITE = suite_path()
CASES = load_suite(SUITE) if SUITE.is_file() else []
# Without the file, one failing test stands in for the suite's tests: a missing suite must not pass.
PARAMETERS = [pytest.param(case, id=case.id) for case in CASES] or [pytest.param(None, id="suite-missing")]


@pytest.fixture(scope="module")
def serve(dns_server: AuthoritativeServer) -> Callable[[Scenario], AuthoritativeServer]:
    """Load a scenario's zones into Knot, only when the previous test used another scenario."""
    current: list[Scenario] = []

    def load(scenario: Scenario) -> AuthoritativeServer:
        if current != [scenario]:
            served, silent = zones(scenario.zonedata)
            dns_server.load(served, unanswered=silent)
            current[:] = [scenario]
        dns_server.wait_idle()
        return dns_server

    return load


def test_suite_is_present() -> None:
    # The suite must be there: a missing file is a failure, never a silent skip.
    assert SUITE.is_file(), f"{SUITE} is missing (run ./install.sh --tests)"
    assert len(CASES) == 203


@pytest.mark.parametrize("case", PARAMETERS)
def test_openspf(case: Case | None, serve: Callable[[Scenario], AuthoritativeServer]) -> None:
    if case is None:
        pytest.fail(f"{SUITE} is missing")
    server = serve(case.scenario)
    if case.mailfrom:
        domain, sender = case.mailfrom.rpartition("@")[2], case.mailfrom
    else:  # no MAIL FROM: the HELO identity is checked, as postmaster@helo (RFC 7208 §2.3)
        domain, sender = case.helo, f"postmaster@{case.helo}"
    outcome = check_host(case.host, domain, sender, helo=case.helo, resolver=server.resolver())
    assert outcome.result in case.results, outcome.reason
    if case.explanation is not None:
        assert outcome.explanation == ("" if case.explanation == "DEFAULT" else case.explanation)
