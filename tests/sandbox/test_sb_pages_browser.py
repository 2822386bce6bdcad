"""The sandbox's hosted payment pages in headless Chromium (JavaScript off),
at a desktop and a phone width: a shopper picks a coin, sees what to send and
a QR code that scans as the payment URI, pays with the page's own buttons,
and the paid page no longer asks for money. Nothing overflows the screen.

Screenshots go to ``$CRYPTOPAY_SCREENSHOTS`` when set (the README's come
from there), else to the test's temporary directory.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest.importorskip("selenium", reason="needs selenium (the test extra)")

from sandbox_helpers import create_invoice, th_ok  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select  # noqa: E402

from tests.browser import browser, needs_chromium, to_next_page  # noqa: E402
from tests.qr_decode import decode_qr  # noqa: E402

pytestmark = [needs_chromium, pytest.mark.slow]

WIDTHS = {"desktop": (1280, 900), "phone": (390, 844)}


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("CRYPTOPAY_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def click(driver, label: str) -> None:
    """Press a form button by its text and wait for the next page."""
    button = driver.find_element(By.XPATH, f"//button[normalize-space()='{label}']")
    to_next_page(driver, button.click)


def check_fits(driver, name: str, shots: Path) -> None:
    """Nothing wider than the window (no sideways scrolling), and a picture."""
    width = driver.execute_script("return window.innerWidth")
    scroll = driver.execute_script("return document.documentElement.scrollWidth")
    assert scroll <= width, f"{name}: page is {scroll}px wide in a {width}px window"
    driver.save_screenshot(str(shots / f"{name}.png"))


def qr_uri(driver) -> str:
    return decode_qr(
        driver.find_element(By.CSS_SELECTOR, "img[alt^='QR code']").get_attribute("src")
    )


@pytest.mark.parametrize("screen", list(WIDTHS))
def test_coinpay24_page_choose_coin_pay_and_paid(sb, shots, screen):
    invoice = create_invoice(sb, order_id="ORD-7", price_amount="25.00", title="Shop order 7")
    with browser() as driver:
        driver.set_window_size(*WIDTHS[screen])
        driver.get(invoice["payment_url"])
        assert "25.00 USD" in driver.page_source and "Choose a coin" in driver.page_source
        check_fits(driver, f"sandbox-coinpay24-new-{screen}", shots)

        Select(driver.find_element(By.NAME, "pay_currency")).select_by_value("BTC")
        click(driver, "Continue")
        text = driver.find_element(By.TAG_NAME, "body").text
        assert "Send" in text and "BTC" in text
        uri = qr_uri(driver)
        assert uri.startswith("bitcoin:")
        address = uri.removeprefix("bitcoin:").split("?")[0]
        assert address in text  # the address shown is the one the code pays
        check_fits(driver, f"sandbox-coinpay24-pending-{screen}", shots)

        click(driver, "Pay in full")
        status = driver.find_element(By.CSS_SELECTOR, ".status").text
        assert status == "PAID"
        text = driver.find_element(By.TAG_NAME, "body").text
        assert "Send " not in text and "Nothing more to send" in text
        assert driver.find_elements(By.CSS_SELECTOR, "img[alt^='QR code']") == []
        check_fits(driver, f"sandbox-coinpay24-paid-{screen}", shots)


@pytest.mark.parametrize("screen", list(WIDTHS))
def test_coinpay_th_page_pay_and_completed(sb, shots, screen):
    order = th_ok(sb, "paybox", amount="650.00", currency="THB", reference_id="R-9")
    with browser() as driver:
        driver.set_window_size(*WIDTHS[screen])
        driver.get(f"{sb.url}/coinpay_th/order/{order['order_hash']}")
        assert "650.00 THB" in driver.page_source
        uri = qr_uri(driver)
        assert uri.startswith(f"bitcoin:{order['address']}?amount=")
        check_fits(driver, f"sandbox-coinpay-th-awaiting-{screen}", shots)

        click(driver, "Pay in full")
        assert driver.find_element(By.CSS_SELECTOR, ".status").text == "COMPLETED"
        text = driver.find_element(By.TAG_NAME, "body").text
        assert "Send " not in text and "Nothing more to send" in text
        assert driver.find_elements(By.CSS_SELECTOR, "img[alt^='QR code']") == []
        check_fits(driver, f"sandbox-coinpay-th-completed-{screen}", shots)
