"""A CoinPay.in.th nonce shared through the database by every process and
host using one API key: an atomic upsert hands out ``max(last + 1, now_us)``."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection, transaction

from .models import NonceCounter
from .providers.nonce import now_us


class DatabaseNonce:
    def __init__(self, api_key: str) -> None:
        self.key_digest = hashlib.sha256(api_key.encode("utf-8")).hexdigest()

    def next(self) -> int:
        return self._take()

    @contextmanager
    def lease(self) -> Iterator[int]:
        """The upsert locks the counter row until the transaction ends, so the
        next caller waits until this call has been answered."""
        with transaction.atomic():
            yield self._take()

    def _take(self) -> int:
        table = connection.ops.quote_name(NonceCounter._meta.db_table)
        greatest = "GREATEST" if connection.vendor == "postgresql" else "MAX"
        sql = (
            f"INSERT INTO {table} (key_digest, value) VALUES (%s, %s) "  # noqa: S608
            f"ON CONFLICT (key_digest) DO UPDATE "
            f"SET value = {greatest}({table}.value + 1, EXCLUDED.value) RETURNING value"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [self.key_digest, now_us()])
            return int(cursor.fetchone()[0])
