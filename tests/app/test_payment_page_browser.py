"""The payment page in headless Chromium (JavaScript on, as most shoppers
have it, and off), served by the App, the sandbox as provider: read it at a
phone's and a desktop's width, scan its QR code, watch it follow the
payment without a reload and send the shopper back to the shop.

``CRYPTOPAY_SCREENSHOTS=docs/payment-page pytest …`` saves the README's
screenshots of each state."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest.importorskip("selenium", reason="needs selenium (the test extra)")

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402

from ..browser import browser, needs_chromium  # noqa: E402
from ..qr_decode import decode_qr  # noqa: E402
from .payment_page_helpers import start_payment, wait_for  # noqa: E402

pytestmark = [needs_chromium, pytest.mark.slow]

PHONE, DESKTOP = 390, 1280
SHOTS = os.environ.get("CRYPTOPAY_SCREENSHOTS", "")


def shot(driver, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(Path(SHOTS) / f"{name}.png"))


def state_text(driver) -> str:
    """The status box's text, read in one step: the page may swap it any time."""
    return driver.execute_script(
        "var s = document.getElementById('state'); return s ? s.innerText : '';"
    )


def scanned_qr(driver) -> str:
    """The QR code as the screen shows it, read by a real decoder."""
    return decode_qr(driver.find_element(By.ID, "qr").screenshot_as_png)


def fits(driver) -> None:
    """Nothing wider than the screen, the QR code at least 250 px across."""
    width = driver.execute_script("return document.documentElement.clientWidth")
    assert driver.execute_script("return document.documentElement.scrollWidth") <= width
    assert driver.find_element(By.ID, "qr").size["width"] >= 250
    for element in driver.find_elements(By.CSS_SELECTOR, ".value, a.button, button.copy"):
        box = element.rect
        assert box["x"] >= 0 and box["x"] + box["width"] <= width, element.get_attribute("id")


@pytest.mark.parametrize("provider", ["coinpay_th", "coinpay24"])
@pytest.mark.parametrize("width", [PHONE, DESKTOP])
def test_page_at_phone_and_desktop_width(configure, hook, provider, width):
    configure(provider, **({"white_label_currency": "BTC"} if provider == "coinpay24" else {}))
    data, _ = start_payment(hook, provider, return_url="https://shop.example/order-status")
    with browser(javascript=True, width=width, height=1000) as driver:
        driver.get(data["payment_url"])
        assert driver.execute_script("return window.innerWidth") == width
        text = driver.find_element(By.TAG_NAME, "main").text
        assert "30.00 USD" in text and f"{data['pay_amount']} BTC" in text
        assert "Pay with BTC" in state_text(driver)
        assert driver.find_element(By.ID, "address").text == data["address"]
        assert driver.find_element(By.ID, "amount").text == data["pay_amount"]
        assert driver.find_element(By.ID, "wallet").get_attribute("href") == data["payment_uri"]
        assert scanned_qr(driver) == data["payment_uri"]
        timer = driver.find_element(By.ID, "timer").text
        assert timer.count(":") == 1 and int(timer.split(":")[0]) >= 10
        fits(driver)
        shot(driver, f"{provider}-waiting-{width}")
        driver.find_element(By.CSS_SELECTOR, "button[data-copy=address]").click()
        wait_for(lambda: driver.find_element(By.ID, "copied").text == "Copied")
        # keyboard: Tab reaches the copy buttons, the wallet link and the way back
        reached = set()
        body = driver.find_element(By.TAG_NAME, "body")
        body.send_keys(Keys.TAB)
        for _ in range(10):
            active = driver.switch_to.active_element
            reached.add(active.get_attribute("id") or active.get_attribute("data-copy"))
            active.send_keys(Keys.TAB)
        assert {"amount", "address", "wallet", "back"} <= reached


def test_paid_turns_the_page_and_sends_the_shopper_back(configure, hook, sb, app):
    configure("coinpay_th")
    back = f"{app}/shop/order-status"
    data, invoice = start_payment(hook, return_url=back)
    with browser(javascript=True, width=PHONE) as driver:
        driver.get(data["payment_url"])
        driver.execute_script("window.notReloaded = true")
        sb.act("coinpay_th", invoice.provider_invoice_id, "confirming")
        wait_for(lambda: "Payment seen" in state_text(driver))
        shot(driver, "confirming")
        sb.act("coinpay_th", invoice.provider_invoice_id, "pay")
        wait_for(lambda: "Paid" in state_text(driver))
        assert driver.execute_script("return window.notReloaded") is True  # no reload
        assert "Thank you: your payment arrived." in state_text(driver)
        shot(driver, "paid")
        wait_for(lambda: driver.current_url == back)


def test_underpaid_shows_what_is_missing_at_the_same_address(configure, hook, sb):
    configure("coinpay_th")
    data, invoice = start_payment(hook)
    with browser(javascript=True, width=PHONE) as driver:
        driver.get(data["payment_url"])
        sb.act("coinpay_th", invoice.provider_invoice_id, "underpay", fraction="0.5")
        wait_for(lambda: "Part of the payment arrived" in state_text(driver))
        invoice.refresh_from_db()
        missing = driver.find_element(By.ID, "amount").text
        assert f"Still missing: {missing} BTC" in state_text(driver)
        assert driver.find_element(By.ID, "address").text == data["address"]
        assert scanned_qr(driver) == f"bitcoin:{data['address']}?amount={missing}"
        shot(driver, "underpaid")


def test_expired_sends_back_to_start_again_and_late_money_shows(configure, hook, sb):
    configure("coinpay_th")
    data, invoice = start_payment(hook, return_url="https://shop.example/checkout")
    with browser(javascript=True, width=PHONE) as driver:
        driver.get(data["payment_url"])
        sb.act("coinpay_th", invoice.provider_invoice_id, "expire")
        wait_for(lambda: "This payment request has expired" in state_text(driver))
        assert "Nothing was paid. Go back to the shop" in state_text(driver)
        assert driver.find_element(By.ID, "back").get_attribute("href") == (
            "https://shop.example/checkout"
        )
        assert not driver.find_elements(By.ID, "qr")
        shot(driver, "expired")
        sb.act("coinpay_th", invoice.provider_invoice_id, "pay_late")
        wait_for(lambda: "Paid after the time ran out" in state_text(driver))
        assert "will confirm your order or contact you" in state_text(driver)
        shot(driver, "paid-late")


def test_without_javascript_the_page_refreshes_itself(configure, hook, sb, app):
    configure("coinpay_th")
    back = f"{app}/shop/order-status"
    data, invoice = start_payment(hook, return_url=back)
    with browser(javascript=False, width=PHONE) as driver:
        driver.get(data["payment_url"])
        assert "Pay with BTC" in state_text(driver)
        assert scanned_qr(driver) == data["payment_uri"]
        sb.act("coinpay_th", invoice.provider_invoice_id, "pay")
        wait_for(lambda: driver.current_url == back, timeout=60, step=0.5)


def test_thai_from_the_browsers_language_with_a_switch(configure, hook):
    configure("coinpay_th")
    data, _ = start_payment(hook)
    with browser(javascript=True, width=PHONE, lang="th-TH,th") as driver:
        driver.get(data["payment_url"])
        assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "th"
        assert "ชำระด้วย BTC" in state_text(driver)
        assert driver.find_element(By.ID, "wallet").text == "เปิดในกระเป๋าเงิน"
        shot(driver, "waiting-th")
        driver.find_element(By.CSS_SELECTOR, "nav a[lang=en]").click()
        wait_for(lambda: "Pay with BTC" in state_text(driver))
        assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
