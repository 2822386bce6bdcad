"""checkout → invoice → provider callback → order, through Saleor's GraphQL
API and the plugin's per-channel URL, with the sandbox as the provider."""

from decimal import Decimal

import pytest

pytest.importorskip("saleor", reason="Saleor is not installed: run in a Saleor 3.20 environment")

from django.test import Client  # noqa: E402
from saleor.checkout.models import Checkout  # noqa: E402
from saleor.order.models import Order  # noqa: E402
from saleor.payment import ChargeStatus, TransactionKind  # noqa: E402
from saleor.payment.models import Payment  # noqa: E402

from saleor_cryptopay.models import CallbackEvent, Invoice  # noqa: E402
from tests.qr_decode import decode_qr  # noqa: E402

from .flow import complete, confirmation, create_payment, deliver, gateways  # noqa: E402

pytestmark = pytest.mark.django_db

PROVIDERS = ["coinpay24", "coinpay_th"]


def start(api_client, checkout, plugin, total):
    create_payment(api_client, checkout, plugin.PLUGIN_ID, total, "https://www.example.com/return")
    return confirmation(complete(api_client, checkout))


@pytest.mark.parametrize("provider", PROVIDERS)
def test_gateway_listed_for_the_channel(provider, configure_gateway, api_client, ready_checkout):
    plugin = configure_gateway(provider)
    ids = [g["id"] for g in gateways(api_client, ready_checkout)]
    assert plugin.PLUGIN_ID in ids


@pytest.mark.parametrize("provider", PROVIDERS)
def test_inactive_gateway_is_not_listed(provider, configure_gateway, api_client, ready_checkout):
    plugin = configure_gateway(provider, active=False)
    assert plugin.PLUGIN_ID not in [g["id"] for g in gateways(api_client, ready_checkout)]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_paid_checkout_becomes_a_fully_charged_order(
    provider, configure_gateway, api_client, ready_checkout, checkout_total, sb
):
    plugin = configure_gateway(provider)
    total = checkout_total(ready_checkout)
    token = ready_checkout.token

    data = start(api_client, ready_checkout, plugin, total)
    assert data["provider"] == provider and data["invoice_id"]
    assert Decimal(data["amount"]) == total and data["currency"] == "USD"
    assert data["expires_at"]
    if provider == "coinpay24":
        assert data["payment_url"].startswith(sb.url)
        # the payment page names the shop and the checkout, not Saleor's payment id
        [created] = sb.invoices()
        assert created["title"] == ready_checkout.channel.name
        assert created["description"] == f"Payment for checkout {str(token)[:8].upper()}"
    else:
        assert data["address"] and Decimal(data["pay_amount"]) > 0 and data["qr_data"]
        # no hosted page at CoinPay.in.th: ours (tests/saleor/test_payment_page.py)
        assert "/plugins/channel/main/saleor_cryptopay.coinpay_th/pay/" in data["payment_url"]
    assert not Order.objects.filter(checkout_token=token).exists()

    sb.act(provider, data["invoice_id"], "pay")
    response = deliver(Client(), sb, provider, data["invoice_id"], plugin.PLUGIN_ID)
    assert response.status_code == 200, response.content
    event = CallbackEvent.objects.get()
    assert (event.outcome, event.verified) == ("processed", True), event.result

    order = Order.objects.get(checkout_token=token)
    assert order.charge_status == "full"
    assert order.total_charged_amount == total
    payment = Payment.objects.get(order=order)
    assert payment.charge_status == ChargeStatus.FULLY_CHARGED
    assert payment.transactions.filter(kind=TransactionKind.CAPTURE, is_success=True).count() == 1
    assert not Checkout.objects.filter(token=token).exists()
    notes = [e.parameters.get("message") for e in order.events.all()]
    assert any("Payment received" in (n or "") for n in notes)

    # the storefront comes back and completes again: it gets the same order
    again = complete(api_client, ready_checkout)
    assert not again["errors"] and again["order"]["id"]
    assert Order.objects.filter(checkout_token=token).count() == 1

    invoice = Invoice.objects.get()
    assert invoice.status == "paid" and invoice.order_id == str(order.pk)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_storefront_completes_before_the_callback(
    provider, configure_gateway, api_client, ready_checkout, checkout_total, sb
):
    """The shopper returns first: checkoutComplete is still waiting; once the
    callback lands, the order exists and a last checkoutComplete returns it."""
    plugin = configure_gateway(provider)
    total = checkout_total(ready_checkout)
    data = start(api_client, ready_checkout, plugin, total)

    again = confirmation(complete(api_client, ready_checkout))  # not paid yet
    assert again["invoice_id"] == data["invoice_id"]
    assert Invoice.objects.count() == 1

    sb.act(provider, data["invoice_id"], "pay")
    assert deliver(Client(), sb, provider, data["invoice_id"], plugin.PLUGIN_ID).status_code == 200
    final = complete(api_client, ready_checkout)
    assert final["order"] and not final["errors"]
    assert Order.objects.filter(checkout_token=ready_checkout.token).count() == 1


@pytest.mark.parametrize("provider", PROVIDERS)
def test_duplicate_callbacks_make_one_order_and_one_capture(
    provider, configure_gateway, api_client, ready_checkout, checkout_total, sb
):
    plugin = configure_gateway(provider)
    data = start(api_client, ready_checkout, plugin, checkout_total(ready_checkout))
    sb.act(provider, data["invoice_id"], "pay")
    sb.act(provider, data["invoice_id"], "resend")
    client = Client()
    for index in (0, -1, -1):
        response = deliver(client, sb, provider, data["invoice_id"], plugin.PLUGIN_ID, index=index)
        assert response.status_code == 200
    order = Order.objects.get(checkout_token=ready_checkout.token)
    payment = Payment.objects.get(order=order)
    assert payment.transactions.filter(kind=TransactionKind.CAPTURE).count() == 1
    paid_notes = [
        e for e in order.events.all() if "Payment received" in (e.parameters.get("message") or "")
    ]
    assert len(paid_notes) == 1
    outcomes = sorted(CallbackEvent.objects.values_list("outcome", flat=True))
    assert outcomes == ["ignored", "ignored", "processed"]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_retried_checkout_complete_reuses_the_invoice(
    provider, configure_gateway, api_client, ready_checkout, checkout_total, sb
):
    plugin = configure_gateway(provider)
    data = start(api_client, ready_checkout, plugin, checkout_total(ready_checkout))
    for _ in range(3):
        again = confirmation(complete(api_client, ready_checkout))
        assert again["invoice_id"] == data["invoice_id"]
    counts = sb.request_counts()[provider]
    assert sum(counts.values()) == 1, counts  # one create, nothing else


@pytest.mark.parametrize("provider", PROVIDERS)
def test_shopper_returns_after_expiry_without_callback(
    provider, configure_gateway, api_client, ready_checkout, checkout_total, sb
):
    """No callback came and the invoice is past its expiry: checkoutComplete
    asks the provider once, learns it expired, and says so clearly; a new
    payment then gets a fresh invoice."""
    plugin = configure_gateway(provider)
    total = checkout_total(ready_checkout)
    data = start(api_client, ready_checkout, plugin, total)
    sb.act(provider, data["invoice_id"], "expire")
    Invoice.objects.update(expires_at="2000-01-01T00:00:00Z")

    result = complete(api_client, ready_checkout)
    assert result["errors"][0]["code"] == "PAYMENT_ERROR"
    assert "Please start the payment again" in result["errors"][0]["message"]
    assert Invoice.objects.get().status == "expired"

    fresh = start(api_client, ready_checkout, plugin, total)
    assert fresh["invoice_id"] != data["invoice_id"]
    sb.act(provider, fresh["invoice_id"], "pay")
    assert deliver(Client(), sb, provider, fresh["invoice_id"], plugin.PLUGIN_ID).status_code == 200
    assert Order.objects.filter(checkout_token=ready_checkout.token).count() == 1


@pytest.mark.parametrize(
    "provider,values,scans_as",
    [
        ("coinpay_th", {}, "bitcoin:{address}?amount={pay_amount}"),
        ("coinpay24", {"white_label_currency": "BTC"}, "bitcoin:{address}?amount={pay_amount}"),
        ("coinpay24", {"white_label_currency": "LTC"}, "litecoin:{address}?amount={pay_amount}"),
        ("coinpay24", {"white_label_currency": "ETH"}, "{address}"),  # no standard scheme
    ],
)
def test_confirmation_data_qr_code_scans_as_the_payment_uri(
    provider, values, scans_as, configure_gateway, api_client, ready_checkout, checkout_total, sb
):
    """What a storefront renders from confirmationData: the QR decodes (with a
    real decoder) to the payment URI for the invoice's address and amount,
    on the first answer and on a retried checkoutComplete alike."""
    plugin = configure_gateway(provider, **values)
    data = start(api_client, ready_checkout, plugin, checkout_total(ready_checkout))
    assert data["address"] and Decimal(data["pay_amount"]) > 0
    assert data["payment_uri"] == scans_as.format(**data)
    assert data["qr_code"].startswith("data:image/png;base64,")
    assert decode_qr(data["qr_code"]) == data["payment_uri"]
    again = confirmation(complete(api_client, ready_checkout))
    assert again == data


def test_hosted_coinpay24_has_no_qr_code(
    configure_gateway, api_client, ready_checkout, checkout_total
):
    plugin = configure_gateway("coinpay24")
    data = start(api_client, ready_checkout, plugin, checkout_total(ready_checkout))
    assert data["address"] is None and data["payment_uri"] is None and data["qr_code"] is None
