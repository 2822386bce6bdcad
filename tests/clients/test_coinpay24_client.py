"""CoinPay24 client against the sandbox over real HTTP on loopback."""

import logging
from datetime import date, timedelta
from decimal import Decimal

import pytest

from saleor_cryptopay.providers import PaymentStatus, ProviderError
from saleor_cryptopay.providers.coinpay24 import CoinPay24Client

from ..checks.servers import json_answer, serve


def create(cp24, amount="10.00", currency="USD", order_id="A1", **kw):
    return cp24.create_invoice(
        order_id=order_id, price_amount=Decimal(amount), price_currency=currency, **kw
    )


def test_create_get_and_checkout(cp24):
    inv = create(cp24, title="T", description="D", callback_url="http://127.0.0.1:9/cb")
    assert inv.id and inv.payment_url and inv.status is PaymentStatus.NEW
    assert inv.price_amount == Decimal("10.00") and inv.price_currency == "USD"
    assert inv.expire_at is not None and inv.expire_at.tzinfo is not None

    chosen = cp24.checkout(inv.id, pay_currency="btc")
    assert chosen.pay_currency == "BTC" and chosen.payment_address
    assert isinstance(chosen.pay_amount, Decimal) and chosen.pay_amount > 0
    assert chosen.status is PaymentStatus.WAITING

    again = cp24.get_invoice(inv.id)
    assert again.id == inv.id and again.pay_amount == chosen.pay_amount


def test_amount_goes_out_with_currency_precision(cp24, sb):
    create(cp24, amount="1500.4", currency="JPY")
    (stored,) = sb.invoices()
    assert stored["price_amount"] == "1500"


def test_paid_overpaid_underpaid_read_back(cp24, sb):
    for action, expected in [
        ("pay", PaymentStatus.PAID),
        ("overpay", PaymentStatus.OVERPAID),
        ("underpay", PaymentStatus.UNDERPAID),
    ]:
        inv = create(cp24, order_id=action)
        cp24.checkout(inv.id, pay_currency="BTC")
        sb.act("coinpay24", inv.id, action)
        read = cp24.get_invoice(inv.id)
        assert read.status is expected, action
        if action == "underpay":
            assert read.underpaid_amount > 0


def test_wrong_key_is_401_not_retryable(sb):
    client = CoinPay24Client("wrong-key", base_url=sb.coinpay24_base)
    with pytest.raises(ProviderError) as err:
        create(client)
    assert err.value.status_code == 401 and not err.value.retryable
    assert "wrong-key" not in str(err.value) and "wrong-key" not in repr(err.value)


def test_validation_error_carries_provider_message(cp24):
    with pytest.raises(ProviderError) as err:
        create(cp24, currency="XXX")
    assert err.value.status_code == 422 and not err.value.retryable
    assert err.value.message


def test_unknown_invoice_is_404(cp24):
    with pytest.raises(ProviderError) as err:
        cp24.get_invoice("999999")
    assert err.value.status_code == 404


def test_list_all_pages_and_date_filters(cp24, sb):
    ids = {create(cp24, order_id=f"o{i}").id for i in range(7)}
    page = cp24.list_invoices(per_page=3)
    assert page.total_invoices == 7 and page.total_pages == 3 and len(page.invoices) == 3
    before = sb.request_counts().get("coinpay24", {})
    listed = list(cp24.iter_invoices(per_page=3))
    after = sb.request_counts()["coinpay24"]
    assert {i.id for i in listed} == ids
    calls = sum(after.values()) - sum(before.values())
    assert calls == 3  # one per page
    today = date.today()
    assert len(list(cp24.iter_invoices(created_from=today - timedelta(days=1)))) == 7
    assert list(cp24.iter_invoices(created_to=today - timedelta(days=2))) == []


def test_per_page_is_checked_locally(cp24):
    with pytest.raises(ValueError):
        cp24.list_invoices(per_page=101)


@pytest.mark.parametrize(
    "mode,status,code",
    [
        ("status", 503, None),
        ("html", 502, None),
        ("empty", 500, None),
        ("bad_json", 200, "bad_response"),
    ],
)
def test_broken_answers_are_clear_retryable_errors(cp24, sb, mode, status, code):
    sb.inject_fault("coinpay24", mode, count=1, status=503)
    with pytest.raises(ProviderError) as err:
        create(cp24)
    assert err.value.retryable
    assert err.value.status_code == status
    if code:
        assert err.value.code == code
    # and the next call works
    assert create(cp24).id


def test_html_error_page_is_named_as_such(cp24, sb):
    sb.inject_fault("coinpay24", "html", count=1)
    with pytest.raises(ProviderError, match="HTML"):
        create(cp24)


def test_rate_limit_gives_retry_after(cp24, sb):
    sb.inject_fault("coinpay24", "rate_limit", count=1, retry_after=7)
    with pytest.raises(ProviderError) as err:
        create(cp24)
    assert err.value.status_code == 429 and err.value.retryable
    assert err.value.retry_after == 7


def test_timeout_is_retryable(sb):
    client = CoinPay24Client(sb.coinpay24_api_key, base_url=sb.coinpay24_base, timeout=(1, 0.3))
    sb.inject_fault("coinpay24", "delay", count=1, seconds=1.0)
    with pytest.raises(ProviderError) as err:
        create(client)
    assert err.value.retryable and "timed out" in err.value.message


def test_connection_refused_is_retryable():
    client = CoinPay24Client("k", base_url="http://127.0.0.1:9/v1", timeout=(0.5, 0.5))
    with pytest.raises(ProviderError) as err:
        client.get_invoice("1")
    assert err.value.retryable


def test_signed_callback_verifies_and_tampering_fails(cp24, sb):
    inv = create(cp24, callback_url="http://127.0.0.1:9/never")
    cp24.checkout(inv.id, pay_currency="BTC")
    sb.act("coinpay24", inv.id, "pay")
    deliveries = sb.callbacks("coinpay24", inv.id)
    assert deliveries
    fields = deliveries[-1]["fields"]
    pairs = list(fields.items()) if isinstance(fields, dict) else [tuple(p) for p in fields]
    assert cp24.verify_callback(pairs)
    tampered = [(k, "canceled" if k == "status" else v) for k, v in pairs]
    assert not cp24.verify_callback(tampered)
    assert not cp24.verify_callback([(k, v) for k, v in pairs if k != "verify_hash"])
    other = CoinPay24Client("another-key", base_url=sb.coinpay24_base)
    assert not other.verify_callback(pairs)


def test_no_secret_in_logs(sb, caplog):
    caplog.set_level(logging.DEBUG)
    client = CoinPay24Client(sb.coinpay24_api_key, base_url=sb.coinpay24_base)
    create(client)
    assert "coinpay24" in caplog.text
    assert sb.coinpay24_api_key not in caplog.text
    assert sb.coinpay24_api_key not in repr(client)


def test_base_url_must_be_http():
    with pytest.raises(ValueError):
        CoinPay24Client("k", base_url="ftp://example.com")


@pytest.mark.parametrize("provider", ["coinpay24", "coinpay_th"])
def test_redirects_are_never_followed(sb, cp24, th, provider):
    """A 307 would re-send the request, credentials included, to another host."""
    with serve(lambda *a: json_answer("{}")) as (other, seen):
        sb.inject_fault(provider, "redirect", location=f"{other}/steal")
        with pytest.raises(ProviderError) as err:
            if provider == "coinpay24":
                cp24.create_invoice(order_id="r1", price_amount=Decimal("10"), price_currency="USD")
            else:
                th.balance()
    assert err.value.code == "redirect" and err.value.status_code == 307
    assert seen.requests == []
