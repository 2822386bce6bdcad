"""Optional: reconciliation on a schedule with Celery (``pip install
'saleor-cryptopay[celery]'``). Never required: ``cryptopay-app reconcile``
from cron does the same.

    CELERY_BROKER_URL=redis://localhost:6379/0 \\
        celery -A saleor_cryptopay.app.worker worker --beat

The beat schedule runs ``saleor_cryptopay.app.reconcile`` every
``CRYPTOPAY_RECONCILE_MINUTES`` (default 5) minutes and the refund payout
queue ``saleor_cryptopay.app.payouts`` every ``CRYPTOPAY_PAYOUT_MINUTES``
(default 1).
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

app = Celery("cryptopay-app", broker=os.environ.get("CELERY_BROKER_URL"))
app.conf.beat_schedule = {
    "cryptopay-app-reconcile": {
        "task": "saleor_cryptopay.app.reconcile",
        "schedule": timedelta(minutes=int(os.environ.get("CRYPTOPAY_RECONCILE_MINUTES") or 5)),
    },
    "cryptopay-app-payouts": {
        "task": "saleor_cryptopay.app.payouts",
        "schedule": timedelta(minutes=int(os.environ.get("CRYPTOPAY_PAYOUT_MINUTES") or 1)),
    },
}


@app.task(name="saleor_cryptopay.app.reconcile")
def reconcile(channel: Optional[str] = None, provider: Optional[str] = None) -> list[str]:
    from .reconcile import reconcile_all

    return reconcile_all(channel=channel, provider=provider)


@app.task(name="saleor_cryptopay.app.payouts")
def payouts(limit: int = 50) -> list[str]:
    """The core's payout queue with the App edition (exactly once per refund)."""
    from ..editions import process_payouts

    return [o.summary() for o in process_payouts(limit=limit)]
