"""Where the core meets an edition (the Saleor plugin today, an App later).

An edition is a module with these functions, named by the setting
``CRYPTOPAY_EDITION`` (default: the Saleor plugin's ``plugin.refunds`` when
Saleor is installed):

- ``payout_client(refund) -> ICoinPayClient | None``: the channel's payout
  account, None without iCoinPay credentials (the refund then waits for staff);
- ``record_sent(refund) -> None``: record a sent refund on the edition's side
  (Saleor: REFUND transaction, charge status, order note) and set
  ``refund.recorded_at``; must be idempotent;
- ``payout_problem(refund) -> None``: show a refused or unknown payout to staff;
- ``claim_url(refund) -> str``: the absolute URL of the refund's claim link
  (the page is ``claim_page.claim_view`` behind the edition's own route).
"""

from __future__ import annotations

import importlib
import importlib.util
from datetime import timedelta
from types import ModuleType
from typing import Optional

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ..models import RefundRequest
from .payouts import STALE_AFTER, Outcome, run_payouts

PLUGIN_EDITION = "saleor_cryptopay.plugin.refunds"


def load() -> Optional[ModuleType]:
    name = getattr(settings, "CRYPTOPAY_EDITION", None)
    if name is None and importlib.util.find_spec("saleor") is not None:
        name = PLUGIN_EDITION
    return importlib.import_module(name) if name else None


def process_payouts(limit: int = 50) -> list[Outcome]:
    """One run of the payout queue with the installed edition, then record any
    sent refund its edition has not recorded yet (e.g. after a crash)."""
    edition = load()
    if edition is None:
        return []
    stale = getattr(settings, "CRYPTOPAY_PAYOUT_STALE_MINUTES", None)
    outcomes = run_payouts(
        edition.payout_client,
        limit=limit,
        on_sent=edition.record_sent,
        on_problem=edition.payout_problem,
        stale_after=timedelta(minutes=stale) if stale else STALE_AFTER,
    )
    record_pending(edition)
    return outcomes


def record_pending(edition: Optional[ModuleType] = None) -> int:
    edition = edition or load()
    if edition is None:
        return 0
    count = 0
    for refund in RefundRequest.objects.filter(
        status=RefundRequest.Status.SENT, recorded_at=None
    ).order_by("pk"):
        edition.record_sent(refund)
        count += 1
    return count


def mark_recorded(refund: RefundRequest) -> bool:
    """Set ``recorded_at`` once; False when another process already did
    (call inside the edition's transaction, after its own effects)."""
    with transaction.atomic():
        done = RefundRequest.objects.filter(pk=refund.pk, recorded_at=None).update(
            recorded_at=timezone.now()
        )
    return bool(done)
