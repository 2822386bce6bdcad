"""The callback (webhook) handler.

Order of work: store the raw callback; find the invoice; verify; then, under
the checkout → payment → invoice locks, re-read the provider and act on what
it says (never on the posted fields). Answers 200 whenever retrying cannot
help (handled, duplicate, unknown, forged), 503 when it can.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from typing import Optional

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse

from .. import timing
from ..bridges.base import ProviderBridge
from ..inbox import RefusedCallback, store_callback
from ..models import CallbackEvent
from ..receive import process_callback
from ..setup_checks.probe import default_key, probe_answer
from .payments import sync_invoice

logger = logging.getLogger(__name__)
Outcome = CallbackEvent.Outcome


def process_event(
    event: CallbackEvent,
    pairs: list[tuple[str, str]],
    bridge: ProviderBridge,
    *,
    channel_slug: str,
    tolerance,
) -> HttpResponse:
    """The core's callback path (``receive``) with the plugin's parts: the
    channel as the configuration, Saleor's locks and effects in
    ``sync_invoice``, and quota shortfalls deferred with a 503."""

    def sync(invoice_pk: int, verify: Optional[Callable[[], bool]], skip_if_final: bool) -> str:
        return sync_invoice(
            invoice_pk, bridge, tolerance, skip_if_final=skip_if_final, verify=verify
        )

    handled = process_callback(
        event,
        pairs,
        bridge,
        belongs=lambda invoice: invoice.channel_slug == channel_slug,
        sync=sync,
        foreign="invoice belongs to another channel",
        defer_on_quota=True,
    )
    text = f"{handled.outcome}: {handled.result}"[:200]
    return HttpResponse(text, status=handled.status, content_type="text/plain")


def handle_callback(
    request: HttpRequest,
    bridge: ProviderBridge,
    *,
    channel_slug: str,
    tolerance,
) -> HttpResponse:
    with timing.record() as recorder:
        response = _handle_callback(request, bridge, channel_slug=channel_slug, tolerance=tolerance)
        return timing.annotate(response, recorder)


def _handle_callback(
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
        with timing.phase("inbox"):
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
    except RefusedCallback as exc:
        return HttpResponse(f"refused: {exc}", status=400, content_type="text/plain")
    except DatabaseError:
        logger.exception("cryptopay: could not store a callback")
        return HttpResponse("storage unavailable", status=503, content_type="text/plain")
    try:
        return process_event(event, pairs, bridge, channel_slug=channel_slug, tolerance=tolerance)
    except DatabaseError:
        logger.exception("cryptopay: database error handling callback #%s", event.pk)
        return HttpResponse("database unavailable", status=503, content_type="text/plain")
    except Exception as exc:  # a bug: keep the event and the failure, let the provider retry
        logger.exception("cryptopay: failed to handle callback #%s", event.pk)
        CallbackEvent.objects.filter(pk=event.pk).update(
            outcome=Outcome.FAILED,
            result=failure_text(exc),
            invoice=event.invoice,
            provider_invoice_id=event.provider_invoice_id,
            verified=event.verified,
            attempts=event.attempts + 1,
        )
        return HttpResponse("internal error", status=500, content_type="text/plain")


def failure_text(exc: BaseException, limit: int = 2000) -> str:
    """The error first, then as much of the traceback as fits, innermost
    frames last (a deep call chain must not push the error itself out)."""
    head = f"internal error: {type(exc).__name__}: {exc}"[:300]
    trace = traceback.format_exc()
    room = limit - len(head) - 1
    if len(trace) > room:
        marker = "Traceback (most recent call last):\n  …\n"
        trace = marker + trace[-(room - len(marker)) :]
    return f"{head}\n{trace}"


def _multipart_pairs(request: HttpRequest) -> Optional[list[tuple[str, str]]]:
    if (request.content_type or "").startswith("multipart/"):
        return [(k, v) for k, values in request.POST.lists() for v in values]
    return None
