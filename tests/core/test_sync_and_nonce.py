"""Our own books: invoice updates and the shared nonce (no Saleor needed)."""

from decimal import Decimal

import pytest

from saleor_cryptopay.bridges.base import Observed
from saleor_cryptopay.lifecycle import Action, Observation
from saleor_cryptopay.models import Invoice, StaffTask
from saleor_cryptopay.nonce_db import DatabaseNonce
from saleor_cryptopay.providers.status import PaymentStatus as S
from saleor_cryptopay.sync import apply_observation

pytestmark = pytest.mark.django_db


def invoice(**kw):
    return Invoice.objects.create(
        provider="coinpay24",
        channel_slug="main",
        provider_invoice_id=kw.pop("ref", "1001"),
        amount=Decimal("10.00"),
        currency="USD",
        **kw,
    )


def observed(status, **kw):
    return Observed(
        provider_invoice_id="1001",
        observation=Observation(
            status=status, price_amount=Decimal("10.0"), price_currency="USD", **kw
        ),
        data={"status": str(status)},
    )


def test_paid_is_recorded_once():
    inv = invoice()
    first = apply_observation(inv, observed(S.PAID), Decimal(0))
    assert first.action is Action.CHARGE
    inv.refresh_from_db()
    assert inv.status == "paid" and inv.charged_at is not None
    again = apply_observation(inv, observed(S.PAID), Decimal(0))
    assert again.action is Action.NOTHING


def test_paid_late_opens_one_staff_task():
    inv = invoice(status="expired")
    apply_observation(inv, observed(S.PAID), Decimal(0))
    inv.refresh_from_db()
    assert inv.needs_attention and "paid_late" in inv.flags
    assert StaffTask.objects.filter(invoice=inv, kind="paid_late").count() == 1


def test_underpaid_keeps_amounts_and_flags():
    inv = invoice()
    d = apply_observation(
        inv, observed(S.UNDERPAID, due=Decimal("0.001"), received=Decimal("0.0005")), Decimal(0)
    )
    assert d.action is Action.HOLD
    inv.refresh_from_db()
    assert inv.status == "underpaid" and inv.received_amount == Decimal("0.0005")
    # the same observation again adds no second task
    apply_observation(
        inv, observed(S.UNDERPAID, due=Decimal("0.001"), received=Decimal("0.0005")), Decimal(0)
    )
    assert StaffTask.objects.filter(invoice=inv).count() == 1


def test_database_nonce_increases():
    source = DatabaseNonce("some-key")
    values = [source.next() for _ in range(50)]
    assert all(a < b for a, b in zip(values, values[1:], strict=False))


def test_database_nonce_is_per_key_and_stores_no_key():
    from saleor_cryptopay.models import NonceCounter

    # on PostgreSQL the lease commits on a connection of its own, so rows of
    # earlier tests may be there: look only at what these two calls made
    before = set(NonceCounter.objects.values_list("key_digest", flat=True))
    DatabaseNonce("nonce-test-key-a").next()
    DatabaseNonce("nonce-test-key-b").next()
    digests = set(NonceCounter.objects.values_list("key_digest", flat=True)) - before
    assert len(digests) == 2
    assert not any("nonce-test" in d for d in digests)
