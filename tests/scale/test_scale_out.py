"""Scale-out, Saleor-free: what the README's "Running in production" runs.

- two ``serve`` processes on one PostgreSQL: 20 concurrent duplicate
  callbacks across both end in one ``transactionEventReport`` and one
  ``checkoutComplete``;
- a Celery worker with beat on Redis runs reconcile, payouts and prune on
  schedule, and recovers a missed callback by itself;
- the worker killed (SIGKILL) in the middle of a payout: that payout becomes
  "outcome unknown" for staff and is never sent again by the next worker;
- Saleor unreachable for a while: the reports are kept, then each delivered once.
"""

from __future__ import annotations

import os
import signal
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest
import requests

from ..app.fake_saleor import APP_ID, gid, initialize_payload, now_iso, source
from ..app_process import wait_for
from .conftest import configure, webhook

pytestmark = pytest.mark.slow
BTC = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"
# every chore every 3 s, payouts left "sending" for 6 s are someone's crash
FAST = {
    "CRYPTOPAY_RECONCILE_MINUTES": "0.05",
    "CRYPTOPAY_PAYOUT_MINUTES": "0.05",
    "CRYPTOPAY_PRUNE_MINUTES": "0.05",
    "CRYPTOPAY_PAYOUT_STALE_MINUTES": "0.1",
}


def pay_start(url, saleor, provider="coinpay24") -> tuple[str, str, str]:
    """transactionInitialize for a new checkout: (transaction id, checkout pk, psp)."""
    txn, checkout = gid("TransactionItem"), str(uuid.uuid4())
    payload = initialize_payload(transaction_id=txn, provider=provider, source=source(checkout))
    answer = webhook(url, saleor, "TRANSACTION_INITIALIZE_SESSION", payload)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["result"] == "CHARGE_ACTION_REQUIRED", body
    return txn, checkout, body["pspReference"]


def charges(saleor, txn=None) -> list[dict]:
    return [
        r
        for r in saleor.reports()
        if r["type"] == "CHARGE_SUCCESS" and (txn is None or r["id"] == txn)
    ]


def pending_reports(app) -> int:
    return app.query("SELECT count(*) FROM cryptopay_app_outboxreport WHERE done_at IS NULL")[0][0]


def test_two_processes_twenty_duplicate_callbacks_one_report(installed, saleor, sb):
    app = installed
    first, second = app.urls[0], app.serve()
    configure(app, saleor, sb, "coinpay24")
    txn, _, psp = pay_start(first, saleor)

    sb.act("coinpay24", psp, "pay")  # the sandbox delivers too, racing the copies
    [delivery] = sb.callbacks("coinpay24", psp)
    path = urlsplit(delivery["url"]).path
    targets = [f"{(first, second)[i % 2]}{path}" for i in range(20)]
    with ThreadPoolExecutor(20) as pool:
        codes = list(pool.map(
            lambda url: requests.post(url, data=delivery["fields"], timeout=60).status_code,
            targets,
        ))  # fmt: skip
    assert set(codes) == {200}, codes

    # every report written is delivered: nothing is left that could still arrive
    wait_for(lambda: saleor.completions() and pending_reports(app) == 0, 60, "reports delivered")
    assert len(charges(saleor, txn)) == 1, saleor.reports()
    assert len(saleor.completions()) == 1
    assert app.query("SELECT status FROM saleor_cryptopay_invoice") == [("paid",)]


def test_worker_with_beat_runs_the_chores_and_recovers_a_missed_callback(
    installed, saleor, sb, redis_url
):
    app = installed
    configure(app, saleor, sb, "coinpay_th",
              "--icoinpay-api-key", sb.icoinpay_api_key,
              "--icoinpay-api-base-url", sb.icoinpay_base)  # fmt: skip
    # the provider's callbacks go nowhere (as behind a broken proxy)
    app.query("UPDATE cryptopay_app_channelconfiguration SET callback_key = 'gone' RETURNING 1")
    txn, _, psp = pay_start(app.urls[0], saleor, "coinpay_th")
    sb.act("coinpay_th", psp, "pay")

    app.worker(**FAST)
    # beat alone: no reconcile command is run here
    wait_for(lambda: charges(saleor, txn) and saleor.completions(), 90, "missed callback recovered")

    refund = webhook(app.urls[0], saleor, "TRANSACTION_REFUND_REQUESTED", {
        "issuedAt": now_iso(), "version": "3.20.119", "recipient": {"id": APP_ID},
        "transaction": {"id": txn, "pspReference": psp},
        "action": {"amount": 10, "currency": "USD", "actionType": "REFUND"},
        "grantedRefund": None,
    })  # fmt: skip
    assert refund.status_code == 200, refund.text
    refund_id = refund.json()["pspReference"].rsplit("-", 1)[-1]
    done = app.cli("refunds", "--address", refund_id, BTC)
    assert done.returncode == 0, done.stderr
    wait_for(lambda: [r for r in saleor.reports() if r["type"] == "REFUND_SUCCESS"], 90,
             "payout sent by the schedule")  # fmt: skip
    assert len(sb.payouts()) == 1

    beats = wait_for(lambda: all((h := app.health())["last_success"].values()) and h, 60,
                     "every chore ran")  # fmt: skip
    assert beats["status"] == "ok" and beats["outbox"]["undelivered"] == 0


def test_worker_killed_mid_payout_leaves_it_unknown_and_never_resends(
    installed, saleor, sb, redis_url
):
    app = installed
    configure(app, saleor, sb, "coinpay_th",
              "--icoinpay-api-key", sb.icoinpay_api_key,
              "--icoinpay-api-base-url", sb.icoinpay_base)  # fmt: skip
    txn, _, psp = pay_start(app.urls[0], saleor, "coinpay_th")
    sb.act("coinpay_th", psp, "pay")
    wait_for(lambda: saleor.completions(), 60, "paid")
    refund = webhook(app.urls[0], saleor, "TRANSACTION_REFUND_REQUESTED", {
        "issuedAt": now_iso(), "version": "3.20.119", "recipient": {"id": APP_ID},
        "transaction": {"id": txn, "pspReference": psp},
        "action": {"amount": 10, "currency": "USD", "actionType": "REFUND"},
        "grantedRefund": None,
    })  # fmt: skip
    refund_id = refund.json()["pspReference"].rsplit("-", 1)[-1]
    # iCoinPay carries the payout out, but its answer never comes back
    sb.inject_fault("icoinpay", "hang", seconds=120, endpoint="send")
    assert app.cli("refunds", "--address", refund_id, BTC).returncode == 0

    worker = app.worker(**FAST)
    wait_for(lambda: app.query("SELECT 1 FROM saleor_cryptopay_payout WHERE status = 'sending'"),
             60, "payout in flight")  # fmt: skip
    wait_for(lambda: sb.payouts(), 30, "payout reached the provider")
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(10)
    sb.clear_faults()

    app.worker(**FAST)
    status = "SELECT status FROM saleor_cryptopay_refundrequest WHERE id = %s"
    wait_for(lambda: app.query(status, int(refund_id)) == [("needs_attention",)], 90,
             "outcome unknown")  # fmt: skip
    tasks = app.query("SELECT kind FROM saleor_cryptopay_stafftask WHERE resolved_at IS NULL")
    assert [kind for (kind,) in tasks if kind.startswith("payout_unknown")], tasks
    # a later payout run of the new worker sends nothing
    flagged = app.health()["last_success"]["payouts"]
    wait_for(lambda: app.health()["last_success"]["payouts"] != flagged, 60, "another payout run")
    assert len(sb.payouts()) == 1
    payouts = app.query("SELECT status FROM saleor_cryptopay_payout ORDER BY id")
    assert payouts == [("unknown",)]
    assert "outcome unknown" in app.cli("tasks").stdout


def test_saleor_unreachable_for_a_while_then_every_report_delivered_once(
    installed, saleor, sb, redis_url
):
    app = installed
    second = app.serve()
    configure(app, saleor, sb, "coinpay24")
    app.worker(**FAST)
    saleor.down = True
    started = [pay_start((app.urls[0], second)[i % 2], saleor) for i in range(3)]
    for _, _, psp in started:
        sb.act("coinpay24", psp, "pay")
    sb.wait_for_callbacks(3, provider="coinpay24")
    wait_for(lambda: pending_reports(app) == 6, 60, "reports kept")  # charge + complete each
    # a reconcile run while Saleor is down keeps them too
    before = app.health()["last_success"]["reconcile"]
    wait_for(lambda: app.health()["last_success"]["reconcile"] != before, 60, "reconcile ran")
    assert pending_reports(app) == 6 and not saleor.reports()

    saleor.down = False
    wait_for(lambda: pending_reports(app) == 0, 90, "reports delivered")
    for txn, _, _ in started:
        assert len(charges(saleor, txn)) == 1, saleor.reports()
    assert len(saleor.completions()) == 3
    assert app.health()["outbox"]["undelivered"] == 0
