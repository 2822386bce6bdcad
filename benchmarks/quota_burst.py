"""Benchmark 6: a burst of paid CoinPay24 checkouts plus reconciliation against
a sandbox enforcing CoinPay24's quotas (``--rate-limit``), time-scaled.

Saleor-free, at the bridge/core level: the same pieces the plugin uses, with
Saleor's part reduced to what costs provider calls.

- shoppers (threads) create invoices (``CoinPay24Bridge.create``, priority
  checkout), record them (``Invoice``) and pay them at the sandbox; a refused
  checkout is retried a scaled moment later, as a shopper would;
- a callback receiver (HTTP on loopback) does what the plugin's handler does:
  verify the HMAC, skip repeats, re-read the invoice (priority callback) and
  record it (``sync.apply_observation``); a quota refusal answers 503, so the
  sandbox sends the callback again on the provider's retry schedule;
- reconciliation runs every scaled 5 minutes (``reconcile.plan_sweep`` plus
  re-reads, priority background, 20 calls per run).

The budget is ``quota.DatabaseBudget`` on an SQLite file (WAL) shared by all
threads; the sandbox runs in a child process (``cryptopay-sandbox
--rate-limit --time-scale S``). Every scaled figure is in provider time.

    python benchmarks/quota_burst.py [--checkouts 750] [--scale 0.02] [--shoppers 6]
                                     [--lost-every 20] [--no-budget]

No Saleor needed. Only talks to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import itertools
import os
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import django  # noqa: E402
from django.conf import settings  # noqa: E402

from benchmarks._sandbox import sandbox_process  # noqa: E402

KEY = "sandbox-coinpay24-key"
CALLS_PER_CHECKOUT = 2  # invoices/create + the callback's invoices/get
HOUR_QUOTA, MINUTE_QUOTA = 1000, 200


def setup_django(db: str) -> None:
    settings.configure(
        SECRET_KEY="bench",  # noqa: S106
        USE_TZ=True,
        INSTALLED_APPS=["django.contrib.contenttypes", "saleor_cryptopay"],
        DATABASES={
            "default": {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": db,
                "OPTIONS": {
                    "timeout": 30,
                    "transaction_mode": "IMMEDIATE",
                    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                },
            }
        },
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
    )
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


@contextlib.contextmanager
def sandbox(scale: float):
    options = ["--rate-limit", "--time-scale", str(scale), "--invoice-ttl", "1000000"]
    with sandbox_process(*options) as url:
        yield url


class Calls:
    """Every answer the provider gave, by priority (requests response hooks)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.times: list[float] = []  # calls the provider answered (not 429)
        self.by_priority: Counter[str] = Counter()
        self.http_429: Counter[str] = Counter()
        self.acquire_seconds: list[float] = []  # the budget's own cost per call

    def session(self, priority: str) -> requests.Session:
        session = requests.Session()

        def hook(response: requests.Response, *args: object, **kwargs: object) -> None:
            with self.lock:
                if response.status_code == 429:
                    self.http_429[priority] += 1
                else:
                    self.times.append(time.monotonic())
                    self.by_priority[priority] += 1

        session.hooks["response"].append(hook)
        return session


def most_in_window(times: list[float], seconds: float) -> int:
    times = sorted(times)
    counts = (bisect.bisect_right(times, t + seconds) - i for i, t in enumerate(times))
    return max(counts, default=0)


class Bench:
    def __init__(self, url: str, scale: float, checkouts: int, budget: bool = True) -> None:
        from saleor_cryptopay.bridges.coinpay24 import CoinPay24Bridge
        from saleor_cryptopay.providers.coinpay24 import CoinPay24Client
        from saleor_cryptopay.providers.quota import LIMITS, scaled
        from saleor_cryptopay.quota import DatabaseBudget

        self.url, self.scale, self.budget = url, scale, budget
        self.calls = Calls()
        self.windows = scaled(LIMITS["coinpay24"], scale)
        self.local = threading.local()
        calls = self.calls

        class TimedBudget(DatabaseBudget):
            def acquire(self, path: str, priority: str) -> None:
                started = time.perf_counter()
                try:
                    super().acquire(path, priority)
                finally:
                    with calls.lock:
                        calls.acquire_seconds.append(time.perf_counter() - started)

        self.make = lambda priority: CoinPay24Bridge(  # noqa: E731
            self._client(CoinPay24Client, TimedBudget, priority)
        )
        self.todo = itertools.count()
        self.checkouts = checkouts
        self.stats: Counter[str] = Counter()
        self.stats_lock = threading.Lock()
        self.stop = threading.Event()
        self.start = time.monotonic()

    def _client(self, client_cls, budget_cls, priority):
        client = client_cls(KEY, base_url=self.url + "/coinpay24/v1", timeout=(5, 10))
        client.http.session = self.calls.session(priority)
        if self.budget:
            client.http.quota = budget_cls(
                "coinpay24", KEY, windows=self.windows, max_wait=2.0 * self.scale, margin=0.1
            )
        client.http.priority = priority
        return client

    def bridge(self, priority: str):
        bridges = self.local.__dict__.setdefault("bridges", {})
        if priority not in bridges:
            bridges[priority] = self.make(priority)
        return bridges[priority]

    def count(self, name: str, n: int = 1) -> None:
        with self.stats_lock:
            self.stats[name] += n

    # -- shoppers ------------------------------------------------------------------

    def shopper(self, callback_url: str, lost_every: int) -> None:
        from django.db import connection

        from saleor_cryptopay.models import Invoice, QuotaCall
        from saleor_cryptopay.providers.errors import ProviderError

        bridge = self.bridge("checkout")
        pay = requests.Session()
        try:
            while not self.stop.is_set():
                n = next(self.todo)
                if n >= self.checkouts:
                    return
                # some callbacks never arrive (a firewall): reconciliation's job
                lost = lost_every and n % lost_every == 0
                url = callback_url + ("/lost" if lost else "")
                while not self.stop.is_set():
                    try:
                        created = bridge.create(
                            reference=str(uuid.uuid4()),
                            amount=Decimal("10.00"),
                            currency="USD",
                            callback_url=url,
                            success_url=None,
                            cancel_url=None,
                            title="bench",
                            description="",
                        )
                        break
                    except ProviderError as exc:
                        self.count(f"checkout attempts refused ({exc.code})")
                        hour = self.windows[1].seconds
                        if QuotaCall.objects.filter(
                            priority="background", at__gt=time.time() - hour
                        ).exists():
                            self.count("checkout attempts refused, background calls in the hour")
                        # the shopper tries again a moment (10 provider seconds) later
                        self.stop.wait(min(exc.retry_after or 1.0, 10 * self.scale))
                else:
                    return
                Invoice.objects.create(
                    provider="coinpay24",
                    channel_slug="bench",
                    provider_invoice_id=created.provider_invoice_id,
                    amount=Decimal("10.00"),
                    currency="USD",
                    status=created.status.value,
                )
                self.count("checkouts created")
                pay.post(
                    f"{self.url}/_sandbox/coinpay24/invoices/{created.provider_invoice_id}/pay",
                    timeout=10,
                ).raise_for_status()
        finally:
            connection.close()

    # -- callbacks -----------------------------------------------------------------

    def callback(self, body: bytes) -> int:
        from django.db import transaction

        from saleor_cryptopay.models import Invoice
        from saleor_cryptopay.providers.errors import ProviderError
        from saleor_cryptopay.sync import apply_observation

        bridge = self.bridge("callback")
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True)
        ref = bridge.callback_invoice_id(dict(pairs))
        if not ref or not bridge.verify_callback(pairs):
            self.count("callbacks rejected")
            return 200
        invoice = Invoice.objects.filter(provider="coinpay24", provider_invoice_id=ref).first()
        if invoice is None or invoice.status == "paid":
            self.count("callbacks answered without a call")
            return 200
        try:
            observed = bridge.observe(invoice)
        except ProviderError:
            self.count("callbacks deferred (503)")
            return 503
        with transaction.atomic():
            invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
            apply_observation(invoice, observed, Decimal(0))
        self.count("callbacks re-read")
        return 200

    def receiver(self) -> ThreadingHTTPServer:
        bench = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802
                from django.db import connection

                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    status = 200 if self.path.endswith("/lost") else bench.callback(body)
                finally:
                    connection.close()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server

    # -- reconciliation ------------------------------------------------------------

    def reconciler(self) -> None:
        from django.db import connection, transaction

        from saleor_cryptopay.models import Invoice
        from saleor_cryptopay.providers.errors import ProviderError
        from saleor_cryptopay.reconcile import open_invoices, plan_sweep
        from saleor_cryptopay.sync import apply_observation

        every = 300 * self.scale
        try:
            while not self.stop.wait(every):
                bridge = self.bridge("background")
                bridge.client.http.calls, bridge.client.http.budget = 0, 20
                self.count("reconcile runs")
                plan = plan_sweep(bridge, open_invoices("coinpay24"))
                if plan.error is not None:
                    self.count(f"reconcile stopped ({plan.error.code})")
                    continue
                for invoice, _ in plan.changed + [(i, None) for i in plan.unlisted]:
                    try:
                        observed = bridge.observe(invoice)
                    except ProviderError as exc:
                        self.count(f"reconcile stopped ({exc.code})")
                        break
                    with transaction.atomic():
                        locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
                        if locked.status != "paid":
                            apply_observation(locked, observed, Decimal(0))
                            self.count("paid found by reconciliation")
        finally:
            connection.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkouts", type=int, default=750, help="burst size (1.5 h of ceiling)")
    parser.add_argument("--scale", type=float, default=0.02, help="provider time scale")
    parser.add_argument("--shoppers", type=int, default=6)
    parser.add_argument(
        "--lost-every", type=int, default=20, help="every Nth callback never arrives (0: none)"
    )
    parser.add_argument(
        "--no-budget", action="store_true", help="baseline: no shared budget (as before)"
    )
    parser.add_argument("--max-hours", type=float, default=3.0, help="cap, in scaled hours")
    args = parser.parse_args()

    tmp = tempfile.mkdtemp(prefix="quota-bench-")
    setup_django(os.path.join(tmp, "bench.sqlite3"))
    from saleor_cryptopay.models import Invoice

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from _report import header

    header("6. provider quota: burst of paid checkouts + reconciliation")
    hour = 3600 * args.scale
    print(
        f"scale {args.scale}: a provider hour is {hour:.0f} s, a minute {60 * args.scale:.2f} s; "
        f"{args.checkouts} checkouts, {args.shoppers} shoppers, every {args.lost_every}th "
        f"callback lost, {'no shared budget' if args.no_budget else 'shared budget'}"
    )
    with sandbox(args.scale) as url:
        bench = Bench(url, args.scale, args.checkouts, budget=not args.no_budget)
        server = bench.receiver()
        callback_url = f"http://127.0.0.1:{server.server_address[1]}/callback"
        threads = [
            threading.Thread(target=bench.shopper, args=(callback_url, args.lost_every))
            for _ in range(args.shoppers)
        ]
        threads.append(threading.Thread(target=bench.reconciler))
        for t in threads:
            t.start()
        deadline = bench.start + args.max_hours * hour
        while time.monotonic() < deadline:
            paid = Invoice.objects.filter(status="paid").count()
            if paid >= args.checkouts:
                break
            time.sleep(0.5)
        bench.stop.set()
        for t in threads:
            t.join()
        server.shutdown()
        elapsed = time.monotonic() - bench.start

    stamps = Invoice.objects.exclude(charged_at=None).values_list("charged_at", flat=True)
    charged = sorted(c.timestamp() for c in stamps)
    first = charged[0] if charged else 0.0
    paid_first_hour = sum(1 for c in charged if c - first <= hour)
    paid_best_hour = most_in_window(charged, hour)
    ceiling = HOUR_QUOTA // CALLS_PER_CHECKOUT
    stats = bench.stats
    stats.setdefault("reconcile runs", 0)
    if bench.budget:  # the budget's own rows tell when background calls were in the window
        stats.setdefault("checkout attempts refused, background calls in the hour", 0)
    print(f"ran {elapsed:.0f} s = {elapsed / hour:.2f} provider hours")
    for name in sorted(stats):
        print(f"  {name}: {stats[name]}")
    print(f"  provider calls by priority: {dict(bench.calls.by_priority)}")
    print(f"  checkouts refused by 429: {bench.calls.http_429['checkout']}")
    print(f"  429 answers, all priorities: {sum(bench.calls.http_429.values())}")
    minute_peak = most_in_window(bench.calls.times, 60 * args.scale)
    hour_peak = most_in_window(bench.calls.times, hour)
    print(f"calls in any provider minute: max {minute_peak} (quota {MINUTE_QUOTA})")
    print(f"calls in any provider hour:   max {hour_peak} (quota {HOUR_QUOTA})")
    if bench.calls.acquire_seconds:
        from _report import summary_ms

        cost = summary_ms(bench.calls.acquire_seconds)
        print(f"budget cost per call (SQLite, refusals and waits included): {cost}")
    total_calls = sum(bench.calls.by_priority.values())
    paid = len(charged)
    print(
        f"paid checkouts: {paid} of {args.checkouts}; "
        f"{total_calls / max(paid, 1):.2f} calls per paid checkout (all priorities)"
    )
    print(
        f"paid checkouts per hour: first hour {paid_first_hour}, best sliding hour "
        f"{paid_best_hour}; ceiling {ceiling} (= {HOUR_QUOTA} calls/h / {CALLS_PER_CHECKOUT}): "
        f"{paid_best_hour / ceiling:.0%} of it"
    )
    refused_429 = sum(bench.calls.http_429.values())
    ok = refused_429 == 0 and paid_best_hour >= 0.9 * ceiling
    print(f"goal (no 429, ceiling within 10 %): {'met' if ok else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
