"""``--rate-limit``: CoinPay24's published quotas per API key, time-scaled."""

from __future__ import annotations

import time

import requests

from saleor_cryptopay.sandbox import SandboxServer
from saleor_cryptopay.sandbox.cli import build_parser
from saleor_cryptopay.sandbox.quotas import KeyQuotas


def post(sb: SandboxServer, key: str, path: str = "/invoices") -> requests.Response:
    return requests.post(sb.coinpay24_base + path, json={"api_key": key}, timeout=5)


def test_per_key_minute_quota_with_scaled_retry_after() -> None:
    with SandboxServer(
        port=0, time_scale=0.1, rate_limit=True, coinpay24_api_keys=("k1", "k2")
    ) as sb:
        session = requests.Session()
        codes = [
            session.post(
                sb.coinpay24_base + "/invoices", json={"api_key": "k1"}, timeout=5
            ).status_code
            for _ in range(200)
        ]
        assert codes == [200] * 200
        refused = post(sb, "k1")
        assert refused.status_code == 429
        assert refused.json()["reason"] == "RateLimitExceeded"
        assert 0 < float(refused.headers["Retry-After"]) <= 6  # a "minute" is 6 s here
        assert post(sb, "k2").status_code == 200  # per key
        assert requests.post(sb.coinpay_th_base + "/balance/", timeout=5).status_code != 429
        assert sb.quotas.refused == 1
        sb.reset()
        assert post(sb, "k1").status_code == 200


def test_refused_calls_do_not_count_and_windows_slide() -> None:
    # minute 1.2 s, hour 72 s: 200 calls fit in the minute on a loaded machine
    quotas = KeyQuotas(time_scale=0.02)
    assert all(quotas.take("coinpay24", "k", "invoices/list") is None for _ in range(200))
    wait = quotas.take("coinpay24", "k", "invoices/create")
    assert wait is not None and 0 < wait <= 1.2
    time.sleep(wait + 0.05)
    assert quotas.take("coinpay24", "k", "invoices/create") is None
    assert quotas.take("coinpay_th", "k", "balance") is None  # no published quota


def test_cli_flag_turns_on_the_published_quotas() -> None:
    args = build_parser().parse_args(["--rate-limit"])
    assert args.rate_limit == 0  # the published per-key quotas
    assert build_parser().parse_args(["--rate-limit", "50"]).rate_limit == 50  # flat N/min
    assert build_parser().parse_args([]).rate_limit is None
