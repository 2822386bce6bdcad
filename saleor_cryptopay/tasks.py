"""Celery tasks for Saleor's worker (found by Celery's autodiscovery, since
``saleor_cryptopay`` is an installed app). Loading this module also puts them
on Saleor's beat schedule (``schedule.py``; ``CRYPTOPAY_SCHEDULE`` changes the
intervals or turns them off), see README."""

from __future__ import annotations

from celery import Task
from django.conf import settings
from saleor.celeryconf import app

from . import schedule


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
    from .plugin.compat import allow_writer
    from .refunds.editions import process_payouts

    with allow_writer():
        return [o.summary() for o in process_payouts(limit=limit)]


@app.task(name="saleor_cryptopay.prune")
def prune_task(days: int | None = None) -> str:
    """Finished history older than ``days`` (``CRYPTOPAY_PRUNE_DAYS``, default 90)."""
    from datetime import timedelta

    from .plugin.compat import allow_writer
    from .prune import DEFAULT_DAYS, prune

    days = days or getattr(settings, "CRYPTOPAY_PRUNE_DAYS", DEFAULT_DAYS)
    with allow_writer():
        return prune(timedelta(days=days)).summary()


# Tasks above, by name: ``saleor_cryptopay.prune`` is scheduled once a task of
# that name is defined in this module (before this line).
DEFINED = {task.name for task in list(globals().values()) if isinstance(task, Task)}
# Beat builds its scheduler after the worker has imported the task modules,
# so entries added now are in the schedule it starts with.
schedule.register(app.conf.beat_schedule, getattr(settings, "CRYPTOPAY_SCHEDULE", None), DEFINED)
