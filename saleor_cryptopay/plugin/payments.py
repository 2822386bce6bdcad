"""Checkout-side flow: create or reuse an invoice, answer confirmations, and
bring an invoice up to date under the checkout → payment → invoice locks."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Optional

from django.db import transaction
from saleor.channel.models import Channel
from saleor.checkout.models import Checkout
from saleor.order.models import Order
from saleor.payment import TransactionKind
from saleor.payment.interface import GatewayResponse, PaymentData
from saleor.payment.models import Payment, Transaction

from .. import timing
from ..bridges.base import Observed, ProviderBridge
from ..contract import confirmation_data
from ..gateway_config import BEFORE_PAYMENT, GatewaySettings, invoice_texts
from ..lifecycle import CLOSED
from ..models import Invoice
from ..money import quantize
from ..providers.errors import ProviderError
from ..providers.status import PaymentStatus
from ..sync import (
    ALREADY_PROCESSED,
    apply_created,
    lock_invoice,
    refresh_invoice,
    reread_due,
    save_new_invoice,
)
from .effects import apply_decision
from .payment_page import page_base

logger = logging.getLogger(__name__)


def active_invoice(payment_id: int, provider: str) -> Optional[Invoice]:
    return (
        Invoice.objects.filter(payment_id=payment_id, provider=provider, superseded=False)
        .order_by("-created_at", "-pk")
        .first()
    )


def action_data(invoice: Invoice) -> dict[str, Any]:
    """The storefront contract (``contract.confirmation_data``, shared with the
    App), ``payment_url`` on our page where the invoice has one."""
    return confirmation_data(invoice, page_base(invoice))


def _return_url(payment_id: int) -> Optional[str]:
    """The storefront's return URL: where the provider sends the shopper back
    after paying and after cancelling alike."""
    url = Payment.objects.filter(pk=payment_id).values_list("return_url", flat=True).first()
    return url or None


def error_response(info: PaymentData, message: str) -> GatewayResponse:
    return GatewayResponse(
        is_success=False,
        action_required=False,
        kind=TransactionKind.ACTION_TO_CONFIRM,
        amount=info.amount,
        currency=info.currency,
        transaction_id="",
        error=message,
        raw_response={},
    )


def provider_error_message(provider_name: str, exc: ProviderError) -> str:
    if exc.retryable:
        return f"{provider_name} is not answering right now. Please try again in a moment."
    return f"{provider_name} refused the payment: {exc.message}"


def pending_response(info: PaymentData, invoice: Invoice, settings: GatewaySettings):
    data = action_data(invoice)
    # before_payment: the order is created at once, unpaid; the callback charges it
    before = settings.order_creation == BEFORE_PAYMENT
    return GatewayResponse(
        is_success=True,
        action_required=not before,
        kind=TransactionKind.PENDING if before else TransactionKind.ACTION_TO_CONFIRM,
        amount=info.amount,
        currency=info.currency,
        transaction_id=invoice.provider_invoice_id,
        error=None,
        raw_response=data,
        action_required_data={} if before else data,
        psp_reference=invoice.provider_invoice_id,
    )


PUBLIC_KEY = "cryptopay"


def publish(payment_id: int, invoice: Invoice) -> None:
    """Also keep the invoice data on the payment's public metadata, where a
    storefront can read it in the before-payment mode (no confirmationData)."""
    payment = Payment.objects.filter(pk=payment_id).first()
    if payment is not None:
        store_published(payment, invoice)


def store_published(payment: Payment, invoice: Invoice) -> None:
    # JSON text: Saleor's metadata values are strings, and a dict would reach
    # the storefront as a Python repr it cannot parse
    payment.store_value_in_metadata({PUBLIC_KEY: json.dumps(action_data(invoice))})
    payment.save(update_fields=["metadata"])


def published(payment: Payment) -> Optional[dict[str, Any]]:
    """What ``publish`` stored: JSON text, or a dict from versions before 0.2."""
    value = payment.get_value_from_metadata(PUBLIC_KEY)
    if isinstance(value, dict) or value is None:
        return value
    try:
        data = json.loads(value)
    except (TypeError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _shopper_names(info: PaymentData, channel_slug: str) -> tuple[str, str]:
    """The channel's name and the order's number (before_payment), which the
    shopper knows, for the invoice texts and the claim page."""
    shop = Channel.objects.filter(slug=channel_slug).values_list("name", flat=True).first()
    number = None
    try:  # Saleor passes str(None) when there is no order yet
        order_pk = uuid.UUID(str(info.order_id)) if info.order_id else None
    except ValueError:
        order_pk = None
    if order_pk is not None:
        number = Order.objects.filter(pk=order_pk).values_list("number", flat=True).first()
    return str(shop or ""), "" if number is None else str(number)[:32]


def open_invoice(
    info: PaymentData,
    bridge: ProviderBridge,
    settings: GatewaySettings,
    *,
    channel_slug: str,
    callback_url: str,
) -> Invoice:
    """The invoice the shopper should pay for this payment: reuse an open one,
    update the checkout's previous order when the provider allows (same
    address), else create one. Raises ProviderError."""
    currency = info.currency.upper()
    amount = quantize(info.amount, currency)
    current = active_invoice(info.payment_id, bridge.provider)
    if current is not None and current.payment_status.is_open and current.amount == amount:
        return current

    previous = None
    if info.checkout_token:
        previous = (
            Invoice.objects.select_for_update()
            .filter(
                checkout_token=str(info.checkout_token),
                provider=bridge.provider,
                superseded=False,
                status__in=[s.value for s in PaymentStatus if s.is_open],
            )
            .exclude(payment_id=info.payment_id)
            .order_by("-created_at")
            .first()
        )
    if previous is not None:
        updated = bridge.update(previous, amount=amount, currency=currency)
        if updated is not None:
            # same provider order, same address: it now belongs to this payment
            apply_created(previous, updated)
            previous.payment_id = info.payment_id
            previous.amount = amount
            previous.currency = currency
            previous.return_url = (_return_url(info.payment_id) or "")[:1000]
            previous.save()
            return previous
        previous.superseded = True
        previous.save(update_fields=["superseded", "updated_at"])
    if current is not None:
        current.superseded = True
        current.save(update_fields=["superseded", "updated_at"])

    reference = info.graphql_payment_id or str(info.payment_id)
    return_url = _return_url(info.payment_id)
    shop, order_number = _shopper_names(info, channel_slug)
    title, description = invoice_texts(
        settings,
        reference=reference,
        channel=channel_slug,
        shop=shop,
        order_number=order_number,
        checkout=str(info.checkout_token or ""),
        amount=amount,
        currency=currency,
    )
    created = bridge.create(
        reference=reference,
        amount=amount,
        currency=currency,
        callback_url=callback_url,
        success_url=return_url,
        cancel_url=return_url,
        title=title,
        description=description,
    )
    invoice = Invoice(
        provider=bridge.provider,
        channel_slug=channel_slug,
        payment_id=info.payment_id,
        checkout_token=str(info.checkout_token) if info.checkout_token else None,
        amount=amount,
        currency=currency,
        return_url=(return_url or "")[:1000],
        shop_name=shop[:255],
        order_number=order_number,
    )
    apply_created(invoice, created)
    save_new_invoice(invoice)  # InvoiceIdReused: a ProviderError, a clear payment error
    return invoice


def captured_transaction(payment_id: int) -> Optional[Transaction]:
    return Transaction.objects.filter(
        payment_id=payment_id,
        is_success=True,
        action_required=False,
        kind__in=[TransactionKind.CAPTURE, TransactionKind.PENDING],
    ).first()


def already_processed(txn: Transaction) -> GatewayResponse:
    return GatewayResponse(
        is_success=True,
        action_required=False,
        kind=txn.kind,
        amount=txn.amount,
        currency=txn.currency,
        transaction_id=txn.token,
        error=None,
        raw_response=txn.gateway_response,
        transaction_already_processed=True,
        psp_reference=txn.token,
    )


def sync_invoice(
    invoice_pk: int,
    bridge: ProviderBridge,
    tolerance: Decimal,
    *,
    observed: Optional[Observed] = None,
    complete_order: bool = True,
    skip_if_final: bool = True,
    verify: Optional[Callable[[], bool]] = None,
    origin: str = "callback",
) -> str:
    """Re-read (unless ``observed`` is given) and act, exactly once.

    Locks follow checkoutComplete's order: checkout, payment, then our invoice.
    The provider is asked (``verify``, then the re-read) only after the locks
    are held, so a burst of duplicate callbacks costs one verification and one
    re-read: the others find the work done. Raises ``sync.CallbackRejected``
    when ``verify`` says no. ``origin`` (callback, checkout, reconcile,
    replay) tells the order notes how the payment was learned of.
    """
    with timing.commit("on_commit") as committed, transaction.atomic():
        timing.mark_commit(committed)
        payment_id = Invoice.objects.filter(pk=invoice_pk).values_list("payment_id", flat=True)[0]
        checkout = payment = None
        if payment_id:
            with timing.phase("lock"):
                checkout = (
                    Checkout.objects.select_for_update(of=("self",))
                    .filter(payments__id=payment_id)
                    .first()
                )
                payment = (
                    Payment.objects.select_for_update(of=("self",)).filter(pk=payment_id).first()
                )
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
        result = apply_decision(
            decision, invoice, payment, checkout, complete_order=complete_order, origin=origin
        )
        if payment is not None and published(payment) is not None:
            store_published(payment, invoice)  # fresh status (and JSON, if stored older)
        return result


def _reread(invoice: Invoice, bridge: ProviderBridge, settings: GatewaySettings):
    """Still open here: the callback may never have come (a firewall, a
    provider that gave up, a failure on our side) while the shopper paid. The
    capture, if the provider says paid; a failed read leaves things as stored."""
    try:
        sync_invoice(
            invoice.pk,
            bridge,
            settings.underpaid_tolerance,
            complete_order=False,
            origin="checkout",
        )
    except ProviderError as exc:
        logger.warning("cryptopay: re-read at checkoutComplete failed: %s", exc)
        return None
    return captured_transaction(invoice.payment_id)


def confirm(
    info: PaymentData,
    bridge: ProviderBridge,
    settings: GatewaySettings,
    *,
    channel_slug: str,
    callback_url: str,
) -> GatewayResponse:
    """checkoutComplete on a payment waiting for confirmation (a retry, or the
    storefront coming back from the payment page)."""
    txn = captured_transaction(info.payment_id)
    if txn:
        return already_processed(txn)
    invoice = active_invoice(info.payment_id, bridge.provider)
    try:
        if invoice is not None and reread_due(invoice):
            txn = _reread(invoice, bridge, settings)
            if txn:
                return already_processed(txn)
            invoice.refresh_from_db()
        if (
            invoice is not None
            and PaymentStatus(invoice.status) in CLOSED
            and not Payment.objects.filter(pk=info.payment_id, is_active=True).exists()
        ):
            # closing the invoice cancelled this payment: Saleor refuses it,
            # so a fresh invoice here would be one nobody can ever pay
            return error_response(info, "The invoice ended unpaid. Please start the payment again.")
        if invoice is not None and PaymentStatus(invoice.status) in CLOSED:
            # the payment was cancelled with it: the storefront starts a new one
            return error_response(
                info,
                f"The {bridge.provider} invoice {invoice.status} before it was paid. "
                "Please start the payment again.",
            )
        if invoice is None:
            invoice = open_invoice(
                info, bridge, settings, channel_slug=channel_slug, callback_url=callback_url
            )
    except ProviderError as exc:
        logger.warning("cryptopay confirm failed: %s", exc)
        return error_response(info, provider_error_message(bridge.provider, exc))
    return pending_response(info, invoice, settings)
