"""Benchmark 3: callback handling cost inside Saleor.

Time from a paid callback arriving at the plugin URL to the order existing,
against a plain ``checkoutComplete`` with an ordinary card gateway (the test
suite's ``tests.card``, which captures at once; Saleor's dummy gateways, used
before, are gone on main) on the same
checkout shape, side by side in one run (alternating A/B, B/A). Goal: ratio of
medians <= 1.5.

- crypto side (untimed set-up): checkoutPaymentCreate + checkoutComplete
  (invoice created, confirmation needed), the sandbox marks it paid. Timed:
  one POST of the signed callback fields to
  ``/plugins/channel/main/<plugin>/callback`` (in-process Django test client);
  the order exists when it returns (checked).
- card side (untimed set-up): checkoutPaymentCreate with gateway
  ``tests.card``. Timed: the GraphQL
  ``checkoutComplete`` (in-process API client) that returns the order.

The callback includes the provider round trips the plugin makes (CoinPay24:
one re-read; CoinPay.in.th: verifyipn + check, nonces from the database);
they are also timed separately (``HttpTransport.post`` is wrapped) so the
ratio without them can be read too.

Both run inside the test's transaction (pytest-django ``django_db``), i.e. no
commit cost on either side.

    BENCH_ROUNDS=30 BENCH_MAX_SECONDS=120 python -m pytest \
        benchmarks/bench_saleor_callback_cost.py -s -q --ds=benchmarks.settings --reuse-db \
        -p no:xdist -W ignore -o python_files='bench_*.py'
"""

from __future__ import annotations

import os
import statistics
import time

import pytest

pytest.importorskip("saleor", reason="needs the Saleor environment (source /opt/saleor-env.sh)")

from django.test import Client  # noqa: E402
from saleor.order.models import Order  # noqa: E402

from saleor_cryptopay.providers import http as provider_http  # noqa: E402

from ._flow import callback_pairs, complete, confirmation, create_payment, post_form  # noqa: E402
from ._report import header, pct, summary_ms  # noqa: E402

pytestmark = pytest.mark.django_db

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "30"))
MAX_SECONDS = float(os.environ.get("BENCH_MAX_SECONDS", "120"))
WARMUP = 2
CARD = "tests.card"  # tests/saleor/card_gateway.py: captures at once


class ProviderTimer:
    """Wraps HttpTransport.post to add up provider round-trip time."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.calls = 0
        self._original = provider_http.HttpTransport.post

    def __enter__(self) -> ProviderTimer:
        original = self._original
        timer = self

        def post(transport, *args, **kwargs):
            t0 = time.perf_counter()
            try:
                return original(transport, *args, **kwargs)
            finally:
                timer.seconds += time.perf_counter() - t0
                timer.calls += 1

        provider_http.HttpTransport.post = post
        return self

    def __exit__(self, *exc) -> None:
        provider_http.HttpTransport.post = self._original

    def reset(self) -> None:
        self.seconds, self.calls = 0.0, 0


def card_round(api_client, make_checkout, checkout_total) -> float:
    checkout = make_checkout()
    total = checkout_total(checkout)
    create_payment(api_client, checkout, CARD, total)
    t0 = time.perf_counter()
    result = complete(api_client, checkout)
    elapsed = time.perf_counter() - t0
    assert result["order"] and not result["errors"], result
    return elapsed


def crypto_round(provider, plugin, api_client, make_checkout, checkout_total, sb, timer):
    checkout = make_checkout()
    total = checkout_total(checkout)
    create_payment(api_client, checkout, plugin.PLUGIN_ID, total, "https://www.example.com/return")
    invoice_id = confirmation(complete(api_client, checkout))["invoice_id"]
    sb.act(provider, invoice_id, "pay")
    pairs = callback_pairs(sb, provider, invoice_id)
    client = Client()
    timer.reset()
    t0 = time.perf_counter()
    response = post_form(client, plugin.PLUGIN_ID, pairs)
    elapsed = time.perf_counter() - t0
    assert response.status_code == 200, response.content
    assert Order.objects.filter(checkout_token=checkout.token).count() == 1
    return elapsed, timer.seconds, timer.calls


@pytest.mark.parametrize("provider", ["coinpay24", "coinpay_th"])
def test_callback_cost_vs_card_checkout_complete(
    provider, configure_gateway, make_checkout, checkout_total, api_client, sb
):
    plugin = configure_gateway(provider)
    header(f"benchmark 3: callback-to-order vs card checkoutComplete, {provider}")
    card: list[float] = []
    crypto: list[float] = []
    provider_time: list[float] = []
    calls: list[int] = []
    deadline = time.monotonic() + MAX_SECONDS
    with ProviderTimer() as timer:
        for i in range(WARMUP + ROUNDS):
            sides = ["card", "crypto"] if i % 2 == 0 else ["crypto", "card"]
            for side in sides:
                if side == "card":
                    d = card_round(api_client, make_checkout, checkout_total)
                    if i >= WARMUP:
                        card.append(d)
                else:
                    c, p, n = crypto_round(
                        provider, plugin, api_client, make_checkout, checkout_total, sb, timer
                    )
                    if i >= WARMUP:
                        crypto.append(c)
                        provider_time.append(p)
                        calls.append(n)
            if time.monotonic() > deadline:
                break
    ratio = statistics.median(crypto) / statistics.median(card)
    net = [c - p for c, p in zip(crypto, provider_time, strict=True)]
    ratio_net = statistics.median(net) / statistics.median(card)
    print(f"card checkoutComplete (GraphQL)   {summary_ms(card)}")
    print(f"{provider} callback -> order{'':6}{summary_ms(crypto)}")
    print(
        f"  of which provider round trips    p50={statistics.median(provider_time) * 1000:.1f}ms "
        f"p90={pct(provider_time, 90) * 1000:.1f}ms, calls per callback {sorted(set(calls))}"
    )
    print(f"  callback minus provider time     {summary_ms(net)}")
    verdict = "meets" if ratio <= 1.5 else "ABOVE"
    print(
        f"RATIO (median callback / median card complete) = {ratio:.2f} ({verdict} goal <= 1.5); "
        f"without provider round trips {ratio_net:.2f}"
    )
