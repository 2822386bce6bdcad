"""Manifest and registration (the token Saleor sends at install)."""

from __future__ import annotations

import json
import logging
import threading
from urllib.parse import urlsplit

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from .manifest import APP_ID, manifest
from .models import Installation
from .saleor_api import (
    SaleorClient,
    SaleorNotAllowed,
    SaleorRefused,
    SaleorUnavailable,
    fetch_jwks,
    normalise_api_url,
)
from .saleor_version import remember as remember_version

logger = logging.getLogger(__name__)

MAX_INSTALLATIONS = 10  # a deployment serves one Saleor, or a few
# registrations checked at once: the rest are turned away at once rather than
# holding the worker threads that answer Saleor's payment webhooks
CONCURRENT_REGISTRATIONS = threading.BoundedSemaphore(2)
UNREACHABLE = "Saleor could not be reached or did not answer as Saleor"


def manifest_view(request: HttpRequest) -> HttpResponse:
    return JsonResponse(manifest(settings.APP_URL, request.headers.get("Saleor-Schema-Version")))


def allowed(api_url: str) -> bool:
    """``api_url`` (canonical) is one of ALLOWED_SALEOR_URLS, or under one:
    same scheme, host and port, and a path at or below the allowed one."""
    entries = getattr(settings, "ALLOWED_SALEOR_URLS", None) or []
    if not entries:
        return True
    target = urlsplit(api_url)
    for entry in entries:
        allowed_url = urlsplit(normalise_api_url(entry))
        if (
            allowed_url.scheme
            and (allowed_url.scheme, allowed_url.netloc) == (target.scheme, target.netloc)
            and target.path.startswith(allowed_url.path)
        ):
            return True
    return False


def _refuse(status: int, message: str) -> JsonResponse:
    return JsonResponse({"success": False, "error": {"message": message}}, status=status)


# Saleor posts {"auth_token": "<JWT>"}: a few KB at most
MAX_REGISTER_BODY = 16 * 1024


@csrf_exempt
def register(request: HttpRequest) -> HttpResponse:
    """Store the token for the Saleor that sent it, once Saleor confirms the
    token is this App's own (``{app{id identifier}}``)."""
    if request.method != "POST":
        return _refuse(405, "POST only")
    api_url = normalise_api_url(request.headers.get("Saleor-Api-Url", ""))
    if not api_url:
        return _refuse(400, "missing or invalid Saleor-Api-Url header")
    if not allowed(api_url):
        return _refuse(403, "this Saleor is not allowed to install the App")
    if len(request.body) > MAX_REGISTER_BODY:
        return _refuse(400, "body too large for a registration")
    try:
        token = json.loads(request.body).get("auth_token")
    except (ValueError, AttributeError, RecursionError):  # RecursionError: hostile nesting
        token = None
    if not token or not isinstance(token, str):
        return _refuse(400, "missing auth_token")
    if not CONCURRENT_REGISTRATIONS.acquire(blocking=False):
        return _refuse(503, "another installation is being checked: try again shortly")
    try:
        return _register(request, api_url, token)
    except SaleorNotAllowed:
        return _refuse(
            403,
            "this Saleor's address is on a loopback, private or link-local network; "
            "the App's operator can allow that for local development (ALLOW_LOCAL_SALEOR)",
        )
    except SaleorUnavailable as exc:
        # the details go to the operator's log only: the caller chose the URL
        logger.warning("cryptopay-app: registration for %s: %s", api_url, exc)
        return _refuse(503, UNREACHABLE)
    finally:
        CONCURRENT_REGISTRATIONS.release()


def _register(request: HttpRequest, api_url: str, token: str) -> HttpResponse:
    try:
        app_id, identifier = SaleorClient(api_url, token).app_identity()
    except SaleorRefused:
        return _refuse(403, "Saleor did not accept the token")
    if identifier != APP_ID:
        return _refuse(403, "the token belongs to another app")
    existing = Installation.objects.filter(saleor_api_url=api_url).first()
    if existing is None and Installation.objects.count() >= _max_installations():
        return _refuse(403, "this App serves as many Saleors as it is allowed to")
    if existing is not None and existing.app_id != app_id and _token_works(existing):
        # a reinstall gives a new app id and ends the old token; a working
        # installation is never replaced by another app's token
        return _refuse(409, "the App is already installed in this Saleor")
    jwks = fetch_jwks(api_url)
    installation = existing or Installation(saleor_api_url=api_url)
    installation.domain = request.headers.get("Saleor-Domain", "")[:255]
    installation.app_id = app_id
    installation.set_token(token)
    installation.removed_at = None  # a reinstall picks up what the old one left
    installation.jwks = jwks
    installation.jwks_fetched_at = timezone.now()
    try:
        with transaction.atomic():
            installation.save()
    except IntegrityError:  # the same Saleor registered at the same moment
        return _refuse(409, "the App is already installed in this Saleor")
    remember_version(installation, request.headers.get("Saleor-Schema-Version"))
    logger.info("cryptopay-app: installed in %s as %s", api_url, app_id)
    return JsonResponse({"success": True})


def _token_works(installation: Installation) -> bool:
    """The stored token still opens this Saleor (SaleorUnavailable: cannot tell)."""
    try:
        SaleorClient(installation.saleor_api_url, installation.token).app_identity()
    except SaleorRefused:
        return False
    return True


def _max_installations() -> int:
    return int(getattr(settings, "MAX_SALEOR_INSTALLATIONS", MAX_INSTALLATIONS))
