"""What history may go, for both editions (``cryptopay_prune``,
``cryptopay-app prune`` and their Celery tasks call ``prune``).

Deleted when older than the age given (default 90 days):
- provider callbacks handled for good (processed, ignored, rejected);
- resolved staff tasks;
- App reports Saleor has accepted (the App's outbox);
- provider address answers.

Never deleted: a callback not yet handled (received, failed), an open task, a
report Saleor has not had, and anything of an invoice whose refund is not
finished (sent and recorded): its callbacks, tasks and the address checks of
its payout address. Invoices, refunds and payouts are money records and are
never pruned.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Optional

from django.apps import apps
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from .models import AddressCheck, CallbackEvent, RefundRequest, StaffTask

DEFAULT_DAYS = 90
FINAL_CALLBACKS = (
    CallbackEvent.Outcome.PROCESSED,
    CallbackEvent.Outcome.IGNORED,
    CallbackEvent.Outcome.REJECTED,
)
APP_LABEL = "cryptopay_app"  # the App edition's tables, when it is installed


@dataclass
class Pruned:
    cutoff: datetime
    counts: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        parts = ", ".join(f"{n} {what}" for what, n in self.counts.items())
        return f"pruned before {self.cutoff:%Y-%m-%d %H:%M} UTC: {parts}"


def unfinished_refunds():
    return RefundRequest.objects.exclude(
        status=RefundRequest.Status.SENT, recorded_at__isnull=False
    )


def prune(
    older_than: timedelta = timedelta(days=DEFAULT_DAYS),
    *,
    now: Optional[datetime] = None,
    dry_run: bool = False,
) -> Pruned:
    """Delete (or, with ``dry_run``, count) what the rules above let go."""
    if older_than < timedelta(days=1):
        raise ValueError("prune keeps at least one day of history")
    cutoff = (now or timezone.now()) - older_than
    refunding = unfinished_refunds()
    needed = Q(invoice__in=refunding.values("invoice"))
    open_tasks = StaffTask.objects.filter(resolved_at=None).values("invoice")
    batches = {
        "callbacks": CallbackEvent.objects.filter(
            outcome__in=FINAL_CALLBACKS, received_at__lt=cutoff
        )
        .exclude(needed)
        .exclude(invoice__in=open_tasks),
        "resolved tasks": StaffTask.objects.filter(resolved_at__lt=cutoff).exclude(needed),
        "address checks": AddressCheck.objects.filter(checked_at__lt=cutoff).exclude(
            address__in=refunding.values("address")
        ),
    }
    if apps.is_installed("saleor_cryptopay.app"):
        reports = apps.get_model(APP_LABEL, "OutboxReport").objects
        batches["delivered reports"] = reports.filter(done_at__lt=cutoff)
    result = Pruned(cutoff)
    with transaction.atomic():
        for what, rows in batches.items():
            result.counts[what] = rows.count() if dry_run else rows.delete()[0]
    return result
