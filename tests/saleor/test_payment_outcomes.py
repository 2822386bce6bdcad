"""What the shopper actually paid, as the provider reports it, and what Saleor
ends up with: short, long, never, late."""

import pytest

pytest.importorskip("saleor", reason="Saleor is not installed: run in a Saleor 3.20 environment")

from django.test import Client  # noqa: E402
from saleor.checkout.models import Checkout  # noqa: E402
from saleor.order.models import Order  # noqa: E402
from saleor.payment import ChargeStatus, TransactionKind  # noqa: E402
from saleor.payment.models import Payment  # noqa: E402

from saleor_cryptopay.models import CallbackEvent, Invoice, StaffTask  # noqa: E402
from saleor_cryptopay.plugin.effects import ATTENTION_KEY  # noqa: E402

from .flow import complete, deliver_new, order_messages, start  # noqa: E402

pytestmark = pytest.mark.django_db

PROVIDERS = ["coinpay24", "coinpay_th"]


def begin(provider, configure_gateway, api_client, checkout, checkout_total, **config):
    plugin = configure_gateway(provider, **config)
    total = checkout_total(checkout)
    data = start(api_client, checkout, plugin.PLUGIN_ID, total)
    return plugin, data["invoice_id"], total


def act_and_deliver(sb, provider, invoice_id, plugin, action, seen=0, **opts):
    sb.act(provider, invoice_id, action, **opts)
    responses, seen = deliver_new(Client(), sb, provider, invoice_id, plugin.PLUGIN_ID, seen=seen)
    assert [r.status_code for r in responses] == [200] * len(responses)
    return seen


def choose_coin(sb, provider, invoice_id) -> None:
    """CoinPay24: the shopper picks BTC on the payment page (the sandbox cannot
    pay_late an expired invoice that never had a coin). Its callback is
    delivered with the next ones."""
    if provider == "coinpay24":
        sb.act(provider, invoice_id, "checkout")


def captures(payment):
    return payment.transactions.filter(kind=TransactionKind.CAPTURE, is_success=True).count()


# -- underpaid -----------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
def test_underpaid_beyond_tolerance_holds_for_staff(
    provider, configure_gateway, api_client, ready_checkout, checkout_total, sb
):
    plugin, invoice_id, _ = begin(
        provider,
        configure_gateway,
        api_client,
        ready_checkout,
        checkout_total,
        underpaid_tolerance_percent="1",
    )
    act_and_deliver(sb, provider, invoice_id, plugin, "underpay", fraction="0.9")

    payment = Payment.objects.get(checkout=ready_checkout)
    assert payment.charge_status == ChargeStatus.NOT_CHARGED and payment.is_active
    assert captures(payment) == 0
    assert not Order.objects.filter(checkout_token=ready_checkout.token).exists()
    assert Checkout.objects.filter(token=ready_checkout.token).exists()
    invoice = Invoice.objects.get()
    assert invoice.status == "underpaid"
    assert "underpaid" in invoice.flags and invoice.needs_attention
    assert invoice.received_amount is not None and invoice.received_amount < invoice.pay_amount
    assert StaffTask.objects.filter(invoice=invoice, kind="underpaid").count() == 1
    assert CallbackEvent.objects.filter(outcome="processed").count() >= 1


@pytest.mark.parametrize("provider", PROVIDERS)
def test_underpaid_within_tolerance_is_charged_and_flagged(
    provider, configure_gateway, api_client, ready_checkout, checkout_total, sb
):
    plugin, invoice_id, total = begin(
        provider,
        configure_gateway,
        api_client,
        ready_checkout,
        checkout_total,
        underpaid_tolerance_percent="1",
    )
    act_and_deliver(sb, provider, invoice_id, plugin, "underpay", fraction="0.995")

    order = Order.objects.get(checkout_token=ready_checkout.token)
    assert order.charge_status == "full" and order.total_charged_amount == total
    payment = Payment.objects.get(order=order)
    assert payment.charge_status == ChargeStatus.FULLY_CHARGED and captures(payment) == 1
    invoice = Invoice.objects.get()
    assert invoice.status == "paid" and "underpaid_tolerated" in invoice.flags
    assert "underpaid" not in invoice.flags
    assert invoice.order_id == str(order.pk)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_same_shortfall_without_tolerance_is_not_charged(
    provider, configure_gateway, api_client, ready_checkout, checkout_total, sb
):
    """The tolerance setting is what lets 99.5 % through (default 0)."""
    plugin, invoice_id, _ = begin(
        provider, configure_gateway, api_client, ready_checkout, checkout_total
    )
    act_and_deliver(sb, provider, invoice_id, plugin, "underpay", fraction="0.995")
    assert not Order.objects.filter(checkout_token=ready_checkout.token).exists()
    assert Invoice.objects.get().status == "underpaid"


# -- overpaid ------------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
def test_overpaid_is_charged_flagged_and_marked_on_the_order(
    provider, configure_gateway, api_client, ready_checkout, checkout_total, sb
):
    plugin, invoice_id, total = begin(
        provider, configure_gateway, api_client, ready_checkout, checkout_total
    )
    act_and_deliver(sb, provider, invoice_id, plugin, "overpay", fraction="1.5")

    order = Order.objects.get(checkout_token=ready_checkout.token)
    assert order.charge_status == "full"
    # the capture is the order's amount: the excess crypto is not Saleor money
    assert order.total_charged_amount == total
    payment = Payment.objects.get(order=order)
    assert captures(payment) == 1 and payment.captured_amount == total
    invoice = Invoice.objects.get()
    assert invoice.status == "overpaid" and "overpaid" in invoice.flags
    assert invoice.needs_attention
    assert StaffTask.objects.filter(invoice=invoice, kind="overpaid").count() == 1
    assert any("paid more than asked" in m for m in order_messages(order))
    order.refresh_from_db()
    assert "more than asked" in order.get_value_from_private_metadata(ATTENTION_KEY, "")


# -- expired / canceled / invalid ------------------------------------------------

CLOSINGS = [
    ("coinpay24", "expire", "expired"),
    ("coinpay24", "cancel", "canceled"),
    ("coinpay24", "invalid", "invalid"),
    ("coinpay_th", "expire", "expired"),
    ("coinpay_th", "cancel", "expired"),  # CoinPay.in.th has no cancelled state
]


@pytest.mark.parametrize(("provider", "action", "status"), CLOSINGS)
def test_closed_invoice_cancels_the_payment_and_the_checkout_can_pay_again(
    provider, action, status, configure_gateway, api_client, ready_checkout, checkout_total, sb
):
    plugin, invoice_id, total = begin(
        provider, configure_gateway, api_client, ready_checkout, checkout_total
    )
    act_and_deliver(sb, provider, invoice_id, plugin, action)

    old_payment = Payment.objects.get(checkout=ready_checkout)
    assert old_payment.charge_status == ChargeStatus.CANCELLED and not old_payment.is_active
    assert old_payment.transactions.filter(kind=TransactionKind.CANCEL).count() == 1
    assert captures(old_payment) == 0
    first = Invoice.objects.get()
    assert first.status == status and first.closed_at is not None
    assert Checkout.objects.filter(token=ready_checkout.token).exists()
    assert not Order.objects.filter(checkout_token=ready_checkout.token).exists()

    # the storefront starts over on the same checkout: a fresh invoice
    again = start(api_client, ready_checkout, plugin.PLUGIN_ID, total)
    assert again["invoice_id"] != str(invoice_id)
    assert Invoice.objects.count() == 2
    act_and_deliver(sb, provider, again["invoice_id"], plugin, "pay")

    order = Order.objects.get(checkout_token=ready_checkout.token)
    assert order.charge_status == "full" and order.total_charged_amount == total
    new_payment = order.payments.get(is_active=True)
    assert new_payment.pk != old_payment.pk and captures(new_payment) == 1
    old_payment.refresh_from_db()
    assert old_payment.charge_status == ChargeStatus.CANCELLED
    assert not Checkout.objects.filter(token=ready_checkout.token).exists()
    final = complete(api_client, ready_checkout)
    assert not final["errors"] and final["order"]["id"]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_storefront_completing_after_a_silent_expiry_is_told_to_start_again(
    provider, configure_gateway, api_client, ready_checkout, checkout_total, sb
):
    """No callback arrived (lost): checkoutComplete on the overdue invoice asks
    the provider once, learns it expired, and says so; no unpayable invoice is
    made for the cancelled payment. A new payment then works."""
    plugin, invoice_id, total = begin(
        provider, configure_gateway, api_client, ready_checkout, checkout_total
    )
    sb.act(provider, invoice_id, "expire")
    Invoice.objects.update(expires_at="2000-01-01T00:00:00Z")  # the shop's clock agrees
    creates = sum(sb.request_counts()[provider].values())

    data = complete(api_client, ready_checkout)

    assert [e["code"] for e in data["errors"]] == ["PAYMENT_ERROR"], data
    assert "start the payment again" in data["errors"][0]["message"]
    assert Invoice.objects.get().status == "expired"
    assert sum(sb.request_counts()[provider].values()) == creates + 1  # one re-read only
    payment = Payment.objects.get(checkout=ready_checkout)
    assert payment.charge_status == ChargeStatus.CANCELLED and not payment.is_active

    again = start(api_client, ready_checkout, plugin.PLUGIN_ID, total)
    assert again["invoice_id"] != str(invoice_id) and Invoice.objects.count() == 2


# -- paid after expiry ---------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
def test_paid_after_expiry_records_the_money_and_flags_it(
    provider, configure_gateway, api_client, ready_checkout, checkout_total, sb
):
    plugin, invoice_id, total = begin(
        provider, configure_gateway, api_client, ready_checkout, checkout_total
    )
    choose_coin(sb, provider, invoice_id)
    seen = act_and_deliver(sb, provider, invoice_id, plugin, "expire")
    payment = Payment.objects.get(checkout=ready_checkout)
    assert payment.charge_status == ChargeStatus.CANCELLED

    act_and_deliver(sb, provider, invoice_id, plugin, "pay_late", seen=seen)

    invoice = Invoice.objects.get()
    assert invoice.status == "paid" and invoice.charged_at is not None
    assert "paid_late" in invoice.flags and invoice.needs_attention
    assert StaffTask.objects.filter(invoice=invoice, kind="paid_late").count() == 1
    payment.refresh_from_db()
    assert captures(payment) == 1 and payment.captured_amount == total
    # nothing else is paying for this checkout: the order is still possible
    order = Order.objects.get(checkout_token=ready_checkout.token)
    assert order.total_charged_amount == total
    assert invoice.order_id == str(order.pk)
    assert any("after the invoice had expired" in m for m in order_messages(order))
    assert "expired" in order.get_value_from_private_metadata(ATTENTION_KEY, "")
    assert order.payments.get(is_active=True).pk == payment.pk


@pytest.mark.parametrize("provider", PROVIDERS)
def test_paid_after_expiry_when_the_checkout_paid_again_is_not_lost(
    provider, configure_gateway, api_client, ready_checkout, checkout_total, sb
):
    """The shopper started over and paid the new invoice; the old one gets paid
    too. One order; the late money is recorded for staff, not dropped."""
    plugin, invoice_id, total = begin(
        provider, configure_gateway, api_client, ready_checkout, checkout_total
    )
    choose_coin(sb, provider, invoice_id)
    seen = act_and_deliver(sb, provider, invoice_id, plugin, "expire")
    again = start(api_client, ready_checkout, plugin.PLUGIN_ID, total)
    act_and_deliver(sb, provider, again["invoice_id"], plugin, "pay")
    order = Order.objects.get(checkout_token=ready_checkout.token)

    act_and_deliver(sb, provider, invoice_id, plugin, "pay_late", seen=seen)

    assert Order.objects.filter(checkout_token=ready_checkout.token).count() == 1
    late = Invoice.objects.get(provider_invoice_id=str(invoice_id))
    assert late.status == "paid" and "paid_late" in late.flags and late.needs_attention
    assert StaffTask.objects.filter(invoice=late, kind="paid_late").exists()
    order.refresh_from_db()
    assert order.total_charged_amount == total  # the order is paid once
