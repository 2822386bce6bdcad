"""Driving the App's pages inside the harness Dashboard (headless Chromium)."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any

from tests.browser import browser

from .dashboard_harness import dashboard

DEADLINE = 30  # seconds: a loaded machine is slow, never wrong


def wait_for(check: Callable[[], Any], what: str, deadline: float = DEADLINE) -> Any:
    end = time.monotonic() + deadline
    last_error: Exception | None = None
    while time.monotonic() < end:
        try:
            value = check()
        except Exception as exc:  # the page is mid-reload: try again
            last_error = exc
            value = None
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what} ({last_error!r})")


@contextmanager
def in_dashboard(app_url: str, saleor, token: str, **kwargs):
    """A browser on the harness page, switched into the App's iframe."""
    with (
        dashboard(app_url, saleor.api_url, token, **kwargs) as url,
        browser(javascript=True) as driver,
    ):
        # room for the whole page: clicks then land where the element is
        driver.set_window_size(1280, 3400)
        driver.get(url)
        frame = wait_for(lambda: driver.find_element("id", "app"), "the iframe")
        driver.switch_to.frame(frame)
        yield driver


def loaded(driver, page: str) -> str:
    """Wait for ``page`` to be shown; returns the App's text."""
    wait_for(
        lambda: driver.find_elements("css selector", f"[data-loaded='{page}']"),
        f"page {page}",
    )
    return driver.find_element("id", "cryptopay").text


def shown_text(driver, text: str) -> str:
    def app_text() -> str:
        return driver.find_element("id", "cryptopay").text

    try:
        return wait_for(lambda: text in app_text() and app_text(), repr(text))
    except AssertionError as exc:
        raise AssertionError(f"{exc}; the page shows:\n{app_text()}") from None


def open_page(driver, page: str) -> str:
    # the page shown may be this one already: wait for the new copy, not the old
    driver.execute_script("document.querySelectorAll('[data-loaded]').forEach(m => m.remove())")
    driver.find_element("css selector", f"nav a[data-page='{page}']").click()
    return loaded(driver, page)


def harness_received(driver) -> list:
    driver.switch_to.parent_frame()
    try:
        return driver.execute_script("return window.received")
    finally:
        driver.switch_to.frame(driver.find_element("id", "app"))
