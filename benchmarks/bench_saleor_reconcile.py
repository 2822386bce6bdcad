"""Benchmark 2: reconciliation cost, provider calls per sweep for 1, 100 and
1000 open invoices.

Goal: at most one call per 100 open invoices (rounded up) plus one per invoice
that actually changed.

Set-up per case: N invoices created at the sandbox with the provider client
and recorded as open ``Invoice`` rows (bulk insert: no Saleor checkout behind
them, so a changed invoice's re-read is followed by "paid, no order" in our
books instead of an order; the provider calls are the same). Then K of them
are paid at the sandbox, and the real sweep runs: ``reconcile_plugin`` on the
channel's configured plugin (``plan_sweep`` listing + one re-read per changed
invoice), with the per-run call budget raised so the whole sweep shows. The
calls are counted at the sandbox. Cases:

- quiet: nothing changed (K = 0);
- busy: 10 % changed (at least 1);
- CoinPay24 only, "with history": 3 closed (paid) invoices per open one in the
  same days, as a shop that keeps selling has; the list endpoint pages through
  them too.

The default budget (``reconcile_calls_per_run`` = 20) is also run on the
largest busy case to show how far one run gets.

    python -m pytest benchmarks/bench_saleor_reconcile.py -s -q --ds=benchmarks.settings \
        --reuse-db -p no:xdist -W ignore -o python_files='bench_*.py'
"""

from __future__ import annotations

import math
import os
import time
from decimal import Decimal

import pytest

pytest.importorskip("saleor", reason="needs the Saleor environment (source /opt/saleor-env.sh)")

from saleor_cryptopay.models import Invoice  # noqa: E402
from saleor_cryptopay.plugin.reconcile import active_plugins, reconcile_plugin  # noqa: E402
from saleor_cryptopay.providers.coinpay24 import CoinPay24Client  # noqa: E402
from saleor_cryptopay.providers.coinpay_th import CoinPayThClient  # noqa: E402

from ._report import header  # noqa: E402

pytestmark = pytest.mark.django_db

SIZES = [int(x) for x in os.environ.get("BENCH_SIZES", "1,100,1000").split(",")]


def create_open(provider, sb, n: int, tag: str) -> list[str]:
    """n invoices at the sandbox; returns their provider ids."""
    ids = []
    if provider == "coinpay24":
        client = CoinPay24Client(sb.coinpay24_api_key, base_url=sb.coinpay24_base)
        for i in range(n):
            inv = client.create_invoice(
                order_id=f"{tag}-{i}", price_amount=Decimal("10"), price_currency="USD"
            )
            ids.append(inv.id)
    else:
        client = CoinPayThClient(
            sb.coinpay_th_key, sb.coinpay_th_secret, base_url=sb.coinpay_th_base
        )
        for i in range(n):
            order = client.create_order(
                amount=Decimal("10"), currency="USD", reference_id=f"{tag}-{i}"
            )
            ids.append(str(order.order_id))
    return ids


def record(provider, ids) -> None:
    Invoice.objects.bulk_create(
        [
            Invoice(
                provider=provider,
                channel_slug="main",
                provider_invoice_id=ref,
                amount=Decimal("10.00"),
                currency="USD",
                status="waiting" if provider == "coinpay_th" else "new",
            )
            for ref in ids
        ]
    )


def sweep(provider, sb):
    (plugin,) = active_plugins(channel="main", provider=provider)
    before = sb.request_counts().get(provider, {})
    t0 = time.perf_counter()
    report = reconcile_plugin(plugin)
    elapsed = time.perf_counter() - t0
    after = sb.request_counts().get(provider, {})
    calls = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    return report, {k: v for k, v in calls.items() if v}, elapsed


@pytest.mark.parametrize("provider", ["coinpay24", "coinpay_th"])
def test_reconcile_calls_per_sweep(provider, configure_gateway, sb):
    header(f"benchmark 2: reconciliation calls per sweep, {provider}")
    print(
        f"{'case':34} {'open':>5} {'changed':>7} {'calls':>5} {'goal':>5}  "
        f"{'updated':>7} {'seconds':>7}  endpoints"
    )
    cases = [("quiet", 0.0, 0), ("busy (10% paid)", 0.1, 0)]
    if provider == "coinpay24":
        cases.append(("busy + 3 closed per open (history)", 0.1, 3))
    runs = [
        (size, name, share, history, 100000) for size in SIZES for name, share, history in cases
    ]
    runs.append((max(SIZES), "busy, default budget 20", 0.1, 0, None))
    above = []
    for n, name, share, history, budget in runs:
        # a clean slate per case, here and at the sandbox (its ids restart:
        # safe, no invoice row of this provider is left to meet them)
        Invoice.objects.filter(provider=provider).delete()
        sb.reset()
        values = {} if budget is None else {"reconcile_calls_per_run": str(budget)}
        configure_gateway(provider, **values)
        tag = f"rec-{provider}-{n}-{len(name)}-{time.monotonic_ns()}"
        ids = []
        for i in range(n):
            if history:
                closed = create_open(provider, sb, history, f"{tag}-closed-{i}")
                for ref in closed:
                    sb.act(provider, ref, "pay")
            ids += create_open(provider, sb, 1, f"{tag}-{i}")
        record(provider, ids)
        changed = max(1, round(n * share)) if share else 0
        for ref in ids[:changed]:
            sb.act(provider, ref, "pay")
        report, calls, elapsed = sweep(provider, sb)
        total = sum(calls.values())
        goal = math.ceil(n / 100) + changed
        flag = ""
        if total > goal:
            flag = "  ABOVE GOAL"
            if budget is not None:
                above.append(f"{name} n={n}: {total} > {goal}")
        if report.errors:
            flag += f"  errors: {report.errors[:1]}"
        print(
            f"{name:34} {n:5d} {changed:7d} {total:5d} {goal:5d}  {len(report.actions):7d} "
            f"{elapsed:7.2f}  {sorted(calls.items())}{flag}"
        )
    print("above goal: " + ("; ".join(above) if above else "none"))
