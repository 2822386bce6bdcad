"""Replay a stored callback: find its invoice and re-read the provider.

Verify tokens are never stored, so a replay cannot re-verify; it does not
need to, because the action comes from the provider's API (authenticated by
our credentials), never from the stored fields.
"""

from __future__ import annotations

from django.utils import timezone

from ..models import CallbackEvent, Invoice
from ..providers.errors import ProviderError
from ..providers.quota import CALLBACK
from .payments import sync_invoice
from .reconcile import active_plugins


def replay_event(event_id: int) -> tuple[str, str]:
    event = CallbackEvent.objects.filter(pk=event_id).first()
    if event is None:
        raise LookupError(f"no stored callback #{event_id}")
    ref = event.provider_invoice_id or _field(event, "txn_id") or _field(event, "order_id")
    invoice = Invoice.objects.filter(provider=event.provider, provider_invoice_id=ref).first()
    if invoice is None:
        return _done(event, CallbackEvent.Outcome.IGNORED, f"replay: unknown invoice {ref!r}")
    plugins = active_plugins(invoice.channel_slug, invoice.provider)
    if not plugins:
        raise LookupError(f"no active {invoice.provider} gateway in channel {invoice.channel_slug}")
    plugin = plugins[0]
    event.invoice = invoice
    try:
        result = sync_invoice(
            invoice.pk, plugin.build_bridge(CALLBACK), plugin.settings.underpaid_tolerance
        )
    except ProviderError as exc:
        return _done(event, CallbackEvent.Outcome.FAILED, f"replay: provider re-read failed: {exc}")
    return _done(event, CallbackEvent.Outcome.PROCESSED, f"replay: {result}")


def _field(event: CallbackEvent, name: str) -> str:
    for key, value in event.fields or []:
        if key == name:
            return str(value)
    return ""


def _done(event: CallbackEvent, outcome: str, result: str) -> tuple[str, str]:
    event.outcome = outcome
    event.result = result[:2000]
    event.attempts += 1
    event.processed_at = timezone.now()
    event.save(update_fields=["outcome", "result", "attempts", "processed_at", "invoice"])
    return outcome, result
