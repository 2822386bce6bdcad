"""A stored provider callback, handled the same way by both editions:
find the invoice → check it belongs to the receiving configuration →
skip repeats of a final state → verify → re-read and decide (``sync``).

What differs per edition is passed in: whether an invoice belongs to the
configuration that received the callback, and ``sync``, which takes the
edition's locks and carries the decision out (Saleor effects in the plugin's
``callbacks.process_event``, outbox reports in the App).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Optional

from django.utils import timezone

from . import timing
from .bridges.base import ProviderBridge
from .lifecycle import CHARGED
from .models import CallbackEvent, Invoice
from .providers.errors import ProviderError
from .providers.status import PaymentStatus
from .sync import (
    ALREADY_PROCESSED,
    IPN_VERIFICATIONS,
    IPN_VERIFY_INTERVAL,
    CallbackRejected,
    asks_provider,
    claim_verification,
    release_verification,
)

logger = logging.getLogger(__name__)
Outcome = CallbackEvent.Outcome
BUSY_RETRY_SECONDS = 0.2
VERIFY_BUSY = (
    f"deferred: this invoice's callbacks cost {IPN_VERIFICATIONS} provider verifications "
    f"in the last {IPN_VERIFY_INTERVAL.seconds} s, none genuine"
)

# (invoice pk, verify or None, skip_if_final) → result text; raises
# CallbackRejected / ProviderError
Sync = Callable[[int, Optional[Callable[[], bool]], bool], str]


@dataclass(frozen=True)
class Handled:
    outcome: str
    result: str
    status: int = 200  # the HTTP answer: 503 when a retry can help


def finish(event: CallbackEvent, outcome: str, result: str, status: int = 200) -> Handled:
    event.outcome = outcome
    event.result = result[:2000]
    event.attempts += 1
    event.processed_at = timezone.now()
    # one write for the whole outcome (a duplicate costs the inbox row and this)
    event.save(
        update_fields=[
            "outcome", "result", "attempts", "processed_at", "invoice", "verified",
            "provider_invoice_id",
        ]
    )  # fmt: skip
    return Handled(outcome, result, status)


def _repeats_final_state(invoice: Invoice, claim: Optional[str]) -> bool:
    status = invoice.payment_status
    return (claim == "charged" and status in CHARGED) or (
        claim == "refunded" and status is PaymentStatus.REFUNDED
    )


def process_callback(
    event: CallbackEvent,
    pairs: list[tuple[str, str]],
    bridge: ProviderBridge,
    *,
    belongs: Callable[[Invoice], bool],
    sync: Sync,
    foreign: str = "invoice belongs to another configuration",
    defer_on_quota: bool = False,
) -> Handled:
    """``foreign`` is the reason recorded when ``belongs`` says no;
    ``defer_on_quota`` answers a quota shortfall (ProviderError code quota or
    rate_limited) with a 503 that says so, whatever call hit it (the plugin)."""
    fields = dict(pairs)
    ref = bridge.callback_invoice_id(fields) if fields else None
    if not ref:
        return finish(event, Outcome.REJECTED, "no invoice id in the callback")
    event.provider_invoice_id = ref[:64]  # saved with the outcome (or the crash record)
    invoice = Invoice.objects.filter(provider=bridge.provider, provider_invoice_id=ref).first()
    if invoice is None:
        return finish(event, Outcome.IGNORED, "unknown invoice (kept for reconciliation)")
    event.invoice = invoice
    if not belongs(invoice):
        return finish(event, Outcome.REJECTED, foreign)

    claim = bridge.claimed_state(fields)
    if _repeats_final_state(invoice, claim):
        return finish(event, Outcome.IGNORED, f"duplicate: invoice already {invoice.status}")

    # a charged invoice is only worth a re-read when the callback says refunded
    skip_if_final = claim != "refunded"
    # a verification that is a provider call (CoinPay.in.th) needs one of the
    # invoice's slots: claimed here, committed, so a refused (forged) one stays spent
    claimed = bridge.verifies_locally or (
        asks_provider(invoice, skip_if_final) and claim_verification(invoice.pk)
    )

    def check() -> bool:
        # under the invoice lock: a genuine callback before us may have freed them
        if not claimed and not claim_verification(invoice.pk):
            raise VerificationBusy()
        with timing.phase("verify"):
            event.verified = bridge.verify_callback(pairs)
        if event.verified and not bridge.verifies_locally:
            release_verification(invoice.pk)
        return event.verified

    deferred = None
    try:
        if bridge.verifies_locally:
            if not check():
                return _rejected(event, bridge)
        else:
            deferred = check  # a provider call: made under the lock, once
        result = _sync_when_free(sync, invoice.pk, deferred, skip_if_final)
    except VerificationBusy:
        # anyone can post to the callback URL and each verification is a
        # provider call: stored, answered 503 so the provider sends it again;
        # the invoice stays open for reconciliation and the shopper meanwhile
        return finish(event, Outcome.FAILED, VERIFY_BUSY, 503)
    except CallbackRejected:
        return _rejected(event, bridge)
    except ProviderError as exc:
        if defer_on_quota and exc.code in ("quota", "rate_limited"):
            # Deferred, not lost: the event is stored, the provider sends it
            # again on a 503 (for days), and the invoice stays open for
            # reconciliation and the shopper's own checkoutComplete.
            return finish(event, Outcome.FAILED, f"deferred, provider quota short: {exc}", 503)
        if deferred is not None and event.verified is None:
            return finish(event, Outcome.FAILED, f"verification unavailable: {exc}", 503)
        status = 503 if exc.retryable else 200
        return finish(event, Outcome.FAILED, f"provider re-read failed: {exc}", status)
    if result == ALREADY_PROCESSED:
        return finish(event, Outcome.IGNORED, f"duplicate: invoice already {invoice.status}")
    return finish(event, Outcome.PROCESSED, result)


class VerificationBusy(Exception):
    """The invoice's verification slots are spent (by callbacks not genuine)."""


def _sync_when_free(
    sync: Sync, pk: int, verify: Optional[Callable[[], bool]], skip_if_final: bool
) -> str:
    """``sync``, once more a moment later if the slots' holders had not taken
    the invoice lock yet: a burst of one genuine callback then finds the work
    done (a duplicate) instead of a 503."""
    try:
        return sync(pk, verify, skip_if_final)
    except VerificationBusy:
        time.sleep(BUSY_RETRY_SECONDS)
        return sync(pk, verify, skip_if_final)


def _rejected(event: CallbackEvent, bridge: ProviderBridge) -> Handled:
    logger.warning("cryptopay: unverified %s callback #%s", bridge.provider, event.pk)
    return finish(event, Outcome.REJECTED, "verification failed")
