"""Django settings for the test suite.

With Saleor importable (a Saleor 3.20 environment), Saleor's own test
settings are used, PostgreSQL included; without it, a minimal SQLite setup
runs this package's Django layer alone and the Saleor-side tests skip.
"""

import importlib.util
import os
import tempfile

import django

SALEOR_AVAILABLE = importlib.util.find_spec("saleor") is not None

if SALEOR_AVAILABLE:
    from saleor.tests.settings import *  # noqa: F403

    # Saleor finds this package through its entry points; make sure both apps
    # are there even when it runs from a source checkout.
    for _app in ("saleor_cryptopay", "saleor_cryptopay.coinpay_th"):
        if _app not in INSTALLED_APPS:  # noqa: F405
            INSTALLED_APPS.append(_app)  # noqa: F405
else:
    SECRET_KEY = "tests-only"  # noqa: S105
    USE_TZ = True
    INSTALLED_APPS = ["django.contrib.contenttypes", "saleor_cryptopay", "saleor_cryptopay.app"]
    # a file, not :memory:: the App edition's tests serve the App from
    # another thread, which needs a connection of its own (a shared in-memory
    # connection breaks under concurrent requests); IMMEDIATE transactions
    # serialise writers as the App's own SQLite setup does
    _DB_FILE = os.path.join(tempfile.gettempdir(), f"cryptopay-tests-{os.getpid()}.sqlite3")
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": _DB_FILE,
            "TEST": {"NAME": _DB_FILE},
            "OPTIONS": {"timeout": 20},
        }
    }
    if django.VERSION >= (5, 1):
        DATABASES["default"]["OPTIONS"]["transaction_mode"] = "IMMEDIATE"
    DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
    # the App edition (saleor_cryptopay.app) runs its tests here, Saleor-free
    APP_URL = "http://127.0.0.1:9"  # tests point it at their live server
    CRYPTOPAY_APP_SECRET_KEYS = ["3q2-7xHcWZ0ubdMlJdC1wWIbAn3ct6Zs1y0B5mF5o8s="]
    ALLOWED_SALEOR_URLS: list = []
    STATIC_URL = "/static/"  # the live server needs one

# Every test talks to the sandbox with the same key: a quota shared through the
# database would carry over from test to test. Quota tests turn it on.
CRYPTOPAY_QUOTA_ENABLED = False
