"""README screenshots of the Dashboard pages, taken by the tests' browser
inside the harness Dashboard. Skipped unless ``CRYPTOPAY_SCREENSHOTS`` names
the directory to write them to (``docs/`` for the README):

    CRYPTOPAY_SCREENSHOTS=docs pytest tests/app/test_dashboard_screenshots.py
"""

# ruff: noqa: F811 (``paid`` is the refund tests' fixture, imported)
from __future__ import annotations

import os
from pathlib import Path

import pytest

from saleor_cryptopay.app.saleor_api import global_id
from saleor_cryptopay.models import Invoice

from ..browser import needs_chromium
from .dashboard_browser import in_dashboard, loaded, open_page
from .test_refunds import ask_refund, paid  # noqa: F401

TARGET = os.environ.get("CRYPTOPAY_SCREENSHOTS")
pytestmark = [
    needs_chromium,
    pytest.mark.skipif(not TARGET, reason="set CRYPTOPAY_SCREENSHOTS=<dir> to write them"),
]


def shot(driver, name: str) -> None:
    path = Path(TARGET or ".") / f"dashboard-{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    # headless Chromium keeps a 900 px viewport whatever the window size, and an
    # element screenshot needs the element's middle in view: make room for the page
    metrics = {"width": 1280, "height": 3400, "deviceScaleFactor": 1, "mobile": False}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    driver.find_element("id", "cryptopay").screenshot(str(path))


def test_screenshots(paid, hook, saleor, app):
    ask_refund(hook, paid, 12.5)
    invoice = Invoice.objects.get()
    with in_dashboard(app, saleor, saleor.staff_token(), theme="light") as driver:
        loaded(driver, "home")
        open_page(driver, "configuration")
        shot(driver, "configuration")
        open_page(driver, "operations")
        shot(driver, "operations")
    order = global_id("Order", invoice.order_id)
    with in_dashboard(app, saleor, saleor.staff_token(), path="/dashboard/order", orderId=order,
                      theme="dark") as driver:  # fmt: skip
        loaded(driver, "order")
        shot(driver, "order")
