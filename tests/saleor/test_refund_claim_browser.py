"""The claim link in headless Chromium, JavaScript off, on Saleor's live test
server: the page served by the gateway's own per-channel route."""

import json

import pytest

pytest.importorskip("saleor", reason="Saleor is not installed: run in a Saleor 3.20 environment")

from saleor.payment import ChargeStatus  # noqa: E402
from saleor.payment.models import Payment  # noqa: E402

from saleor_cryptopay.models import RefundRequest  # noqa: E402
from saleor_cryptopay.plugin.refunds import REFUNDS_KEY  # noqa: E402
from saleor_cryptopay.refunds.editions import process_payouts  # noqa: E402

from ..browser import dump_dom, needs_chromium, to_next_page  # noqa: E402
from .test_refunds import BTC, order_refund, paid_order  # noqa: E402

pytestmark = [needs_chromium, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_shopper_claims_the_refund_in_chromium(
    configure_gateway,
    live_callbacks,
    api_client,
    staff_api_client,
    permission_group_manage_orders,
    ready_checkout,
    checkout_total,
    sb,
):
    pytest.importorskip("selenium", reason="needs selenium (the test extra)")
    from selenium.webdriver.common.by import By

    from ..browser import browser

    permission_group_manage_orders.user_set.add(staff_api_client.user)
    plugin = configure_gateway(
        "coinpay_th", icoinpay_api_key=sb.icoinpay_api_key, icoinpay_api_base_url=sb.icoinpay_base
    )
    order, payment = paid_order(
        api_client, ready_checkout, plugin, checkout_total(ready_checkout), sb, "coinpay_th"
    )
    assert order_refund(staff_api_client, order, payment.total)["errors"] == []
    refund = RefundRequest.objects.get()
    order.refresh_from_db()
    url = json.loads(order.private_metadata[REFUNDS_KEY])[str(refund.pk)]["claim_url"]
    assert url.startswith(live_callbacks.url + "/plugins/channel/main/")

    dom = dump_dom(url)
    assert f"{payment.total:.2f} USD" in dom and f"{refund.crypto_amount.normalize():f} BTC" in dom
    assert 'name="address"' in dom
    # what the shopper knows: the shop (channel name) and the order number, not its uuid
    intro = f"{order.channel.name} is refunding your crypto payment for order #{order.number}."
    assert intro in dom and str(order.pk) not in dom

    with browser() as driver:
        driver.get(url)
        field = driver.find_element(By.NAME, "address")
        field.send_keys(BTC)
        to_next_page(driver, driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click)
        assert driver.find_element(By.TAG_NAME, "h1").text == "Refund address received"
    refund.refresh_from_db()
    assert refund.status == RefundRequest.Status.QUEUED and refund.address == BTC

    assert [o.result for o in process_payouts()] == ["sent"]
    payment = Payment.objects.get(pk=payment.pk)
    assert payment.charge_status == ChargeStatus.FULLY_REFUNDED
