"""End to end over real HTTP: the sandbox itself delivers its callbacks to the
plugin's URL on Saleor's live test server (no test client in between)."""

import pytest

pytest.importorskip("saleor", reason="Saleor is not installed: run in a Saleor 3.20 environment")

from saleor.graphql.tests.utils import get_graphql_content  # noqa: E402
from saleor.order.models import Order  # noqa: E402
from saleor.payment import ChargeStatus, TransactionKind  # noqa: E402

from saleor_cryptopay.models import CallbackEvent, Invoice  # noqa: E402

from .flow import callback_path, start  # noqa: E402

PROVIDERS = ["coinpay24", "coinpay_th"]
ORDER_LIST = """
query { orders(first: 20) { edges { node { number status paymentStatus isPaid } } } }
"""
DELIVERY_TIMEOUT = 30  # seconds; one delivery takes well under a second
REREAD = {"coinpay24": "invoices/get", "coinpay_th": "checkorder"}


@pytest.fixture
def live_gateway(configure_gateway, live_callbacks):
    """A gateway whose callback URL points at the live server."""
    return configure_gateway


def assert_charged_order(checkout, total):
    order = Order.objects.get(checkout_token=checkout.token)
    assert order.charge_status == "full" and order.total_charged_amount == total
    payment = order.payments.get()
    assert payment.charge_status == ChargeStatus.FULLY_CHARGED
    assert payment.transactions.filter(kind=TransactionKind.CAPTURE, is_success=True).count() == 1
    return order


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("provider", PROVIDERS)
def test_sandbox_delivers_the_paid_callback_and_the_order_is_charged(
    provider,
    live_gateway,
    live_server,
    api_client,
    ready_checkout,
    checkout_total,
    sb,
    staff_api_client,
    permission_group_manage_orders,
):
    plugin = live_gateway(provider)
    total = checkout_total(ready_checkout)
    invoice_id = start(api_client, ready_checkout, plugin.PLUGIN_ID, total)["invoice_id"]
    expected_url = live_server.url + callback_path(plugin.PLUGIN_ID)
    if provider == "coinpay24":
        assert sb.invoices()[0]["callback_url"] == expected_url
    else:
        assert sb.orders()[0]["ipn"] == expected_url

    queued = sb.act(provider, invoice_id, "pay")["callbacks"]
    deliveries = sb.wait_for_callbacks(
        len(queued), timeout=DELIVERY_TIMEOUT, provider=provider, invoice=invoice_id
    )

    for delivery in deliveries:
        assert delivery["url"] == expected_url
        assert delivery["state"] == "delivered", delivery
        assert [a["http_status"] for a in delivery["attempts"]] == [200], delivery["attempts"]
    assert_charged_order(ready_checkout, total)
    event = CallbackEvent.objects.get()
    assert (event.outcome, event.verified) == ("processed", True), event.result
    assert event.remote_addr == "127.0.0.1"
    assert Invoice.objects.get().status == "paid"

    # what the Dashboard's order list asks for: the order is there, paid
    permission_group_manage_orders.user_set.add(staff_api_client.user)
    content = get_graphql_content(staff_api_client.post_graphql(ORDER_LIST))
    (node,) = [edge["node"] for edge in content["data"]["orders"]["edges"]]
    assert (node["paymentStatus"], node["isPaid"]) == ("FULLY_CHARGED", True), node
    assert node["status"] in ("UNFULFILLED", "UNCONFIRMED")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("provider", PROVIDERS)
def test_failed_reread_answers_503_and_the_providers_retry_completes_it(
    provider, live_gateway, api_client, ready_checkout, checkout_total, sb
):
    """The provider's API fails the plugin's re-read once: the callback is
    answered 503 (not 200), so the provider retries, and the retry charges."""
    plugin = live_gateway(provider)
    total = checkout_total(ready_checkout)
    invoice_id = start(api_client, ready_checkout, plugin.PLUGIN_ID, total)["invoice_id"]
    sb.inject_fault(provider, "status", status=503, endpoint=REREAD[provider])

    sb.act(provider, invoice_id, "pay")
    (delivery,) = sb.wait_for_callbacks(
        1, timeout=DELIVERY_TIMEOUT, provider=provider, invoice=invoice_id
    )

    assert delivery["state"] == "delivered", delivery
    assert [a["http_status"] for a in delivery["attempts"]] == [503, 200], delivery["attempts"]
    assert_charged_order(ready_checkout, total)
    outcomes = list(CallbackEvent.objects.order_by("received_at").values_list("outcome", flat=True))
    assert outcomes == ["failed", "processed"]
