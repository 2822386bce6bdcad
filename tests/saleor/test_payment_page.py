"""The payment page on Saleor: ``payment_url`` in the plugin's
``confirmationData`` opens it on the gateway's channel route (CoinPay.in.th,
white-label CoinPay24), and it follows the payment to the order."""

import json
from urllib.parse import urlsplit

import pytest

pytest.importorskip("saleor", reason="Saleor is not installed: run in a Saleor 3.20 environment")

from django.test import Client  # noqa: E402
from saleor.order.models import Order  # noqa: E402
from saleor.payment.models import Payment  # noqa: E402

from saleor_cryptopay.models import Invoice  # noqa: E402
from saleor_cryptopay.payment_page.token import page_token  # noqa: E402
from saleor_cryptopay.plugin.payments import PUBLIC_KEY  # noqa: E402

from ..browser import needs_chromium  # noqa: E402
from .flow import complete, deliver, start  # noqa: E402
from .test_order_creation import change_total  # noqa: E402

pytestmark = pytest.mark.django_db

RETURN = "https://www.example.com/return"


def page_path(data: dict) -> str:
    return urlsplit(data["payment_url"]).path


@pytest.mark.parametrize(
    ("provider", "values"), [("coinpay_th", {}), ("coinpay24", {"white_label_currency": "BTC"})]
)
def test_confirmation_data_payment_url_opens_the_page(
    provider, values, configure_gateway, api_client, ready_checkout, checkout_total, sb
):
    plugin = configure_gateway(provider, **values)
    data = start(api_client, ready_checkout, plugin.PLUGIN_ID, checkout_total(ready_checkout))
    path = page_path(data)
    assert path.startswith(f"/plugins/channel/main/{plugin.PLUGIN_ID}/pay/")
    client = Client()
    page = client.get(path)
    assert page.status_code == 200, page.content
    html = page.content.decode()
    assert data["address"] in html and f"{data['pay_amount']} BTC" in html
    assert f"{data['amount']} USD" in html and ready_checkout.channel.name in html
    assert f'href="{RETURN}"' in html
    assert client.get(path + "/status").json()["state"] == "waiting"

    sb.act(provider, data["invoice_id"], "pay")
    assert deliver(client, sb, provider, data["invoice_id"], plugin.PLUGIN_ID).status_code == 200
    assert client.get(path + "/status").json()["state"] == "paid"
    order = Order.objects.get(checkout_token=ready_checkout.token)
    assert f"Order {order.number}" in client.get(path).content.decode()
    # the same URL on the payment's public metadata and on a second complete
    payment = Payment.objects.get(order=order)
    assert json.loads(payment.metadata[PUBLIC_KEY])["payment_url"] == data["payment_url"]


def test_hosted_coinpay24_keeps_the_providers_page(
    configure_gateway, api_client, ready_checkout, checkout_total, sb
):
    plugin = configure_gateway("coinpay24")
    data = start(api_client, ready_checkout, plugin.PLUGIN_ID, checkout_total(ready_checkout))
    assert data["payment_url"].startswith(sb.url)
    invoice = Invoice.objects.get()
    path = f"/plugins/channel/main/{plugin.PLUGIN_ID}/pay/{page_token(invoice)}"
    assert Client().get(path).status_code == 404


def test_token_of_another_gateway_or_a_tampered_one_is_404(
    configure_gateway, api_client, ready_checkout, checkout_total
):
    plugin = configure_gateway("coinpay_th")
    configure_gateway("coinpay24")
    data = start(api_client, ready_checkout, plugin.PLUGIN_ID, checkout_total(ready_checkout))
    path = page_path(data)
    token = path.rsplit("/", 1)[-1]
    client = Client()
    other_route = path.replace(plugin.PLUGIN_ID, "saleor_cryptopay.coinpay24")
    for bad in (other_route, path[:-1] + ("A" if path[-1] != "A" else "B"), path + "/x"):
        response = client.get(bad)
        assert response.status_code == 404 and data["address"] not in response.content.decode()
    assert client.get(path).status_code == 200 and token


@needs_chromium
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_shopper_pays_on_the_page_and_is_sent_back(
    configure_gateway, live_callbacks, api_client, ready_checkout, checkout_total, sb, settings
):
    """Chromium, JavaScript on: the page turns paid without a reload once the
    callback lands, then sends the shopper to the storefront's returnUrl."""
    pytest.importorskip("selenium", reason="needs selenium (the test extra)")
    from selenium.webdriver.common.by import By

    from ..app.payment_page_helpers import wait_for
    from ..browser import browser
    from .flow import confirmation, create_payment

    plugin = configure_gateway("coinpay_th")
    back = live_callbacks.url + "/storefront/return"
    settings.ALLOWED_CLIENT_HOSTS = [*settings.ALLOWED_CLIENT_HOSTS, "localhost"]
    create_payment(
        api_client, ready_checkout, plugin.PLUGIN_ID, checkout_total(ready_checkout), back
    )
    data = confirmation(complete(api_client, ready_checkout))
    assert data["payment_url"].startswith(live_callbacks.url + "/plugins/channel/main/")

    def state(driver) -> str:
        return driver.execute_script(
            "var s = document.getElementById('state'); return s ? s.innerText : '';"
        )

    with browser(javascript=True, width=390) as driver:
        driver.get(data["payment_url"])
        assert driver.find_element(By.ID, "address").text == data["address"]
        driver.execute_script("window.notReloaded = true")
        sb.act("coinpay_th", data["invoice_id"], "pay")
        delivered = deliver(Client(), sb, "coinpay_th", data["invoice_id"], plugin.PLUGIN_ID)
        assert delivered.status_code == 200
        wait_for(lambda: "Paid" in state(driver))
        assert driver.execute_script("return window.notReloaded") is True
        wait_for(lambda: driver.current_url == back)


def test_updated_coinpay_th_order_keeps_its_page_and_takes_the_new_return_url(
    configure_gateway, api_client, ready_checkout, checkout_total, product, sb
):
    """A changed total updates the same provider order (same address): the
    same page, now for the new amount and the new payment's returnUrl."""
    plugin = configure_gateway("coinpay_th")
    total = checkout_total(ready_checkout)
    first = start(
        api_client, ready_checkout, plugin.PLUGIN_ID, total, "https://www.example.com/one"
    )
    new_total = change_total(api_client, ready_checkout, product, checkout_total, total)
    second = start(
        api_client, ready_checkout, plugin.PLUGIN_ID, new_total, "https://www.example.com/two"
    )
    assert second["payment_url"] == first["payment_url"]
    html = Client().get(page_path(second)).content.decode()
    assert 'href="https://www.example.com/two"' in html and "example.com/one" not in html
    assert f"{second['amount']} USD" in html and f"{second['pay_amount']} BTC" in html
