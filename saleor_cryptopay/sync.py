"""Bring a stored invoice up to date with a fresh provider read.

The caller holds the invoice row lock (``lock_invoice``) inside a transaction,
so two callbacks, a reconciliation sweep and a checkoutComplete never decide
on the same invoice at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Optional

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from . import timing
from .bridges.base import Created, Observed, ProviderBridge, json_safe
from .lifecycle import CHARGED, CLOSED, Action, Decision, Expected, Flag, decide
from .models import Invoice, StaffTask
from .providers.errors import ProviderError
from .providers.status import PaymentStatus

logger = logging.getLogger(__name__)

ATTENTION = {
    Flag.PAID_LATE: "Paid after the invoice had expired or was replaced: check stock and total.",
    Flag.OVERPAID: "The shopper paid more than asked: the excess may need refunding.",
    Flag.UNDERPAID: "The shopper paid less than asked: contact them or refund.",
    Flag.AMOUNT_MISMATCH: "The provider's invoice is not for this payment's amount or currency.",
    Flag.REFUNDED_AT_PROVIDER: "The provider reports this invoice refunded.",
}


# A shopper back at checkout may find an invoice still open here because the
# callback never came; a re-read rescues them, but a storefront polling every
# second must not cost a provider call each time.
REREAD_INTERVAL = timedelta(seconds=30)


def claim_reread(pk: int, *, count_creation: bool = True) -> bool:
    """True for the one caller that may re-read the invoice now: at most once
    per ``REREAD_INTERVAL`` across all processes (a conditional UPDATE, so two
    pollers cannot both win). ``count_creation`` treats creation as a read (it
    was one); an overdue invoice passes False, since it may have been paid at
    the last minute."""
    cutoff = timezone.now() - REREAD_INTERVAL
    never = Q(last_checked_at__isnull=True)
    if count_creation:
        never &= Q(created_at__lte=cutoff)
    due = Q(last_checked_at__lte=cutoff) | never
    return Invoice.objects.filter(due, pk=pk).update(last_checked_at=timezone.now()) == 1


def is_overdue(invoice: Invoice) -> bool:
    return bool(invoice.expires_at and invoice.expires_at <= timezone.now())


def reread_due(invoice: Invoice) -> bool:
    """The shopper is back (the plugin's checkoutComplete, the App's
    transactionProcess): True for the one caller that may re-read now. Only
    an invoice that may have been paid without us hearing of it, and only
    once per ``REREAD_INTERVAL`` however often the storefront asks."""
    status = invoice.payment_status
    if not (status.is_open or status is PaymentStatus.UNDERPAID):
        return False
    return claim_reread(invoice.pk, count_creation=not is_overdue(invoice))


# A callback verified by a provider call (CoinPay.in.th's verifyipn) costs one
# call whoever sends it, and anyone can post to the callback URL: per invoice a
# few such verifications per interval, counted afresh once one proves genuine.
IPN_VERIFY_INTERVAL = timedelta(seconds=30)
IPN_VERIFICATIONS = 3


def claim_verification(pk: int) -> bool:
    """True for a callback that may ask the provider now whether it sent it.
    Conditional UPDATEs, committed before the call: atomic across processes,
    and still counted when that callback's transaction rolls back."""
    now = timezone.now()
    cutoff = now - IPN_VERIFY_INTERVAL
    fresh = Q(ipn_checked_at__isnull=True) | Q(ipn_checked_at__lte=cutoff)
    invoices = Invoice.objects.filter(pk=pk)
    if invoices.filter(fresh).update(ipn_checked_at=now, ipn_checks=1):
        return True
    left = Q(ipn_checked_at__gt=cutoff, ipn_checks__lt=IPN_VERIFICATIONS)
    return invoices.filter(left).update(ipn_checks=F("ipn_checks") + 1) == 1


def release_verification(pk: int) -> None:
    """The provider confirmed the callback: the next one (a later state) need
    not wait. Forged ones never release, so they cost at most
    ``IPN_VERIFICATIONS`` calls per interval."""
    Invoice.objects.filter(pk=pk).update(ipn_checked_at=None, ipn_checks=0)


def lock_invoice(pk: int) -> Invoice:
    with timing.phase("lock"):
        return Invoice.objects.select_for_update().get(pk=pk)


def apply_created(invoice: Invoice, created: Created) -> None:
    """Copy a provider's new (or updated) invoice onto ``invoice`` (not saved)."""
    invoice.provider_invoice_id = created.provider_invoice_id
    invoice.provider_ref = created.provider_ref[:128]
    invoice.status = created.status.value
    invoice.payment_url = created.payment_url[:1000]
    invoice.address = created.address[:128]
    invoice.pay_amount = created.pay_amount
    invoice.pay_currency = created.pay_currency[:16]
    invoice.expires_at = created.expires_at
    invoice.provider_data = json_safe({**created.data, "qr_data": created.qr_data})
    # an address from the start: the shopper pays on our page (payment_page/)
    invoice.shopper_page = invoice.shopper_page or bool(created.address)


class InvoiceIdReused(ProviderError):
    """The provider gave a new invoice the id of one this shop already holds
    (a provider, or the sandbox, whose ids started over). The new invoice is
    not stored, so callbacks and re-reads for that id keep meaning the old one."""

    def __init__(self, provider: str, provider_invoice_id: str) -> None:
        super().__init__(
            f"the new invoice got id {provider_invoice_id}, which an earlier invoice of this "
            "shop already has; nothing was charged. Please try again later.",
            provider=provider,
            code="invoice_id_reused",
        )
        self.provider_invoice_id = provider_invoice_id


def save_new_invoice(invoice: Invoice) -> None:
    """Insert a just-created invoice in a savepoint (the caller's transaction
    stays usable). Raises InvoiceIdReused, storing nothing, when the provider's
    id is taken; any other IntegrityError goes to the caller."""
    try:
        with transaction.atomic():
            invoice.save()
    except IntegrityError:
        taken = Invoice.objects.filter(
            provider=invoice.provider, provider_invoice_id=invoice.provider_invoice_id
        ).exists()
        if not taken:
            raise
        logger.error(
            "cryptopay: %s answered with invoice id %s, which an invoice of this shop already "
            "has; the new one is not stored (has the provider's data been reset?)",
            invoice.provider,
            invoice.provider_invoice_id,
        )
        raise InvoiceIdReused(invoice.provider, invoice.provider_invoice_id) from None


def apply_observation(invoice: Invoice, observed: Observed, tolerance: Decimal) -> Decision:
    """Decide and record the outcome on ``invoice`` (saved). Saleor effects are
    the caller's job; this only keeps our own books."""
    expected = Expected(invoice.amount, invoice.currency, tolerance)
    decision = decide(invoice.payment_status, observed.observation, expected)
    now = timezone.now()
    invoice.last_checked_at = now
    # a re-read has no image: keep the one the provider drew at creation
    qr_data = invoice.provider_data.get("qr_data")
    invoice.provider_data = {**observed.data, "qr_data": qr_data} if qr_data else observed.data
    if observed.pay_amount is not None:
        invoice.pay_amount = observed.pay_amount
    if observed.pay_currency:
        invoice.pay_currency = observed.pay_currency[:16]
    if observed.address:
        invoice.address = observed.address[:128]
    if observed.expires_at:
        invoice.expires_at = observed.expires_at
    if observed.observation.received is not None:
        invoice.received_amount = observed.observation.received
    invoice.status = decision.status.value
    if decision.action is Action.CHARGE and decision.status in CHARGED:
        invoice.charged_at = invoice.charged_at or now
    if decision.action is Action.CLOSE and decision.status in CLOSED:
        invoice.closed_at = invoice.closed_at or now
    for flag in decision.flags:
        message = ATTENTION.get(flag)
        invoice.flag(flag.value, reason=message or "")
        if message:
            open_task(invoice, flag.value, f"{message} ({decision.reason})")
    invoice.save()
    return decision


def open_task(invoice: Invoice, kind: str, message: str) -> StaffTask:
    """One open task per invoice and kind; repeated events do not pile up."""
    task, _ = StaffTask.objects.get_or_create(
        invoice=invoice, kind=kind, resolved_at=None, defaults={"message": message}
    )
    return task


FINAL = CHARGED | {PaymentStatus.REFUNDED}
ALREADY_PROCESSED = "already processed"


class CallbackRejected(Exception):
    """The provider did not confirm it sent the callback."""


def asks_provider(invoice: Invoice, skip_if_final: bool = True) -> bool:
    """Whether ``refresh_invoice`` would call the provider for this invoice."""
    status = invoice.payment_status
    return not (status is PaymentStatus.REFUNDED or (skip_if_final and status in FINAL))


def refresh_invoice(
    invoice: Invoice,
    bridge: ProviderBridge,
    tolerance: Decimal,
    *,
    observed: Optional[Observed] = None,
    skip_if_final: bool = True,
    verify: Optional[Callable[[], bool]] = None,
) -> Optional[Decision]:
    """The edition-free middle of a sync: with ``invoice`` locked by the
    caller, verify (if asked), re-read the provider and decide. None when the
    invoice is already final (nothing asked of the provider). Raises
    ``CallbackRejected`` and ``ProviderError``. The editions call it between
    their own locks and effects (the plugin's ``payments.sync_invoice``, the
    App's ``flow``)."""
    if not asks_provider(invoice, skip_if_final):
        return None
    if verify is not None and not verify():
        raise CallbackRejected()
    if observed is None:
        with timing.phase("reread"):
            observed = bridge.observe(invoice)
    return apply_observation(invoice, observed, tolerance)
