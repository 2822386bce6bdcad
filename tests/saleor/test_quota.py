"""Provider quotas inside Saleor: a callback deferred (not lost) when the
budget is short, and checkout failing fast while the provider says wait."""

import time

import pytest

pytest.importorskip("saleor", reason="Saleor is not installed: run in a Saleor 3.20 environment")

from django.db import DEFAULT_DB_ALIAS, connections  # noqa: E402
from django.test import Client  # noqa: E402
from saleor.order.models import Order  # noqa: E402

from saleor_cryptopay.models import CallbackEvent, Invoice, QuotaCall, QuotaKey  # noqa: E402
from saleor_cryptopay.providers.quota import CALLBACK, CHECKOUT  # noqa: E402
from saleor_cryptopay.quota import IN_FLIGHT_MARGIN, shared_budget  # noqa: E402

from .flow import complete, create_payment, deliver, start  # noqa: E402

pytestmark = pytest.mark.django_db
WINDOW = 10.0  # seconds: long enough that a loaded machine does not see it slide mid-test


def forget_quota() -> None:
    """The budget commits on a connection of its own (outside the test's
    transaction), so its rows are removed the same way."""
    own = connections.create_connection(DEFAULT_DB_ALIAS)
    try:
        with own.cursor() as cursor:
            for model in (QuotaCall, QuotaKey):
                cursor.execute(f"DELETE FROM {own.ops.quote_name(model._meta.db_table)}")  # noqa: S608
    finally:
        own.close()


@pytest.fixture
def quota(settings):
    settings.CRYPTOPAY_QUOTA_ENABLED = True
    settings.CRYPTOPAY_QUOTA_LIMITS = {
        "coinpay24": [{"name": "per window", "seconds": WINDOW, "limit": 10}]
    }
    forget_quota()
    yield
    forget_quota()


def test_callback_is_deferred_with_503_when_the_budget_is_short_and_lost_never(
    quota, configure_gateway, api_client, ready_checkout, checkout_total, sb
):
    plugin = configure_gateway("coinpay24")
    total = checkout_total(ready_checkout)
    data = start(api_client, ready_checkout, plugin.PLUGIN_ID, total)
    sb.act("coinpay24", data["invoice_id"], "pay")

    # other traffic on the key: spends the re-read the creation booked, fills the rest
    budget = shared_budget("coinpay24", sb.coinpay24_api_key)
    budget.acquire("invoices/1", CALLBACK)
    for _ in range(7):
        budget.acquire("invoices", CHECKOUT)

    response = deliver(Client(), sb, "coinpay24", data["invoice_id"], plugin.PLUGIN_ID)
    assert response.status_code == 503  # the provider sends it again (not 301/302/401)
    event = CallbackEvent.objects.get()
    assert event.outcome == "failed" and event.verified is True
    assert "deferred, provider quota short" in event.result
    assert Invoice.objects.get().status == "new" and not Order.objects.exists()
    assert sb.request_counts()["coinpay24"].get("invoices/get", 0) == 0

    time.sleep(WINDOW + IN_FLIGHT_MARGIN + 0.1)  # the window moves on; the provider's retry arrives
    response = deliver(Client(), sb, "coinpay24", data["invoice_id"], plugin.PLUGIN_ID)
    assert response.status_code == 200
    order = Order.objects.get(checkout_token=ready_checkout.token)
    assert order.total_charged_amount == total


def test_checkout_fails_fast_while_the_provider_said_wait(
    quota, configure_gateway, api_client, ready_checkout, checkout_total, sb
):
    plugin = configure_gateway("coinpay24")
    shared_budget("coinpay24", sb.coinpay24_api_key).block(60)  # another process met a 429
    create_payment(api_client, ready_checkout, plugin.PLUGIN_ID, checkout_total(ready_checkout))
    started = time.monotonic()
    result = complete(api_client, ready_checkout)
    assert time.monotonic() - started < 5
    assert result["errors"][0]["code"] == "PAYMENT_ERROR"
    assert "not answering right now" in result["errors"][0]["message"]
    assert "invoices/create" not in sb.request_counts().get("coinpay24", {})
    assert not Invoice.objects.exists()
