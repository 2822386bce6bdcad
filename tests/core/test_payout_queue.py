"""The payout queue against the sandbox over HTTP: exactly once, clear
refusals retried by staff, unknown outcomes never sent again."""

import json
import subprocess
import sys
import threading
from datetime import timedelta
from decimal import Decimal
from io import StringIO
from pathlib import Path

import django
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from saleor_cryptopay.models import Payout, RefundRequest, StaffTask, WalletBalance
from saleor_cryptopay.providers.icoinpay import SEND_DEADLINE
from saleor_cryptopay.refunds import request as refunds
from saleor_cryptopay.refunds.editions import process_payouts
from saleor_cryptopay.refunds.payouts import claim_next, run_payouts

BTC = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"
S = RefundRequest.Status
START = 100_000_000  # the sandbox wallet's 1 BTC, in base units


def queued(paid_invoice, amount="5.00", **kw):
    return refunds.request_refund(paid_invoice(**kw).pk, Decimal(amount), "USD", address=BTC)


def run(**kw) -> str:
    out = StringIO()
    call_command("cryptopay_payouts", stdout=out, **kw)
    return out.getvalue()


def refunds_cmd(*args) -> str:
    out = StringIO()
    call_command("cryptopay_refunds", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_sent_once_with_payout_id_and_cached_balance(paid_invoice, sb, edition):
    refund = queued(paid_invoice)
    assert "sent (payout" in run()
    refund.refresh_from_db()
    assert refund.status == S.SENT and refund.payout_id and refund.sent_by == "icoinpay"
    assert refund.recorded_at is not None and edition.STATE["recorded"] == [refund.pk]
    (payout,) = sb.payouts()
    assert payout["amount"] == 10_000 and payout["to"] == BTC
    assert str(payout["id"]) == refund.payout_id
    assert WalletBalance.objects.get().balance == Decimal("0.9999")
    assert "icoinpay wallet: 0.9999 BTC after the last payout" in refunds_cmd()
    assert "getbalance" not in sb.request_counts()["icoinpay"]
    assert "Nothing to send." in run()
    assert len(sb.payouts()) == 1
    assert Payout.objects.get().status == Payout.Status.SENT


@pytest.mark.django_db
def test_insufficient_funds_reason_visible_then_retry(paid_invoice, sb, edition):
    refund = queued(paid_invoice)
    sb.set_wallet(balance=5000)
    assert "refused" in run()
    refund.refresh_from_db()
    assert refund.status == S.FAILED and refund.refused_code == "insufficient_funds"
    assert "insufficient funds" in refund.refused_reason.lower()
    task = StaffTask.objects.get(kind=f"payout_failed:{refund.pk}", resolved_at=None)
    assert "--retry" in task.message
    assert edition.STATE["problems"] == [(refund.pk, S.FAILED)]
    listing = refunds_cmd()
    assert f"#{refund.pk} [failed]" in listing and "insufficient funds" in listing.lower()
    assert "Nothing to send." in run()  # never retried on its own

    sb.set_wallet(balance=START)
    assert "queued again" in refunds_cmd("--retry", str(refund.pk))
    assert "sent" in run()
    refund.refresh_from_db()
    assert refund.status == S.SENT and not refund.refused_reason
    assert not StaffTask.objects.filter(resolved_at=None).exists()
    assert [p.status for p in Payout.objects.order_by("pk")] == ["refused", "sent"]
    assert len(sb.payouts()) == 1


def tasks_cmd(*args) -> str:
    out = StringIO()
    call_command("cryptopay_tasks", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_staff_list_and_resolve_a_task(paid_invoice, sb, edition):
    """README: ``cryptopay_tasks`` lists open tasks, ``--resolve ID`` closes one."""
    refund = queued(paid_invoice)
    sb.set_wallet(balance=5000)
    assert "refused" in run()
    task = StaffTask.objects.get(kind=f"payout_failed:{refund.pk}")
    listed = tasks_cmd()
    assert f"#{task.pk} [open] payout_failed:{refund.pk}: coinpay24 invoice" in listed
    assert "order order-1" in listed and "cryptopay_refunds --retry" in listed
    assert tasks_cmd("--resolve", str(task.pk)) == f"task #{task.pk} resolved\n"
    task.refresh_from_db()
    assert task.resolved_at is not None
    assert tasks_cmd() == "Nothing needs attention.\n"
    assert f"#{task.pk} [resolved] payout_failed:{refund.pk}" in tasks_cmd("--all")
    with pytest.raises(CommandError, match=f"no open task #{task.pk}"):
        tasks_cmd("--resolve", str(task.pk))


# (fault, its status, whether the sandbox wallet paid before the answer went wrong)
ODD_ANSWERS = [
    ("drop", 503, True),
    ("hang", 503, True),
    ("bad_json", 503, True),
    ("odd_status", 500, True),  # well-formed JSON, a status no doc lists
    ("proxy_page", 404, True),  # a proxy's page after passing the request on
    ("proxy_page", 502, True),
    ("rate_limit", 429, False),  # no doc lists a 429 either
    ("html", 502, False),
    ("redirect", 307, False),
]


@pytest.mark.django_db
@pytest.mark.parametrize("mode, status, paid", ODD_ANSWERS)
def test_an_odd_answer_is_never_paid_twice(paid_invoice, sb, edition, mode, status, paid):
    refund = queued(paid_invoice)
    sb.inject_fault("icoinpay", mode, endpoint="send", seconds=1.5, status=status)
    assert "unknown" in run()
    refund.refresh_from_db()
    assert refund.status == S.NEEDS_ATTENTION and "--mark-sent" in refund.refused_reason
    assert StaffTask.objects.filter(kind=f"payout_unknown:{refund.pk}", resolved_at=None).exists()
    for _ in range(2):
        run()
    assert len(sb.payouts()) == (1 if paid else 0)
    with pytest.raises(CommandError, match="may already be paid"):
        refunds_cmd("--retry", str(refund.pk))
    if not paid:  # staff checked the wallet: nothing left, send it after all
        with pytest.raises(CommandError, match="could still reach iCoinPay"):
            refunds_cmd("--retry", str(refund.pk), "--not-sent")  # not before the deadline
        after_the_deadline()
        refunds_cmd("--retry", str(refund.pk), "--not-sent")
        run()
        assert len(sb.payouts()) == 1
    else:  # staff found the payout: record it
        payout_id = str(sb.payouts()[0]["id"])
        refunds_cmd("--mark-sent", str(refund.pk), "--txid", payout_id)
        assert len(sb.payouts()) == 1
    refund.refresh_from_db()
    assert refund.status == S.SENT and refund.recorded_at is not None
    assert not StaffTask.objects.filter(resolved_at=None).exists()


def after_the_deadline() -> None:
    """Time passes: every payout started longer ago than a send can last."""
    Payout.objects.update(started_at=timezone.now() - timedelta(seconds=SEND_DEADLINE + 60))


@pytest.mark.django_db
def test_an_unusable_redirect_is_not_read_as_an_invalid_amount(paid_invoice, sb, edition):
    """A Location requests cannot even parse raised ValueError, which the
    queue took for "invalid amount, before sending"."""
    refund = queued(paid_invoice)
    sb.inject_fault("icoinpay", "redirect", endpoint="send", location="http://[::1/send")
    assert "unknown" in run()
    refund.refresh_from_db()
    assert refund.status == S.NEEDS_ATTENTION and refund.refused_code == "redirect"


@pytest.mark.django_db
def test_a_refused_connection_is_not_sent_and_says_so(paid_invoice, sb, edition):
    refund = queued(paid_invoice)
    edition.STATE["base_url"] = "http://127.0.0.1:9/api/v1"
    assert "refused" in run()
    refund.refresh_from_db()
    assert refund.status == S.FAILED and refund.refused_code == "not_sent"
    assert "not sent" in refund.refused_reason and "no request reached" in refund.refused_reason


@pytest.mark.django_db
def test_without_credentials_the_refund_waits_and_staff_mark_it_sent(paid_invoice, sb, edition):
    edition.STATE["key"] = None
    refund = queued(paid_invoice)
    assert "Nothing to send." in run()
    refund.refresh_from_db()
    assert refund.status == S.QUEUED
    with pytest.raises(CommandError, match="--txid"):
        refunds_cmd("--mark-sent", str(refund.pk))
    assert "recorded as sent" in refunds_cmd("--mark-sent", str(refund.pk), "--txid", "ab" * 32)
    refund.refresh_from_db()
    assert refund.status == S.SENT and refund.txid == "ab" * 32
    assert refund.sent_by == "staff: staff" and edition.STATE["recorded"] == [refund.pk]
    with pytest.raises(CommandError, match="already sent"):
        refunds_cmd("--mark-sent", str(refund.pk), "--txid", "cd")
    assert sb.payouts() == []


@pytest.mark.django_db
def test_a_worker_that_died_mid_send_leaves_a_staff_task(paid_invoice, sb, edition):
    refund = queued(paid_invoice)
    claimed = claim_next(edition.payout_client, set())
    assert claimed is not None  # ... and the worker dies here
    Payout.objects.update(started_at=timezone.now() - timedelta(hours=1))
    outcomes = run_payouts(edition.payout_client)
    assert [o.result for o in outcomes] == ["unknown"]
    refund.refresh_from_db()
    assert refund.status == S.NEEDS_ATTENTION and sb.payouts() == []


@pytest.mark.django_db
def test_a_send_within_its_deadline_is_never_flagged_stale(paid_invoice, sb, edition):
    """Flagging it would let staff say "not sent" while its request can still land."""
    refund = queued(paid_invoice)
    assert claim_next(edition.payout_client, set()) is not None  # a worker is sending
    assert run_payouts(edition.payout_client, stale_after=timedelta(0)) == []
    refund.refresh_from_db()
    assert refund.status == S.SENDING
    after_the_deadline()
    assert [o.result for o in run_payouts(edition.payout_client, stale_after=timedelta(0))] == [
        "unknown"
    ]
    with pytest.raises(CommandError, match="may already be paid"):
        refunds_cmd("--retry", str(refund.pk))


@pytest.mark.django_db
def test_listing_shows_the_claim_link_and_new_link(paid_invoice, sb, edition):
    refund = refunds.request_refund(paid_invoice().pk, Decimal("5"), "USD")
    listing = refunds_cmd()
    assert "5.00 USD = 0.0001 BTC" in listing  # the staff's units, not the columns' decimals
    assert "[awaiting_address]" in listing and "claim link: http://shop.test/claim/" in listing
    old = listing.split("claim/")[1].split()[0]
    renewed = refunds_cmd("--new-link", str(refund.pk)).split("claim/")[1].split()[0]
    assert renewed != old
    with pytest.raises(refunds.ClaimError):
        refunds.open_claim(old)
    assert "queued to" in refunds_cmd("--address", str(refund.pk), BTC)
    assert "Nothing to send." not in run()
    assert "No refunds in progress." in refunds_cmd()
    assert f"#{refund.pk} [sent]" in refunds_cmd("--all")


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs row locks (PostgreSQL, the Saleor side)"
)
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_workers_send_each_refund_once(paid_invoice, sb, edition):
    ids = [queued(paid_invoice, amount="1.00").pk for _ in range(6)]
    sb.inject_fault("icoinpay", "delay", seconds=0.2, count=6, endpoint="send")
    barrier = threading.Barrier(2)
    results: list = []

    def worker():
        try:
            barrier.wait()
            results.extend(process_payouts())
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(o.refund_id for o in results) == ids
    assert {o.result for o in results} == {"sent"}
    assert len(sb.payouts()) == 6
    assert len({p["to"] for p in sb.payouts()}) == 1
    assert RefundRequest.objects.filter(status=S.SENT).count() == 6
    assert sb.wallet_balance() == START - 6 * 2000


@pytest.mark.slow
@pytest.mark.skipif(
    django.VERSION < (5, 1), reason="needs SQLite's IMMEDIATE transactions (Django 5.1+)"
)
def test_two_worker_processes_send_each_refund_once(sb, tmp_path):
    """Two processes race over one queue (a shared SQLite file here; the
    threaded test above does the same on PostgreSQL with row locks)."""
    root = Path(__file__).resolve().parents[2]
    base = [sys.executable, "-m", "tests.core.payout_worker", str(tmp_path / "queue.sqlite3")]
    base += [sb.icoinpay_base, sb.icoinpay_api_key]

    def worker(*args) -> subprocess.Popen:
        return subprocess.Popen(
            [*base, *args], cwd=root, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )

    assert worker("setup", "8").wait(60) == 0
    sb.inject_fault("icoinpay", "delay", seconds=0.2, count=8, endpoint="send")
    workers = [worker("run"), worker("run")]
    for w in workers:
        assert w.stdout.readline().strip() == "ready"
    for w in workers:
        w.stdin.write("go\n")
        w.stdin.flush()
    results = [json.loads(w.communicate(timeout=120)[0]) for w in workers]
    assert all(w.returncode == 0 for w in workers)
    sent = sorted(pk for result in results for pk, outcome in result if outcome == "sent")
    assert sent == list(range(1, 9))
    assert all(results)  # both workers took part
    assert len(sb.payouts()) == 8
    report = json.loads(worker("report").communicate(timeout=60)[0])
    assert set(report.values()) == {"sent"}
