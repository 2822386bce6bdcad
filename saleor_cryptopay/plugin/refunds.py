"""Refunds in the plugin edition: Saleor's refund call in, the sent refund out.

Every decision (how much, at which rate, to which address, when to pay) is the
core's (``refunds/request.py``, ``refunds/payouts.py``); this module translates:

- ``refund_payment`` -> a refund request, answered ``REFUND_ONGOING`` (Saleor
  records it without lowering the captured amount: the Dashboard shows it in
  progress), with the claim link in an order note and private metadata;
- a sent refund -> a ``REFUND`` transaction, the payment's charge status,
  ``order_refunded`` (Saleor's own refund event and e-mail) and a note with the
  payout id. This module is the edition the core's queue loads (``editions``).

"Refund products" (``orderFulfillmentRefundProducts``) is the exception:
Saleor calls ``order_refunded`` itself right after our answer, whatever it
was, so its event and e-mail come at request time; the sent refund then adds
no second one.
"""

from __future__ import annotations

import json
import logging
from decimal import Decimal
from typing import TYPE_CHECKING, Optional
from urllib.parse import urljoin

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpResponse
from django.urls import reverse
from django.utils import timezone
from saleor.core.utils import build_absolute_uri
from saleor.graphql.core.enums import PluginErrorCode
from saleor.order import events as order_events
from saleor.order.actions import order_refunded
from saleor.order.models import Order
from saleor.payment import TransactionKind
from saleor.payment.interface import GatewayResponse, PaymentData
from saleor.payment.models import Payment
from saleor.payment.utils import create_transaction, update_payment_charge_status
from saleor.plugins.manager import get_plugins_manager

from ..gateway_config import parse_positive_int
from ..models import Invoice, RefundRequest
from ..providers.icoinpay import ICoinPayClient
from ..refunds import request as core
from ..refunds.claim_page import claim_view
from ..refunds.editions import mark_recorded
from ..refunds.settings import payout_client_from, validate_refund_fields
from .config import CLAIM_PREFIX

if TYPE_CHECKING:
    from .base import CryptoGatewayPlugin

logger = logging.getLogger(__name__)

REFUNDS_KEY = "cryptopay.refunds"  # order private metadata: JSON text, one entry per refund
# on a refund's REFUND_ONGOING transaction: Saleor recorded the refund event itself
ANNOUNCED = "saleor_recorded_refund"
PLUGIN_IDS = {
    "coinpay24": "saleor_cryptopay.coinpay24",
    "coinpay_th": "saleor_cryptopay.coinpay_th",
}


# settings ----------------------------------------------------------------------------


def config_errors(values: dict) -> dict:
    """Refund fields of an active configuration, by the core's rules (the App
    applies the same); the iCoinPay key is tried (one balance call) so a wrong
    key shows on save, not at the first refund."""
    return {
        name: ValidationError(message, code=PluginErrorCode.INVALID.value)
        for name, message in validate_refund_fields(values).items()
    }


# Saleor's refund call ------------------------------------------------------------------


def request_from_saleor(plugin: CryptoGatewayPlugin, info: PaymentData) -> GatewayResponse:
    """A Dashboard refund (orderRefund / paymentRefund) becomes a refund
    request; Saleor is told it is ongoing, never done."""
    invoice = (
        Invoice.objects.filter(payment_id=info.payment_id, charged_at__isnull=False)
        .order_by("-charged_at")
        .first()
    )
    if invoice is None:
        return _answer(info, False, error="No paid crypto invoice belongs to this payment.")
    settings = plugin.settings
    bridge_rate = None
    if settings.get("refund_rate", "invoice") == "current":
        bridge_rate = getattr(plugin.build_bridge(), "current_rate", None)
    try:
        refund = core.request_refund(
            invoice.pk,
            info.amount,
            info.currency,
            rate_source=settings.get("refund_rate", "invoice"),
            current_rate=bridge_rate,
            fallback_coin=settings.get("icoinpay_currency", "BTC").upper(),
            requested_by="dashboard",
            claim_days=parse_positive_int(settings.get("refund_claim_days", "14")) or 14,
        )
    except core.RefundError as exc:
        return _answer(info, False, error=str(exc))
    # only "Refund products" passes refund_data; Saleor then records the
    # refund (PAYMENT_REFUNDED and the shopper's e-mail) itself, now
    announced = getattr(info, "refund_data", None) is not None
    order = Order.objects.filter(pk=info.order_id).first()
    url = claim_url(refund)
    early = (
        " Saleor has already marked it refunded and e-mailed the shopper: the coins "
        "have not left yet."
        if announced
        else ""
    )
    _note(
        order,
        f"Refund #{refund.pk} of {refund.fiat_text} ({refund.coins_text}) is in "
        "progress. Send the shopper this link "
        f"to give their {refund.coin} address (works once, until "
        f"{refund.claim_expires_at:%Y-%m-%d}): {url}{early}",
        refund,
    )
    publish(order, refund, claim=url)
    return _answer(info, True, refund=refund, announced=announced)


def _answer(
    info: PaymentData,
    ok: bool,
    *,
    refund: Optional[RefundRequest] = None,
    error: Optional[str] = None,
    announced: bool = False,
) -> GatewayResponse:
    token = f"cryptopay-refund-{refund.pk}" if refund else (info.token or "")
    raw = {"refund_id": refund.pk, "status": refund.status} if refund else {}
    if announced:
        raw[ANNOUNCED] = True  # kept on the REFUND_ONGOING transaction for record_sent
    return GatewayResponse(
        is_success=ok,
        action_required=False,
        kind=TransactionKind.REFUND_ONGOING if ok else TransactionKind.REFUND,
        amount=info.amount,
        currency=info.currency,
        transaction_id=token,
        error=error,
        raw_response=raw,
        psp_reference=token if refund else None,
    )


# the claim page ----------------------------------------------------------------------


def claim_url(refund: RefundRequest) -> str:
    plugin_id = PLUGIN_IDS[refund.invoice.provider]
    path = reverse(
        "plugins-per-channel",
        kwargs={"plugin_id": plugin_id, "channel_slug": refund.channel_slug},
    )
    return urljoin(build_absolute_uri(path), CLAIM_PREFIX.lstrip("/") + core.claim_token(refund))


def _order_number(refund: Optional[RefundRequest]) -> str:
    """The order's number for the claim page (the shopper never saw its uuid)."""
    if refund is None or not refund.order_id:
        return ""
    number = Order.objects.filter(pk=refund.order_id).values_list("number", flat=True).first()
    return "" if number is None else str(number)


def claim_page(plugin: CryptoGatewayPlugin, request, token: str) -> HttpResponse:
    try:
        refund: Optional[RefundRequest] = core.open_claim(token)
    except core.ClaimError:
        refund = None  # the page says why
    response = claim_view(
        request,
        token,
        checker=payout_client_from(plugin.settings.values),
        shop=plugin.channel.name if plugin.channel else "",
        channel=plugin.channel_slug,
        order_number=_order_number(refund),
    )
    if request.method == "POST" and response.status_code == 200 and refund is not None:
        try:  # the claim is committed: a failing note must not show the shopper an error
            refund.refresh_from_db()
            order = Order.objects.filter(pk=refund.order_id).first()
            _note(order, f"The shopper gave the address for refund #{refund.pk}.", refund)
            publish(order, refund)
        except Exception:
            logger.exception("cryptopay: could not note the claim of refund %s", refund.pk)
    return response


# the payout queue's edition hooks --------------------------------------------------------


def payout_client(refund: RefundRequest) -> Optional[ICoinPayClient]:
    plugin = get_plugins_manager(allow_replica=False).get_plugin(
        PLUGIN_IDS[refund.invoice.provider], channel_slug=refund.channel_slug
    )
    if plugin is None or not plugin.active:
        return None
    return payout_client_from(plugin.settings.values)


def record_sent(refund: RefundRequest) -> None:
    """The refund in Saleor's books, once: REFUND transaction, charge status,
    order event, note. Locks the payment first (as Saleor's refund does)."""
    with transaction.atomic():
        payment = Payment.objects.select_for_update().filter(pk=refund.payment_id).first()
        refund = RefundRequest.objects.select_for_update().get(pk=refund.pk)
        if refund.recorded_at is not None or refund.status != RefundRequest.Status.SENT:
            return
        order = Order.objects.filter(pk=refund.order_id).first() if refund.order_id else None
        token = f"cryptopay-refund-{refund.pk}"
        if (
            payment is not None
            and not payment.transactions.filter(
                kind=TransactionKind.REFUND, token=token, is_success=True
            ).exists()
        ):
            txn = create_transaction(
                payment,
                kind=TransactionKind.REFUND,
                payment_information=None,
                action_required=False,
                gateway_response=_sent_response(refund, token),
            )
            update_payment_charge_status(payment, txn)
            if order is not None and not _announced(payment, token):
                order_refunded(
                    order,
                    None,
                    None,
                    refund.amount,
                    payment,
                    get_plugins_manager(allow_replica=False),
                )
        what = f"payout {refund.payout_id}" if refund.payout_id else f"transaction {refund.txid}"
        _note(
            order,
            f"Refund #{refund.pk} sent: {refund.coins_text} to "
            f"{refund.address or 'the shopper'} ({what}, by {refund.sent_by}).",
            refund,
        )
        publish(order, refund)
        mark_recorded(refund)


def _announced(payment: Payment, token: str) -> bool:
    """Saleor recorded this refund's event when it was requested ("Refund
    products"): a second one would tell the shopper twice."""
    ongoing = payment.transactions.filter(kind=TransactionKind.REFUND_ONGOING, token=token)
    return any(
        isinstance(t.gateway_response, dict) and t.gateway_response.get(ANNOUNCED) for t in ongoing
    )


def _sent_response(refund: RefundRequest, token: str) -> GatewayResponse:
    return GatewayResponse(
        is_success=True,
        action_required=False,
        kind=TransactionKind.REFUND,
        amount=refund.amount,
        currency=refund.currency,
        transaction_id=token,
        error=None,
        raw_response={
            "refund_id": refund.pk,
            "payout_id": refund.payout_id,
            "txid": refund.txid,
            "coin": refund.coin,
            "crypto_amount": str(refund.crypto_amount),
        },
        psp_reference=refund.payout_id or refund.txid or token,
    )


def payout_problem(refund: RefundRequest) -> None:
    order = Order.objects.filter(pk=refund.order_id).first() if refund.order_id else None
    _note(order, refund.refused_reason, refund)
    publish(order, refund)


# order notes and metadata ------------------------------------------------------------


def _note(order: Optional[Order], message: str, refund: RefundRequest) -> None:
    if order is None:
        return
    order_events.external_notification_event(
        order=order,
        user=None,
        app=None,
        message=f"[cryptopay] {message}",
        parameters={"refund": refund.pk, "status": refund.status},
    )


def publish(order: Optional[Order], refund: RefundRequest, *, claim: Optional[str] = None) -> None:
    """The order's refunds for staff, in private metadata as JSON text (the
    claim link is a credential: never public metadata)."""
    if order is None:
        return
    with transaction.atomic():  # the queue and the claim page call this outside one
        _publish(Order.objects.select_for_update().get(pk=order.pk), refund, claim)


def _publish(order: Order, refund: RefundRequest, claim: Optional[str]) -> None:
    raw = order.get_value_from_private_metadata(REFUNDS_KEY) or "{}"
    try:
        entries = json.loads(raw) if isinstance(raw, str) else {}
    except ValueError:
        entries = {}
    entry = entries.get(str(refund.pk), {})
    entry.update(
        {
            "amount": _text(refund.amount),
            "currency": refund.currency,
            "coin": refund.coin,
            "crypto_amount": _text(refund.crypto_amount),
            "status": refund.status,
            "updated": timezone.now().isoformat(timespec="seconds"),
        }
    )
    if claim:
        entry["claim_url"] = claim
    if refund.status != RefundRequest.Status.AWAITING_ADDRESS:
        entry.pop("claim_url", None)
    for name in ("address", "payout_id", "txid", "refused_reason"):
        value = getattr(refund, name)
        if value:
            entry[name] = value
        else:
            entry.pop(name, None)
    entries[str(refund.pk)] = entry
    order.store_value_in_private_metadata({REFUNDS_KEY: json.dumps(entries, sort_keys=True)})
    order.save(update_fields=["private_metadata"])


def _text(value: Decimal) -> str:
    return format(value.normalize(), "f")
