"""The payment path end to end on loopback: signed Saleor webhooks in, the
sandbox as provider (its callbacks reach the App's callback URL), Saleor's
GraphQL captured by the fake Saleor."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal

import pytest
import requests
from django.utils import timezone

from saleor_cryptopay.app import outbox
from saleor_cryptopay.app.callbacks import replay_event
from saleor_cryptopay.app.models import OutboxReport
from saleor_cryptopay.app.reconcile import reconcile_all
from saleor_cryptopay.app.saleor_api import global_id
from saleor_cryptopay.models import CallbackEvent, Invoice, StaffTask

from ..qr_decode import decode_qr
from .fake_saleor import SHOP, gid, initialize_payload, now_iso, order_source, source

INIT = "TRANSACTION_INITIALIZE_SESSION"
PROCESS = "TRANSACTION_PROCESS_SESSION"


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    raise AssertionError("condition not reached")


def outbox_empty() -> bool:
    """Every report sent and recorded: the App marks a row done after Saleor
    answered, so what the fake Saleor received is not yet what the App stored."""
    return not OutboxReport.objects.filter(done_at=None).exists()


def order_recorded() -> bool:
    """The App has the order id (written after Saleor answered checkoutComplete)
    and nothing left to send."""
    return Invoice.objects.filter(order_id__isnull=False).exists() and outbox_empty()


def start(hook, provider="coinpay24", **kw):
    txn = gid("TransactionItem")
    checkout_pk = kw.pop("checkout_pk", "5b6c0000-0000-4000-8000-000000000001")
    kw.setdefault("source", source(checkout_pk))
    payload = initialize_payload(transaction_id=txn, provider=provider, **kw)
    response = hook(INIT, payload)
    assert response.status_code == 200
    return txn, response.json()


def process(hook, txn, action_type="CHARGE"):
    payload = {
        "issuedAt": now_iso(),
        "version": "3.20.119",
        "recipient": {"id": initialize_payload(transaction_id=txn)["recipient"]["id"]},
        "transaction": {"id": txn, "pspReference": ""},
        "action": {"amount": 30.0, "currency": "USD", "actionType": action_type},
        "data": None,
        "merchantReference": txn,
        "sourceObject": source(),
    }
    return hook(PROCESS, payload).json()


def test_initialize_answers_action_required_with_the_storefront_contract(configure, hook, sb):
    config = configure()
    txn, answer = start(hook)
    invoice = Invoice.objects.get()
    assert answer["result"] == "CHARGE_ACTION_REQUIRED"
    assert answer["pspReference"] == invoice.provider_invoice_id
    assert answer["amount"] == "30.00"
    assert answer["externalUrl"] == invoice.payment_url
    data = answer["data"]
    assert data["provider"] == "coinpay24" and data["payment_url"].startswith("http")
    assert data["amount"] == "30.00" and data["currency"] == "USD" and data["expires_at"]
    assert invoice.transaction_id == txn and invoice.checkout_token.startswith("5b6c0000")
    # the provider calls back on this configuration's own URL
    assert sb.invoices()[0]["callback_url"] == config.callback_url


def test_invoice_texts_name_the_shop_and_the_purchase_never_saleor_ids(configure, hook, sb):
    """The provider's page shows the title and description: the shop's name
    and the shopper's checkout or order, not a base64 transaction id."""
    configure()
    txn, _ = start(hook)
    _, _ = start(hook, source=order_source("1042"))
    checkout, order = sb.invoices()
    assert (checkout["title"], checkout["description"]) == (SHOP, "Payment for checkout 5B6C0000")
    assert (order["title"], order["description"]) == (SHOP, "Payment for order #1042")
    assert txn not in checkout["title"] + checkout["description"]
    assert Invoice.objects.get(order_number="1042").shop_name == SHOP


def test_coinpay_th_answer_carries_address_amount_and_qr(configure, hook):
    configure("coinpay_th")
    _, answer = start(hook, provider="coinpay_th")
    data = answer["data"]
    assert answer["result"] == "CHARGE_ACTION_REQUIRED"
    assert data["address"] and data["pay_currency"] == "BTC" and Decimal(data["pay_amount"]) > 0
    assert "externalUrl" not in answer
    assert data["qr_data"]
    # the same contract as the plugin's: a QR that scans as the payment URI
    assert data["payment_uri"].startswith(f"bitcoin:{data['address']}?amount=")
    assert decode_qr(data["qr_code"]) == data["payment_uri"]


def test_payment_url_opens_the_apps_payment_page(configure, hook, app):
    """CoinPay.in.th has no hosted page (its URL is a bare ``bitcoin:`` URI):
    ``payment_url`` is ours, a page a storefront can redirect to."""
    configure("coinpay_th")
    _, answer = start(hook, provider="coinpay_th")
    data = answer["data"]
    assert data["payment_url"].startswith(f"{app}/api/pay/")
    page = requests.get(data["payment_url"], timeout=10)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert data["address"] in page.text and f"{data['pay_amount']} BTC" in page.text
    assert "30.00 USD" in page.text


def test_retry_of_the_same_transaction_reuses_the_invoice(configure, hook, sb):
    configure()
    txn, first = start(hook)
    payload = initialize_payload(transaction_id=txn, source=source())
    again = hook(INIT, payload).json()
    assert again["pspReference"] == first["pspReference"]
    assert Invoice.objects.count() == 1 and len(sb.invoices()) == 1


def test_provider_chosen_by_data_and_refused_when_ambiguous(configure, hook):
    configure("coinpay24")
    configure("coinpay_th")
    _, answer = start(hook, provider=None)
    assert answer["result"] == "CHARGE_FAILURE" and "pspReference" not in answer
    assert "coinpay24, coinpay_th" in answer["message"]
    _, answer = start(hook, provider="coinpay_th")
    assert answer["data"]["provider"] == "coinpay_th"


def test_provider_outage_is_an_honest_failure_answer(configure, hook, sb):
    configure()
    sb.inject_fault("coinpay24", "status", count=10, status=503)
    _, answer = start(hook)
    assert answer["result"] == "CHARGE_FAILURE"
    assert "not answering" in answer["message"] and answer["amount"] == "30.0"
    assert not Invoice.objects.exists()


def provider_ids_start_over(sb, provider_invoice_id: str) -> None:
    """The provider's next invoice gets this id again (as a provider, or the
    sandbox before ids survived restarts, whose ids start over)."""
    with sb.store.lock:
        sb.store.seq["invoice"] = int(provider_invoice_id) - 1


def test_a_provider_id_the_shop_already_holds_is_a_clear_failure(configure, hook, sb, saleor):
    """The unique provider invoice id made the initialize webhook a 500."""
    configure()
    _, first = start(hook)
    old = Invoice.objects.values().get()
    provider_ids_start_over(sb, first["pspReference"])
    txn = gid("TransactionItem")
    response = hook(INIT, initialize_payload(transaction_id=txn, source=source()))
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["result"] == "CHARGE_FAILURE" and "pspReference" not in answer
    assert f"id {first['pspReference']}" in answer["message"]
    assert "nothing was charged" in answer["message"]
    assert list(Invoice.objects.values()) == [old]  # the old invoice untouched


def test_paid_callback_reports_charge_and_completes_the_checkout(configure, hook, sb, saleor):
    configure()
    txn, answer = start(hook)
    sb.act("coinpay24", answer["pspReference"], "pay")
    # Saleor records checkoutComplete before it answers; the App then stores the
    # order id and closes the outbox row: wait for that, not for the call
    wait_for(order_recorded)
    wait_for(lambda: not OutboxReport.objects.filter(done_at=None).exists())
    [report] = saleor.reports()
    assert report == {
        "id": txn,
        "psp": answer["pspReference"],
        "type": "CHARGE_SUCCESS",
        "amount": "30.00",
        "message": "coinpay24 invoice paid",
        "url": answer["externalUrl"],
    }
    assert saleor.completions() == [
        {"id": global_id("Checkout", "5b6c0000-0000-4000-8000-000000000001")}
    ]
    invoice = Invoice.objects.get()
    assert invoice.status == "paid" and invoice.order_id
    assert not OutboxReport.objects.filter(done_at=None).exists()
    # the storefront comes back: the answer is the charge, no new report needed
    assert process(hook, txn)["result"] == "CHARGE_SUCCESS"
    assert len(saleor.reports()) == 1


def test_authorization_flow_waits_as_authorization_and_is_charged_when_paid(
    configure, hook, sb, saleor
):
    """A channel on the AUTHORIZATION flow strategy (Saleor 3.23's sample
    data): the waiting answers match the action Saleor asked for; paid coins
    are a charge (nothing left to capture), and the checkout completes."""
    configure()
    txn, answer = start(hook, action_type="AUTHORIZATION")
    assert answer["result"] == "AUTHORIZATION_ACTION_REQUIRED", answer
    assert process(hook, txn, "AUTHORIZATION")["result"] == "AUTHORIZATION_ACTION_REQUIRED"
    sb.act("coinpay24", answer["pspReference"], "pay")
    wait_for(lambda: saleor.completions())
    assert [r["type"] for r in saleor.reports()] == ["CHARGE_SUCCESS"]
    assert process(hook, txn, "AUTHORIZATION")["result"] == "CHARGE_SUCCESS"
    assert Invoice.objects.get().order_number == "1042"  # from checkoutComplete


def test_authorization_flow_expired_is_an_authorization_failure(configure, hook, sb, saleor):
    configure()
    txn, answer = start(hook, action_type="AUTHORIZATION")
    sb.act("coinpay24", answer["pspReference"], "expire")
    wait_for(lambda: saleor.reports())
    assert process(hook, txn, "AUTHORIZATION")["result"] == "AUTHORIZATION_FAILURE"
    refused = start(hook, provider="nope", action_type="AUTHORIZATION")[1]
    assert refused["result"] == "AUTHORIZATION_FAILURE"


def test_concurrent_duplicate_callbacks_report_once(configure, hook, sb, saleor):
    config = configure()
    _, answer = start(hook)
    sb.act("coinpay24", answer["pspReference"], "pay")
    [delivery] = sb.wait_for_callbacks(1, provider="coinpay24")
    wait_for(order_recorded)

    def post(_):
        return requests.post(config.callback_url, data=delivery["fields"], timeout=30)

    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(post, range(10)))
    assert {a.status_code for a in answers} == {200}
    assert CallbackEvent.objects.count() == 11
    assert len(saleor.reports()) == 1 and len(saleor.completions()) == 1
    outcomes = list(CallbackEvent.objects.values_list("outcome", flat=True))
    assert outcomes.count("processed") == 1 and outcomes.count("ignored") == 10


def test_saleor_down_keeps_the_report_until_reconcile(configure, hook, sb, saleor):
    configure()
    txn, answer = start(hook)
    saleor.down = True
    sb.act("coinpay24", answer["pspReference"], "pay")
    sb.wait_for_callbacks(1, provider="coinpay24")
    pending = OutboxReport.objects.filter(done_at=None)
    assert [r.event_type for r in pending] == ["CHARGE_SUCCESS", ""]
    assert "503" in pending[0].last_error and Invoice.objects.get().status == "paid"
    saleor.down = False
    lines = reconcile_all()
    assert any("CHARGE_SUCCESS reported" in line for line in lines)
    assert [r["type"] for r in saleor.reports()] == ["CHARGE_SUCCESS"]
    assert len(saleor.completions()) == 1
    assert not OutboxReport.objects.filter(done_at=None).exists()


def test_missed_callback_is_recovered_by_reconcile(configure, hook, sb, saleor, settings):
    config = configure()
    _, answer = start(hook)
    # the provider cannot reach us: the callback URL goes nowhere
    config.callback_key = "gone"
    config.save()
    sb.act("coinpay24", answer["pspReference"], "pay")
    wait_for(lambda: sb.callbacks("coinpay24")[0]["attempts"])  # it tried, and got a 404
    assert Invoice.objects.get().status == "new" and not saleor.reports()
    reconcile_all()
    assert Invoice.objects.get().status == "paid"
    assert [r["type"] for r in saleor.reports()] == ["CHARGE_SUCCESS"]
    assert len(saleor.completions()) == 1


def test_process_session_finds_the_payment_and_completes_the_checkout(configure, hook, sb, saleor):
    """The callback never came; the shopper's return is what finds the money."""
    config = configure()
    txn, answer = start(hook)
    config.callback_key = "gone"
    config.save()
    sb.act("coinpay24", answer["pspReference"], "pay")
    # the shopper is back some minutes later (right after creation is no reason
    # to ask the provider again: sync.reread_due)
    Invoice.objects.update(created_at=timezone.now() - timedelta(minutes=2))
    assert process(hook, txn)["result"] == "CHARGE_SUCCESS"
    assert not saleor.reports()  # nothing sent while Saleor waits for the answer
    wait_for(order_recorded)
    assert [r["type"] for r in saleor.reports()] == ["CHARGE_SUCCESS"]


def test_expired_invoice_reports_charge_failure(configure, hook, sb, saleor):
    configure()
    txn, answer = start(hook)
    sb.act("coinpay24", answer["pspReference"], "expire")
    wait_for(lambda: saleor.reports() and outbox_empty())
    [report] = saleor.reports()
    assert report["type"] == "CHARGE_FAILURE" and report["amount"] == "30.00"
    assert not saleor.completions()
    assert process(hook, txn)["result"] == "CHARGE_FAILURE"


def test_underpaid_is_held_for_staff_and_told_to_saleor(configure, hook, sb, saleor):
    configure()
    _, answer = start(hook)
    sb.act("coinpay24", answer["pspReference"], "checkout", pay_currency="BTC")
    sb.act("coinpay24", answer["pspReference"], "underpay", fraction="0.5")
    wait_for(lambda: saleor.reports() and outbox_empty())
    [report] = saleor.reports()
    assert report["type"] == "INFO" and report["amount"] is None
    assert "underpaid" in report["message"] and not saleor.completions()
    assert StaffTask.objects.filter(kind="underpaid").exists()


def test_checkout_complete_refused_is_a_staff_task(configure, hook, sb, saleor):
    configure()
    _, answer = start(hook)
    saleor.complete_errors = [
        {"field": None, "code": "CHECKOUT_NOT_FULLY_PAID", "message": "not fully paid"}
    ]
    sb.act("coinpay24", answer["pspReference"], "pay")
    wait_for(lambda: saleor.completions())
    wait_for(outbox_empty)
    task = StaffTask.objects.get(kind="paid_no_order")
    assert "CHECKOUT_NOT_FULLY_PAID" in task.message


def test_forged_provider_callback_changes_nothing(configure, hook, sb, saleor):
    config = configure()
    _, answer = start(hook)
    forged = {"id": answer["pspReference"], "status": "paid", "verify_hash": "0" * 64}
    response = requests.post(config.callback_url, data=forged, timeout=10)
    assert response.status_code == 200 and response.text.startswith("rejected")
    assert Invoice.objects.get().status == "new" and not saleor.calls[1:]


def test_callback_for_another_configuration_is_rejected(configure, hook, sb, saleor):
    configure()
    other = configure(channel="other")
    _, answer = start(hook)
    sb.act("coinpay24", answer["pspReference"], "pay")
    [delivery] = sb.wait_for_callbacks(1, provider="coinpay24")
    fields = delivery["fields"]
    response = requests.post(other.callback_url, data=fields, timeout=10)
    assert response.text.startswith("rejected: invoice belongs to another configuration")


def test_coinpay_th_paid_callback(configure, hook, sb, saleor):
    configure("coinpay_th")
    txn, answer = start(hook, provider="coinpay_th")
    sb.act("coinpay_th", answer["pspReference"], "pay")
    wait_for(order_recorded)
    assert [r["type"] for r in saleor.reports()] == ["CHARGE_SUCCESS"]
    assert saleor.reports()[0]["psp"] == answer["pspReference"]


def test_replay_of_a_stored_callback(configure, hook, sb, saleor):
    configure()
    _, answer = start(hook)
    saleor.down = True
    sb.act("coinpay24", answer["pspReference"], "pay")
    sb.wait_for_callbacks(1, provider="coinpay24")  # answered: its flush failed
    saleor.down = False
    event = CallbackEvent.objects.get(outcome="processed")
    outcome, result = replay_event(event.pk)
    assert outcome == "processed" and "CHARGE_SUCCESS reported" in result
    assert len(saleor.completions()) == 1


def test_unpaid_refund_is_refused_and_cancel_is_a_task(configure, hook, sb):
    configure()
    txn, answer = start(hook)
    payload = {
        "issuedAt": now_iso(),
        "version": "3.20.119",
        "recipient": {"id": initialize_payload(transaction_id=txn)["recipient"]["id"]},
        "transaction": {"id": txn, "pspReference": answer["pspReference"]},
        "action": {"amount": 30.0, "currency": "USD", "actionType": "REFUND"},
    }
    # nothing captured yet: nothing to refund (paid refunds: test_refunds.py)
    refund = hook("TRANSACTION_REFUND_REQUESTED", payload).json()
    assert refund["result"] == "REFUND_FAILURE" and "pspReference" not in refund
    assert refund["amount"] == "30.0" and "only 0.00 USD" in refund["message"]
    cancel = hook("TRANSACTION_CANCELATION_REQUESTED", payload).json()
    assert cancel["result"] == "CANCEL_FAILURE"
    assert set(StaffTask.objects.values_list("kind", flat=True)) == {"cancel"}


def test_outbox_flush_skips_nothing_and_sends_in_order(configure, hook, sb, saleor):
    """The checkout is completed only after the charge reached Saleor."""
    configure()
    _, answer = start(hook)
    saleor.down = True
    sb.act("coinpay24", answer["pspReference"], "pay")
    sb.wait_for_callbacks(1, provider="coinpay24")
    complete = OutboxReport.objects.get(kind="complete")
    saleor.down = False
    assert outbox.send(complete.pk) == ""  # the charge is still pending
    assert not saleor.completions()
    outbox.flush()
    # one request: Saleor runs a document's mutations in order, the charge first
    last = saleor.calls[-1]["query"]
    assert last.split("(")[0].split()[-1] == "ReportAndComplete"
    assert last.index("transactionEventReport(") < last.index("checkoutComplete(")
    assert len(saleor.reports()) == len(saleor.completions()) == 1
    assert not OutboxReport.objects.filter(done_at=None).exists()


def test_charge_refused_in_the_combined_request_keeps_the_completion(configure, hook, sb, saleor):
    """Saleor refuses the charge: its completion in the same document fails too
    (not paid), and is neither flagged as "paid, no order" nor dropped; both go
    again together once Saleor takes the charge."""
    configure()
    _, answer = start(hook)
    saleor.report_errors = [{"field": "id", "code": "NOT_FOUND", "message": "no transaction"}]
    saleor.complete_errors = [{"field": "id", "code": "CHECKOUT_NOT_FULLY_PAID", "message": "no"}]
    sb.act("coinpay24", answer["pspReference"], "pay")
    sb.wait_for_callbacks(1, provider="coinpay24")
    wait_for(lambda: saleor.completions())
    wait_for(lambda: OutboxReport.objects.filter(kind="event", attempts__gt=0).exists())
    complete = OutboxReport.objects.get(kind="complete")
    assert complete.done_at is None and complete.attempts == 1, complete
    assert set(StaffTask.objects.values_list("kind", flat=True)) == {"report_refused"}
    saleor.report_errors = saleor.complete_errors = []
    outbox.flush()
    assert not OutboxReport.objects.filter(done_at=None).exists()
    assert Invoice.objects.get().order_id
    assert not StaffTask.objects.filter(kind="paid_no_order").exists()


def test_celery_task_reconciles(configure, hook, sb, saleor, settings):
    """The optional Celery task runs the same reconciliation (run eagerly here)."""
    pytest.importorskip("celery")
    import os

    os.environ["CRYPTOPAY_APP_SETTINGS"] = "tests.settings"
    try:
        from saleor_cryptopay.app import worker
    finally:
        del os.environ["CRYPTOPAY_APP_SETTINGS"]
    assert "cryptopay-app-reconcile" in worker.app.conf.beat_schedule
    config = configure()
    _, answer = start(hook)
    config.callback_key = "gone"
    config.save()
    sb.act("coinpay24", answer["pspReference"], "pay")
    worker.app.conf.task_always_eager = True
    lines = worker.reconcile.delay(channel="main").get()
    assert any("CHARGE_SUCCESS reported" in line for line in lines)
    assert Invoice.objects.get().status == "paid"
