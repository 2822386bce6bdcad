"""Celery task for Saleor's worker (found by Celery's autodiscovery, since
``saleor_cryptopay`` is an installed app). Schedule it with beat, see README."""

from __future__ import annotations

from saleor.celeryconf import app


@app.task(name="saleor_cryptopay.reconcile")
def reconcile_task(channel: str | None = None, provider: str | None = None) -> list[str]:
    from .plugin.reconcile import reconcile_all

    return [r.summary() for r in reconcile_all(channel=channel, provider=provider)]
