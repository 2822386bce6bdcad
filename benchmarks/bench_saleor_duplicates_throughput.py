"""Benchmark 4: throughput under duplicate callbacks on a real HTTP server.

M invoices are paid at the sandbox; each paid callback is sent D times (the
sandbox's own ``resend``, so every copy is a genuine send with its own
signature/verify token), N = M x D posts in a shuffled order, from W threads
at once, to Saleor running under pytest-django's ``live_server`` (Django's
threaded WSGI server, a fresh PostgreSQL connection per request, real
commits). Printed: callbacks/s, latency p50/p99, HTTP answers, callback
outcomes, orders and CAPTURE transactions (each must equal M), provider calls
(total and per invoice).

Answers other than 200 are what a provider would retry: after the burst, one
sequential "provider retry" pass re-posts them, and the counts are given
before and after it.

For CoinPay.in.th every provider call takes its nonce from the database
(``DatabaseNonce``: an upsert on one counter row per API key, held until the
surrounding transaction ends).

    BENCH_INVOICES=20 BENCH_DUPLICATES=5 BENCH_WORKERS=16 python -m pytest \
        benchmarks/bench_saleor_duplicates_throughput.py -s -q --ds=benchmarks.settings \
        --reuse-db -p no:xdist -W ignore -o python_files='bench_*.py'

Runs on its own test database (benchmarks/settings.py): the live server
commits, and the tables are truncated afterwards.
"""

from __future__ import annotations

import os
import random
import statistics
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

import pytest

pytest.importorskip("saleor", reason="needs the Saleor environment (source /opt/saleor-env.sh)")

import requests  # noqa: E402
from saleor.order.models import Order  # noqa: E402
from saleor.payment import TransactionKind  # noqa: E402
from saleor.payment.models import Transaction  # noqa: E402

from saleor_cryptopay.models import CallbackEvent, Invoice  # noqa: E402

from ._flow import (  # noqa: E402
    callback_pairs,
    callback_path,
    complete,
    confirmation,
    create_payment,
)
from ._report import header, pct  # noqa: E402

M = int(os.environ.get("BENCH_INVOICES", "20"))
D = int(os.environ.get("BENCH_DUPLICATES", "5"))
W = int(os.environ.get("BENCH_WORKERS", "16"))
TIMEOUT = 60.0  # per request
MAX_SECONDS = float(os.environ.get("BENCH_MAX_SECONDS", "300"))


def post_all(url: str, jobs: list[tuple[int, list]], workers: int):
    """POST every job from ``workers`` threads released together; returns
    (results [(index, status, seconds)], wall seconds)."""
    local = threading.local()
    start = threading.Barrier(min(workers, len(jobs)) + 1)
    deadline = time.monotonic() + MAX_SECONDS

    def session() -> requests.Session:
        if not hasattr(local, "session"):
            local.session = requests.Session()
        return local.session

    def post(job):
        index, pairs = job
        if time.monotonic() > deadline:
            return index, "skipped (time cap)", 0.0
        t0 = time.perf_counter()
        try:
            response = session().post(
                url,
                data=urlencode(pairs),
                headers={"Content-Type": "application/x-www-form-urlencoded"},
                timeout=TIMEOUT,
            )
            status = response.status_code
        except requests.RequestException as exc:
            status = type(exc).__name__
        return index, status, time.perf_counter() - t0

    def wait_then(job):
        if not getattr(local, "released", False):
            start.wait()
            local.released = True
        return post(job)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        # make the threads exist and meet at the barrier before the clock starts
        futures = [pool.submit(wait_then, job) for job in jobs]
        start.wait()
        t0 = time.perf_counter()
        results = [f.result() for f in futures]
        wall = time.perf_counter() - t0
    return results, wall


def floor_latency(url: str, n: int = 30) -> float:
    """Median of sequential GETs to the callback URL (answers 405 after the
    plugin manager and the plugin's webhook ran): the server's own floor."""
    s = requests.Session()
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        s.get(url, timeout=TIMEOUT)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def counts(tokens, payment_ids, invoices):
    orders = Order.objects.filter(checkout_token__in=tokens).count()
    captures = Transaction.objects.filter(
        payment_id__in=payment_ids, kind=TransactionKind.CAPTURE, is_success=True
    ).count()
    outcomes = Counter(
        CallbackEvent.objects.filter(invoice__in=invoices).values_list("outcome", flat=True)
    )
    return orders, captures, dict(sorted(outcomes.items()))


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("provider", ["coinpay24", "coinpay_th"])
def test_duplicate_callbacks_throughput(
    provider,
    live_server,
    replica_on_test_db,
    configure_gateway,
    make_checkout,
    checkout_total,
    api_client,
    sb,
):
    plugin = configure_gateway(provider)
    header(f"benchmark 4: {M} invoices x {D} duplicate callbacks, {W} threads, {provider}")
    assert replica_on_test_db.startswith("test_"), replica_on_test_db
    print("load average:", " ".join(f"{x:.2f}" for x in os.getloadavg()))

    tokens, invoice_ids, jobs = [], [], []
    for i in range(M):
        checkout = make_checkout()
        total = checkout_total(checkout)
        create_payment(
            api_client, checkout, plugin.PLUGIN_ID, total, "https://www.example.com/return"
        )
        invoice_id = confirmation(complete(api_client, checkout))["invoice_id"]
        offset = len(sb.callbacks(provider, invoice_id))
        sb.act(provider, invoice_id, "pay")
        for _ in range(D - 1):
            sb.act(provider, invoice_id, "resend")
        for k in range(D):
            jobs.append((i, callback_pairs(sb, provider, invoice_id, offset + k)))
        tokens.append(checkout.token)
        invoice_ids.append(invoice_id)
    random.Random(4).shuffle(jobs)
    invoices = list(Invoice.objects.filter(provider=provider, provider_invoice_id__in=invoice_ids))
    payment_ids = [inv.payment_id for inv in invoices]

    url = live_server.url + callback_path(plugin.PLUGIN_ID)
    floor = floor_latency(url)
    before = sb.request_counts().get(provider, {})
    results, wall = post_all(url, jobs, W)
    after = sb.request_counts().get(provider, {})
    calls = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    calls = {k: v for k, v in calls.items() if v}

    done = [r for r in results if r[1] != "skipped (time cap)"]
    latencies = [r[2] for r in done]
    statuses = Counter(str(r[1]) for r in results)
    orders, captures, outcomes = counts(tokens, payment_ids, invoices)

    n = len(done)
    print(f"server floor (sequential GET of the callback URL, 405): {floor * 1000:.1f} ms")
    print(
        f"{n} callbacks in {wall:.2f}s = {n / wall:.1f} callbacks/s; latency "
        f"p50={statistics.median(latencies) * 1000:.0f}ms p99={pct(latencies, 99) * 1000:.0f}ms "
        f"max={max(latencies) * 1000:.0f}ms"
    )
    print(f"HTTP answers: {dict(sorted(statuses.items()))}")
    print(f"callback events: {outcomes}")
    total_calls = sum(calls.values())
    print(
        f"provider calls during the burst: {total_calls} ({total_calls / M:.2f} per invoice) "
        f"{sorted(calls.items())}"
    )
    verdict = "OK" if orders == captures == M else "NOT EQUAL TO M"
    print(f"orders={orders} captures={captures} M={M} -> {verdict}")

    retry = [(i, pairs) for (i, pairs), r in zip(jobs, results, strict=True) if r[1] != 200]
    if retry:
        before = sb.request_counts().get(provider, {})
        again, _ = post_all(url, retry, 1)
        after = sb.request_counts().get(provider, {})
        extra = sum(after.get(k, 0) - before.get(k, 0) for k in after)
        orders, captures, outcomes = counts(tokens, payment_ids, invoices)
        print(
            f"provider retry pass: re-posted {len(retry)} -> "
            f"{dict(Counter(str(r[1]) for r in again))}, {extra} more provider calls; "
            f"now orders={orders} captures={captures} events {outcomes}"
        )
