"""`provision check` end to end: exit statuses, --json, --nagios, reports, selection, many targets."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.check.conftest import Run, settle
from tests.check.zones import SILENT
from tests.dnsserver import AuthoritativeServer

Cli = Callable[..., Run]
# The CLI fetches MTA-STS policies from port 443, which these tests do not serve; the zones' mail
# servers do not exist, so the services area (tested against a sandbox elsewhere) is left out too.
NO_HTTPS = ("--skip", "dns.mta_sts,services")


def test_all_ok_exits_0(cli: Cli) -> None:
    done = cli("good.test", *NO_HTTPS)
    assert done.status == 0, done.out
    assert done.out.splitlines()[1].split()[:2] == ["good.test", "OK"]
    assert "[dns]" in done.out


def test_a_problem_exits_1_and_shows_the_fix(cli: Cli) -> None:
    done = cli("nomx.test", *NO_HTTPS)
    assert done.status == 1
    assert "CRIT    dns.mx.present" in done.out
    assert "fix: publish `nomx.test. 3600 IN MX 10 mail.nomx.test.`" in done.out


@pytest.mark.parametrize("args", [
    ("not a domain",), ("good.test", "--only", "dns.nothing"), ("good.test", "--skip", "nothing"),
    ("good.test", "--report", "x.txt"), ("good.test", "--json", "--nagios"),
    ("good.test", "--nameserver", "localhost"), ("good.test", "--ip", "mail.good.test"),
    ("good.test", "--report", "/nonexistent/x.md"), ("good.test", "--ca-file", "/etc/hostname"),
])
def test_bad_usage_exits_2(cli: Cli, args: tuple[str, ...]) -> None:
    done = cli(*args)
    assert done.status == 2
    assert "provision: " in done.err
    assert "Traceback" not in done.err


def test_json_has_exactly_the_documented_shape(cli: Cli) -> None:
    done = cli("--json", "good.test", "nomx.test", *NO_HTTPS)
    document = json.loads(done.out)
    assert list(document) == ["targets"]
    assert [target["target"] for target in document["targets"]] == ["good.test", "nomx.test"]
    for target in document["targets"]:
        assert set(target) == {"target", "checks"}
        for check in target["checks"]:
            assert set(check) == {"id", "area", "status", "message", "fix"}
            assert check["area"] == "dns" and check["status"] in ("OK", "WARN", "CRIT", "UNKNOWN")
    first = document["targets"][1]["checks"][0]
    assert (first["id"], first["status"]) == ("dns.mx.present", "CRIT")


@pytest.mark.parametrize(("args", "code", "word"), [
    (("good.test", *NO_HTTPS), 0, "OK"),
    (("dmarcnone.test", "--only", "dns.dmarc"), 1, "WARNING"),
    (("nomx.test", "--only", "dns.mx"), 2, "CRITICAL"),
    (("broken.test", "--only", "dns.mx"), 3, "UNKNOWN"),
])
def test_nagios_line_and_exit_codes(cli: Cli, args: tuple[str, ...], code: int, word: str) -> None:
    done = cli("--nagios", *args)
    assert done.status == code
    assert len(done.out.splitlines()) == 1
    assert re.fullmatch(rf"MAIL {word} - \d+ CRIT, \d+ UNKNOWN, \d+ WARN, \d+ OK(: [^|]+)? \| "
                        r"ok=\d+;;;0 warn=\d+;;;0 unknown=\d+;;;0 crit=\d+;;;0\n", done.out), done.out


@pytest.mark.parametrize("name", ["report.html", "report.md"])
def test_report_puts_the_summary_first_and_lists_the_fixes(cli: Cli, tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    done = cli("good.test", "spfmiss.test", "--report", str(path), *NO_HTTPS)
    assert done.status == 1
    written = path.read_text()
    assert written.index("Summary") < written.index("What to fix") < written.index("All checks")
    assert "spfmiss.test" in written and "dns.spf.pass" in written
    assert "ip4:192.0.2.10 -all" in written  # the fix
    if name.endswith(".html"):
        assert written.startswith("<!DOCTYPE html>")


def test_only_and_skip_take_check_ids_and_prefixes(cli: Cli) -> None:
    def ids(*args: str) -> list[str]:
        checks = json.loads(cli("--json", "good.test", *args).out)["targets"][0]["checks"]
        return [check["id"] for check in checks]

    assert set(ids("--only", "dns.spf")) == {"dns.spf.record", "dns.spf.limits", "dns.spf.all",
                                             "dns.spf.pass"}
    skipped = ids("--skip", "dns.spf,dns.mta_sts")
    assert skipped
    assert not [check_id for check_id in skipped if check_id.startswith(("dns.spf", "dns.mta_sts"))]
    assert ids("--only", "dns.mx.present") == ["dns.mx.present"]
    assert ids("--only", "dns.dnsbl", "--skip", "dns.dnsbl.domain") == ["dns.dnsbl.address"]


def test_ten_domains_at_once_one_summary_row_each(cli: Cli) -> None:
    domains = [f"g{number}.test" for number in range(10)]
    started = time.monotonic()
    done = cli(*domains, *NO_HTTPS)
    assert time.monotonic() - started < 10
    assert done.status == 0, done.out
    summary = done.out.split("\n\n")[0].splitlines()
    assert [row.split()[:2] for row in summary[1:]] == [[domain, "OK"] for domain in domains]


def test_unanswering_domains_are_checked_concurrently(cli: Cli, dns_server: AuthoritativeServer) -> None:
    started = time.monotonic()
    try:
        done = cli("--json", *SILENT, "--only", "dns.mx")
        elapsed = time.monotonic() - started
    finally:
        settle(dns_server)
    assert elapsed < 3  # one by one, each waiting 0.5 s, they would take 5 s
    assert done.status == 1
    for target in json.loads(done.out)["targets"]:
        assert {check["status"] for check in target["checks"]} == {"UNKNOWN"}


def _dkim_key(cli: Cli, *args: str) -> dict[str, str]:
    done = cli("--json", *args, "--only", "dns.dkim.key")
    return next(item for item in json.loads(done.out)["targets"][0]["checks"] if item["id"] == "dns.dkim.key")


def test_a_domain_without_a_known_selector_is_unknown_not_critical(cli: Cli) -> None:
    found = _dkim_key(cli, "nodkim.test")
    assert found["status"] == "UNKNOWN"
    assert "selector1" in found["message"] and "--dkim-selector" in found["fix"]
    assert _dkim_key(cli, "nodkim.test", "--dkim-selector", "mail")["status"] == "CRIT"


def test_the_common_selectors_are_tried(cli: Cli) -> None:
    found = _dkim_key(cli, "m365dkim.test")
    assert (found["status"], found["message"]) == ("OK", "m365dkim.test: DKIM key published at "
                                                   "selector1._domainkey.m365dkim.test")


def test_the_selectors_of_a_received_message_are_tried(cli: Cli, tmp_path: Path) -> None:
    message = tmp_path / "received.eml"
    message.write_bytes(b"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=rarekey.test;\r\n"
                        b"\ts=mx2024; h=from:to:subject; bh=AAAA; b=BBBB\r\n"
                        b"From: someone@rarekey.test\r\nSubject: hello\r\n\r\nbody\r\n")
    assert _dkim_key(cli, "rarekey.test")["status"] == "UNKNOWN"
    assert _dkim_key(cli, "rarekey.test", "--message", str(message))["status"] == "OK"
