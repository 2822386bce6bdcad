"""The claim page in headless Chromium, JavaScript off: read the amount, type
an address, submit the form, see the answer (the core page, no Saleor)."""

import importlib.util
from decimal import Decimal

import pytest

pytest.importorskip("selenium", reason="needs selenium (the test extra)")

from selenium.webdriver.common.by import By  # noqa: E402

from saleor_cryptopay.models import RefundRequest  # noqa: E402
from saleor_cryptopay.refunds import request as refunds  # noqa: E402

from ..browser import browser, dump_dom, needs_chromium, to_next_page  # noqa: E402

pytestmark = [
    needs_chromium,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        importlib.util.find_spec("saleor") is not None,
        reason="with Saleor, tests/saleor/test_refund_claim_browser.py tests the page on its route",
    ),
]

BTC = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"


@pytest.fixture
def claim_link(paid_invoice, edition, settings, live_server):
    settings.ROOT_URLCONF = "tests.core.claim_urls"
    settings.ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
    refund = refunds.request_refund(paid_invoice().pk, Decimal("5.00"), "USD")
    return refund, f"{live_server.url}/claim/{refunds.claim_token(refund)}"


def submit(driver, address: str) -> None:
    """Type the address and post the form as a shopper would; wait for the answer."""
    field = driver.find_element(By.NAME, "address")
    field.clear()
    field.send_keys(address)
    to_next_page(driver, driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click)


def test_dump_dom_shows_amount_and_form(claim_link):
    _, url = claim_link
    dom = dump_dom(url)
    assert "5.00 USD" in dom and "0.0001 BTC" in dom
    assert 'name="address"' in dom and "Send my refund here" in dom


def test_claim_with_javascript_off(claim_link, sb):
    refund, url = claim_link
    with browser() as driver:
        driver.get(url)
        submit(driver, "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx")
        assert "Bitcoin testnet address" in driver.find_element(By.CSS_SELECTOR, ".err").text
        submit(driver, BTC)
        assert driver.find_element(By.TAG_NAME, "h1").text == "Refund address received"
        assert BTC in driver.page_source
        driver.get(url)
        assert "already used" in driver.page_source
    refund.refresh_from_db()
    assert refund.status == RefundRequest.Status.QUEUED and refund.address == BTC
    assert sb.request_counts()["icoinpay"] == {"checkaddress": 1}
