"""Refunds in the App edition: Saleor's TRANSACTION_REFUND_REQUESTED in, the
sent refund out as ``transactionEventReport``.

Every decision (how much, at which rate, to which address, when to pay) is the
core's (``refunds/request.py``, ``refunds/payouts.py``), exactly as for the plugin; this
module translates, and is the edition the core's payout queue loads
(``CRYPTOPAY_EDITION``, set in the App's settings; see ``refunds/editions.py``):

- a refund request -> ``core.request_refund`` (capped at what was captured),
  answered with Saleor's async ack ``{pspReference}``: Saleor 3.20 then counts
  the requested amount as *refund pending* (``REFUND_REQUEST`` is not an
  accepted result there), and an INFO event tells staff the claim link;
- each refund has its own pspReference (``cryptopay-refund-<id>``): Saleor
  pairs request and success by pspReference, and a second REFUND_SUCCESS
  under one pspReference with another amount would be refused;
- a sent refund -> ``REFUND_SUCCESS`` for that pspReference through the outbox
  (kept and retried until Saleor has it);
- a refused or unknown payout -> the core's staff task, and an INFO event with
  the reason; the refund stays pending in Saleor, since the coins are still
  owed and a retry may pay them (no REFUND_FAILURE).
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any, Optional

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from ..models import Invoice, RefundRequest
from ..money import format_amount
from ..providers.icoinpay import ICoinPayClient
from ..refunds import request as core
from ..refunds.claim_page import claim_view
from ..refunds.editions import mark_recorded
from ..refunds.settings import claim_days, payout_client_from, payout_coin, rate_choice
from . import flow, outbox, problems
from .models import ChannelConfiguration, Installation, OutboxReport, RefundRequestKey
from .payloads import Payload, action

logger = logging.getLogger(__name__)

CLAIM_PATH = "/api/claim/"


def psp_reference(refund: RefundRequest) -> str:
    return f"cryptopay-refund-{refund.pk}"


def _config(invoice: Invoice) -> Optional[ChannelConfiguration]:
    return (
        ChannelConfiguration.objects.select_related("installation")
        .filter(
            installation__saleor_api_url=invoice.saleor_api_url,
            channel_slug=invoice.channel_slug,
            provider=invoice.provider,
        )
        .first()
    )


def _installation(invoice: Invoice) -> Optional[Installation]:
    return Installation.objects.filter(saleor_api_url=invoice.saleor_api_url).first()


# Saleor's refund call ------------------------------------------------------------


def refund_requested(installation: Installation, payload: Payload) -> dict[str, Any]:
    """TRANSACTION_REFUND_REQUESTED: a refund request, acknowledged as pending."""
    amount, currency = action(payload)
    txn = payload.get("transaction") or {}
    invoice = flow.transaction_invoice(installation, str(txn.get("id") or ""))
    if invoice is None:
        return _failure(amount, "No crypto invoice belongs to this transaction.")
    if amount is None or amount <= 0:
        return _failure(amount, "The refund amount must be positive.")
    key = _request_key(payload)
    done = RefundRequestKey.objects.filter(installation=installation, key=key).first()
    if done is not None:  # Saleor sent this request again (a 5xx): the same refund
        return {"pspReference": psp_reference(done.refund)}
    config = _config(invoice)
    values = config.settings.values if config is not None else {}
    rate = rate_choice(values)
    current = None
    if rate == "current" and config is not None:
        current = getattr(config.build_bridge(), "current_rate", None)
    try:
        with transaction.atomic():
            refund = core.request_refund(
                invoice.pk,
                amount,
                currency or invoice.currency,
                rate_source=rate,
                current_rate=current,
                fallback_coin=payout_coin(values),
                requested_by="saleor (TRANSACTION_REFUND_REQUESTED)",
                claim_days=claim_days(values),
            )
            RefundRequestKey.objects.create(installation=installation, key=key, refund=refund)
            _info(  # staff find the claim link on the transaction (and in `refunds`)
                installation,
                refund,
                psp_reference(refund),
                f"Refund #{refund.pk}: {refund.coins_text} in progress. Send "
                f"the shopper this link to give their {refund.coin} address (works once, "
                f"until {refund.claim_expires_at:%Y-%m-%d}): {claim_url(refund)}",
            )
    except core.RefundError as exc:
        return _failure(amount, str(exc))
    except IntegrityError:  # the same request, answered concurrently
        done = RefundRequestKey.objects.get(installation=installation, key=key)
        return {"pspReference": psp_reference(done.refund)}
    outbox.flush_later(invoice.pk)  # never while Saleor waits for this answer
    return {"pspReference": psp_reference(refund)}


def _request_key(payload: Payload) -> str:
    # a retried delivery carries the very same stored payload
    txn = payload.get("transaction") or {}
    act = payload.get("action") or {}
    text = f"{txn.get('id')}|{payload.get('issuedAt')}|{act.get('amount')}|{act.get('currency')}"
    return hashlib.sha256(text.encode()).hexdigest()


def _failure(amount: Any, message: str) -> dict[str, Any]:
    # no pspReference: nothing is pending under any reference of ours
    return {"result": "REFUND_FAILURE", "amount": str(amount or 0), "message": message[:500]}


def _info(installation: Installation, refund: RefundRequest, psp: str, message: str) -> None:
    OutboxReport.objects.get_or_create(
        invoice=refund.invoice,
        kind=OutboxReport.EVENT,
        event_type="INFO",
        psp_reference=psp[:128],
        done_at=None,
        defaults={"installation": installation, "amount": None, "message": message[:500]},
    )


# the claim page ----------------------------------------------------------------------


def claim_url(refund: RefundRequest) -> str:
    return f"{settings.APP_URL}{CLAIM_PATH}{core.claim_token(refund)}"


@csrf_exempt  # the signed single-use token in the URL is the credential (no cookies)
def claim_page(request: HttpRequest, token: str) -> HttpResponse:
    checker = None
    try:
        refund: Optional[RefundRequest] = core.open_claim(token)
    except core.ClaimError:
        refund = None  # the page says why
    if refund is not None:
        config = _config(refund.invoice)
        checker = payout_client_from(config.settings.values) if config is not None else None
    return claim_view(request, token, checker=checker)


# the payout queue's edition hooks ----------------------------------------------------------


def payout_client(refund: RefundRequest) -> Optional[ICoinPayClient]:
    config = _config(refund.invoice)
    if config is None or not config.active:
        return None
    return payout_client_from(config.settings.values)


def record_sent(refund: RefundRequest) -> None:
    """REFUND_SUCCESS for the refund's pspReference, queued once in the outbox
    together with ``recorded_at``, then sent (kept for retry if Saleor is down)."""
    installation = _installation(refund.invoice)
    if installation is None:
        logger.warning("cryptopay-app: refund %s: its Saleor is not installed", refund.pk)
        return
    with transaction.atomic():
        refund = RefundRequest.objects.select_for_update().get(pk=refund.pk)
        if refund.recorded_at is not None or refund.status != RefundRequest.Status.SENT:
            return
        what = f"payout {refund.payout_id}" if refund.payout_id else f"transaction {refund.txid}"
        OutboxReport.objects.get_or_create(
            invoice=refund.invoice,
            kind=OutboxReport.EVENT,
            event_type="REFUND_SUCCESS",
            psp_reference=psp_reference(refund),
            done_at=None,
            defaults={
                "installation": installation,
                "amount": refund.amount,
                "message": (
                    f"Refund #{refund.pk} sent: {refund.coins_text} to "
                    f"{refund.address or 'the shopper'} ({what}, by {refund.sent_by})"
                )[:500],
            },
        )
        mark_recorded(refund)
    outbox.flush(invoice=refund.invoice)
    _payout_problem_resolved(installation)


def payout_problem(refund: RefundRequest) -> None:
    """The core opened the staff task; Saleor's transaction shows the reason too."""
    installation = _installation(refund.invoice)
    if installation is None:
        return
    payout = refund.payouts.order_by("-pk").first()
    psp = f"{psp_reference(refund)}-payout-{payout.pk if payout else 0}"
    amount = format_amount(refund.amount, refund.currency)
    with transaction.atomic():
        _info(
            installation,
            refund,
            psp,
            f"Refund #{refund.pk} ({amount} {refund.currency}) is {refund.status}: "
            f"{refund.refused_reason}",
        )
    outbox.flush(invoice=refund.invoice)
    problems.report(
        installation,
        problems.PAYOUT,
        f"Refund #{refund.pk} ({amount} {refund.currency}) is {refund.status}: "
        f"{refund.refused_reason} Open CryptoPay → Operations.",
    )


def _payout_problem_resolved(installation: Installation) -> None:
    waiting = RefundRequest.objects.filter(
        invoice__saleor_api_url=installation.saleor_api_url,
        status__in=(RefundRequest.Status.FAILED, RefundRequest.Status.NEEDS_ATTENTION),
    )
    if not waiting.exists():
        problems.dismiss(installation, problems.PAYOUT)
