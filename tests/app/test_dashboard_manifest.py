"""The manifest's branding and extensions, chosen by the Saleor version that
fetches it, and the order extension showing a paid order's crypto payment."""

# ruff: noqa: F811 (``paid`` is the refund tests' fixture, imported)
from __future__ import annotations

import io

import requests
from PIL import Image

from saleor_cryptopay.app.saleor_api import global_id
from saleor_cryptopay.models import Invoice, RefundRequest

from ..browser import needs_chromium
from .dashboard_browser import in_dashboard, loaded
from .test_refunds import ask_refund, paid  # noqa: F401


def test_manifest_brand_and_urls_are_served(app):
    data = requests.get(f"{app}/api/manifest", timeout=10).json()
    logo = requests.get(data["brand"]["logo"]["default"], timeout=10)
    assert logo.status_code == 200 and logo.headers["Content-Type"] == "image/png"
    image = Image.open(io.BytesIO(logo.content))
    assert image.format == "PNG" and image.size[0] == image.size[1] >= 256
    for key in ("homepageUrl", "supportUrl", "dataPrivacyUrl"):
        page = requests.get(data[key], timeout=10)
        assert page.status_code == 200 and "CryptoPay" in page.text
    assert "Data privacy" in page.text


def test_extension_is_a_widget_from_saleor_322_and_a_popup_before(app):
    def extension(version=None):
        headers = {"Saleor-Schema-Version": version} if version else {}
        data = requests.get(f"{app}/api/manifest", headers=headers, timeout=10).json()
        [ext] = data["extensions"]
        assert ext["url"] == f"{app}/dashboard/order" and ext["permissions"] == []
        return ext["mount"], ext["target"]

    assert extension("3.20") == ("ORDER_DETAILS_MORE_ACTIONS", "POPUP")
    assert extension() == ("ORDER_DETAILS_MORE_ACTIONS", "POPUP")
    assert extension("3.22") == ("ORDER_DETAILS_WIDGETS", "WIDGET")
    assert extension("3.23") == ("ORDER_DETAILS_WIDGETS", "WIDGET")


@needs_chromium
def test_order_extension_shows_the_payment_and_its_refund_claim_link(paid, hook, saleor, app):
    ask_refund(hook, paid, 12.5)
    invoice = Invoice.objects.get()
    assert invoice.order_id  # checkoutComplete answered with the order
    refund = RefundRequest.objects.get()
    order_id = global_id("Order", invoice.order_id)
    token = saleor.staff_token(permissions=("MANAGE_ORDERS",))
    with in_dashboard(app, saleor, token, path="/dashboard/order", orderId=order_id) as driver:
        text = loaded(driver, "order")
        assert invoice.provider_invoice_id in text and "paid" in text
        assert f"received {invoice.received_amount.normalize():f} {invoice.pay_currency}" in text
        assert "provider callback: processed" in text and "to Saleor: CHARGE_SUCCESS" in text
        link = driver.find_element(
            "css selector", f"tr[data-refund='{refund.pk}'] [data-copy]"
        ).get_attribute("data-copy")
        assert link.startswith(f"{app}/api/claim/")
