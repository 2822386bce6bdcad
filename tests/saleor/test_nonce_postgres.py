"""The shared CoinPay.in.th nonce on PostgreSQL (Saleor's database)."""

import threading

import pytest

pytest.importorskip("saleor", reason="Saleor is not installed: run in a Saleor 3.20 environment")

from django.db import connection, transaction  # noqa: E402

from saleor_cryptopay.nonce_db import DatabaseNonce  # noqa: E402

pytestmark = pytest.mark.django_db(transaction=False)


def _in_thread(fn, timeout=10):
    out = {}

    def run():
        try:
            out["value"] = fn()
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), "blocked: the nonce row is still locked"
    return out["value"]


def _lease_once(source):
    with source.lease() as value:
        return value


def test_a_lease_does_not_keep_the_row_locked_for_the_outer_transaction():
    source = DatabaseNonce("pg-key-1")
    with transaction.atomic():  # like a callback's or checkoutComplete's transaction
        with source.lease() as first:
            pass
        second = _in_thread(lambda: _lease_once(DatabaseNonce("pg-key-1")))
    assert second > first


def test_concurrent_leases_are_unique_and_ordered():
    results, lock = [], threading.Lock()

    def worker():
        source = DatabaseNonce("pg-key-2")
        try:
            for _ in range(20):
                with source.lease() as value, lock:
                    results.append(value)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(results) == 80 == len(set(results))
    # the row lock serialises leases: values were handed out in order
    assert results == sorted(results)
