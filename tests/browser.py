"""A real browser for the tests: Debian's headless Chromium, driven through Debian's chromium-driver.

Nothing is downloaded: Selenium is handed /usr/bin/chromedriver, so its driver manager never runs.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# This machine's network is closed: without these, Chromium keeps trying Google's services at every start.
QUIET = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1280,900"]

Browser = Callable[..., webdriver.Chrome]


@pytest.fixture
def browser() -> Iterator[Browser]:
    """Open Chromium sessions: browser(resolve={"mail.example.test": "198.51.100.7"}) -> a WebDriver.

    `resolve` maps host names the test machine cannot look up to a sandbox's address, as DNS would.
    Every session and its profile is removed when the test ends.
    """
    assert shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER), (
        "Debian's chromium and chromium-driver are missing: ./install.sh --tests installs them")
    opened: list[tuple[webdriver.Chrome, str]] = []

    def open_browser(resolve: dict[str, str] | None = None, insecure: bool = False) -> webdriver.Chrome:
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        profile = tempfile.mkdtemp(prefix="provision-chromium-")
        for argument in [*QUIET, f"--user-data-dir={profile}"]:
            options.add_argument(argument)
        if resolve:
            rules = ", ".join(f"MAP {name} {address}" for name, address in resolve.items())
            options.add_argument(f"--host-resolver-rules={rules}, EXCLUDE localhost")
        options.accept_insecure_certs = insecure
        driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
        opened.append((driver, profile))
        return driver

    yield open_browser
    for driver, profile in opened:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
