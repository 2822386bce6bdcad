"""Saleor deleted the App (``APP_DELETED``, signed like every webhook): mark
the installation removed, forget its token, stop its outbox. Invoices,
refunds, configurations and history stay; ``/api/register`` from the same
Saleor picks them up again. A token Saleor refuses now and then is not this:
the outbox keeps such reports and shows them to staff (``outbox._refused``)."""

from __future__ import annotations

import logging
from typing import Any

from django.http import HttpResponse
from django.utils import timezone

from .models import Installation

logger = logging.getLogger(__name__)


def app_deleted(installation: Installation, payload: dict[str, Any]) -> HttpResponse:
    app_id = ((payload.get("app") or {}).get("id")) or installation.app_id
    if app_id != installation.app_id:  # another app of that Saleor was deleted
        return HttpResponse("not this app", content_type="text/plain")
    Installation.objects.filter(pk=installation.pk, removed_at=None).update(
        removed_at=timezone.now(), token_encrypted="", updated_at=timezone.now()
    )
    logger.info("cryptopay-app: removed from %s (APP_DELETED)", installation.saleor_api_url)
    return HttpResponse("removed", content_type="text/plain")
