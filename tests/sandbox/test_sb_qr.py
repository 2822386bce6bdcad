"""The sandbox's QR codes scan: pages and CoinPay.in.th's ``qr_data``, fetched
over real HTTP and read back with a real QR decoder."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
import requests
from sandbox_helpers import cp24, create_invoice, th_ok

from saleor_cryptopay.sandbox import SandboxServer
from tests.qr_decode import decode_qr

_IMG = re.compile(r'<img [^>]*src="(data:image/png;base64,[^"]+)"')


def page_qr_codes(url: str) -> list[str]:
    resp = requests.get(url, timeout=5)
    assert resp.status_code == 200
    return [decode_qr(src) for src in _IMG.findall(resp.text)]


def assert_uri(uri: str, scheme: str, address: str, amount: str) -> None:
    """``<scheme>:<address>?amount=<the same amount, plain decimal>``."""
    match = re.fullmatch(rf"{scheme}:([^?]+)\?amount=([0-9]+(?:\.[0-9]+)?)", uri)
    assert match, uri
    assert match.group(1) == address
    assert Decimal(match.group(2)) == Decimal(amount)


@pytest.mark.parametrize("coin,scheme", [("BTC", "bitcoin"), ("LTC", "litecoin")])
def test_coinpay24_page_qr_is_the_payment_uri(sb: SandboxServer, coin: str, scheme: str) -> None:
    inv = create_invoice(sb, price_amount="123.45")
    assert page_qr_codes(inv["payment_url"]) == []  # no coin, no address: nothing to scan
    data = cp24(sb, f"/invoices/{inv['id']}/checkout", json={"pay_currency": coin}).json()
    (uri,) = page_qr_codes(inv["payment_url"])
    assert_uri(uri, scheme, data["payment_address"], data["pay_amount"])


def test_coinpay24_page_qr_for_a_coin_without_a_scheme_is_the_address(sb: SandboxServer) -> None:
    inv = create_invoice(sb)
    data = cp24(sb, f"/invoices/{inv['id']}/checkout", json={"pay_currency": "ETH"}).json()
    assert page_qr_codes(inv["payment_url"]) == [data["payment_address"]]


def test_coinpay_th_qr_data_and_page_scan_as_bip21(sb: SandboxServer) -> None:
    order = th_ok(sb, "paybox", amount="1000", currency="THB")
    uri = decode_qr(order["qr_data"])  # bare base64, as the provider sends it
    assert_uri(uri, "bitcoin", order["address"], repr(order["btc_amount"]))
    assert page_qr_codes(f"{sb.url}/coinpay_th/order/{order['order_hash']}") == [uri]
