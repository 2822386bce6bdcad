"""The callback (webhook) handler.

Order of work: store the raw callback; find the invoice; verify; then, under
the checkout → payment → invoice locks, re-read the provider and act on what
it says (never on the posted fields). Answers 200 whenever retrying cannot
help (handled, duplicate, unknown, forged), 503 when it can.
"""

from __future__ import annotations

import logging
import traceback
from typing import Optional

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone

from ..bridges.base import ProviderBridge
from ..inbox import store_callback
from ..lifecycle import CHARGED
from ..models import CallbackEvent, Invoice
from ..providers.errors import ProviderError
from ..providers.status import PaymentStatus
from ..setup_checks.probe import default_key, probe_answer
from .payments import ALREADY_PROCESSED, CallbackRejected, sync_invoice

logger = logging.getLogger(__name__)
Outcome = CallbackEvent.Outcome


# What a callback claims, used only to skip work for repeats of a final state
# (never to act): "charged" or "refunded", else None.
def _claim(provider: str, fields: dict[str, str]) -> Optional[str]:
    if provider == "coinpay24":
        status = (fields.get("status") or "").strip().lower()
        return {"paid": "charged", "completed": "charged", "refunded": "refunded"}.get(status)
    if provider == "coinpay_th":
        return "charged" if (fields.get("order_status") or "").strip() == "2" else None
    return None


def _repeats_final_state(invoice: Invoice, claim: Optional[str]) -> bool:
    status = invoice.payment_status
    return (claim == "charged" and status in CHARGED) or (
        claim == "refunded" and status is PaymentStatus.REFUNDED
    )


def _finish(event: CallbackEvent, outcome: str, result: str, status: int = 200) -> HttpResponse:
    event.outcome = outcome
    event.result = result[:2000]
    event.attempts += 1
    event.processed_at = timezone.now()
    event.save(
        update_fields=["outcome", "result", "attempts", "processed_at", "invoice", "verified"]
    )
    return HttpResponse(f"{outcome}: {result}"[:200], status=status, content_type="text/plain")


def process_event(
    event: CallbackEvent,
    pairs: list[tuple[str, str]],
    bridge: ProviderBridge,
    *,
    channel_slug: str,
    tolerance,
) -> HttpResponse:
    fields = dict(pairs)
    ref = bridge.callback_invoice_id(fields) if fields else None
    if not ref:
        return _finish(event, Outcome.REJECTED, "no invoice id in the callback")
    event.provider_invoice_id = ref[:64]
    event.save(update_fields=["provider_invoice_id"])
    invoice = Invoice.objects.filter(provider=bridge.provider, provider_invoice_id=ref).first()
    if invoice is None:
        return _finish(event, Outcome.IGNORED, "unknown invoice (kept for reconciliation)")
    event.invoice = invoice
    if invoice.channel_slug != channel_slug:
        return _finish(event, Outcome.REJECTED, "invoice belongs to another channel")

    claim = _claim(bridge.provider, fields)
    if _repeats_final_state(invoice, claim):
        # a repeat of what we already acted on: no provider call needed
        return _finish(event, Outcome.IGNORED, f"duplicate: invoice already {invoice.status}")

    def check() -> bool:
        event.verified = bridge.verify_callback(pairs)
        event.save(update_fields=["verified"])
        return event.verified

    deferred = None
    try:
        if bridge.verifies_locally:
            if not check():
                return _rejected(event, bridge)
        else:
            deferred = check  # a provider call: made under the locks, once
        # a charged invoice is only worth a re-read when the callback says refunded
        result = sync_invoice(
            invoice.pk, bridge, tolerance, skip_if_final=claim != "refunded", verify=deferred
        )
    except CallbackRejected:
        return _rejected(event, bridge)
    except ProviderError as exc:
        if exc.code in ("quota", "rate_limited"):
            # Deferred, not lost: the event is stored, the provider sends it
            # again on a 503 (for days), and the invoice stays open for
            # reconciliation and the shopper's own checkoutComplete.
            return _finish(event, Outcome.FAILED, f"deferred, provider quota short: {exc}", 503)
        if deferred is not None and event.verified is None:
            return _finish(event, Outcome.FAILED, f"verification unavailable: {exc}", 503)
        status = 503 if exc.retryable else 200
        return _finish(event, Outcome.FAILED, f"provider re-read failed: {exc}", status)
    if result == ALREADY_PROCESSED:
        return _finish(event, Outcome.IGNORED, f"duplicate: invoice already {invoice.status}")
    return _finish(event, Outcome.PROCESSED, result)


def _rejected(event: CallbackEvent, bridge: ProviderBridge) -> HttpResponse:
    logger.warning("cryptopay: unverified %s callback #%s", bridge.provider, event.pk)
    return _finish(event, Outcome.REJECTED, "verification failed")


def handle_callback(
    request: HttpRequest,
    bridge: ProviderBridge,
    *,
    channel_slug: str,
    tolerance,
) -> HttpResponse:
    if request.method != "POST":
        return HttpResponse("POST only", status=405, content_type="text/plain")
    probe = probe_answer(request.content_type or "", request.body, default_key())
    if probe is not None:  # cryptopay_check's signed no-op: nothing stored, nothing done
        return JsonResponse(probe)
    try:
        event, pairs = store_callback(
            provider=bridge.provider,
            channel_slug=channel_slug,
            path=request.path,
            headers=dict(request.headers),
            body=request.body,
            content_type=request.content_type or "",
            remote_addr=request.META.get("REMOTE_ADDR", ""),
            pairs=_multipart_pairs(request),
        )
    except DatabaseError:
        logger.exception("cryptopay: could not store a callback")
        return HttpResponse("storage unavailable", status=503, content_type="text/plain")
    try:
        return process_event(event, pairs, bridge, channel_slug=channel_slug, tolerance=tolerance)
    except DatabaseError:
        logger.exception("cryptopay: database error handling callback #%s", event.pk)
        return HttpResponse("database unavailable", status=503, content_type="text/plain")
    except Exception:  # a bug: keep the event and the whole failure, let the provider retry
        logger.exception("cryptopay: failed to handle callback #%s", event.pk)
        CallbackEvent.objects.filter(pk=event.pk).update(
            outcome=Outcome.FAILED,
            result="internal error: " + traceback.format_exc()[-1980:],
            invoice=event.invoice,
            attempts=event.attempts + 1,
        )
        return HttpResponse("internal error", status=500, content_type="text/plain")


def _multipart_pairs(request: HttpRequest) -> Optional[list[tuple[str, str]]]:
    if (request.content_type or "").startswith("multipart/"):
        return [(k, v) for k, values in request.POST.lists() for v in values]
    return None
