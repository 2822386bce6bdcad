"""Reconciliation and replay: invoices whose callback never came."""

from decimal import Decimal
from io import StringIO

import pytest

pytest.importorskip("saleor", reason="Saleor is not installed: run in a Saleor 3.20 environment")

from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402
from saleor.order.models import Order  # noqa: E402
from saleor.payment import ChargeStatus  # noqa: E402
from saleor.payment.models import Payment  # noqa: E402

from saleor_cryptopay.models import CallbackEvent, Invoice  # noqa: E402
from saleor_cryptopay.providers.coinpay24 import CoinPay24Client  # noqa: E402

from .flow import complete, confirmation, create_payment, deliver  # noqa: E402

pytestmark = pytest.mark.django_db

PROVIDERS = ["coinpay24", "coinpay_th"]


def start(api_client, checkout, plugin, total):
    create_payment(api_client, checkout, plugin.PLUGIN_ID, total)
    return confirmation(complete(api_client, checkout))


def reconcile(*args) -> str:
    out = StringIO()
    call_command("cryptopay_reconcile", *args, stdout=out)
    return out.getvalue()


def api_calls(sb, provider) -> int:
    return sum(sb.request_counts().get(provider, {}).values())


@pytest.mark.parametrize("provider", PROVIDERS)
def test_paid_without_callback_completes_on_reconcile(
    provider, configure_gateway, api_client, ready_checkout, checkout_total, sb
):
    plugin = configure_gateway(provider)
    total = checkout_total(ready_checkout)
    data = start(api_client, ready_checkout, plugin, total)
    sb.act(provider, data["invoice_id"], "pay")  # the callback goes nowhere
    before = api_calls(sb, provider)

    out = reconcile()
    assert "1 updated" in out, out
    order = Order.objects.get(checkout_token=ready_checkout.token)
    assert order.charge_status == "full" and order.total_charged_amount == total
    # one list call + one re-read of the changed invoice
    assert api_calls(sb, provider) - before == 2

    # a second run finds nothing open and calls nobody
    before = api_calls(sb, provider)
    assert "0 open" in reconcile()
    assert api_calls(sb, provider) == before


@pytest.mark.parametrize("provider", PROVIDERS)
def test_expired_without_callback_is_closed(
    provider, configure_gateway, api_client, ready_checkout, checkout_total, sb
):
    plugin = configure_gateway(provider)
    data = start(api_client, ready_checkout, plugin, checkout_total(ready_checkout))
    sb.act(provider, data["invoice_id"], "expire")
    reconcile()
    invoice = Invoice.objects.get()
    assert invoice.status == "expired"
    payment = Payment.objects.get(pk=invoice.payment_id)
    assert payment.charge_status == ChargeStatus.CANCELLED and not payment.is_active
    assert not Order.objects.exists()


@pytest.mark.parametrize("provider", PROVIDERS)
def test_dry_run_changes_nothing(
    provider, configure_gateway, api_client, ready_checkout, checkout_total, sb
):
    plugin = configure_gateway(provider)
    data = start(api_client, ready_checkout, plugin, checkout_total(ready_checkout))
    sb.act(provider, data["invoice_id"], "pay")
    out = reconcile("--channel", "main", "--provider", provider, "--dry-run")  # as the README
    assert "would charge" in out and "Dry run" in out
    assert "No active crypto gateway configuration." in reconcile("--channel", "other", "--dry-run")
    assert Invoice.objects.get().status != "paid"
    assert not Order.objects.exists()


def test_unknown_provider_payment_is_reported(
    configure_gateway, api_client, ready_checkout, checkout_total, sb
):
    plugin = configure_gateway("coinpay24")
    start(api_client, ready_checkout, plugin, checkout_total(ready_checkout))
    stranger = CoinPay24Client(sb.coinpay24_api_key, base_url=sb.coinpay24_base).create_invoice(
        order_id="made-elsewhere", price_amount=Decimal("5.00"), price_currency="USD"
    )
    sb.act("coinpay24", stranger.id, "pay")
    out = reconcile()
    assert f"UNKNOWN (paid at provider, no local invoice): {stranger.id}" in out
    assert "made-elsewhere" in out


def test_budget_and_rate_limit_stop_the_run_cleanly(
    configure_gateway, api_client, ready_checkout, checkout_total, sb
):
    plugin = configure_gateway("coinpay24", reconcile_calls_per_run="1")
    data = start(api_client, ready_checkout, plugin, checkout_total(ready_checkout))
    sb.act("coinpay24", data["invoice_id"], "pay")
    before = api_calls(sb, "coinpay24")
    out = reconcile()
    assert "budget" in out and api_calls(sb, "coinpay24") - before == 1
    assert Invoice.objects.get().status != "paid"  # waits for the next run

    configure_gateway("coinpay24")
    sb.inject_fault("coinpay24", "rate_limit", count=1, retry_after=30)
    out = reconcile()
    assert "429" in out
    out = reconcile()  # the next run works
    assert Order.objects.filter(checkout_token=ready_checkout.token).exists(), out


@pytest.mark.parametrize("provider", PROVIDERS)
def test_replay_a_stored_callback(
    provider, configure_gateway, api_client, ready_checkout, checkout_total, sb
):
    plugin = configure_gateway(provider)
    data = start(api_client, ready_checkout, plugin, checkout_total(ready_checkout))
    # the callback arrives while the provider is down: stored, failed, 503
    sb.act(provider, data["invoice_id"], "pay")
    sb.inject_fault(provider, "status", count=5, status=503)
    response = deliver(Client(), sb, provider, data["invoice_id"], plugin.PLUGIN_ID)
    assert response.status_code == 503
    event = CallbackEvent.objects.get()
    assert event.outcome == "failed"
    sb.clear_faults()

    out = StringIO()
    call_command("cryptopay_replay", str(event.pk), stdout=out)
    assert "processed" in out.getvalue()
    assert Order.objects.filter(checkout_token=ready_checkout.token).exists()


def test_replay_unknown_event_is_a_clear_error():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="no stored callback"):
        call_command("cryptopay_replay", "999999")


def test_celery_task_is_registered_and_reconciles(
    configure_gateway, api_client, ready_checkout, checkout_total, sb
):
    from saleor.celeryconf import app

    from saleor_cryptopay import tasks

    assert app.tasks["saleor_cryptopay.reconcile"].name == tasks.reconcile_task.name
    plugin = configure_gateway("coinpay24")
    data = start(api_client, ready_checkout, plugin, checkout_total(ready_checkout))
    sb.act("coinpay24", data["invoice_id"], "pay")
    summaries = tasks.reconcile_task.delay().get()  # eager in Saleor's test settings
    assert any("1 updated" in s for s in summaries), summaries
    assert Order.objects.filter(checkout_token=ready_checkout.token).exists()
