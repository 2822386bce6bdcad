"""Provider → App callbacks: one URL per installation, channel and provider
(``/api/callbacks/<key>``), through the shared inbox → verify → re-read →
decide path; the reports Saleor must get leave through the outbox."""

from __future__ import annotations

import logging

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from .. import timing
from ..inbox import RefusedCallback, store_callback
from ..models import CallbackEvent, Invoice
from ..providers.errors import ProviderError
from ..providers.quota import CALLBACK
from ..receive import finish, process_callback
from ..setup_checks.probe import default_key, probe_answer
from . import logs, outbox
from .flow import sync_invoice
from .models import ChannelConfiguration

logger = logging.getLogger(__name__)


def _belongs(config: ChannelConfiguration):
    def check(invoice: Invoice) -> bool:
        return (
            invoice.saleor_api_url == config.installation.saleor_api_url
            and invoice.channel_slug == config.channel_slug
        )

    return check


@csrf_exempt
def provider_callback(request: HttpRequest, key: str) -> HttpResponse:
    with timing.record() as recorder:
        return timing.annotate(_provider_callback(request, key), recorder)


def _provider_callback(request: HttpRequest, key: str) -> HttpResponse:
    if request.method != "POST":
        return HttpResponse("POST only", status=405, content_type="text/plain")
    config = (
        ChannelConfiguration.objects.select_related("installation")
        .filter(callback_key=key, active=True)
        .first()
    )
    if config is None:
        return HttpResponse("not found", status=404, content_type="text/plain")
    probe = probe_answer(request.content_type or "", request.body, default_key())
    if probe is not None:  # cryptopay-app check's signed no-op: nothing stored, nothing done
        return JsonResponse(probe)
    multipart = (request.content_type or "").startswith("multipart/")
    try:
        with timing.phase("inbox"):
            event, pairs = store_callback(
                provider=config.provider,
                channel_slug=config.channel_slug,
                path=request.path,
                headers=dict(request.headers),
                body=request.body,
                content_type=request.content_type or "",
                remote_addr=request.META.get("REMOTE_ADDR", ""),
                pairs=[(k, v) for k, vs in request.POST.lists() for v in vs] if multipart else None,
            )
    except RefusedCallback as exc:
        return HttpResponse(f"refused: {exc}", status=400, content_type="text/plain")
    except DatabaseError:
        logger.exception("cryptopay-app: could not store a callback")
        return HttpResponse("storage unavailable", status=503, content_type="text/plain")
    logs.bind(callback_id=str(event.pk), provider=config.provider)
    bridge = config.build_bridge(CALLBACK)

    def sync(invoice_pk, verify, skip_if_final):
        return sync_invoice(
            invoice_pk, config, verify=verify, skip_if_final=skip_if_final, bridge=bridge
        )

    try:
        handled = process_callback(
            event, pairs, bridge, belongs=_belongs(config), sync=sync, defer_on_quota=True
        )
    except DatabaseError:
        logger.exception("cryptopay-app: database error handling callback #%s", event.pk)
        return HttpResponse("database unavailable", status=503, content_type="text/plain")
    except Exception as exc:  # a bug: keep the event, let the provider retry
        logger.exception("cryptopay-app: failed to handle callback #%s", event.pk)
        CallbackEvent.objects.filter(pk=event.pk).update(
            outcome=CallbackEvent.Outcome.FAILED,
            result=f"internal error: {type(exc).__name__}",
            invoice=event.invoice,
            provider_invoice_id=event.provider_invoice_id,
            verified=event.verified,
        )
        return HttpResponse("internal error", status=500, content_type="text/plain")
    # whatever this callback did, send what Saleor is still owed by this
    # installation (earlier reports that failed are retried here too)
    outbox.flush(installation=config.installation)
    text = f"{handled.outcome}: {handled.result}"[:200]
    return HttpResponse(text, status=handled.status, content_type="text/plain")


def replay_event(event_id: int) -> tuple[str, str]:
    """Process a stored callback again: find its invoice and re-read the provider
    (verify tokens are never stored; the provider's answer is what counts)."""
    event = CallbackEvent.objects.filter(pk=event_id).first()
    if event is None:
        raise LookupError(f"no stored callback #{event_id}")
    ref = event.provider_invoice_id
    invoice = Invoice.objects.filter(provider=event.provider, provider_invoice_id=ref).first()
    if invoice is None or not invoice.saleor_api_url:
        return _done(event, CallbackEvent.Outcome.IGNORED, f"replay: unknown invoice {ref!r}")
    config = ChannelConfiguration.objects.filter(
        installation__saleor_api_url=invoice.saleor_api_url,
        channel_slug=invoice.channel_slug,
        provider=invoice.provider,
    ).first()
    if config is None:
        raise LookupError(f"no {invoice.provider} configuration for channel {invoice.channel_slug}")
    event.invoice = invoice
    try:
        result = sync_invoice(invoice.pk, config, bridge=config.build_bridge(CALLBACK))
    except ProviderError as exc:
        return _done(event, CallbackEvent.Outcome.FAILED, f"replay: provider re-read failed: {exc}")
    sent = outbox.flush(invoice=invoice)
    return _done(event, CallbackEvent.Outcome.PROCESSED, "; ".join([f"replay: {result}", *sent]))


def _done(event: CallbackEvent, outcome: str, result: str) -> tuple[str, str]:
    finish(event, outcome, result)  # recorded as the callback path records it
    return outcome, result
