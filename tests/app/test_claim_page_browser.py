"""The refund claim page as the shopper sees it, in headless Chromium
(JavaScript off) at a desktop and a phone width, on the App's own route: it
names the shop and the order number (never Saleor's ids), and nothing
overflows the window or its card in any state (form, refused address,
received, spent link).

Screenshots go to ``$CRYPTOPAY_SCREENSHOTS`` when set (the README's, in
docs/screenshots, come from there), else to the test's temporary directory.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest.importorskip("selenium", reason="needs selenium (the test extra)")

from selenium.webdriver.common.by import By  # noqa: E402

from saleor_cryptopay.models import Invoice, RefundRequest  # noqa: E402

from ..browser import browser, needs_chromium, to_next_page  # noqa: E402
from . import test_refunds  # noqa: E402
from .fake_saleor import SHOP  # noqa: E402

pytestmark = [needs_chromium, pytest.mark.slow]

WIDTHS = {"desktop": (1280, 900), "phone": (390, 844)}
BTC = test_refunds.BTC
TESTNET = "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx"
paid = test_refunds.paid  # a charged CoinPay.in.th payment (its fixture)

# every element against its card's content area and the window (a width:100%
# input with padding once stuck out into the card's edge without widening the page)
OVERFLOWS = """
const out = [];
const width = document.documentElement.clientWidth;
function inner(card) {  // the card's content area: inside its border and padding
  const r = card.getBoundingClientRect(), s = getComputedStyle(card);
  return {left: r.left + parseFloat(s.borderLeftWidth) + parseFloat(s.paddingLeft),
          right: r.right - parseFloat(s.borderRightWidth) - parseFloat(s.paddingRight)};
}
for (const el of document.querySelectorAll('body *')) {
  const r = el.getBoundingClientRect();
  const card = el.parentElement.closest('.box');
  const c = card ? inner(card) : {left: 0, right: width};
  if (r.right > c.right + 0.5 || r.left < c.left - 0.5 || r.right > width + 0.5) {
    out.push(`${el.tagName} ${Math.round(r.left)}..${Math.round(r.right)} in ` +
             `${Math.round(c.left)}..${Math.round(c.right)} (window ${width})`);
  }
}
return out;
"""


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("CRYPTOPAY_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def check_fits(driver, name: str, shots: Path) -> None:
    width = driver.execute_script("return window.innerWidth")
    scroll = driver.execute_script("return document.documentElement.scrollWidth")
    assert scroll <= width, f"{name}: page is {scroll}px wide in a {width}px window"
    assert driver.execute_script(OVERFLOWS) == [], name
    driver.save_screenshot(str(shots / f"{name}.png"))


def submit(driver, address: str) -> None:
    field = driver.find_element(By.NAME, "address")
    field.clear()
    field.send_keys(address)
    to_next_page(driver, driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click)


@pytest.mark.parametrize("screen", list(WIDTHS))
def test_claim_page_names_shop_and_order_and_fits(paid, hook, saleor, app, shots, screen):
    test_refunds.ask_refund(hook, paid, 30)
    refund = RefundRequest.objects.get()
    url = test_refunds.claim_link(saleor, refund)
    invoice = Invoice.objects.get()
    with browser() as driver:
        driver.set_window_size(*WIDTHS[screen])
        driver.get(url)
        intro = driver.find_element(By.TAG_NAME, "p").text
        assert intro == f"{SHOP} is refunding your crypto payment for order #1042.", intro
        assert invoice.order_id not in driver.page_source  # the uuid the shopper never saw
        check_fits(driver, f"claim-form-{screen}", shots)

        submit(driver, TESTNET)
        assert "testnet" in driver.find_element(By.CSS_SELECTOR, ".err").text
        check_fits(driver, f"claim-refused-{screen}", shots)

        submit(driver, BTC)
        assert driver.find_element(By.TAG_NAME, "h1").text == "Refund address received"
        check_fits(driver, f"claim-received-{screen}", shots)

        driver.get(url)
        assert "already used" in driver.page_source
        check_fits(driver, f"claim-spent-{screen}", shots)
