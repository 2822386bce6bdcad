"""The App's payment flow: one invoice per Saleor transaction, brought up to
date under the invoice row lock, with what Saleor must hear kept in the outbox.

Saleor's own objects are never locked here (they live in another process):
the invoice row lock serialises callbacks, session webhooks and
reconciliation, and Saleor's idempotent mutations make repeats harmless.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Optional

from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from ..bridges.base import Observed, ProviderBridge
from ..contract import confirmation_data as contract
from ..gateway_config import invoice_texts
from ..invoice_limits import TOO_MANY, TooManyInvoices, checkout_lock, invoices_left
from ..lifecycle import CHARGED, CLOSED
from ..models import Invoice
from ..money import format_amount, quantize
from ..providers.errors import ProviderError
from ..providers.status import PaymentStatus
from ..sync import (
    ALREADY_PROCESSED,
    apply_created,
    is_overdue,
    lock_invoice,
    refresh_invoice,
    save_new_invoice,
)
from . import outbox
from .models import ChannelConfiguration, Installation
from .payloads import Source
from .payment_page import page_base

logger = logging.getLogger(__name__)


def transaction_invoice(installation: Installation, transaction_id: str) -> Optional[Invoice]:
    return Invoice.objects.filter(
        saleor_api_url=installation.saleor_api_url, transaction_id=transaction_id
    ).first()


def open_invoice(
    config: ChannelConfiguration,
    *,
    transaction_id: str,
    source: Source,
    amount: Decimal,
    currency: str,
    return_url: Optional[str],
) -> Invoice:
    """The invoice for this Saleor transaction: the one made before (a retry),
    the checkout's open one for the same amount, else a new provider invoice.
    Raises ProviderError, and TooManyInvoices past the checkout's share."""
    installation = config.installation
    existing = transaction_invoice(installation, transaction_id)
    if existing is not None:
        return existing
    amount = quantize(amount, currency)
    # Saleor makes a new transaction for every transactionInitialize, and anyone
    # holding the checkout can call it: each checkout reuses its open invoice
    # and opens a bounded number of new ones (invoice_limits)
    with checkout_lock(f"{installation.saleor_api_url}|{source.type_name}|{source.pk}"):
        existing = transaction_invoice(installation, transaction_id) or _reuse(
            config, transaction_id, source, amount, currency
        )
        if existing is not None:
            return existing
        if invoices_left(_invoices_of(installation, source)) <= 0:
            raise TooManyInvoices(TOO_MANY)
        return _create(config, transaction_id, source, amount, currency, return_url)


def _invoices_of(installation: Installation, source: Source) -> QuerySet[Invoice]:
    mine = Invoice.objects.filter(saleor_api_url=installation.saleor_api_url)
    if source.type_name == "Checkout":
        return mine.filter(checkout_token=source.pk[:36])
    return mine.filter(order_id=source.pk[:36])


def _reuse(
    config: ChannelConfiguration,
    transaction_id: str,
    source: Source,
    amount: Decimal,
    currency: str,
) -> Optional[Invoice]:
    """The checkout's open invoice for the same provider and amount, moved to
    this transaction (as the plugin moves it to the newest payment): the
    charge is reported on the transaction the shopper started last."""
    candidates = _invoices_of(config.installation, source).filter(
        provider=config.provider,
        channel_slug=config.channel_slug,
        amount=amount,
        currency=currency,
        superseded=False,
        status__in=[s.value for s in PaymentStatus if s.is_open],
    )
    for pk in candidates.order_by("-created_at").values_list("pk", flat=True):
        with transaction.atomic():
            invoice = lock_invoice(pk)
            if not invoice.payment_status.is_open or is_overdue(invoice):
                continue
            invoice.transaction_id = transaction_id
            invoice.save(update_fields=["transaction_id", "updated_at"])
            return invoice
    return None


def _create(
    config: ChannelConfiguration,
    transaction_id: str,
    source: Source,
    amount: Decimal,
    currency: str,
    return_url: Optional[str],
) -> Invoice:
    installation = config.installation
    title, description = invoice_texts(
        config.settings,
        reference=transaction_id,
        channel=config.channel_slug,
        shop=source.channel_name,
        order_number=source.order_number,
        checkout=source.pk if source.type_name == "Checkout" else "",
        amount=amount,
        currency=currency,
    )
    created = config.build_bridge().create(
        reference=transaction_id,
        amount=amount,
        currency=currency,
        callback_url=config.callback_url,
        success_url=return_url,
        cancel_url=return_url,
        title=title,
        description=description,
    )
    invoice = Invoice(
        provider=config.provider,
        channel_slug=config.channel_slug,
        saleor_api_url=installation.saleor_api_url,
        transaction_id=transaction_id,
        checkout_token=source.pk[:36] if source.type_name == "Checkout" else None,
        order_id=source.pk[:36] if source.type_name == "Order" else None,
        amount=amount,
        currency=currency,
        return_url=(return_url or "")[:1000],
        shop_name=source.channel_name,
        order_number=source.order_number,
    )
    apply_created(invoice, created)
    try:
        save_new_invoice(invoice)  # InvoiceIdReused: a ProviderError, a clear failure
    except IntegrityError:
        # a concurrent initialize for the same transaction won; theirs is the one
        # (ours stays unpaid at the provider and expires)
        winner = transaction_invoice(installation, transaction_id)
        if winner is None:
            raise
        logger.warning("cryptopay-app: duplicate invoice for %s left unused", transaction_id)
        return winner
    return invoice


def sync_invoice(
    invoice_pk: int,
    config: ChannelConfiguration,
    *,
    verify: Optional[Callable[[], bool]] = None,
    skip_if_final: bool = True,
    observed: Optional[Observed] = None,
    bridge: Optional[ProviderBridge] = None,
) -> str:
    """Re-read (unless ``observed``), decide and store the reports, exactly once
    per change: the invoice row lock is held from the decision to the outbox rows."""
    bridge = bridge or config.build_bridge()
    tolerance = config.settings.underpaid_tolerance
    with transaction.atomic():
        invoice = lock_invoice(invoice_pk)
        decision = refresh_invoice(
            invoice,
            bridge,
            tolerance,
            observed=observed,
            skip_if_final=skip_if_final,
            verify=verify,
        )
        if decision is None:
            return ALREADY_PROCESSED
        outbox.enqueue(config.installation, invoice, decision)
    return f"{decision.action}: {decision.reason}"


def session_answer(
    invoice: Invoice, message: str = "", action_type: str = "CHARGE"
) -> dict[str, Any]:
    """TRANSACTION_INITIALIZE/PROCESS_SESSION answer for the invoice as recorded.

    ``action_type``: the session's actionType. Under AUTHORIZATION the waiting and
    failed answers say AUTHORIZATION_*, as Saleor asked; a paid invoice is
    CHARGE_SUCCESS either way, since the coins have moved (nothing to capture)."""
    status = invoice.payment_status
    answer: dict[str, Any] = {
        "pspReference": invoice.provider_invoice_id,
        "amount": format_amount(invoice.amount, invoice.currency),  # required on 3.20
        "data": contract(invoice, page_base()),
    }
    if status in CHARGED or status is PaymentStatus.REFUNDED:
        answer["result"] = "CHARGE_SUCCESS"
    elif status in CLOSED:
        answer["result"] = f"{action_type}_FAILURE"
        message = message or f"The invoice {invoice.status} before it was paid."
    else:
        answer["result"] = f"{action_type}_ACTION_REQUIRED"
    if invoice.payment_url.startswith(("https://", "http://")):
        answer["externalUrl"] = invoice.payment_url
    if message:
        answer["message"] = message[:500]
    return answer


def failure(amount: Any, message: str, action_type: str = "CHARGE") -> dict[str, Any]:
    """A session answer that creates nothing (HTTP 200, as Saleor expects)."""
    return {
        "result": f"{action_type}_FAILURE",
        "amount": str(amount or "0"),
        "message": message[:500],
    }


def provider_error_message(provider_name: str, exc: ProviderError) -> str:
    if exc.retryable:
        return f"{provider_name} is not answering right now. Please try again in a moment."
    return f"{provider_name} refused the payment: {exc.message}"
