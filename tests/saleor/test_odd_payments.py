"""Late and odd payments: money that arrives where no order can take it is
recorded and put in front of staff, never dropped, and never makes a second
order. (Underpaid within/outside tolerance, overpaid and paid-after-expiry are
in test_payment_outcomes.py.)"""

import pytest

pytest.importorskip("saleor", reason="Saleor is not installed: run in a Saleor 3.20 environment")

from django.test import Client  # noqa: E402
from saleor.graphql.core.utils import to_global_id_or_none  # noqa: E402
from saleor.graphql.tests.utils import get_graphql_content  # noqa: E402
from saleor.order.models import Order  # noqa: E402
from saleor.payment import ChargeStatus, TransactionKind  # noqa: E402
from saleor.payment.models import Payment  # noqa: E402

from saleor_cryptopay.models import CallbackEvent, Invoice, StaffTask  # noqa: E402
from saleor_cryptopay.plugin.effects import ATTENTION_KEY, PAID_NO_ORDER  # noqa: E402

from .card_gateway import PLUGIN_ID as CARD  # noqa: E402
from .flow import PAYMENT_CREATE, complete, deliver, order_messages, start  # noqa: E402

pytestmark = pytest.mark.django_db

PROVIDERS = ["coinpay24", "coinpay_th"]


def pay_and_deliver(sb, provider, invoice_id, plugin):
    sb.act(provider, invoice_id, "pay")
    response = deliver(Client(), sb, provider, invoice_id, plugin.PLUGIN_ID)
    assert response.status_code == 200, response.content
    event = CallbackEvent.objects.order_by("-pk").first()
    assert event.outcome == "processed", event.result
    return event


def captures(payment) -> int:
    return payment.transactions.filter(kind=TransactionKind.CAPTURE, is_success=True).count()


def assert_recorded_for_staff(invoice, *, reason_words):
    """The documented state of money that came for a replaced payment once the
    checkout went another way: the invoice records it (paid, flagged
    ``paid_no_order``, a staff task); Saleor's books are not touched (a capture
    on the replaced payment would overcharge the sale, and neither provider
    refunds by API)."""
    invoice.refresh_from_db()
    assert invoice.status == "paid" and invoice.charged_at is not None
    assert PAID_NO_ORDER in invoice.flags and invoice.needs_attention
    assert any(w in invoice.attention_reason for w in reason_words), invoice.attention_reason
    task = StaffTask.objects.get(invoice=invoice, kind=PAID_NO_ORDER, resolved_at=None)
    assert any(w in task.message for w in reason_words), task.message
    payment = Payment.objects.get(pk=invoice.payment_id)
    assert not payment.is_active  # Saleor attaches it to the order anyway, inactive
    assert captures(payment) == 0 and payment.charge_status == ChargeStatus.NOT_CHARGED


def assert_order_marked(order, *words):
    order.refresh_from_db()
    mark = order.get_value_from_private_metadata(ATTENTION_KEY, "")
    assert mark and all(w in mark for w in words), mark


# -- paid twice ----------------------------------------------------------------


@pytest.mark.parametrize("old_paid_first", [False, True], ids=["new-then-old", "old-then-new"])
def test_superseded_and_new_invoice_both_paid(
    old_paid_first, configure_gateway, api_client, ready_checkout, checkout_total, sb
):
    """The shopper pays a CoinPay24 invoice that was replaced (a second
    checkoutPaymentCreate made a new one) and the new one too: one order,
    charged once; the other money is recorded and flagged for staff."""
    provider = "coinpay24"
    plugin = configure_gateway(provider)
    total = checkout_total(ready_checkout)
    old_id = start(api_client, ready_checkout, plugin.PLUGIN_ID, total)["invoice_id"]
    new_id = start(api_client, ready_checkout, plugin.PLUGIN_ID, total)["invoice_id"]
    assert new_id != old_id
    old = Invoice.objects.get(provider_invoice_id=str(old_id))
    new = Invoice.objects.get(provider_invoice_id=str(new_id))
    assert old.superseded and not new.superseded

    for invoice_id in (old_id, new_id) if old_paid_first else (new_id, old_id):
        pay_and_deliver(sb, provider, invoice_id, plugin)

    orders = Order.objects.filter(checkout_token=ready_checkout.token)
    assert orders.count() == 1
    order = orders.get()
    assert order.total_charged_amount == total  # charged once, by the new payment
    active = order.payments.get(is_active=True)
    assert active.pk == new.payment_id and captures(active) == 1
    new.refresh_from_db()
    assert new.status == "paid" and new.order_id == str(order.pk)
    assert PAID_NO_ORDER not in new.flags
    assert_recorded_for_staff(old, reason_words=["another payment"])
    if not old_paid_first:
        # the order existed when the extra money came: staff see it there
        assert_order_marked(order, "another payment")
        assert any(str(old_id) == e.parameters.get("invoice") for e in order.events.all())
    # a last checkoutComplete returns the one order
    again = complete(api_client, ready_checkout)
    assert not again["errors"] and again["order"]
    assert Order.objects.filter(checkout_token=ready_checkout.token).count() == 1


# -- completed with another gateway ------------------------------------------------


def pay_with_card(api_client, checkout, amount) -> dict:
    data = {"gateway": CARD, "amount": str(amount)}
    content = get_graphql_content(
        api_client.post_graphql(
            PAYMENT_CREATE, {"id": to_global_id_or_none(checkout), "input": data}
        )
    )
    assert not content["data"]["checkoutPaymentCreate"]["errors"], content
    result = complete(api_client, checkout)
    assert not result["errors"] and result["order"], result
    return result["order"]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_paid_after_the_checkout_was_completed_with_another_gateway(
    provider, configure_gateway, api_client, ready_checkout, checkout_total, sb
):
    plugin = configure_gateway(provider)
    total = checkout_total(ready_checkout)
    token = ready_checkout.token
    invoice_id = start(api_client, ready_checkout, plugin.PLUGIN_ID, total)["invoice_id"]
    pay_with_card(api_client, ready_checkout, total)
    order = Order.objects.get(checkout_token=token)
    card_payment = order.payments.get(is_active=True)
    assert card_payment.gateway == CARD and order.total_charged_amount == total
    notes_before = len(order_messages(order))

    event = pay_and_deliver(sb, provider, invoice_id, plugin)

    assert Order.objects.filter(checkout_token=token).count() == 1
    invoice = Invoice.objects.get(provider_invoice_id=str(invoice_id))
    assert_recorded_for_staff(invoice, reason_words=["completed by another payment"])
    assert "not captured" in event.result, event.result
    order.refresh_from_db()
    assert order.total_charged_amount == total  # the card charge only
    assert list(order.payments.filter(is_active=True)) == [card_payment]
    assert_order_marked(order, "completed by another payment")
    messages = order_messages(order)
    assert len(messages) > notes_before
    assert any(m.startswith(f"[{provider}]") and "replaced" in m for m in messages), messages

    # the same callback again changes nothing more
    response = deliver(Client(), sb, provider, invoice_id, plugin.PLUGIN_ID)
    assert response.status_code == 200
    assert StaffTask.objects.filter(invoice=invoice, kind=PAID_NO_ORDER).count() == 1
    assert captures(Payment.objects.get(pk=invoice.payment_id)) == 0
    order.refresh_from_db()
    assert order.total_charged_amount == total


@pytest.mark.parametrize("provider", PROVIDERS)
def test_checkout_grown_after_the_invoice_is_paid_without_an_order_and_says_by_how_much(
    provider, configure_gateway, api_client, ready_checkout, checkout_total, sb
):
    """Saleor's own completion refuses a payment that no longer covers the
    checkout (CHECKOUT_NOT_FULLY_PAID); the plugin keeps the money in front
    of staff with both amounts."""
    from django.utils import timezone

    plugin = configure_gateway(provider)
    total = checkout_total(ready_checkout)
    invoice_id = start(api_client, ready_checkout, plugin.PLUGIN_ID, total)["invoice_id"]
    line = ready_checkout.lines.first()
    line.quantity += 1
    line.save(update_fields=["quantity"])
    ready_checkout.price_expiration = timezone.now()  # prices are computed again
    ready_checkout.save(update_fields=["price_expiration"])
    grown = checkout_total(ready_checkout)
    assert grown > total

    pay_and_deliver(sb, provider, invoice_id, plugin)

    assert not Order.objects.filter(checkout_token=ready_checkout.token).exists()
    invoice = Invoice.objects.get(provider_invoice_id=str(invoice_id))
    assert invoice.status == "paid" and PAID_NO_ORDER in invoice.flags
    expected = f"the checkout total {grown} exceeds the paid {total}"
    assert expected in invoice.attention_reason, invoice.attention_reason
    task = StaffTask.objects.get(invoice=invoice, kind=PAID_NO_ORDER, resolved_at=None)
    assert expected in task.message
