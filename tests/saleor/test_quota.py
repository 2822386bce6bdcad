"""Provider quotas inside Saleor: a callback deferred (not lost) when the
budget is short, checkout failing fast while the provider says wait, and
forged IPNs unable to spend the calls shoppers need."""

import time
from datetime import timedelta

import pytest

pytest.importorskip("saleor", reason="Saleor is not installed: run in a Saleor 3.20 environment")

from django.db import DEFAULT_DB_ALIAS, connections  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402
from saleor.order.models import Order  # noqa: E402

from saleor_cryptopay.models import CallbackEvent, Invoice, QuotaCall, QuotaKey  # noqa: E402
from saleor_cryptopay.providers.quota import CALLBACK, CHECKOUT  # noqa: E402
from saleor_cryptopay.quota import IN_FLIGHT_MARGIN, shared_budget  # noqa: E402
from saleor_cryptopay.sync import IPN_VERIFICATIONS  # noqa: E402

from .flow import complete, create_payment, deliver, post_form, start  # noqa: E402

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
    # no timing bound: had checkout waited the block out, it would have called
    # the provider afterwards, which the request counts below would show
    result = complete(api_client, ready_checkout)
    assert result["errors"][0]["code"] == "PAYMENT_ERROR"
    assert "not answering right now" in result["errors"][0]["message"]
    assert "invoices/create" not in sb.request_counts().get("coinpay24", {})
    assert not Invoice.objects.exists()


def test_forged_ipns_spend_a_few_verifications_per_invoice_and_the_real_one_still_counts(
    configure_gateway, api_client, ready_checkout, checkout_total, sb
):
    """The plugin's callback URL is public too: forged CoinPay.in.th IPNs naming
    a real order cost a few verifyipn calls per interval, not one each."""
    plugin = configure_gateway("coinpay_th")
    total = checkout_total(ready_checkout)
    order_id = start(api_client, ready_checkout, plugin.PLUGIN_ID, total)["invoice_id"]
    forged = [("order_id", str(order_id)), ("verify", "f" * 32), ("order_status", "2")]
    answers = [post_form(Client(), plugin.PLUGIN_ID, forged) for _ in range(30)]
    spent, later = answers[:IPN_VERIFICATIONS], answers[IPN_VERIFICATIONS:]
    assert all(a.status_code == 200 and b"verification failed" in a.content for a in spent)
    assert {a.status_code for a in later} == {503}  # stored; a real one is sent again
    assert sb.request_counts()["coinpay_th"].get("verifyipn", 0) == IPN_VERIFICATIONS
    assert not Order.objects.exists()

    sb.act("coinpay_th", order_id, "pay")
    assert deliver(Client(), sb, "coinpay_th", order_id, plugin.PLUGIN_ID).status_code == 503
    # the interval passes (moved, not waited for): the provider's next try counts
    Invoice.objects.update(ipn_checked_at=timezone.now() - timedelta(minutes=1))
    assert deliver(Client(), sb, "coinpay_th", order_id, plugin.PLUGIN_ID).status_code == 200
    order = Order.objects.get(checkout_token=ready_checkout.token)
    assert order.total_charged_amount == total
    assert sb.request_counts()["coinpay_th"]["verifyipn"] == IPN_VERIFICATIONS + 1
