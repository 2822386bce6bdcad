"""Celery task for Saleor's worker (found by Celery's autodiscovery, since
``saleor_cryptopay`` is an installed app). Schedule it with beat, see README."""

from __future__ import annotations

from saleor.celeryconf import app


@app.task(name="saleor_cryptopay.reconcile")
def reconcile_task(channel: str | None = None, provider: str | None = None) -> list[str]:
    from .plugin.reconcile import reconcile_all

    return [r.summary() for r in reconcile_all(channel=channel, provider=provider)]


@app.task(name="saleor_cryptopay.payouts")
def payouts_task(limit: int = 50) -> list[str]:
    """The refund payout queue (exactly once even with several workers)."""
    from saleor.core.db.connection import allow_writer

    from .editions import process_payouts

    with allow_writer():
        return [o.summary() for o in process_payouts(limit=limit)]
