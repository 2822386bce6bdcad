"""``GET /api/health`` for a load balancer or a monitor: 200 while this
process can serve (database reachable, migrations applied), 503 otherwise;
the body says how far behind the App is (reports Saleor has not had, the
last successful reconcile, payouts and prune). No secrets, no shop names."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

from django.db import DatabaseError
from django.db.models import Count, Min
from django.http import HttpRequest, JsonResponse
from django.utils import timezone

from . import database
from .models import Heartbeat, OutboxReport

CHORES = ("reconcile", "payouts", "prune")


def _iso(value: Optional[datetime]) -> Optional[str]:
    return value.isoformat() if value else None


def report() -> tuple[bool, dict[str, Any]]:
    try:
        pending = database.pending_migrations()
    except DatabaseError as exc:
        return False, {"status": "fail", "database": f"unreachable: {type(exc).__name__}"}
    body: dict[str, Any] = {"status": "ok", "database": "ok", "pending_migrations": pending}
    if pending:
        body["status"] = "fail"
        return False, body
    backlog = OutboxReport.objects.filter(done_at=None).aggregate(
        count=Count("pk"), oldest=Min("created_at")
    )
    oldest = backlog["oldest"]
    body["outbox"] = {
        "undelivered": backlog["count"],
        "oldest_undelivered_at": _iso(oldest),
        "oldest_undelivered_seconds": int((timezone.now() - oldest).total_seconds())
        if oldest
        else 0,
    }
    beats = dict(Heartbeat.objects.values_list("name", "succeeded_at"))
    body["last_success"] = {name: _iso(beats.get(name)) for name in CHORES}
    return True, body


def health(request: HttpRequest) -> JsonResponse:
    ok, body = report()
    response = JsonResponse(body, status=200 if ok else 503)
    response["Cache-Control"] = "no-store"
    return response
