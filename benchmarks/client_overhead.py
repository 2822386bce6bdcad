"""Benchmark 5: per-call overhead of our provider clients over a raw
``requests`` call to the sandbox (goal: ratio <= 1.2).

Both sides send the same request over a keep-alive ``requests.Session`` to
the same sandbox, interleaved call by call (A B B A ...) so drift hits both
equally. The raw side does only what the wire protocol needs: build the body
(for CoinPay.in.th also sign it with a fresh nonce) and ``response.json()``.
The client side is the public method (``get_invoice``, ``check_order``, ...):
URL building, timeouts, error mapping, typed results, nonce lease.

The sandbox runs in a child process by default (``--in-process`` to share
this one), so its request handling does not compete for this process's GIL.

    python benchmarks/client_overhead.py [--calls 2000] [--max-seconds 20]

No Saleor needed. Only talks to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._sandbox import sandbox_process  # noqa: E402
from saleor_cryptopay.providers.coinpay24 import CoinPay24Client  # noqa: E402
from saleor_cryptopay.providers.coinpay_th import CoinPayThClient  # noqa: E402
from saleor_cryptopay.providers.coinpay_th_auth import auth_fields  # noqa: E402
from saleor_cryptopay.providers.nonce import now_us  # noqa: E402
from saleor_cryptopay.sandbox.server import (  # noqa: E402
    DEFAULT_COINPAY24_KEY,
    DEFAULT_TH_CREDENTIALS,
    SandboxServer,
)

CP24_KEY = DEFAULT_COINPAY24_KEY
TH_KEY, TH_SECRET = next(iter(DEFAULT_TH_CREDENTIALS.items()))


@contextlib.contextmanager
def sandbox(in_process: bool) -> Iterator[str]:
    """Yields the sandbox base URL (http://127.0.0.1:PORT)."""
    if in_process:
        with SandboxServer(port=0) as sb:
            yield sb.url
        return
    with sandbox_process() as url:
        yield url


class ThNonce:
    """The raw side's nonce: as cheap as a nonce can be."""

    def __init__(self) -> None:
        self._last = 0

    def next(self) -> int:
        self._last = max(self._last + 1, now_us())
        return self._last


def build_cases(url: str) -> list[tuple[str, Callable[[], object], Callable[[], object]]]:
    cp24_base = url + "/coinpay24/v1"
    th_base = url + "/coinpay_th/api"
    cp24 = CoinPay24Client(CP24_KEY, base_url=cp24_base)
    th = CoinPayThClient(TH_KEY, TH_SECRET, base_url=th_base)

    # one invoice / order to read back
    inv = cp24.create_invoice(order_id="bench-1", price_amount=Decimal("10"), price_currency="USD")
    order = th.create_order(amount=Decimal("300"), currency="THB", reference_id="bench-1")

    raw = requests.Session()
    nonce = ThNonce()
    ref = itertools.count(2)

    def raw_cp24_get() -> object:
        r = raw.post(f"{cp24_base}/invoices/{inv.id}", json={"api_key": CP24_KEY}, timeout=20)
        r.raise_for_status()
        return r.json()

    def raw_cp24_create() -> object:
        body = {
            "api_key": CP24_KEY,
            "order_id": f"bench-{next(ref)}",
            "price_amount": "10.00",
            "price_currency": "USD",
        }
        r = raw.post(f"{cp24_base}/invoices/create", json=body, timeout=20)
        r.raise_for_status()
        return r.json()

    def raw_th_check() -> object:
        data = {"order_id": str(order.order_id), **auth_fields(TH_KEY, nonce.next(), TH_SECRET)}
        r = raw.post(f"{th_base}/checkorder/", data=data, timeout=20)
        r.raise_for_status()
        return r.json()

    def raw_th_create() -> object:
        data = {
            "amount": "300.00",
            "currency": "THB",
            "reference_id": f"bench-{next(ref)}",
            **auth_fields(TH_KEY, nonce.next(), TH_SECRET),
        }
        r = raw.post(f"{th_base}/paybox/", data=data, timeout=20)
        r.raise_for_status()
        body = r.json()
        if not body.get("success"):
            raise RuntimeError(body)
        return body

    return [
        ("coinpay24 get_invoice", raw_cp24_get, lambda: cp24.get_invoice(inv.id)),
        (
            "coinpay24 create_invoice",
            raw_cp24_create,
            lambda: cp24.create_invoice(
                order_id=f"bench-{next(ref)}", price_amount=Decimal("10"), price_currency="USD"
            ),
        ),
        ("coinpay_th check_order", raw_th_check, lambda: th.check_order(order.order_id)),
        (
            "coinpay_th create_order",
            raw_th_create,
            lambda: th.create_order(
                amount=Decimal("300"), currency="THB", reference_id=f"bench-{next(ref)}"
            ),
        ),
    ]


def measure(
    raw: Callable[[], object], ours: Callable[[], object], calls: int, max_seconds: float
) -> tuple[list[float], list[float]]:
    for _ in range(min(50, calls)):  # warm-up: connections, caches
        raw()
        ours()
    raw_t: list[float] = []
    our_t: list[float] = []
    clock = time.perf_counter
    deadline = time.monotonic() + max_seconds
    for i in range(calls):
        pair = ((raw, raw_t), (ours, our_t)) if i % 2 == 0 else ((ours, our_t), (raw, raw_t))
        for fn, out in pair:
            t0 = clock()
            fn()
            out.append(clock() - t0)
        if time.monotonic() > deadline:
            break
    return raw_t, our_t


def us(seconds: float) -> str:
    return f"{seconds * 1e6:8.0f}"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--calls", type=int, default=2000, help="calls per side per case")
    p.add_argument("--max-seconds", type=float, default=20.0, help="time cap per case")
    p.add_argument("--in-process", action="store_true", help="run the sandbox in this process")
    args = p.parse_args()

    cores = os.cpu_count()
    print(f"benchmark 5: client overhead  cores={cores}  python={sys.version.split()[0]}")
    where = "this process" if args.in_process else "child process"
    print(f"sandbox in a {where}, keep-alive Session")
    print(
        f"{'case':26} {'n':>5} {'raw p50 us':>10} {'ours p50 us':>11} "
        f"{'raw mean':>9} {'ours mean':>9} {'ratio p50':>9} {'ratio mean':>10} {'+us p50':>8}"
    )
    worst = 0.0
    with sandbox(args.in_process) as url:
        for name, raw, ours in build_cases(url):
            raw_t, our_t = measure(raw, ours, args.calls, args.max_seconds)
            r50, o50 = statistics.median(raw_t), statistics.median(our_t)
            rm, om = statistics.fmean(raw_t), statistics.fmean(our_t)
            ratio = o50 / r50
            worst = max(worst, ratio)
            print(
                f"{name:26} {len(raw_t):5d} {us(r50):>10} {us(o50):>11} {us(rm):>9} {us(om):>9} "
                f"{ratio:9.3f} {om / rm:10.3f} {us(o50 - r50):>8}"
            )
    verdict = "meets" if worst <= 1.2 else "ABOVE"
    print(f"worst p50 ratio {worst:.3f} ({verdict} goal <= 1.2)  cores={cores}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
