"""What ``cryptopay_prune`` (and ``cryptopay-app prune``, the same core
rules) deletes and what it keeps, on real rows."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from saleor_cryptopay.models import (
    AddressCheck,
    CallbackEvent,
    Invoice,
    RefundRequest,
    StaffTask,
)
from saleor_cryptopay.prune import prune

pytestmark = pytest.mark.django_db
OLD = timezone.now() - timedelta(days=120)
RECENT = timezone.now() - timedelta(days=5)
Outcome = CallbackEvent.Outcome


def callback(outcome: str, *, at=OLD, invoice=None) -> CallbackEvent:
    return CallbackEvent.objects.create(
        provider="coinpay24", received_at=at, outcome=outcome, invoice=invoice
    )


def task(invoice: Invoice, kind: str, *, resolved_at=None) -> StaffTask:
    return StaffTask.objects.create(
        invoice=invoice, kind=kind, message="m", created_at=OLD, resolved_at=resolved_at
    )


def refund(invoice: Invoice, status: str, *, address="bc1qkeep", recorded=False) -> RefundRequest:
    return RefundRequest.objects.create(
        invoice=invoice,
        channel_slug="main",
        amount=Decimal("5.00"),
        currency="USD",
        coin="BTC",
        crypto_amount=Decimal("0.0001"),
        rate=Decimal("0.00002"),
        rate_source="invoice",
        address=address,
        status=status,
        created_at=OLD,
        recorded_at=OLD if recorded else None,
    )


def check(address: str, *, at=OLD) -> AddressCheck:
    return AddressCheck.objects.create(
        provider="icoinpay", currency="BTC", address=address, valid=True, checked_at=at
    )


def alive(row) -> bool:
    return type(row).objects.filter(pk=row.pk).exists()


def test_finished_history_goes_and_everything_still_needed_stays(paid_invoice):
    plain, refunding, refunded, flagged = (paid_invoice() for _ in range(4))
    gone = [
        callback(Outcome.PROCESSED, invoice=plain),
        callback(Outcome.IGNORED),
        callback(Outcome.REJECTED),
        callback(Outcome.PROCESSED, invoice=refunded),  # its refund is sent and recorded
        task(plain, "late_payment", resolved_at=OLD),
        check("bc1qold"),
    ]
    refund(refunded, RefundRequest.Status.SENT, address="bc1qdone", recorded=True)
    check("bc1qdone")
    gone.append(AddressCheck.objects.get(address="bc1qdone"))
    kept = [
        callback(Outcome.RECEIVED),  # never handled
        callback(Outcome.FAILED),  # the provider sends again, replay may need it
        callback(Outcome.PROCESSED, at=RECENT),  # younger than the age
        callback(Outcome.PROCESSED, invoice=flagged),  # an open task: staff may replay it
        task(flagged, "overpaid"),  # open
        callback(Outcome.PROCESSED, invoice=refunding),  # refund not finished
        task(refunding, "refund_note", resolved_at=OLD),
        check("bc1qkeep"),  # the queued refund's payout address
        check("bc1qnew", at=RECENT),
        refund(refunding, RefundRequest.Status.QUEUED),
        refund(paid_invoice(), RefundRequest.Status.SENT, address="bc1qx"),  # not recorded yet
        plain,
        refunded,
    ]

    counted = prune(timedelta(days=90), dry_run=True)
    assert sum(counted.counts.values()) == len(gone)
    assert all(alive(row) for row in gone)  # a dry run deletes nothing

    done = prune(timedelta(days=90))
    assert done.counts == counted.counts
    assert [row for row in gone if alive(row)] == []
    assert [row for row in kept if not alive(row)] == []


def test_the_command_uses_the_default_age_and_refuses_less_than_a_day(paid_invoice):
    old = callback(Outcome.PROCESSED, at=timezone.now() - timedelta(days=91))
    young = callback(Outcome.PROCESSED, at=timezone.now() - timedelta(days=89))
    call_command("cryptopay_prune")
    assert not alive(old) and alive(young)
    call_command("cryptopay_prune", days=30, dry_run=True)
    assert alive(young)
    with pytest.raises(CommandError, match="at least one day"):
        call_command("cryptopay_prune", days=0)
