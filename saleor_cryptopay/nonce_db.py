"""A CoinPay.in.th nonce shared through the database by every process and
host using one API key: an atomic upsert hands out ``max(last + 1, now_us)``.

A lease holds the counter row locked until the signed call is answered, so
calls reach the provider in nonce order. On PostgreSQL it does so on a
connection of its own: inside a callback's or checkout's transaction the row
lock would otherwise last until that whole transaction commits and make
unrelated payments wait on each other.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction

from .models import NonceCounter
from .providers.nonce import now_us


class DatabaseNonce:
    def __init__(self, api_key: str) -> None:
        self.key_digest = hashlib.sha256(api_key.encode("utf-8")).hexdigest()

    def next(self) -> int:
        return self._take()

    @contextmanager
    def lease(self) -> Iterator[int]:
        if connection.vendor != "postgresql":  # e.g. SQLite in tests: one connection
            with transaction.atomic():
                yield self._take()
            return
        own = connections.create_connection(DEFAULT_DB_ALIAS)
        try:
            own.set_autocommit(False)
            value = self._take(own)
            yield value
            own.commit()
        except BaseException:
            own.rollback()
            raise
        finally:
            own.close()

    def _take(self, conn=None) -> int:
        conn = conn or connection
        table = conn.ops.quote_name(NonceCounter._meta.db_table)
        greatest = "GREATEST" if conn.vendor == "postgresql" else "MAX"
        sql = (
            f"INSERT INTO {table} (key_digest, value) VALUES (%s, %s) "  # noqa: S608
            f"ON CONFLICT (key_digest) DO UPDATE "
            f"SET value = {greatest}({table}.value + 1, EXCLUDED.value) RETURNING value"
        )
        with conn.cursor() as cursor:
            cursor.execute(sql, [self.key_digest, now_us()])
            return int(cursor.fetchone()[0])
