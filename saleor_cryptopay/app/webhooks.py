"""Saleor → App webhooks: authenticate, then dispatch to ``handlers``.

Refused (and nothing changed) unless: the Saleor-Api-Url is an installed
instance, Saleor-Event names this endpoint's event, the detached JWS verifies
against that instance's JWKS, the payload is addressed to this App
(``recipient.id``) and was issued recently (a captured payload cannot be
replayed later; within the window every handler is idempotent).
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from .handlers import HANDLERS
from .jws import verify_signature
from .manifest import EVENT_BY_SLUG
from .models import Installation
from .payloads import issued_at
from .saleor_api import normalise_api_url
from .saleor_version import remember as remember_version
from .uninstall import app_deleted

logger = logging.getLogger(__name__)

MAX_AGE = timedelta(minutes=10)  # Saleor retries *_REQUESTED within minutes
MAX_SKEW = timedelta(minutes=2)


class Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


def authenticate(request: HttpRequest, event: str) -> tuple[Installation, dict[str, Any]]:
    api_url = request.headers.get("Saleor-Api-Url", "")
    installation = (
        Installation.objects.filter(saleor_api_url=normalise_api_url(api_url)).first()
        if api_url
        else None
    )
    if installation is None or installation.removed_at is not None:
        raise Refused(401, "unknown Saleor instance")
    if request.headers.get("Saleor-Event", "").upper() != event:
        raise Refused(400, "wrong event for this endpoint")
    if not verify_signature(
        installation, request.headers.get("Saleor-Signature", ""), request.body
    ):
        raise Refused(401, "invalid signature")
    try:
        payload = json.loads(request.body)
    except ValueError:
        raise Refused(400, "body is not JSON") from None
    if not isinstance(payload, dict):
        raise Refused(400, "body is not an object")
    if ((payload.get("recipient") or {}).get("id")) != installation.app_id:
        raise Refused(403, "addressed to another app")
    issued = issued_at(payload)
    now = timezone.now()
    if issued is None or not (now - MAX_AGE <= issued <= now + MAX_SKEW):
        raise Refused(401, "stale or undated payload")
    return installation, payload


@csrf_exempt
def webhook(request: HttpRequest, slug: str) -> HttpResponse:
    event = EVENT_BY_SLUG.get(slug)
    if event is None:
        return HttpResponse("unknown webhook", status=404, content_type="text/plain")
    if request.method != "POST":
        return HttpResponse("POST only", status=405, content_type="text/plain")
    try:
        installation, payload = authenticate(request, event)
    except Refused as exc:
        logger.warning("cryptopay-app: refused %s webhook: %s", event, exc)
        return JsonResponse({"error": str(exc)}, status=exc.status)
    remember_version(installation, payload.get("version"))
    if event == "APP_DELETED":
        return app_deleted(installation, payload)
    return JsonResponse(HANDLERS[event](installation, payload))
