"""The browser fixture renders pages in Debian's Chromium and measures them as the report tests do."""

from __future__ import annotations

from pathlib import Path

LONG = "v=DKIM1; k=rsa; p=" + "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA" * 12


def page(tmp_path: Path, style: str) -> str:
    file = tmp_path / "page.html"
    file.write_text(f"<!doctype html><title>Report</title><style>{style}</style><p>{LONG}</p>")
    return file.as_uri()


def overflows(driver) -> bool:
    return driver.execute_script("return document.documentElement.scrollWidth > window.innerWidth")


def test_a_long_value_that_does_not_wrap_overflows_the_page(browser, tmp_path):
    driver = browser()
    driver.get(page(tmp_path, ""))
    assert driver.title == "Report"
    assert overflows(driver)


def test_a_long_value_that_wraps_stays_inside_the_page(browser, tmp_path):
    driver = browser()
    driver.get(page(tmp_path, "p { overflow-wrap: anywhere }"))
    assert not overflows(driver)
