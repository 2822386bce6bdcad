"""Callbacks are hints: forged, misrouted or premature ones change nothing."""

import pytest

pytest.importorskip("saleor", reason="Saleor is not installed: run in a Saleor 3.20 environment")

from django.test import Client  # noqa: E402
from saleor.order.models import Order  # noqa: E402
from saleor.payment import ChargeStatus, TransactionKind  # noqa: E402
from saleor.payment.models import Payment  # noqa: E402

from saleor_cryptopay.models import CallbackEvent, Invoice, StaffTask  # noqa: E402
from saleor_cryptopay.providers.coinpay24_hash import compute_verify_hash  # noqa: E402

from .flow import callback_pairs, callback_path, edited, post_form, start  # noqa: E402

pytestmark = pytest.mark.django_db

PROVIDERS = ["coinpay24", "coinpay_th"]


def open_invoice(provider, configure_gateway, api_client, checkout, checkout_total, sb):
    """An unpaid invoice with one genuine, still-unpaid callback at the sandbox
    (CoinPay24: the shopper chose a coin; CoinPay.in.th: coins seen, unconfirmed)."""
    plugin = configure_gateway(provider)
    data = start(api_client, checkout, plugin.PLUGIN_ID, checkout_total(checkout))
    sb.act(provider, data["invoice_id"], "checkout" if provider == "coinpay24" else "confirming")
    return plugin, data["invoice_id"]


def signed(pairs, api_key):
    """CoinPay24 fields with a fresh verify_hash made with ``api_key``."""
    fields = edited(pairs, verify_hash=None)
    return [*fields, ("verify_hash", compute_verify_hash(fields, api_key))]


def assert_untouched(checkout):
    payment = Payment.objects.get(checkout=checkout)
    assert payment.charge_status == ChargeStatus.NOT_CHARGED and payment.is_active
    assert not payment.transactions.filter(kind=TransactionKind.CAPTURE).exists()
    assert not Order.objects.filter(checkout_token=checkout.token).exists()
    invoice = Invoice.objects.get()
    assert invoice.status in ("new", "waiting") and not invoice.needs_attention
    assert not StaffTask.objects.exists()


def single_event(**expected):
    event = CallbackEvent.objects.get()
    for name, value in expected.items():
        assert getattr(event, name) == value, (name, event.result)
    return event


# -- forged callbacks ----------------------------------------------------------


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda p, key: edited(p, status="paid"), id="tampered-status"),
        pytest.param(lambda p, key: edited(p, price_amount="0.01"), id="tampered-amount"),
        pytest.param(lambda p, key: edited(p, verify_hash=None), id="no-verify-hash"),
        pytest.param(lambda p, key: edited(p, verify_hash="0" * 64), id="wrong-verify-hash"),
        pytest.param(
            lambda p, key: signed(edited(p, status="paid"), "another-key"),
            id="signed-with-another-key",
        ),
    ],
)
def test_coinpay24_forged_callback_is_rejected(
    forge, configure_gateway, api_client, ready_checkout, checkout_total, sb
):
    plugin, invoice_id = open_invoice(
        "coinpay24", configure_gateway, api_client, ready_checkout, checkout_total, sb
    )
    genuine = callback_pairs(sb, "coinpay24", invoice_id)
    forged = forge(genuine, sb.coinpay24_api_key)
    assert forged != genuine
    before = sb.request_counts()["coinpay24"].get("invoices/get", 0)

    response = post_form(Client(), plugin.PLUGIN_ID, forged)

    assert response.status_code == 200, response.content
    single_event(outcome="rejected", verified=False, provider_invoice_id=str(invoice_id))
    assert_untouched(ready_checkout)
    # a forged callback costs no provider call
    assert sb.request_counts()["coinpay24"].get("invoices/get", 0) == before


def test_coinpay24_genuine_callback_is_accepted_as_control(
    configure_gateway, api_client, ready_checkout, checkout_total, sb
):
    """The same genuine callback, untouched, verifies: the rejections above
    are about the tampering, not about the delivery."""
    plugin, invoice_id = open_invoice(
        "coinpay24", configure_gateway, api_client, ready_checkout, checkout_total, sb
    )
    response = post_form(Client(), plugin.PLUGIN_ID, callback_pairs(sb, "coinpay24", invoice_id))
    assert response.status_code == 200
    single_event(outcome="processed", verified=True)
    assert Invoice.objects.get().status == "waiting"


@pytest.mark.parametrize("verify", ["", "deadbeef" * 5], ids=["empty-verify", "forged-verify"])
def test_coinpay_th_forged_verify_is_rejected(
    verify, configure_gateway, api_client, ready_checkout, checkout_total, sb
):
    plugin, order_id = open_invoice(
        "coinpay_th", configure_gateway, api_client, ready_checkout, checkout_total, sb
    )
    genuine = callback_pairs(sb, "coinpay_th", order_id)
    forged = edited(genuine, verify=verify, order_status="2", success="true", status="Completed")

    response = post_form(Client(), plugin.PLUGIN_ID, forged)

    assert response.status_code == 200, response.content
    event = single_event(outcome="rejected", verified=False, provider_invoice_id=str(order_id))
    asked = sb.request_counts()["coinpay_th"].get("verifyipn", 0)
    assert asked == (1 if verify else 0)  # a non-empty token is the provider's to judge
    assert "deadbeef" not in event.body  # verify tokens are never stored
    assert_untouched(ready_checkout)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_genuine_paid_claim_on_an_unpaid_invoice_charges_nothing(
    provider, configure_gateway, api_client, ready_checkout, checkout_total, sb
):
    """A callback that passes verification but claims "paid" while the
    provider's API says otherwise: the re-read wins. CoinPay.in.th's verify
    token does not cover the other fields; for CoinPay24 this stands for a
    leaked API key (a correctly signed lie)."""
    plugin, invoice_id = open_invoice(
        provider, configure_gateway, api_client, ready_checkout, checkout_total, sb
    )
    genuine = callback_pairs(sb, provider, invoice_id)
    if provider == "coinpay24":
        claim = signed(edited(genuine, status="paid"), sb.coinpay24_api_key)
    else:
        claim = edited(genuine, order_status="2", success="true", status="Completed")

    response = post_form(Client(), plugin.PLUGIN_ID, claim)

    assert response.status_code == 200, response.content
    event = single_event(outcome="processed", verified=True)
    assert "charge" not in event.result, event.result
    payment = Payment.objects.get(checkout=ready_checkout)
    assert payment.charge_status == ChargeStatus.NOT_CHARGED and payment.is_active
    assert not payment.transactions.filter(kind=TransactionKind.CAPTURE).exists()
    assert not Order.objects.filter(checkout_token=ready_checkout.token).exists()
    invoice = Invoice.objects.get()
    assert invoice.status in ("waiting", "confirming") and invoice.charged_at is None


# -- routing -------------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
def test_inactive_plugin_callback_url_is_404(
    provider, configure_gateway, api_client, ready_checkout, checkout_total, sb
):
    plugin, invoice_id = open_invoice(
        provider, configure_gateway, api_client, ready_checkout, checkout_total, sb
    )
    sb.act(provider, invoice_id, "pay")
    configure_gateway(provider, active=False)

    response = post_form(Client(), plugin.PLUGIN_ID, callback_pairs(sb, provider, invoice_id))

    assert response.status_code == 404
    assert not CallbackEvent.objects.exists()
    assert not Order.objects.filter(checkout_token=ready_checkout.token).exists()


@pytest.mark.parametrize("provider", PROVIDERS)
def test_wrong_path_is_404_and_get_is_405(provider, configure_gateway, sb):
    plugin = configure_gateway(provider)
    client = Client()
    base = callback_path(plugin.PLUGIN_ID).rsplit("/", 1)[0]
    for path in (f"{base}/other", f"{base}/", f"{base}/callback/extra"):
        response = client.post(path, data="a=b", content_type="application/x-www-form-urlencoded")
        assert response.status_code == 404, path
    response = client.get(callback_path(plugin.PLUGIN_ID))
    assert response.status_code == 405
    assert not CallbackEvent.objects.exists()


@pytest.mark.parametrize("provider", PROVIDERS)
def test_callback_for_another_channels_invoice_is_rejected(
    provider, configure_gateway, api_client, ready_checkout, checkout_total, sb, channel_PLN
):
    plugin, invoice_id = open_invoice(
        provider, configure_gateway, api_client, ready_checkout, checkout_total, sb
    )
    configure_gateway(provider, channel=channel_PLN, supported_currencies="PLN")
    sb.act(provider, invoice_id, "pay")

    response = post_form(
        Client(),
        plugin.PLUGIN_ID,
        callback_pairs(sb, provider, invoice_id),
        channel_slug=channel_PLN.slug,
    )

    assert response.status_code == 200
    event = single_event(outcome="rejected", channel_slug=channel_PLN.slug)
    assert "another channel" in event.result
    assert_untouched(ready_checkout)
