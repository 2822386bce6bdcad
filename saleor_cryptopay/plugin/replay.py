"""Replay a stored callback: find its invoice and re-read the provider.

Verify tokens are never stored, so a replay cannot re-verify; it does not
need to, because the action comes from the provider's API (authenticated by
our credentials), never from the stored fields.
"""

from __future__ import annotations

from ..models import CallbackEvent, Invoice
from ..providers.errors import ProviderError
from ..providers.quota import CALLBACK
from ..receive import finish
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
            invoice.pk,
            plugin.build_bridge(CALLBACK),
            plugin.settings.underpaid_tolerance,
            origin="replay",
        )
    except ProviderError as exc:
        return _done(event, CallbackEvent.Outcome.FAILED, f"replay: provider re-read failed: {exc}")
    return _done(event, CallbackEvent.Outcome.PROCESSED, f"replay: {result}")


def failed_events() -> list[int]:
    """The stored callbacks that failed (crashed, or the provider was down),
    one per invoice: replaying one brings the whole invoice up to date."""
    seen: set[tuple[str, str]] = set()
    ids = []
    events = CallbackEvent.objects.filter(outcome=CallbackEvent.Outcome.FAILED).order_by("pk")
    for event in events.only("pk", "provider", "provider_invoice_id"):
        key = (event.provider, event.provider_invoice_id)
        if key not in seen:
            seen.add(key)
            ids.append(event.pk)
    return ids


def _field(event: CallbackEvent, name: str) -> str:
    for key, value in event.fields or []:
        if key == name:
            return str(value)
    return ""


def _done(event: CallbackEvent, outcome: str, result: str) -> tuple[str, str]:
    finish(event, outcome, result)  # recorded as the callback path records it
    return outcome, result
