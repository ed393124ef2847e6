"""What the customer reads (`check --report`) and what Prometheus scrapes (`check --prometheus`)."""

from __future__ import annotations

import base64
import datetime
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from selenium.webdriver.common.print_page_options import PrintOptions

from provision.check import customer
from provision.check.model import Check, Status
from provision.check.runner import TargetReport
from tests.check.conftest import Run
from tests.check.test_cli import NO_HTTPS

Cli = Callable[..., Run]
# A 2048-bit RSA key's record, as a DKIM fix quotes it: one word of 400 characters.
DKIM = "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA" + "x3Jq8Wv2" * 45 + "IDAQAB"
A4_CONTENT_PX = 688  # 210 mm less the report's 2 x 14 mm margins, at 96 px per inch


def test_the_html_report_names_the_domain_and_date_and_opens_with_a_summary(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "report.html"
    done = cli("good.test", "spfmiss.test", "--report", str(path), *NO_HTTPS)
    assert done.status == 1
    written = path.read_text()
    today = datetime.datetime.now(datetime.UTC)
    assert "<title>Mail check: good.test, spfmiss.test</title>" in written
    assert f"Checked on {today.day} {today:%B} {today.year}" in written
    summary = re.search(r'<p class="verdict CRIT">([^<]+)</p>', written)
    assert summary, written
    assert "of " in summary[1] and "checks found a problem that can stop mail for good.test, spfmiss.test" \
        in summary[1]
    assert written.index("Summary") < summary.start() < written.index("What to fix")
    assert written.index("ip4:192.0.2.10 -all") < written.index("All checks")  # the fix, under What to fix


def test_the_report_in_german(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "bericht.html"
    cli("spfmiss.test", "--report", str(path), "--language", "de", *NO_HTTPS)
    written = path.read_text()
    assert '<html lang="de">' in written
    assert "<h1>E-Mail-Prüfung: spfmiss.test</h1>" in written
    assert "Prüfungen haben ein Problem gefunden, durch das E-Mail für spfmiss.test nicht ankommen" in written
    headings = ("Zusammenfassung", "Was zu tun ist", "Alle Prüfungen")
    assert [written.index(heading) for heading in headings] == sorted(written.index(h) for h in headings)


def _long_values() -> list[TargetReport]:
    checks = [Check("dns.dkim.matches", "dns", Status.CRIT, f"example.test: mail._domainkey publishes {DKIM}",
                    f"publish `mail._domainkey.example.test. 3600 IN TXT \"{DKIM}\"`"),
              Check("dns.spf.pass", "dns", Status.WARN, "example.test: " + "include:spf.example.test " * 12,
                    "publish `example.test. IN TXT \"v=spf1 " + "ip4:198.51.100.1 " * 20 + "-all\"`"),
              Check("services.smtp.banner", "services", Status.OK, "220 mail.example.test ESMTP")]
    return [TargetReport("/home/consultant/customers/example", checks, ("example.test", "example.org"))]


def _outside(driver) -> list[str]:
    """The elements that reach past the page's right edge (and the page's own overflow)."""
    return driver.execute_script("""
        const width = document.documentElement.clientWidth;
        const out = [...document.querySelectorAll('body *')]
            .filter(el => el.getBoundingClientRect().right > width + 1).map(el => el.tagName);
        if (document.documentElement.scrollWidth > width) out.push('page');
        return out;""")


@pytest.mark.parametrize("language", customer.LANGUAGES)
def test_long_values_wrap_on_screen_on_a_phone_and_on_paper(browser, tmp_path: Path, language: str) -> None:
    file = tmp_path / "report.html"
    file.write_text(customer.html_page(_long_values(), language, datetime.datetime.now(datetime.UTC)))
    driver = browser()
    driver.get(file.as_uri())
    assert _outside(driver) == []
    shown = driver.find_element("css selector", "ul.findings").text
    assert DKIM in shown.replace("\n", "")  # all of the key is there, only wrapped
    for width, media in ((375, "screen"), (A4_CONTENT_PX, "print")):
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False})
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": media})
        assert _outside(driver) == [], (width, media)
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
    options = PrintOptions()
    options.page_width, options.page_height = 21.0, 29.7
    pdf = base64.b64decode(driver.print_page(options))
    assert pdf.startswith(b"%PDF") and b"/Type /Page" in pdf


def test_prometheus_metrics_one_status_per_check_id_with_the_customer(cli: Cli) -> None:
    done = cli("--prometheus", "good.test", "spfmiss.test", *NO_HTTPS)
    assert done.status == 0, done.err
    families = {family.name: family for family in text_string_to_metric_families(done.out)}
    assert {name: family.type for name, family in families.items()} == {
        "provision_check_status": "gauge", "provision_check_finding": "gauge",
        "provision_check_timestamp_seconds": "gauge"}
    status = {(sample.labels["customer"], sample.labels["check"]): sample.value
              for sample in families["provision_check_status"].samples}
    assert len(status) == len(families["provision_check_status"].samples)  # one series per id and customer
    assert status["good.test", "dns.spf.pass"] == 0
    assert status["spfmiss.test", "dns.spf.pass"] == 2  # CRIT
    assert status["spfmiss.test", "dns.mx.present"] == 0
    finding, = [sample.labels for sample in families["provision_check_finding"].samples
                if sample.labels["check"] == "dns.spf.pass"]
    assert finding["customer"] == "spfmiss.test" and finding["status"] == "CRIT"
    assert "ip4:192.0.2.10 -all" in finding["fix"]
    times = families["provision_check_timestamp_seconds"].samples
    assert {sample.labels["customer"] for sample in times} == {"good.test", "spfmiss.test"}


@pytest.mark.parametrize("other", ["--json", "--nagios"])
def test_prometheus_is_one_output_format_among_others(cli: Cli, other: str) -> None:
    done = cli("good.test", "--prometheus", other)
    assert done.status == 2
    assert "give only one of --json, --nagios and --prometheus" in done.err


@pytest.mark.parametrize(("args", "said"), [
    (("good.test", "--push"), "--push sends the metrics of --prometheus: give both"),
    (("good.test", "--prometheus", "--push"), "--push: good.test has no server to push to"),
])
def test_push_needs_the_metrics_and_an_inventory(cli: Cli, args: tuple[str, ...], said: str) -> None:
    done = cli(*args)
    assert done.status == 2
    assert said in done.err
