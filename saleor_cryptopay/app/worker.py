"""Optional: the App's chores on a schedule with Celery (``pip install
'saleor-cryptopay[celery]'``). Never required: ``cryptopay-app reconcile``,
``payouts`` and ``prune`` from cron do the same.

    CELERY_BROKER_URL=redis://localhost:6379/0 \\
        celery -A saleor_cryptopay.app.worker worker --beat

The beat schedule runs ``saleor_cryptopay.app.reconcile`` every
``CRYPTOPAY_RECONCILE_MINUTES`` (default 5), the refund payout queue
``saleor_cryptopay.app.payouts`` every ``CRYPTOPAY_PAYOUT_MINUTES`` (default
1) and ``saleor_cryptopay.app.prune`` every ``CRYPTOPAY_PRUNE_MINUTES``
(default 1440, keeping ``CRYPTOPAY_PRUNE_DAYS``). Minutes may be fractions.
Run one beat for the whole deployment (``--beat`` on one worker only); the
chores are safe to run concurrently, beat just avoids the waste.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Optional

import django
from celery import Celery

os.environ["DJANGO_SETTINGS_MODULE"] = os.environ.get("CRYPTOPAY_APP_SETTINGS") or (
    "saleor_cryptopay.app.settings"
)
django.setup()


def _every(variable: str, default: float) -> timedelta:
    return timedelta(minutes=float(os.environ.get(variable) or default))


app = Celery("cryptopay-app", broker=os.environ.get("CELERY_BROKER_URL"))
app.conf.update(
    timezone="UTC",
    enable_utc=True,
    # the App's logging (UTC, optional JSON) instead of Celery's own
    worker_hijack_root_logger=False,
    # a task is acknowledged when taken: a worker killed mid-payout never has
    # that payout handed to another (the payout queue flags it for staff)
    task_acks_late=False,
)
app.conf.beat_schedule = {
    "cryptopay-app-reconcile": {
        "task": "saleor_cryptopay.app.reconcile",
        "schedule": _every("CRYPTOPAY_RECONCILE_MINUTES", 5),
    },
    "cryptopay-app-payouts": {
        "task": "saleor_cryptopay.app.payouts",
        "schedule": _every("CRYPTOPAY_PAYOUT_MINUTES", 1),
    },
    "cryptopay-app-prune": {
        "task": "saleor_cryptopay.app.prune",
        "schedule": _every("CRYPTOPAY_PRUNE_MINUTES", 24 * 60),
    },
}


@app.task(name="saleor_cryptopay.app.reconcile")
def reconcile(channel: Optional[str] = None, provider: Optional[str] = None) -> list[str]:
    from .reconcile import reconcile_all

    return reconcile_all(channel=channel, provider=provider)


@app.task(name="saleor_cryptopay.app.payouts")
def payouts(limit: int = 50) -> list[str]:
    """The core's payout queue with the App edition (exactly once per refund)."""
    from ..refunds.editions import process_payouts
    from .models import Heartbeat

    lines = [o.summary() for o in process_payouts(limit=limit)]
    Heartbeat.beat("payouts", f"{len(lines)} payout(s)")
    return lines


@app.task(name="saleor_cryptopay.app.prune")
def prune(days: Optional[int] = None) -> str:
    """The core's pruning rules (``saleor_cryptopay.prune``)."""
    from django.conf import settings

    from ..prune import prune as prune_history
    from .models import Heartbeat

    result = prune_history(timedelta(days=days or settings.CRYPTOPAY_PRUNE_DAYS))
    Heartbeat.beat("prune", result.summary())
    return result.summary()
