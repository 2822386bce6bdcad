"""Refunds: neither provider refunds through its API."""

import pytest

pytest.importorskip("saleor", reason="Saleor is not installed: run in a Saleor 3.20 environment")

from django.test import Client  # noqa: E402
from saleor.order.models import Order  # noqa: E402
from saleor.payment import PaymentError, gateway  # noqa: E402
from saleor.payment.models import Payment  # noqa: E402
from saleor.plugins.manager import get_plugins_manager  # noqa: E402

from saleor_cryptopay.models import Invoice, StaffTask  # noqa: E402

from .flow import complete, confirmation, create_payment, deliver  # noqa: E402

pytestmark = pytest.mark.django_db


def paid_order(api_client, checkout, plugin, total, sb, provider):
    create_payment(api_client, checkout, plugin.PLUGIN_ID, total)
    data = confirmation(complete(api_client, checkout))
    sb.act(provider, data["invoice_id"], "pay")
    assert deliver(Client(), sb, provider, data["invoice_id"], plugin.PLUGIN_ID).status_code == 200
    return data, Order.objects.get(checkout_token=checkout.token)


@pytest.mark.parametrize("provider", ["coinpay24", "coinpay_th"])
def test_dashboard_refund_is_refused_and_recorded_for_staff(
    provider, configure_gateway, api_client, ready_checkout, checkout_total, sb
):
    plugin = configure_gateway(provider)
    _, order = paid_order(
        api_client, ready_checkout, plugin, checkout_total(ready_checkout), sb, provider
    )
    payment = Payment.objects.get(order=order)
    with pytest.raises(PaymentError, match="cannot refund through its API"):
        gateway.refund(payment, get_plugins_manager(allow_replica=False), channel_slug="main")
    payment.refresh_from_db()
    assert payment.captured_amount == payment.total  # nothing pretended
    assert StaffTask.objects.filter(kind="refund", resolved_at=None).count() == 1


def test_refund_at_the_provider_is_reported(
    configure_gateway, api_client, ready_checkout, checkout_total, sb
):
    plugin = configure_gateway("coinpay24")
    data, order = paid_order(
        api_client, ready_checkout, plugin, checkout_total(ready_checkout), sb, "coinpay24"
    )
    sb.act("coinpay24", data["invoice_id"], "refund")
    response = deliver(Client(), sb, "coinpay24", data["invoice_id"], plugin.PLUGIN_ID)
    assert response.status_code == 200
    invoice = Invoice.objects.get()
    assert invoice.status == "refunded" and "refunded_at_provider" in invoice.flags
    order.refresh_from_db()
    assert "cryptopay.attention" in order.private_metadata
    assert StaffTask.objects.filter(kind="refunded_at_provider").exists()
    # a repeat of the refund callback costs no provider call
    before = sum(sb.request_counts()["coinpay24"].values())
    assert (
        deliver(Client(), sb, "coinpay24", data["invoice_id"], plugin.PLUGIN_ID).status_code == 200
    )
    assert sum(sb.request_counts()["coinpay24"].values()) == before


def test_staff_task_list_and_resolve(
    configure_gateway, api_client, ready_checkout, checkout_total, sb
):
    from io import StringIO

    from django.core.management import call_command
    from django.core.management.base import CommandError

    plugin = configure_gateway("coinpay24")
    _, order = paid_order(
        api_client, ready_checkout, plugin, checkout_total(ready_checkout), sb, "coinpay24"
    )
    payment = Payment.objects.get(order=order)
    with pytest.raises(PaymentError):
        gateway.refund(payment, get_plugins_manager(allow_replica=False), channel_slug="main")
    task = StaffTask.objects.get(kind="refund")

    out = StringIO()
    call_command("cryptopay_tasks", stdout=out)
    assert f"#{task.pk} [open] refund" in out.getvalue()
    call_command("cryptopay_tasks", "--resolve", str(task.pk), stdout=StringIO())
    out = StringIO()
    call_command("cryptopay_tasks", stdout=out)
    assert "Nothing needs attention." in out.getvalue()
    with pytest.raises(CommandError):
        call_command("cryptopay_tasks", "--resolve", str(task.pk))
