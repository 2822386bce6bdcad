"""Django settings of the App (``cryptopay-app`` sets this module).

Environment:
- ``APP_URL``: public base URL Saleor and the providers call (default
  ``http://127.0.0.1:8080``).
- ``CRYPTOPAY_APP_SECRET_KEY``: Fernet key(s), comma-separated (newest first),
  encrypting Saleor tokens and provider credentials at rest.
- ``CRYPTOPAY_APP_DATABASE_URL``: e.g. ``postgres://user:pass@host/db``;
  default a SQLite file ``cryptopay-app.sqlite3`` in the working directory.
  Never ``DATABASE_URL``: that is Saleor's, often set on the same host.
- ``CRYPTOPAY_APP_JSON_LOGS``: ``1`` for one JSON object per log line.
- ``ALLOWED_SALEOR_URLS``: comma-separated Saleor API URLs allowed to install
  the App: same scheme, host and port, path at or below (empty: any Saleor
  that proves its token is this App's).
- ``ALLOW_LOCAL_SALEOR``: ``1`` lets the App call a Saleor on a loopback,
  private or link-local address (local development and the test suites);
  off by default, so a posted Saleor-Api-Url cannot aim the App at internal
  services.
- ``MAX_SALEOR_INSTALLATIONS``: how many Saleors may install the App (10).
"""

import hmac
import os
import secrets
from urllib.parse import urlsplit

import dj_database_url
import django

from .logs import logging_config

APP_URL = os.environ.get("APP_URL", "http://127.0.0.1:8080").rstrip("/")
APP_URL_DEFAULTED = not os.environ.get("APP_URL", "").strip()  # `check` flags it
CRYPTOPAY_APP_SECRET_KEYS = [
    k.strip() for k in os.environ.get("CRYPTOPAY_APP_SECRET_KEY", "").split(",") if k.strip()
]
ALLOWED_SALEOR_URLS = [
    u.strip() for u in os.environ.get("ALLOWED_SALEOR_URLS", "").split(",") if u.strip()
]

ALLOW_LOCAL_SALEOR = os.environ.get("ALLOW_LOCAL_SALEOR", "").lower() in ("1", "true", "yes")
MAX_SALEOR_INSTALLATIONS = int(os.environ.get("MAX_SALEOR_INSTALLATIONS") or 10)


def _signing_key(fernet_key: str) -> str:
    # refund claim links are signed with SECRET_KEY: it must outlive a restart
    # and be the same in every process, so it derives from the App's own key
    return hmac.new(fernet_key.encode(), b"saleor-cryptopay claim links", "sha256").hexdigest()


SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or (
    _signing_key(CRYPTOPAY_APP_SECRET_KEYS[0])
    if CRYPTOPAY_APP_SECRET_KEYS
    else secrets.token_urlsafe(50)  # `serve` refuses to start without the key
)
# links signed before a key rotation keep working
SECRET_KEY_FALLBACKS = [_signing_key(k) for k in CRYPTOPAY_APP_SECRET_KEYS[1:]]
# the core's payout queue and refund commands use this edition (``refunds/editions.py``)
CRYPTOPAY_EDITION = "saleor_cryptopay.app.refunds"
DEBUG = os.environ.get("DEBUG", "").lower() in ("1", "true", "yes")
ALLOWED_HOSTS = [urlsplit(APP_URL).hostname or "localhost", "127.0.0.1", "localhost"] + [
    h.strip() for h in os.environ.get("ALLOWED_HOSTS", "").split(",") if h.strip()
]
USE_TZ = True
TIME_ZONE = "UTC"  # Django's default is America/Chicago
INSTALLED_APPS = ["saleor_cryptopay", "saleor_cryptopay.app"]
MIDDLEWARE = [
    "saleor_cryptopay.app.logs.request_id_middleware",
    "django.middleware.common.CommonMiddleware",
]
ROOT_URLCONF = "saleor_cryptopay.app.urls"
APPEND_SLASH = False  # Saleor follows no redirects
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
DATABASE_ENV = "CRYPTOPAY_APP_DATABASE_URL"
DATABASES = {
    "default": dj_database_url.config(
        env=DATABASE_ENV,
        default="sqlite:///" + os.path.abspath("cryptopay-app.sqlite3"),
        conn_max_age=60,
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3") and django.VERSION >= (5, 1):
    # writers take the lock at BEGIN: a sync holding the invoice is never
    # upgraded mid-transaction into "database is locked" (SQLite has no
    # SELECT … FOR UPDATE); waits up to 20 s for another writer
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"transaction_mode": "IMMEDIATE", "timeout": 20}
    )
# a payout still "sending" after this is shown to staff as outcome unknown
CRYPTOPAY_PAYOUT_STALE_MINUTES = float(os.environ.get("CRYPTOPAY_PAYOUT_STALE_MINUTES") or 15)
# `prune` and its Celery schedule keep this many days of finished history
CRYPTOPAY_PRUNE_DAYS = int(os.environ.get("CRYPTOPAY_PRUNE_DAYS") or 90)
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
LOGGING = logging_config(
    json_lines=os.environ.get("CRYPTOPAY_APP_JSON_LOGS", "").lower() in ("1", "true", "yes"),
    level=os.environ.get("LOG_LEVEL", "INFO"),
)
