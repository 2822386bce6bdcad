"""Saleor webhook signatures: a detached RS256 JWS (RFC 7797, ``b64: false``)
over the raw body, checked against the instance's JWKS.

The JWKS is cached on the installation and fetched again once when a key id
is unknown or a check fails (Saleor may have rotated its key)."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Optional

from django.utils import timezone

from .models import Installation
from .saleor_api import SaleorUnavailable, fetch_jwks
from .signature import check as _check

logger = logging.getLogger(__name__)

# forged requests must not make us hammer Saleor's JWKS endpoint
REFETCH_INTERVAL = timedelta(seconds=10)


def verify_signature(installation: Installation, signature: str, body: bytes) -> bool:
    if not signature or ".." not in signature:
        return False  # not Saleor's detached form: no reason to ask Saleor for keys
    if installation.jwks and _check(signature, body, installation.jwks):
        return True
    jwks = refetch_jwks(installation)
    return jwks is not None and _check(signature, body, jwks)


def refetch_jwks(installation: Installation) -> Optional[dict]:
    """Saleor's keys fetched again (it may have rotated them), at most once per
    ``REFETCH_INTERVAL``; None when not due or unreachable. Webhook signatures
    and Dashboard tokens (``dashboard/auth.py``) share it."""
    fetched = installation.jwks_fetched_at
    if fetched and timezone.now() - fetched < REFETCH_INTERVAL:
        return None
    try:
        jwks = fetch_jwks(installation.saleor_api_url)
    except SaleorUnavailable as exc:
        logger.warning("cryptopay-app: JWKS refetch for %s failed: %s", installation, exc)
        return None
    installation.jwks = jwks
    installation.jwks_fetched_at = timezone.now()
    installation.save(update_fields=["jwks", "jwks_fetched_at", "updated_at"])
    return jwks
