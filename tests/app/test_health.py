"""``GET /api/health`` over real HTTP while Saleor is down and back, and
the App's delivered reports under the core pruning rules."""

from __future__ import annotations

from datetime import timedelta

import requests
from django.utils import timezone

from saleor_cryptopay.app.models import OutboxReport
from saleor_cryptopay.app.reconcile import reconcile_all
from saleor_cryptopay.prune import prune

from .test_payment_flow import start, wait_for


def health(app: str) -> dict:
    answer = requests.get(f"{app}/api/health", timeout=10)
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
    return answer.json()


def test_health_shows_the_backlog_and_the_last_reconcile(configure, hook, sb, saleor, app):
    configure()
    first = health(app)
    assert first["status"] == "ok" and first["database"] == "ok"
    assert first["pending_migrations"] == []
    assert first["outbox"] == {
        "undelivered": 0,
        "oldest_undelivered_at": None,
        "oldest_undelivered_seconds": 0,
    }
    assert first["last_success"] == {"reconcile": None, "payouts": None, "prune": None}

    _, answer = start(hook)
    saleor.down = True
    sb.act("coinpay24", answer["pspReference"], "pay")
    sb.wait_for_callbacks(1, provider="coinpay24")
    wait_for(lambda: OutboxReport.objects.filter(done_at=None).count() == 2)
    behind = health(app)["outbox"]
    assert behind["undelivered"] == 2 and behind["oldest_undelivered_at"]

    saleor.down = False
    reconcile_all()
    caught_up = health(app)
    assert caught_up["outbox"]["undelivered"] == 0
    assert caught_up["last_success"]["reconcile"] is not None


def test_delivered_reports_are_pruned_pending_ones_never(configure, hook, sb, saleor):
    configure()
    _, answer = start(hook)
    saleor.down = True
    sb.act("coinpay24", answer["pspReference"], "pay")
    sb.wait_for_callbacks(1, provider="coinpay24")
    wait_for(lambda: OutboxReport.objects.filter(done_at=None).count() == 2)
    old = timezone.now() - timedelta(days=200)
    OutboxReport.objects.update(created_at=old)
    charge = OutboxReport.objects.get(kind="event")
    OutboxReport.objects.filter(pk=charge.pk).update(done_at=old)  # as if delivered long ago

    result = prune(timedelta(days=90))
    assert result.counts["delivered reports"] == 1
    assert list(OutboxReport.objects.values_list("kind", flat=True)) == ["complete"]
