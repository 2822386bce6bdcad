"""The providers' call quotas, shared through the database by every web and
worker process (and host) using one API key.

Every call is a row (``QuotaCall``) kept for the longest window; before a
call, a process locks the key's ``QuotaKey`` row (an upsert: the same lock on
PostgreSQL and SQLite), counts the rows in each window and adds its own only
when its priority's share of every window has room. A 429 stores a "blocked
until" on the key row, so every process stops until then.

Inside a caller's transaction (a checkout, a callback under its locks) the
count runs on a connection of its own on PostgreSQL, like the nonce lease: the
key row's lock must not last for the whole checkout, and a counted call stays
counted when that transaction rolls back.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, Optional

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections, transaction

from .models import QuotaCall, QuotaKey
from .providers.http import HttpTransport
from .providers.quota import (
    CALLBACK,
    CHECKOUT,
    FOLLOW_UPS,
    LIMITS,
    PRIORITIES,
    Window,
    allowance,
    refused,
    wait_for,
)

logger = logging.getLogger(__name__)

# A checkout waits this long at most for room in a window (a burst filling the
# minute frees a slot within seconds); anything longer fails fast instead.
CHECKOUT_MAX_WAIT = 2.0
# A call is counted from the moment it is allowed; the provider counts it when
# it arrives, a little later. Every window is kept this much longer, so a
# call never leaves our window while it is still in the provider's.
IN_FLIGHT_MARGIN = 1.0


def key_digest(api_key: str) -> str:
    return hashlib.sha256(api_key.encode("utf-8")).hexdigest()


class DatabaseBudget:
    """``providers.quota.CallBudget`` on this app's tables."""

    def __init__(
        self,
        provider: str,
        api_key: str,
        *,
        windows: Optional[Sequence[Window]] = None,
        shares: Optional[dict[str, float]] = None,
        max_wait: float = CHECKOUT_MAX_WAIT,
        margin: float = IN_FLIGHT_MARGIN,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.provider = provider
        self.key_digest = key_digest(api_key)
        self.windows = tuple(LIMITS.get(provider, ()) if windows is None else windows)
        self.follow_ups = FOLLOW_UPS.get(provider, {})
        self.shares = shares
        self.max_wait = max_wait
        # the windows as counted: each a margin longer than the provider's
        self._spans = tuple(replace(w, seconds=w.seconds + margin) for w in self.windows)
        self.horizon = max((w.seconds for w in self._spans), default=0.0)
        self._counted = {w.path for w in self.windows if w.path}
        self._clock, self._sleep = clock, sleep

    def __repr__(self) -> str:  # the digest only: never the key
        return f"DatabaseBudget({self.provider!r}, {self.key_digest[:8]}…)"

    def acquire(self, path: str, priority: str) -> None:
        path = path.strip("/")
        deadline = self._clock() + (self.max_wait if priority == CHECKOUT else 0.0)
        while True:
            wait, blocked = self._try(path, priority)
            if not wait:
                return
            if blocked:
                raise refused(
                    self.provider,
                    "rate limited by the provider; waiting as it asked",
                    wait,
                    code="rate_limited",
                )
            if self._clock() + wait > deadline:
                logger.info(
                    "%s quota: %s call refused, room again in %.1f s", self.provider, priority, wait
                )
                raise refused(self.provider, f"call quota reserved ({priority} share used)", wait)
            self._sleep(wait)

    def block(self, seconds: float) -> None:
        until = self._clock() + max(0.0, seconds)
        try:
            with self._cursor() as cursor:
                self._lock_key(cursor, until)
        except DatabaseError:  # the 429 itself is what the caller must see
            logger.exception("%s quota: could not record a Retry-After", self.provider)

    # -- storage ---------------------------------------------------------------

    def _try(self, path: str, priority: str) -> tuple[float, bool]:
        """(0, False) with the call counted, else the wait and whether it is
        the provider's own block."""
        if priority not in PRIORITIES:
            raise ValueError(f"priority must be one of {PRIORITIES}")
        if not self._spans:  # nothing to count (CoinPay.in.th): only a 429 can stop us
            now = self._clock()
            row = QuotaKey.objects.filter(key_digest=self.key_digest, blocked_until__gt=now)
            until = row.values_list("blocked_until", flat=True).first()
            return (until - now, True) if until else (0.0, False)
        with self._cursor() as cursor:
            now = self._clock()
            blocked_until = self._lock_key(cursor)
            if blocked_until > now:
                return blocked_until - now, True
            table = self._table(QuotaCall)
            cursor.execute(
                f"DELETE FROM {table} WHERE key_digest = %s AND at <= %s",  # noqa: S608
                [self.key_digest, now - self.horizon],
            )
            cursor.execute(
                f"SELECT id, at, path, weight FROM {table} "  # noqa: S608
                "WHERE key_digest = %s ORDER BY at",
                [self.key_digest],
            )
            rows = cursor.fetchall()
            booked = next((r for r in rows if r[3] > 1), None) if priority == CALLBACK else None
            # a booked re-read is already counted in every window still holding
            # its creation; only the others need room
            wait = self._wait(rows, path, priority, now, booked[1] if booked else None)
            if wait:
                return wait, False
            if booked:
                cursor.execute(
                    f"UPDATE {table} SET weight = weight - 1 WHERE id = %s",  # noqa: S608
                    [booked[0]],
                )
            cursor.execute(
                f"INSERT INTO {table} (key_digest, at, path, priority, weight) "  # noqa: S608
                "VALUES (%s, %s, %s, %s, %s)",
                [
                    self.key_digest,
                    now,
                    path if path in self._counted else "",
                    priority,
                    1 + self.follow_ups.get(path, 0),
                ],
            )
        return 0.0, False

    def _wait(
        self, rows: list, path: str, priority: str, now: float, booked_at: Optional[float]
    ) -> float:
        need = 1 + self.follow_ups.get(path, 0)
        waits = [
            wait_for(
                w,
                [(at, 1 if w.path else weight) for _, at, p, weight in rows if w.counts(p)],
                allowance(w, priority, self.shares),
                now,
                need if w.path is None else 1,
            )
            for w in self._spans
            if w.counts(path)
            and not (booked_at is not None and w.path is None and booked_at > now - w.seconds)
        ]
        return max(waits, default=0.0)

    def _lock_key(self, cursor: Any, blocked_until: float = 0.0) -> float:
        """Upsert the key's row (locking it until commit); its blocked_until,
        raised to ``blocked_until`` if that is later."""
        table = self._table(QuotaKey)
        greatest = "GREATEST" if cursor.db.vendor == "postgresql" else "MAX"
        cursor.execute(
            f"INSERT INTO {table} (key_digest, provider, blocked_until) "  # noqa: S608
            f"VALUES (%s, %s, %s) ON CONFLICT (key_digest) DO UPDATE "
            f"SET blocked_until = {greatest}({table}.blocked_until, EXCLUDED.blocked_until) "
            f"RETURNING blocked_until",
            [self.key_digest, self.provider, blocked_until],
        )
        return float(cursor.fetchone()[0])

    @staticmethod
    def _table(model: Any) -> str:
        return connection.ops.quote_name(model._meta.db_table)

    @contextmanager
    def _cursor(self) -> Iterator[Any]:
        """A cursor in a transaction that commits on its own, even inside the
        caller's (PostgreSQL: a second connection; SQLite has only one)."""
        if not connection.in_atomic_block or connection.vendor != "postgresql":
            with transaction.atomic(), connection.cursor() as cursor:
                yield cursor
            return
        own = connections.create_connection(DEFAULT_DB_ALIAS)
        try:
            own.set_autocommit(False)
            with own.cursor() as cursor:
                yield cursor
            own.commit()
        except BaseException:
            own.rollback()
            raise
        finally:
            own.close()


def configured_windows(provider: str) -> Optional[tuple[Window, ...]]:
    """``CRYPTOPAY_QUOTA_LIMITS = {"coinpay24": [{"name": …, "seconds": 60,
    "limit": 200}, …]}`` replaces a provider's published limits (e.g. a raised
    quota); None keeps them."""
    custom = getattr(settings, "CRYPTOPAY_QUOTA_LIMITS", {}).get(provider)
    if custom is None:
        return None
    return tuple(w if isinstance(w, Window) else Window(**w) for w in custom)


def shared_budget(provider: str, api_key: str) -> Optional[DatabaseBudget]:
    """The key's shared budget, or None when ``CRYPTOPAY_QUOTA_ENABLED`` is off."""
    if not api_key or not getattr(settings, "CRYPTOPAY_QUOTA_ENABLED", True):
        return None
    return DatabaseBudget(
        provider,
        api_key,
        windows=configured_windows(provider),
        shares=getattr(settings, "CRYPTOPAY_QUOTA_SHARES", None),
    )


def attach(transport: HttpTransport, api_key: str, priority: str) -> HttpTransport:
    """Make ``transport`` draw on the key's shared budget at ``priority``."""
    if priority not in PRIORITIES:
        raise ValueError(f"priority must be one of {PRIORITIES}")
    transport.quota = shared_budget(transport.provider, api_key)
    transport.priority = priority
    return transport
