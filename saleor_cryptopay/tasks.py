"""Celery task for Saleor's worker (found by Celery's autodiscovery, since
``saleor_cryptopay`` is an installed app). Schedule it with beat, see README."""

from __future__ import annotations

from saleor.celeryconf import app


@app.task(name="saleor_cryptopay.reconcile")
def reconcile_task(channel: str | None = None, provider: str | None = None) -> list[str]:
    from .plugin.compat import allow_writer
    from .plugin.reconcile import reconcile_all

    # Saleor 3.21+ runs tasks as RestrictWriterDBTask: reconciliation writes
    # (locks, captures, orders), so it says so explicitly
    with allow_writer():
        return [r.summary() for r in reconcile_all(channel=channel, provider=provider)]


@app.task(name="saleor_cryptopay.payouts")
def payouts_task(limit: int = 50) -> list[str]:
    """The refund payout queue (exactly once even with several workers)."""
    from .editions import process_payouts
    from .plugin.compat import allow_writer

    with allow_writer():
        return [o.summary() for o in process_payouts(limit=limit)]


@app.task(name="saleor_cryptopay.prune")
def prune_task(days: int | None = None) -> str:
    """Finished history older than ``days`` (``CRYPTOPAY_PRUNE_DAYS``, default 90)."""
    from datetime import timedelta

    from django.conf import settings

    from .plugin.compat import allow_writer
    from .prune import DEFAULT_DAYS, prune

    days = days or getattr(settings, "CRYPTOPAY_PRUNE_DAYS", DEFAULT_DAYS)
    with allow_writer():
        return prune(timedelta(days=days)).summary()
