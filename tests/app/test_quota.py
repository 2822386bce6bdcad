"""The shop's provider quota is not for strangers to spend (issue 14 §3): with
the sandbox limited to 25 calls a minute per provider, a checkout's repeated
transactionInitialize / transactionProcess and forged IPNs leave the next
honest shopper the calls they need. Real HTTP on loopback: signed Saleor
webhooks into the App, the sandbox as provider."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import requests
from django.utils import timezone

from saleor_cryptopay.app.reconcile import reconcile_all
from saleor_cryptopay.invoice_limits import MAX_INVOICES_PER_CHECKOUT
from saleor_cryptopay.models import CallbackEvent, Invoice, QuotaCall, QuotaKey
from saleor_cryptopay.providers.coinpay24 import CoinPay24Client
from saleor_cryptopay.providers.errors import ProviderError
from saleor_cryptopay.providers.quota import BACKGROUND
from saleor_cryptopay.quota import attach
from saleor_cryptopay.sandbox import SandboxServer
from saleor_cryptopay.sync import IPN_VERIFICATIONS

from .fake_saleor import gid, initialize_payload, source
from .test_payment_flow import INIT, order_recorded, process, start, wait_for

LIMIT = 25  # calls a minute per provider, as the sandbox enforces them here
CHECKOUT = "7a7a0000-0000-4000-8000-000000000007"
HONEST = "8b8b0000-0000-4000-8000-000000000008"


@pytest.fixture(scope="module")
def sandbox():
    """This module's own sandbox: the flat per-minute limit, fast IPN retries."""
    with SandboxServer("127.0.0.1", 0, time_scale=0.0005, rate_limit_per_minute=LIMIT) as server:
        yield server


def calls(sb, provider: str, endpoint: str) -> int:
    return sb.request_counts().get(provider, {}).get(endpoint, 0)


def total_calls(sb, provider: str) -> int:
    return sum(sb.request_counts().get(provider, {}).values())


def honest_shopper_pays(hook, provider: str) -> None:
    _, answer = start(hook, provider=provider, checkout_pk=HONEST)
    assert answer["result"] == "CHARGE_ACTION_REQUIRED", answer


def initialize(hook, amount, txn=None):
    """A transactionInitialize on the checkout: Saleor makes a new transaction each time."""
    payload = initialize_payload(
        transaction_id=txn or gid("TransactionItem"), amount=amount, source=source(CHECKOUT)
    )
    return hook(INIT, payload).json()


def test_repeated_initialize_on_one_checkout_reuses_its_invoice_and_is_bounded(configure, hook, sb):
    configure()
    answers = [initialize(hook, 30) for _ in range(30)]
    assert {a["result"] for a in answers} == {"CHARGE_ACTION_REQUIRED"}
    assert len({a["pspReference"] for a in answers}) == 1  # one invoice, reused
    assert calls(sb, "coinpay24", "invoices/create") == 1
    # it moves to the transaction started last, as the plugin's to the newest payment
    last = gid("TransactionItem")
    assert initialize(hook, 30, last)["pspReference"] == answers[0]["pspReference"]
    assert Invoice.objects.get().transaction_id == last
    # a different amount each time (transactionInitialize takes any amount)
    answers = [initialize(hook, 100 + n) for n in range(30)]
    opened = [a for a in answers if a["result"] == "CHARGE_ACTION_REQUIRED"]
    refused = [a for a in answers if a["result"] == "CHARGE_FAILURE"]
    assert len(opened) == MAX_INVOICES_PER_CHECKOUT - 1 and len(refused) == 30 - len(opened)
    assert "Too many payment attempts" in refused[0]["message"]
    assert calls(sb, "coinpay24", "invoices/create") == MAX_INVOICES_PER_CHECKOUT
    honest_shopper_pays(hook, "coinpay24")


def test_process_session_rereads_an_invoice_at_most_once_per_interval(configure, hook, sb):
    configure()
    txn, _ = start(hook, checkout_pk=CHECKOUT)
    for _ in range(30):  # right after creation: nothing to ask the provider yet
        assert process(hook, txn)["result"] == "CHARGE_ACTION_REQUIRED"
    assert calls(sb, "coinpay24", "invoices/get") == 0
    # minutes later the shopper is back, and Saleor keeps asking
    Invoice.objects.update(created_at=timezone.now() - timedelta(minutes=2))
    for _ in range(30):
        assert process(hook, txn)["result"] == "CHARGE_ACTION_REQUIRED"
    assert calls(sb, "coinpay24", "invoices/get") == 1
    honest_shopper_pays(hook, "coinpay24")


def forged_ipn(order_id: str) -> dict:
    return {"order_id": order_id, "verify": "f" * 32, "order_status": "2", "success": "true"}


def test_forged_ipns_cost_a_few_verifications_and_the_real_one_still_counts(
    configure, hook, sb, saleor
):
    config = configure("coinpay_th")
    _, answer = start(hook, provider="coinpay_th", checkout_pk=CHECKOUT)
    order_id = answer["pspReference"]
    answers = [
        requests.post(config.callback_url, data=forged_ipn(order_id), timeout=10) for _ in range(30)
    ]
    spent = answers[:IPN_VERIFICATIONS]
    assert {(a.status_code, a.text) for a in spent} == {(200, "rejected: verification failed")}
    later = answers[IPN_VERIFICATIONS:]
    assert {a.status_code for a in later} == {503}  # stored, and the provider retries
    assert "deferred" in later[0].text
    assert calls(sb, "coinpay_th", "verifyipn") == IPN_VERIFICATIONS
    assert Invoice.objects.get().payment_status.is_open
    honest_shopper_pays(hook, "coinpay_th")

    # the real IPN, while the forged one still holds the door: 503, sent again
    sb.act("coinpay_th", order_id, "pay")
    wait_for(lambda: CallbackEvent.objects.filter(outcome="failed").count() > len(later))
    # the interval passes (moved instead of waited for)
    Invoice.objects.update(ipn_checked_at=timezone.now() - timedelta(minutes=1))
    wait_for(order_recorded, timeout=30)
    assert [r["type"] for r in saleor.reports()] == ["CHARGE_SUCCESS"]
    assert CallbackEvent.objects.filter(outcome="processed", verified=True).count() == 1


def test_forged_coinpay24_callbacks_cost_no_call(configure, hook, sb):
    config = configure()
    _, answer = start(hook, checkout_pk=CHECKOUT)
    before = total_calls(sb, "coinpay24")
    forged = {"id": answer["pspReference"], "status": "paid", "verify_hash": "0" * 64}
    for _ in range(30):
        response = requests.post(config.callback_url, data=forged, timeout=10)
        assert response.status_code == 200 and response.text.startswith("rejected")
    assert total_calls(sb, "coinpay24") == before  # HMAC first: refused locally


def test_app_calls_draw_on_the_shared_budget_checkout_first(configure, hook, sb, settings):
    """The App's calls count in the key's budget beside the plugin's (another
    process here): background work stops at its share, checkout gets the rest."""
    settings.CRYPTOPAY_QUOTA_ENABLED = True
    settings.CRYPTOPAY_QUOTA_LIMITS = {
        "coinpay24": [{"name": "calls per minute", "seconds": 60, "limit": LIMIT}]
    }
    QuotaCall.objects.all().delete()
    QuotaKey.objects.all().delete()
    configure()
    start(hook, checkout_pk=CHECKOUT)  # an open invoice for reconciliation to read

    other = CoinPay24Client(sb.coinpay24_api_key, base_url=sb.coinpay24_base, timeout=(3, 3))
    attach(other.http, sb.coinpay24_api_key, BACKGROUND)
    with pytest.raises(ProviderError) as refused:
        for _ in range(LIMIT):
            other.list_invoices(per_page=1)
    assert refused.value.code == "quota"  # 80 % of the window used

    before = total_calls(sb, "coinpay24")
    lines = reconcile_all()  # the App's background work: refused by the budget, no call
    assert total_calls(sb, "coinpay24") == before, lines
    honest_shopper_pays(hook, "coinpay24")  # checkout may use the last 20 %
    assert total_calls(sb, "coinpay24") == before + 1


def test_concurrent_initializes_on_one_checkout_stay_within_its_share(configure, hook, sb):
    configure()
    with ThreadPoolExecutor(max_workers=12) as pool:
        answers = list(pool.map(lambda n: initialize(hook, 100 + n), range(12)))
    opened = [a for a in answers if a["result"] == "CHARGE_ACTION_REQUIRED"]
    assert len(opened) == MAX_INVOICES_PER_CHECKOUT
    assert calls(sb, "coinpay24", "invoices/create") == MAX_INVOICES_PER_CHECKOUT
