"""How many provider invoices one checkout may open.

Every invoice is a provider call (and on CoinPay24 an hourly invoice quota
slot), and a storefront call that starts a payment is open to anyone holding
the checkout. An open invoice for the same amount is reused; beyond that a
checkout gets at most ``MAX_INVOICES_PER_CHECKOUT`` new ones in
``CHECKOUT_INVOICE_WINDOW``. ``checkout_lock`` serialises the check and the
creation per checkout, so concurrent requests cannot all pass the count.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from .models import Invoice

# A shopper changing the basket a few times stays well inside this.
MAX_INVOICES_PER_CHECKOUT = 5
CHECKOUT_INVOICE_WINDOW = timedelta(hours=1)
TOO_MANY = (
    "Too many payment attempts for this checkout. Pay the invoice already open, or try again later."
)

# threads of one process; PostgreSQL's advisory lock covers other processes
_STRIPES = [threading.Lock() for _ in range(64)]


def _lock_id(key: str) -> int:
    return int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "big", signed=True)


@contextmanager
def checkout_lock(key: str) -> Iterator[None]:
    """Held across one checkout's "reuse or create" (including the provider
    call): only requests for the same checkout ever wait on it."""
    lock_id = _lock_id(f"cryptopay-checkout:{key}")
    with _STRIPES[lock_id % len(_STRIPES)]:
        if connection.vendor != "postgresql":  # SQLite: one process (README)
            yield
            return
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [lock_id])
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [lock_id])


class TooManyInvoices(Exception):
    """The checkout has opened its share of invoices (``TOO_MANY`` says so)."""


def invoices_left(invoices: QuerySet[Invoice]) -> int:
    """How many more invoices the checkout whose ``invoices`` these are may open now."""
    since = timezone.now() - CHECKOUT_INVOICE_WINDOW
    return max(0, MAX_INVOICES_PER_CHECKOUT - invoices.filter(created_at__gt=since).count())
