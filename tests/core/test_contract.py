"""The storefront contract (``contract.confirmation_data``) for invoices made at
the sandbox over real HTTP: its QR code scans as the invoice's payment URI."""

from __future__ import annotations

import json
import re
from decimal import Decimal

import pytest

from saleor_cryptopay.bridges.base import Created, Observed
from saleor_cryptopay.bridges.coinpay24 import CoinPay24Bridge
from saleor_cryptopay.bridges.coinpay_th import CoinPayThBridge
from saleor_cryptopay.contract import confirmation_data
from saleor_cryptopay.lifecycle import Observation
from saleor_cryptopay.models import Invoice
from saleor_cryptopay.providers.coinpay24 import CoinPay24Client
from saleor_cryptopay.providers.coinpay_th import CoinPayThClient
from saleor_cryptopay.providers.status import PaymentStatus
from saleor_cryptopay.sandbox import SandboxServer
from saleor_cryptopay.sync import apply_observation
from tests.qr_decode import decode_qr

pytestmark = pytest.mark.django_db

BTC_ADDRESS = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"

KEYS = {
    "provider", "invoice_id", "status", "payment_url", "amount", "currency", "pay_amount",
    "pay_currency", "address", "expires_at", "payment_uri", "qr_code",
}  # fmt: skip


@pytest.fixture(scope="module")
def sb():
    with SandboxServer(port=0, time_scale=0.0005) as server:
        yield server


def coinpay24(sb: SandboxServer, coin: str = "") -> CoinPay24Bridge:
    client = CoinPay24Client(sb.coinpay24_api_key, base_url=sb.coinpay24_base, timeout=(2, 2))
    return CoinPay24Bridge(client, pay_currency=coin)


def coinpay_th(sb: SandboxServer) -> CoinPayThBridge:
    client = CoinPayThClient(
        sb.coinpay_th_key, sb.coinpay_th_secret, base_url=sb.coinpay_th_base, timeout=(2, 2)
    )
    return CoinPayThBridge(client)


def stored(bridge, amount: str, currency: str) -> Invoice:
    """Create at the provider and keep it as the plugin does, then read it back
    from the database (Decimals come back with the column's 18 places)."""
    created: Created = bridge.create(
        reference="ref-1",
        amount=Decimal(amount),
        currency=currency,
        callback_url="https://shop.example/callback",
        success_url=None,
        cancel_url=None,
        title="t",
        description="d",
    )
    invoice = Invoice.objects.create(
        provider=bridge.provider,
        channel_slug="main",
        provider_invoice_id=created.provider_invoice_id,
        amount=Decimal(amount),
        currency=currency,
        status=created.status.value,
        payment_url=created.payment_url,
        address=created.address,
        pay_amount=created.pay_amount,
        pay_currency=created.pay_currency,
        expires_at=created.expires_at,
        provider_data={**created.data, "qr_data": created.qr_data},
    )
    invoice.refresh_from_db()
    return invoice


def contract(invoice: Invoice) -> dict:
    data = confirmation_data(invoice)
    assert json.loads(json.dumps(data)) == data  # what Saleor sends is JSON
    return data


def assert_scans_as_payment_uri(data: dict, scheme: str) -> None:
    uri = decode_qr(data["qr_code"])
    assert uri == data["payment_uri"]
    match = re.fullmatch(rf"{scheme}:([^?]+)\?amount=([0-9]+(?:\.[0-9]*[1-9])?)", uri)
    assert match, uri
    assert match.group(1) == data["address"]
    assert Decimal(match.group(2)) == Decimal(data["pay_amount"])


def test_coinpay24_white_label_gets_a_bitcoin_qr(sb):
    data = contract(stored(coinpay24(sb, "BTC"), "30.00", "USD"))
    assert set(data) == KEYS
    assert data["pay_currency"] == "BTC" and data["payment_url"].startswith(sb.url)
    assert data["qr_code"].startswith("data:image/png;base64,")
    assert_scans_as_payment_uri(data, "bitcoin")


def test_coinpay24_white_label_altcoin(sb):
    assert_scans_as_payment_uri(contract(stored(coinpay24(sb, "LTC"), "30.00", "USD")), "litecoin")


def test_coinpay24_white_label_coin_without_a_scheme_scans_as_the_address(sb):
    data = contract(stored(coinpay24(sb, "ETH"), "30.00", "USD"))
    assert data["payment_uri"] == data["address"] and data["address"].startswith("0x")
    assert decode_qr(data["qr_code"]) == data["address"]


def test_coinpay24_hosted_has_no_address_and_no_qr(sb):
    data = contract(stored(coinpay24(sb), "30.00", "USD"))
    assert set(data) == KEYS
    assert data["address"] is None and data["payment_uri"] is None and data["qr_code"] is None


def test_coinpay_th_gets_our_qr_and_keeps_the_providers(sb):
    invoice = stored(coinpay_th(sb), "1000.00", "THB")
    data = contract(invoice)
    assert set(data) == KEYS | {"qr_data"}
    assert_scans_as_payment_uri(data, "bitcoin")
    assert data["payment_uri"] == data["payment_url"]
    assert decode_qr(data["qr_data"]) == data["payment_uri"]  # the sandbox draws the same


def test_provider_qr_data_survives_a_re_read(sb):
    invoice = stored(coinpay_th(sb), "1000.00", "THB")
    qr_data = invoice.provider_data["qr_data"]
    observed = Observed(
        provider_invoice_id=invoice.provider_invoice_id,
        observation=Observation(
            status=PaymentStatus.CONFIRMING, price_amount=Decimal("1000"), price_currency="THB"
        ),
        data={"order_status": 1},
    )
    apply_observation(invoice, observed, Decimal(0))
    invoice.refresh_from_db()
    assert invoice.provider_data == {"order_status": 1, "qr_data": qr_data}
    assert contract(invoice)["qr_data"] == qr_data


def test_an_address_that_is_no_address_gets_no_qr():
    invoice = Invoice(
        provider="coinpay24",
        channel_slug="main",
        amount=Decimal("1"),
        currency="USD",
        address="bc1q?amount=1000",
        pay_currency="BTC",
        pay_amount=Decimal("0.1"),
    )
    data = confirmation_data(invoice)
    assert data["address"] == "bc1q?amount=1000"
    assert data["payment_uri"] is None and data["qr_code"] is None


def test_amounts_read_the_same_before_and_after_the_database():
    invoice = Invoice(
        provider="coinpay24",
        channel_slug="main",
        provider_invoice_id="77",
        amount=Decimal("30.00"),
        currency="USD",
        address=BTC_ADDRESS,
        pay_currency="BTC",
        pay_amount=Decimal("0.00060000"),
    )
    fresh = confirmation_data(invoice)
    invoice.save()
    invoice.refresh_from_db()
    assert invoice.pay_amount == Decimal("0.0006") and str(invoice.pay_amount) != "0.0006"
    assert confirmation_data(invoice) == fresh
    assert (fresh["amount"], fresh["pay_amount"]) == ("30.00", "0.0006")
    assert fresh["payment_uri"] == f"bitcoin:{BTC_ADDRESS}?amount=0.0006"
