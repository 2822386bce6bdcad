"""Who is asking: the Dashboard's token for the staff user who opened the App.

Saleor's ``App.accessToken`` is an RS256 JWT signed with the key the App
already fetches for webhook signatures (``jws.refetch_jwks``). Every request
proves itself again: signature, issuer (that Saleor), ``app`` (this
installation), expiry and the staff user's ``user_permissions``. The token
travels in the Authorization header, never in a cookie, so a page on another
site cannot make the browser send it; a POST whose Origin is another site is
refused as well.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional
from urllib.parse import urlsplit

import jwt
from django.conf import settings
from django.http import HttpRequest

from ..jws import refetch_jwks
from ..models import Installation
from ..saleor_api import normalise_api_url

MANAGE_APPS = "MANAGE_APPS"  # configuration and the payout wallet
MANAGE_ORDERS = "MANAGE_ORDERS"  # tasks, refunds, callbacks
LEEWAY_SECONDS = 10  # clocks of Saleor and the App drift a little


class Refused(Exception):
    """The request is not allowed; ``status`` 401 (who are you) or 403."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Staff:
    installation: Installation
    user: str  # the staff user's e-mail (or id), kept on what they do
    user_permissions: frozenset[str]

    def may(self, permission: str) -> bool:
        return permission in self.user_permissions


def authenticate(request: HttpRequest, permission: Optional[str] = None) -> Staff:
    """The staff user behind a Dashboard request, or Refused."""
    if request.method not in ("GET", "HEAD") and not same_origin(request):
        raise Refused(403, "Cross-site request refused.")
    auth = request.headers.get("Authorization", "")
    token = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
    if not token:
        raise Refused(401, "No Dashboard token: open CryptoPay from the Saleor Dashboard.")
    api_url = normalise_api_url(request.headers.get("Saleor-Api-Url", ""))
    installation = Installation.objects.filter(saleor_api_url=api_url).first()
    if installation is None or installation.removed_at is not None:
        raise Refused(403, "This Saleor has not installed the App.")
    claims = verify_token(installation, token)
    staff = Staff(
        installation=installation,
        user=str(claims.get("email") or claims.get("user_id") or "staff")[:200],
        user_permissions=frozenset(str(p) for p in claims.get("user_permissions") or ()),
    )
    if permission and not staff.may(permission):
        raise Refused(403, f"Your Saleor account needs the {permission} permission for this.")
    return staff


def verify_token(installation: Installation, token: str) -> dict:
    """The token's claims once Saleor's signature, issuer, app id and expiry hold."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise Refused(401, "The Dashboard token is not a JWT.") from None
    if header.get("alg") != "RS256":
        raise Refused(401, "The Dashboard token is not signed by Saleor.")
    key = _key(installation.jwks, header.get("kid"))
    if key is None:  # Saleor may have rotated its key since we cached it
        key = _key(refetch_jwks(installation) or {}, header.get("kid"))
    if key is None:
        raise Refused(401, "The Dashboard token is not signed by this Saleor.")
    try:
        claims = jwt.decode(
            token,
            key=key,
            algorithms=["RS256"],
            options={"require": ["exp"], "verify_aud": False},
            leeway=LEEWAY_SECONDS,
        )
    except jwt.ExpiredSignatureError:
        raise Refused(401, "The Dashboard token has expired: reload the page.") from None
    except jwt.PyJWTError:
        raise Refused(401, "The Dashboard token is not signed by this Saleor.") from None
    issuer = claims.get("iss")
    if not isinstance(issuer, str) or not _same_api(issuer, installation.saleor_api_url):
        raise Refused(401, "The Dashboard token was issued by another Saleor.")
    if claims.get("app") != installation.app_id:
        raise Refused(401, "The Dashboard token belongs to another app.")
    return claims


def _key(jwks: dict, kid: object):
    try:
        keys = jwt.PyJWKSet.from_dict(jwks).keys if jwks else []
    except jwt.PyJWTError:
        return None
    return next((k.key for k in keys if k.key_id == kid), None)


def _same_api(issuer: str, api_url: str) -> bool:
    # Saleor issues with its API URL; the host is what names the Saleor
    a, b = urlsplit(normalise_api_url(issuer)), urlsplit(api_url)
    return (a.scheme, a.netloc.lower(), a.path) == (b.scheme, b.netloc.lower(), b.path)


def same_origin(request: HttpRequest) -> bool:
    """A browser names the page that posted; it must be the App's own."""
    origin = request.headers.get("Origin")
    if origin is None:  # not from a browser form or fetch: the token decides
        return request.headers.get("Sec-Fetch-Site") in (None, "same-origin", "none")
    app = urlsplit(settings.APP_URL)
    return origin.rstrip("/").lower() == f"{app.scheme}://{app.netloc}".lower()
