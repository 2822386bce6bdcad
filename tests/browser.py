"""Headless Chromium for the page tests: the Debian ``chromium`` and
``chromium-driver`` packages driven by selenium (nothing is downloaded).
JavaScript is switched off: the pages must work without it (the Dashboard
pages, which live in the Dashboard's iframe, ask for it)."""

from __future__ import annotations

import shutil
import subprocess
from contextlib import contextmanager

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]

needs_chromium = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="needs Chromium (apt-get install -y chromium chromium-driver)",
)


def dump_dom(url: str) -> str:
    """The DOM Chromium builds for ``url`` (``--dump-dom``)."""
    assert CHROMIUM
    result = subprocess.run(
        [CHROMIUM, *FLAGS, "--dump-dom", url],
        capture_output=True,
        text=True,
        timeout=90,
        check=True,
    )
    return result.stdout


@contextmanager
def browser(*, javascript: bool = False, width: int = 1280, height: int = 900, lang: str = ""):
    """A selenium-driven headless Chromium, JavaScript disabled unless asked
    (the payment page's live status and the Dashboard pages inside the
    Dashboard's iframe need it); ``width`` × ``height`` CSS pixels; ``lang``:
    the browser's language (Accept-Language)."""
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--window-size={width},{height}")
    options.add_argument("--force-device-scale-factor=1")
    prefs: dict = {}
    if not javascript:
        prefs["profile.managed_default_content_settings.javascript"] = 2
    if lang:
        options.add_argument(f"--lang={lang}")
        prefs["intl.accept_languages"] = lang
    if prefs:
        options.add_experimental_option("prefs", prefs)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    # a window is at least 500 px wide: a phone's width is emulated
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
    )
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def to_next_page(driver, act) -> None:
    """Run ``act`` (a click that submits a form or follows a link) and wait
    until the next page is loaded. The old document is marked first, and the
    errors chromedriver raises while a document is being replaced ("stale
    element", "Node … does not belong to the document") are waited through:
    waiting for one old element to go stale let the second of those through
    once in CI."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    driver.execute_script("document.documentElement.setAttribute('data-left', '')")
    act()
    WebDriverWait(driver, 30, ignored_exceptions=(WebDriverException,)).until(
        lambda d: d.execute_script(
            "return document.readyState === 'complete'"
            " && !document.documentElement.hasAttribute('data-left')"
        )
    )
