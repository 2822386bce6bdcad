"""A paid shopper is never stranded: when callbacks fail (the 3.23 crash of
plugin 0.1, a firewall, a provider that gave up), the shopper's return to
checkoutComplete re-reads the provider (throttled), and after an upgrade one
reconciliation run or a replay of the failed callbacks turns the money into
the order, exactly once, with a note that it came late."""

from datetime import timedelta
from io import StringIO

import pytest

pytest.importorskip("saleor", reason="Saleor is not installed: run in a Saleor environment")

from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402
from saleor.order.models import Order  # noqa: E402
from saleor.payment import TransactionKind  # noqa: E402
from saleor.payment.models import Payment  # noqa: E402

from saleor_cryptopay.models import CallbackEvent, Invoice  # noqa: E402
from saleor_cryptopay.plugin import effects  # noqa: E402

from .flow import complete, confirmation, deliver, order_messages, start  # noqa: E402

pytestmark = pytest.mark.django_db

PROVIDERS = ["coinpay24", "coinpay_th"]


def api_calls(sb, provider) -> int:
    return sum(sb.request_counts().get(provider, {}).values())


def age(invoice_id, seconds: int) -> None:
    """As if the invoice had been created and last read ``seconds`` ago."""
    then = timezone.now() - timedelta(seconds=seconds)
    Invoice.objects.filter(provider_invoice_id=str(invoice_id)).update(
        created_at=then, last_checked_at=then
    )


def not_expiring(invoice_id) -> None:
    """The sandbox runs time fast (15 min in well under a second): keep the
    invoice's expiry ahead, so the throttle for open invoices is what is
    tested, not the immediate re-read of an overdue one."""
    Invoice.objects.filter(provider_invoice_id=str(invoice_id)).update(
        expires_at=timezone.now() + timedelta(hours=1)
    )


def captures() -> int:
    return sum(
        p.transactions.filter(kind=TransactionKind.CAPTURE, is_success=True).count()
        for p in Payment.objects.all()
    )


@pytest.mark.parametrize("provider", PROVIDERS)
def test_returning_shopper_gets_the_order_when_no_callback_came(
    provider, configure_gateway, api_client, ready_checkout, checkout_total, sb
):
    plugin = configure_gateway(provider)
    data = start(api_client, ready_checkout, plugin.PLUGIN_ID, checkout_total(ready_checkout))
    not_expiring(data["invoice_id"])
    sb.act(provider, data["invoice_id"], "pay")  # its callback goes nowhere
    before = api_calls(sb, provider)

    # a storefront polling right away: the stored data, no provider call
    for _ in range(5):
        assert confirmation(complete(api_client, ready_checkout))["status"] == data["status"]
    assert api_calls(sb, provider) == before

    age(data["invoice_id"], 31)
    result = complete(api_client, ready_checkout)
    assert not result["errors"] and result["order"], result
    assert api_calls(sb, provider) - before == 1  # one re-read
    assert Order.objects.filter(checkout_token=ready_checkout.token).count() == 1
    assert captures() == 1

    again = complete(api_client, ready_checkout)
    assert again["order"]["id"] == result["order"]["id"]
    assert api_calls(sb, provider) - before == 1


def test_polling_costs_at_most_one_call_per_30_seconds(
    configure_gateway, api_client, ready_checkout, checkout_total, sb
):
    plugin = configure_gateway("coinpay24")
    data = start(api_client, ready_checkout, plugin.PLUGIN_ID, checkout_total(ready_checkout))
    not_expiring(data["invoice_id"])
    before = api_calls(sb, "coinpay24")
    age(data["invoice_id"], 31)
    for _ in range(4):  # unpaid: each poll answers the invoice again
        shown = confirmation(complete(api_client, ready_checkout))
        assert shown["invoice_id"] == data["invoice_id"]
    assert api_calls(sb, "coinpay24") - before == 1
    age(data["invoice_id"], 31)
    confirmation(complete(api_client, ready_checkout))
    assert api_calls(sb, "coinpay24") - before == 2


def test_a_failed_re_read_answers_the_stored_invoice(
    configure_gateway, api_client, ready_checkout, checkout_total, sb
):
    plugin = configure_gateway("coinpay24")
    data = start(api_client, ready_checkout, plugin.PLUGIN_ID, checkout_total(ready_checkout))
    age(data["invoice_id"], 31)
    sb.inject_fault("coinpay24", "status", count=3, status=503)
    result = complete(api_client, ready_checkout)
    assert not result["errors"]
    assert confirmation(result)["invoice_id"] == data["invoice_id"]


def crash_like_plugin_0_1_on_saleor_3_23(monkeypatch):
    """What every paid callback met on Saleor 3.23.2+ before the fix."""

    def removed_parameter(*args, **kwargs):
        raise TypeError("calculate_checkout_total_with_gift_cards() got an unexpected keyword")

    monkeypatch.setattr(effects, "checkout_total", removed_parameter)


def failed_paid_callbacks(monkeypatch, sb, provider, invoice_id, plugin_id, times=3):
    sb.act(provider, invoice_id, "pay")
    with monkeypatch.context() as patch:
        crash_like_plugin_0_1_on_saleor_3_23(patch)
        for _ in range(times):  # the provider retries; each fails the same way
            response = deliver(Client(), sb, provider, invoice_id, plugin_id)
            assert response.status_code == 500
    events = CallbackEvent.objects.all()
    assert {e.outcome for e in events} == {"failed"}
    # the whole failure is kept for whoever looks
    assert all("TypeError" in e.result and "Traceback" in e.result for e in events)
    invoice = Invoice.objects.get(provider_invoice_id=str(invoice_id))
    assert invoice.status in ("new", "waiting") and invoice.charged_at is None  # rolled back


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("first", ["reconcile", "replay"])
def test_after_the_upgrade_money_paid_during_the_failures_becomes_one_order(
    provider, first, monkeypatch, configure_gateway, api_client, ready_checkout, checkout_total, sb
):
    plugin = configure_gateway(provider)
    total = checkout_total(ready_checkout)
    invoice_id = start(api_client, ready_checkout, plugin.PLUGIN_ID, total)["invoice_id"]
    failed_paid_callbacks(monkeypatch, sb, provider, invoice_id, plugin.PLUGIN_ID)
    assert not Order.objects.filter(checkout_token=ready_checkout.token).exists()

    # the merchant upgrades and runs what the README says, in either order
    out = StringIO()
    steps = {
        "reconcile": lambda: call_command("cryptopay_reconcile", stdout=out),
        "replay": lambda: call_command("cryptopay_replay", "--failed", stdout=out),
    }
    steps[first]()
    steps["replay" if first == "reconcile" else "reconcile"]()

    order = Order.objects.get(checkout_token=ready_checkout.token)
    assert order.charge_status == "full" and order.total_charged_amount == total
    assert captures() == 1
    late = [m for m in order_messages(order) if "recovered late" in m]
    assert len(late) == 1, order_messages(order)
    assert ("reconciliation" if first == "reconcile" else "replaying") in late[0]
    assert "3 earlier callback(s)" in late[0]
    # the storefront coming back finds the same order
    again = complete(api_client, ready_checkout)
    assert again["order"] and Order.objects.filter(checkout_token=ready_checkout.token).count() == 1


def test_a_provider_retry_after_the_upgrade_creates_the_order_with_a_late_note(
    monkeypatch, configure_gateway, api_client, ready_checkout, checkout_total, sb
):
    plugin = configure_gateway("coinpay24")
    invoice_id = start(
        api_client, ready_checkout, plugin.PLUGIN_ID, checkout_total(ready_checkout)
    )["invoice_id"]
    failed_paid_callbacks(monkeypatch, sb, "coinpay24", invoice_id, plugin.PLUGIN_ID, times=2)

    response = deliver(Client(), sb, "coinpay24", invoice_id, plugin.PLUGIN_ID)

    assert response.status_code == 200
    order = Order.objects.get(checkout_token=ready_checkout.token)
    assert any("2 earlier callback(s)" in m for m in order_messages(order))
