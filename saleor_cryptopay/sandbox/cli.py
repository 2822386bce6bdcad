"""``cryptopay-sandbox``: run the sandbox in the foreground."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Optional

from .server import (
    DEFAULT_COINPAY24_KEY,
    DEFAULT_ICOINPAY_KEY,
    DEFAULT_TH_CREDENTIALS,
    SandboxServer,
)


def _th_pair(value: str) -> tuple[str, str]:
    key, sep, secret = value.partition(":")
    if not sep or not key or not secret:
        raise argparse.ArgumentTypeError("expected KEY:SECRET")
    return key, secret


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="cryptopay-sandbox",
        description="Local CoinPay24 + CoinPay.in.th + iCoinPay sandbox (no real coins).",
    )
    p.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 = any free)")
    p.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="multiply callback retry intervals and --rate-limit windows (e.g. 0.01)",
    )
    p.add_argument("--state-file", help="persist state to this JSON file across restarts")
    p.add_argument(
        "--coinpay24-key",
        action="append",
        metavar="KEY",
        help=f"accepted CoinPay24 api_key (repeatable; default {DEFAULT_COINPAY24_KEY})",
    )
    p.add_argument(
        "--coinpay-th-key",
        action="append",
        type=_th_pair,
        metavar="KEY:SECRET",
        help="accepted CoinPay.in.th key and secret (repeatable)",
    )
    p.add_argument(
        "--icoinpay-key",
        action="append",
        metavar="KEY",
        help=f"accepted iCoinPay api_key (repeatable; default {DEFAULT_ICOINPAY_KEY})",
    )
    p.add_argument("--invoice-ttl", type=float, default=1200, help="CoinPay24 invoice lifetime, s")
    p.add_argument("--order-ttl", type=float, default=900, help="CoinPay.in.th rate lock, s")
    p.add_argument("--delay", type=float, default=0.0, help="delay every API answer by S seconds")
    p.add_argument(
        "--rate-limit",
        nargs="?",
        type=int,
        const=0,
        default=None,
        metavar="N",
        help="answer 429 + Retry-After beyond the providers' published quotas per API key "
        "(CoinPay24: 200 calls/min, 1000 calls/h, 1000 invoices/h; windows scaled by "
        "--time-scale); with N, beyond a flat N calls per minute per provider instead",
    )
    p.add_argument("--public-url", help="base URL to put in payment links (tunnels, Docker)")
    p.add_argument("-q", "--quiet", action="store_true", help="do not log every request")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(asctime)s %(name)s %(message)s",
    )
    th = dict(args.coinpay_th_key) if args.coinpay_th_key else dict(DEFAULT_TH_CREDENTIALS)
    sb = SandboxServer(
        args.host,
        args.port,
        time_scale=args.time_scale,
        state_file=args.state_file,
        coinpay24_api_keys=tuple(args.coinpay24_key or (DEFAULT_COINPAY24_KEY,)),
        coinpay_th_credentials=th,
        invoice_ttl_seconds=args.invoice_ttl,
        order_ttl_seconds=args.order_ttl,
        delay=args.delay,
        rate_limit_per_minute=args.rate_limit or None,
        rate_limit=args.rate_limit == 0,
        public_url=args.public_url,
        icoinpay_api_keys=tuple(args.icoinpay_key or (DEFAULT_ICOINPAY_KEY,)),
    )
    try:
        sb.start()
    except OSError as exc:
        print(
            f"cryptopay-sandbox: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr
        )
        return 1
    done = threading.Event()

    def _stop(signum: int, frame: object) -> None:
        done.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    lines = [
        f"cryptopay sandbox running at {sb.url}  (Ctrl-C to stop)",
        f"  CoinPay24 base URL:     {sb.coinpay24_base}",
        f"  CoinPay24 api_key:      {', '.join(sb.config.coinpay24_api_keys)}",
        f"  CoinPay.in.th base URL: {sb.coinpay_th_base}",
    ]
    lines += [f"  CoinPay.in.th key/secret: {k} / {s}" for k, s in th.items()]
    lines += [
        f"  iCoinPay base URL:      {sb.icoinpay_base}",
        f"  iCoinPay api_key:       {', '.join(sb.config.icoinpay_api_keys)}",
        f"  Control API / overview: {sb.url}/_sandbox/",
    ]
    print("\n".join(lines), flush=True)
    try:
        while not done.wait(0.5):
            pass
    finally:
        sb.stop()
        print("cryptopay sandbox stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
