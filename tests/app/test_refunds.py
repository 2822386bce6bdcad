"""Refunds in the App edition on loopback: a signed TRANSACTION_REFUND_REQUESTED
in, the claim page over real HTTP, the core's payout queue paying through the
sandbox's iCoinPay, and REFUND_SUCCESS captured by the fake Saleor."""

from __future__ import annotations

import logging
import re
import threading
import time
from decimal import ROUND_DOWN, Decimal

import pytest
import requests
from django.db import connection

from saleor_cryptopay.app import cli, outbox
from saleor_cryptopay.app.configure import ConfigurationRefused
from saleor_cryptopay.app.models import OutboxReport
from saleor_cryptopay.app.reconcile import reconcile_all
from saleor_cryptopay.models import Invoice, Payout, RefundRequest, StaffTask
from saleor_cryptopay.refunds import editions
from saleor_cryptopay.refunds import request as core

from .fake_saleor import APP_ID, now_iso
from .test_payment_flow import order_recorded, outbox_empty, start, wait_for

BTC = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"
REFUND = "TRANSACTION_REFUND_REQUESTED"
S = RefundRequest.Status


@pytest.fixture
def paid(configure, hook, sb, saleor, settings):
    """A CoinPay.in.th payment (30 USD) charged and reported; iCoinPay configured."""
    settings.CRYPTOPAY_EDITION = "saleor_cryptopay.app.refunds"
    configure(
        "coinpay_th", icoinpay_api_key=sb.icoinpay_api_key, icoinpay_api_base_url=sb.icoinpay_base
    )
    txn, answer = start(hook, provider="coinpay_th")
    sb.act("coinpay_th", answer["pspReference"], "pay")
    wait_for(order_recorded)
    return txn, answer["pspReference"]


def refund_payload(txn: str, psp: str, amount) -> dict:
    return {
        "issuedAt": now_iso(),
        "version": "3.20.119",
        "recipient": {"id": APP_ID},
        "transaction": {"id": txn, "pspReference": psp},
        "action": {"amount": amount, "currency": "USD", "actionType": "REFUND"},
        "grantedRefund": None,
    }


def ask_refund(hook, paid, amount) -> dict:
    response = hook(REFUND, refund_payload(*paid, amount))
    assert response.status_code == 200
    return response.json()


def refund_events(saleor, type_: str = "REFUND_SUCCESS") -> list[dict]:
    return [r for r in saleor.reports() if r["type"] == type_]


def claim_link(saleor, refund: RefundRequest) -> str:
    wait_for(lambda: refund_events(saleor, "INFO") and outbox_empty())
    psp = f"cryptopay-refund-{refund.pk}"
    [info] = [r for r in refund_events(saleor, "INFO") if r["psp"] == psp]
    return re.search(r"https?://\S+/api/claim/\S+", info["message"]).group(0)


def test_refund_request_is_acknowledged_pending_with_a_claim_link(paid, hook, saleor, app):
    answer = ask_refund(hook, paid, 12.5)
    refund = RefundRequest.objects.get()
    # the async ack: Saleor 3.20 counts the request as refund pending
    assert answer == {"pspReference": f"cryptopay-refund-{refund.pk}"}
    invoice = Invoice.objects.get()
    assert refund.amount == Decimal("12.50") and refund.status == S.AWAITING_ADDRESS
    rate = invoice.pay_amount / invoice.amount  # the invoice's rate (the default)
    assert refund.crypto_amount == (Decimal("12.50") * rate).quantize(Decimal("1e-8"), ROUND_DOWN)
    url = claim_link(saleor, refund)
    assert url.startswith(f"{app}/api/claim/")
    assert not refund_events(saleor)  # never REFUND_SUCCESS before coins leave


def test_a_request_saleor_sends_again_is_the_same_refund(paid, hook, saleor):
    payload = refund_payload(*paid, 30)
    first = hook(REFUND, payload).json()
    again = hook(REFUND, payload).json()  # Saleor's retry after a 5xx: the stored payload
    assert first == again and RefundRequest.objects.count() == 1
    other = hook(REFUND, refund_payload(*paid, 30)).json()  # a new request: over the capture
    assert other["result"] == "REFUND_FAILURE"


def test_refund_over_the_capture_is_refused(paid, hook, saleor):
    ask_refund(hook, paid, 20)
    answer = ask_refund(hook, paid, 10.01)
    assert answer["result"] == "REFUND_FAILURE" and "pspReference" not in answer
    assert answer["amount"] == "10.01" and "only 10.00 USD" in answer["message"]
    assert RefundRequest.objects.count() == 1
    assert ask_refund(hook, paid, 10)["pspReference"]  # exactly the rest is fine


def test_claim_page_then_payout_reports_refund_success_once(paid, hook, saleor, sb, app):
    ask_refund(hook, paid, 30)
    refund = RefundRequest.objects.get()
    url = claim_link(saleor, refund)
    page = requests.get(url, timeout=10)
    assert page.status_code == 200 and "Claim your refund" in page.text and "30.00" in page.text
    # a wrong address is refused with the reason, the link still works
    bad = requests.post(url, data={"address": "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx"},
                        timeout=10)  # fmt: skip
    assert bad.status_code == 400 and "testnet" in bad.text
    done = requests.post(url, data={"address": BTC}, timeout=10)
    assert done.status_code == 200 and "Refund address received" in done.text and BTC in done.text
    assert requests.get(url, timeout=10).status_code == 410  # single use
    refund.refresh_from_db()
    assert refund.status == S.QUEUED and refund.address == BTC

    before = sb.wallet_balance()
    outcomes = editions.process_payouts()
    assert [o.result for o in outcomes] == ["sent"]
    assert editions.process_payouts() == []  # a second run sends nothing
    [payout] = sb.payouts()
    assert payout["to"] == BTC and payout["amount"] == int(refund.crypto_amount * 10**8)
    assert sb.wallet_balance() == before - payout["amount"]
    [report] = refund_events(saleor)
    assert report["psp"] == f"cryptopay-refund-{refund.pk}" and report["amount"] == "30.00"
    assert report["id"] == paid[0] and "sent" in report["message"]
    refund.refresh_from_db()
    assert refund.status == S.SENT and refund.recorded_at is not None
    editions.record_pending()
    assert len(refund_events(saleor)) == 1


def test_a_refused_address_leaves_no_working_claim_link_in_the_logs(paid, hook, saleor, caplog):
    """Django logged ``Bad Request: /api/claim/<token>``, and the link still works."""
    caplog.set_level(logging.DEBUG)
    ask_refund(hook, paid, 30)
    url = claim_link(saleor, RefundRequest.objects.get())
    token = url.rsplit("/", 1)[1]
    bad = requests.post(url, data={"address": "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx"},
                        timeout=10)  # fmt: skip
    assert bad.status_code == 400
    assert requests.get(url, timeout=10).status_code == 200  # the link still works
    shop_lines = [r.getMessage() for r in caplog.records if not r.name.startswith("urllib3")]
    assert "Bad Request: /api/claim/***" in shop_lines
    assert not [line for line in shop_lines if token in line]


def test_partial_refunds_each_have_their_own_psp_reference(paid, hook, saleor, sb):
    for amount in (10, 5):
        ask_refund(hook, paid, amount)
    for refund in RefundRequest.objects.order_by("pk"):
        core.set_address(refund.pk, BTC, by="staff")
    editions.process_payouts()
    reports = refund_events(saleor)
    assert sorted((r["psp"], r["amount"]) for r in reports) == sorted(
        (f"cryptopay-refund-{r.pk}", f"{r.amount:.2f}") for r in RefundRequest.objects.all()
    )
    assert len(sb.payouts()) == 2


def test_saleor_down_keeps_refund_success_until_reconcile(paid, hook, saleor):
    ask_refund(hook, paid, 30)
    refund = RefundRequest.objects.get()
    core.set_address(refund.pk, BTC, by="staff")
    saleor.down = True
    assert [o.result for o in editions.process_payouts()] == ["sent"]
    row = OutboxReport.objects.get(event_type="REFUND_SUCCESS")
    assert row.done_at is None and "503" in row.last_error
    saleor.down = False
    reconcile_all()
    assert len(refund_events(saleor)) == 1


def test_lost_answer_is_a_staff_task_and_never_sent_twice(paid, hook, saleor, sb):
    ask_refund(hook, paid, 30)
    refund = RefundRequest.objects.get()
    core.set_address(refund.pk, BTC, by="staff")
    sb.inject_fault("icoinpay", "drop", endpoint="send")
    assert [o.result for o in editions.process_payouts()] == ["unknown"]
    assert editions.process_payouts() == []
    assert len(sb.payouts()) == 1  # the coins left once, the answer was lost
    refund.refresh_from_db()
    assert refund.status == S.NEEDS_ATTENTION
    assert StaffTask.objects.filter(kind=f"payout_unknown:{refund.pk}", resolved_at=None).exists()
    assert not refund_events(saleor)
    wait_for(lambda: len(refund_events(saleor, "INFO")) == 2)
    assert "may have been sent" in refund_events(saleor, "INFO")[-1]["message"]
    # staff check the wallet: it was paid
    payout_id = sb.payouts()[0]["id"]
    assert cli.main(["refunds", "--mark-sent", str(refund.pk), "--txid", str(payout_id)]) == 0
    [report] = refund_events(saleor)
    assert report["psp"] == f"cryptopay-refund-{refund.pk}" and report["amount"] == "30.00"
    assert len(sb.payouts()) == 1


def test_insufficient_funds_shows_the_reason_and_retry_pays(paid, hook, saleor, sb, capsys):
    ask_refund(hook, paid, 30)
    refund = RefundRequest.objects.get()
    core.set_address(refund.pk, BTC, by="staff")
    sb.set_wallet(balance=10)
    assert [o.result for o in editions.process_payouts()] == ["refused"]
    refund.refresh_from_db()
    assert refund.status == S.FAILED and refund.refused_code
    assert "iCoinPay refused the payout" in refund.refused_reason
    task = StaffTask.objects.get(kind=f"payout_failed:{refund.pk}")
    assert "refused" in task.message
    assert cli.main(["refunds"]) == 0
    assert "iCoinPay refused the payout" in capsys.readouterr().out
    assert editions.process_payouts() == []  # not retried by itself
    sb.set_wallet(balance=10**8)
    assert cli.main(["refunds", "--retry", str(refund.pk)]) == 0
    assert cli.main(["payouts"]) == 0
    assert "sent" in capsys.readouterr().out
    assert len(refund_events(saleor)) == 1 and len(sb.payouts()) == 1
    assert Payout.objects.filter(refund=refund).count() == 2


def test_without_icoinpay_staff_pay_by_hand(configure, hook, sb, saleor, settings):
    settings.CRYPTOPAY_EDITION = "saleor_cryptopay.app.refunds"
    configure("coinpay_th")
    txn, answer = start(hook, provider="coinpay_th")
    sb.act("coinpay_th", answer["pspReference"], "pay")
    wait_for(order_recorded)
    assert ask_refund(hook, (txn, answer["pspReference"]), 30)["pspReference"]
    refund = RefundRequest.objects.get()
    core.set_address(refund.pk, BTC, by="staff")
    assert editions.process_payouts() == []  # no account: it waits for staff
    assert cli.main(["refunds", "--mark-sent", str(refund.pk), "--txid", "abc123"]) == 0
    [report] = refund_events(saleor)
    assert report["amount"] == "30.00" and "abc123" in report["message"]


def test_configure_checks_the_icoinpay_key(configure, sb):
    with pytest.raises(ConfigurationRefused, match="iCoinPay refused this key"):
        configure("coinpay_th", icoinpay_api_key="wrong", icoinpay_api_base_url=sb.icoinpay_base)
    with pytest.raises(ConfigurationRefused, match="--refund-rate"):
        configure("coinpay_th", refund_rate="yesterday")
    config = configure(
        "coinpay_th",
        icoinpay_api_key=sb.icoinpay_api_key,
        icoinpay_api_base_url=sb.icoinpay_base,
        refund_claim_days="3",
    )
    assert sb.icoinpay_api_key not in str(config.values)  # kept encrypted
    assert config.settings.values["icoinpay_api_key"] == sb.icoinpay_api_key


def test_current_rate_choice_asks_the_provider(configure, hook, sb, saleor, settings):
    settings.CRYPTOPAY_EDITION = "saleor_cryptopay.app.refunds"
    configure("coinpay_th", refund_rate="current")
    txn, answer = start(hook, provider="coinpay_th")
    sb.act("coinpay_th", answer["pspReference"], "pay")
    wait_for(order_recorded)
    assert ask_refund(hook, (txn, answer["pspReference"]), 10)["pspReference"]
    refund = RefundRequest.objects.get()
    assert refund.rate_source == "current" and refund.crypto_amount > 0


def test_two_concurrent_workers_send_each_refund_once(paid, hook, saleor, sb):
    for _ in range(4):
        ask_refund(hook, paid, 5)
    for refund in RefundRequest.objects.all():
        core.set_address(refund.pk, BTC, by="staff")
    sb.inject_fault("icoinpay", "delay", seconds=0.2, count=4, endpoint="send")
    barrier = threading.Barrier(2)
    results: list = []

    def worker():
        try:
            barrier.wait()
            results.extend(editions.process_payouts())
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(o.refund_id for o in results) == sorted(
        RefundRequest.objects.values_list("pk", flat=True)
    )
    assert {o.result for o in results} == {"sent"} and len(sb.payouts()) == 4
    wait_for(lambda: len(refund_events(saleor)) == 4)
    assert len({r["psp"] for r in refund_events(saleor)}) == 4


def test_serve_and_worker_on_one_sqlite_file_send_the_claim_link_once(paid, hook, saleor):
    """Two App processes on one SQLite file (``serve`` and ``worker``) flush
    the outbox at once: the claim link's INFO event reaches Saleor once. Saleor
    holds its answer to the first sender until the second has tried."""
    import os
    import subprocess
    import sys

    saleor.gate = threading.Event()
    ask_refund(hook, paid, 12.5)  # the INFO row; this process flushes it 2 s later too
    env = {
        **os.environ,
        "CRYPTOPAY_APP_DATABASE_URL": f"sqlite:///{connection.settings_dict['NAME']}",
        "CRYPTOPAY_APP_SECRET_KEY": settings_key(),
        "ALLOW_LOCAL_SALEOR": "1",  # the fake Saleor is on loopback
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    other = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "saleor_cryptopay.app.cli", "reconcile"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        wait_for(lambda: refund_events(saleor, "INFO"), timeout=60)  # the other is sending
        here = threading.Thread(target=outbox.flush)
        here.start()
        # this process gives up at once (the row is leased), or sends it again
        deadline = time.monotonic() + 10
        while here.is_alive() and len(refund_events(saleor, "INFO")) < 2:
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
    finally:
        saleor.gate.set()
    output = other.communicate(timeout=60)[0].decode()
    here.join(30)
    wait_for(outbox_empty)
    assert len(refund_events(saleor, "INFO")) == 1, output


def settings_key() -> str:
    from django.conf import settings

    return settings.CRYPTOPAY_APP_SECRET_KEYS[0]
