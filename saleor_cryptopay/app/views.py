"""Manifest and registration (the token Saleor sends at install)."""

from __future__ import annotations

import json
import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from ..gateway_config import url_error
from .manifest import manifest
from .models import Installation
from .saleor_api import (
    SaleorClient,
    SaleorRefused,
    SaleorUnavailable,
    fetch_jwks,
    normalise_api_url,
)
from .saleor_version import remember as remember_version

logger = logging.getLogger(__name__)


def manifest_view(request: HttpRequest) -> HttpResponse:
    return JsonResponse(manifest(settings.APP_URL, request.headers.get("Saleor-Schema-Version")))


def _allowed(api_url: str) -> bool:
    prefixes = getattr(settings, "ALLOWED_SALEOR_URLS", None) or []
    return not prefixes or any(api_url.startswith(p) for p in prefixes)


def _refuse(status: int, message: str) -> JsonResponse:
    return JsonResponse({"success": False, "error": {"message": message}}, status=status)


@csrf_exempt
def register(request: HttpRequest) -> HttpResponse:
    """Store the token for the Saleor that sent it, once the token proves itself
    against that Saleor (``{app{id}}``, as Saleor's app SDK does)."""
    if request.method != "POST":
        return _refuse(405, "POST only")
    api_url = normalise_api_url(request.headers.get("Saleor-Api-Url", ""))
    if url_error(api_url):
        return _refuse(400, "missing or invalid Saleor-Api-Url header")
    if not _allowed(api_url):
        return _refuse(403, "this Saleor is not allowed to install the App")
    try:
        token = json.loads(request.body).get("auth_token")
    except (ValueError, AttributeError):
        token = None
    if not token or not isinstance(token, str):
        return _refuse(400, "missing auth_token")
    try:
        app_id = SaleorClient(api_url, token).app_id()
        jwks = fetch_jwks(api_url)
    except SaleorRefused:
        return _refuse(403, "Saleor did not accept the token")
    except SaleorUnavailable as exc:
        return _refuse(503, f"Saleor could not be reached: {exc}")
    installation = Installation.objects.filter(saleor_api_url=api_url).first() or Installation(
        saleor_api_url=api_url
    )
    installation.domain = request.headers.get("Saleor-Domain", "")[:255]
    installation.app_id = app_id
    installation.set_token(token)
    installation.removed_at = None  # a reinstall picks up what the old one left
    installation.jwks = jwks
    installation.jwks_fetched_at = timezone.now()
    installation.save()
    remember_version(installation, request.headers.get("Saleor-Schema-Version"))
    logger.info("cryptopay-app: installed in %s as %s", api_url, app_id)
    return JsonResponse({"success": True})
