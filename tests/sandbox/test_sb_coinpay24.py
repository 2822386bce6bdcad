"""CoinPay24 wire protocol: create, checkout, get, list, errors, callbacks."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sandbox_helpers import CP24_KEY, Listener, control, cp24, create_invoice

from saleor_cryptopay.providers.coinpay24_hash import verify_callback
from saleor_cryptopay.sandbox import SandboxServer

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$")


# -- create -------------------------------------------------------------------


def test_create_with_json_body(sb: SandboxServer) -> None:
    inv = create_invoice(sb, order_id="A-1", price_amount="10.5", title="Cart #1")
    assert isinstance(inv["id"], int)
    assert inv["order_id"] == "A-1"
    assert inv["status"] == "new"
    assert inv["price_amount"] == "10.50" and inv["price_currency"] == "USD"
    assert ISO.match(inv["created_at"]) and ISO.match(inv["expire_at"])
    created = datetime.fromisoformat(inv["created_at"])
    assert datetime.fromisoformat(inv["expire_at"]) - created == timedelta(seconds=1200)
    assert re.fullmatch(re.escape(sb.url) + r"/coinpay24/invoice/[0-9a-f]{32}", inv["payment_url"])


def test_create_with_form_body_and_amount_alias(sb: SandboxServer) -> None:
    resp = cp24(
        sb,
        "/invoices/create",
        form={"order_id": "123456", "amount": "100", "price_currency": "eur", "title": "Test"},
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["price_amount"] == "100.00"
    assert resp.json()["price_currency"] == "EUR"


def test_create_accepts_json_numbers(sb: SandboxServer) -> None:
    inv = create_invoice(sb, price_amount=19.99, order_id=42)
    assert inv["price_amount"] == "19.99" and inv["order_id"] == "42"


@pytest.mark.parametrize("key", [None, "", "wrong-key"])
def test_bad_api_key_is_401(sb: SandboxServer, key: str | None) -> None:
    body = {"order_id": "1", "price_amount": "1", "price_currency": "USD"}
    if key is not None:
        body["api_key"] = key
    resp = cp24(sb, "/invoices/create", json=body, key=None)
    assert resp.status_code == 401
    data = resp.json()
    assert data["message"] == "Unauthorized: invalid api_key"
    assert data["reason"] == "BadAuthToken" and data["error_message"]


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"price_amount": "10.001"}, "decimal places"),
        ({"price_amount": "100.5", "price_currency": "JPY"}, "decimal places"),
        ({"price_amount": "0"}, "greater than 0"),
        ({"price_amount": "-5"}, "positive decimal"),
        ({"price_amount": "1e3"}, "positive decimal"),
        ({"price_amount": "abc"}, "positive decimal"),
        ({"price_currency": "XYZ"}, "not supported"),
        ({"order_id": ""}, "order_id is required"),
        ({"title": "x" * 151}, "at most 150"),
        ({"callback_url": "ftp://example.com/cb"}, "callback_url"),
    ],
)
def test_create_validation_is_422(sb: SandboxServer, fields: dict, fragment: str) -> None:
    body = {"order_id": "1", "price_amount": "10", "price_currency": "USD", **fields}
    resp = cp24(sb, "/invoices/create", json=body)
    assert resp.status_code == 422, resp.text
    data = resp.json()
    assert {"message", "reason", "error_message", "errors"} <= data.keys()
    assert any(fragment in e for e in data["errors"]), data


def test_create_missing_required_fields(sb: SandboxServer) -> None:
    resp = cp24(sb, "/invoices/create", json={})
    assert resp.status_code == 422
    errors = " ".join(resp.json()["errors"])
    for field in ("order_id", "price_amount", "price_currency"):
        assert field in errors


def test_btc_priced_invoice_keeps_8_decimals(sb: SandboxServer) -> None:
    inv = create_invoice(sb, price_amount="0.00123456", price_currency="BTC")
    assert inv["price_amount"] == "0.00123456"


def test_create_with_get_is_405(sb: SandboxServer) -> None:
    assert cp24(sb, "/invoices/create", method="GET").status_code == 405


# -- checkout and get -----------------------------------------------------------


def test_checkout_fixes_coin_amount_and_address(sb: SandboxServer) -> None:
    inv = create_invoice(sb, price_amount="100.00", price_currency="USD")
    resp = cp24(
        sb,
        f"/invoices/{inv['id']}/checkout",
        form={"pay_currency": "BTC", "purchaser_email": "a@example.com"},
    )
    assert resp.status_code == 200, resp.text
    data = resp.json()
    assert data["status"] == "pending"
    assert data["pay_amount"] == "0.00200000"  # 1 BTC = 50000 USD
    assert data["pay_currency"] == "BTC"
    assert data["payment_address"].startswith("bc1q")
    for key in ("id", "order_id", "payment_url", "price_amount", "price_currency", "expire_at"):
        assert key in data
    thb = create_invoice(sb, price_amount="1000", price_currency="THB")
    data = cp24(sb, f"/invoices/{thb['id']}/checkout", json={"pay_currency": "ETH"}).json()
    # 1000 THB = 28.5714... USD = 0.0114285714... ETH, quantised to 18 places
    assert Decimal(data["pay_amount"]) == Decimal("0.011428571428571429")
    assert data["payment_address"].startswith("0x")


def test_checkout_errors(sb: SandboxServer) -> None:
    inv = create_invoice(sb)
    resp = cp24(sb, f"/invoices/{inv['id']}/checkout", json={"pay_currency": "DOGE"})
    assert resp.status_code == 422 and resp.json()["errors"]
    resp = cp24(sb, "/invoices/999999/checkout", json={"pay_currency": "BTC"})
    assert resp.status_code == 404
    assert resp.json()["message"] == "Invoice not found"
    assert resp.json()["reason"] == "InvoiceNotFound"
    sb.act("coinpay24", inv["id"], "cancel")
    resp = cp24(sb, f"/invoices/{inv['id']}/checkout", json={"pay_currency": "BTC"})
    assert resp.status_code == 422


def test_get_invoice_post_and_get(sb: SandboxServer) -> None:
    inv = create_invoice(sb)
    data = cp24(sb, f"/invoices/{inv['id']}").json()
    assert data["status"] == "new"
    assert "pay_amount" not in data and "payment_address" not in data
    assert data["underpaid_amount"] == "0" and data["overpaid_amount"] == "0"
    assert data["receive_currency"] == "USD"
    cp24(sb, f"/invoices/{inv['id']}/checkout", json={"pay_currency": "LTC"})
    got = cp24(sb, f"/invoices/{inv['id']}", form={}, method="GET").json()
    assert got["pay_currency"] == "LTC" and got["pay_amount"] == "1.00000000"
    for key in (
        "id",
        "order_id",
        "status",
        "price_amount",
        "price_currency",
        "pay_amount",
        "pay_currency",
        "payment_address",
        "created_at",
        "expire_at",
        "payment_url",
        "underpaid_amount",
        "overpaid_amount",
        "receive_currency",
        "receive_amount",
    ):
        assert key in got


def test_other_keys_cannot_see_an_invoice() -> None:
    with SandboxServer(port=0, coinpay24_api_keys=("k1", "k2")) as sb:
        resp = cp24(
            sb,
            "/invoices/create",
            json={"order_id": "1", "price_amount": "1", "price_currency": "USD"},
            key="k1",
        )
        inv = resp.json()
        assert cp24(sb, f"/invoices/{inv['id']}", key="k1").status_code == 200
        assert cp24(sb, f"/invoices/{inv['id']}", key="k2").status_code == 404
        assert cp24(sb, "/invoices", key="k2").json()["total_invoices"] == 0


# -- list -------------------------------------------------------------------------


def test_list_pagination_and_sort(sb: SandboxServer) -> None:
    ids = [create_invoice(sb, order_id=f"O{i}")["id"] for i in range(5)]
    page1 = cp24(sb, "/invoices", json={"per_page": 2, "page": 1}).json()
    assert page1["current_page"] == 1 and page1["per_page"] == 2
    assert page1["total_invoices"] == 5 and page1["total_pages"] == 3
    assert [i["id"] for i in page1["invoices"]] == ids[::-1][:2]  # newest first
    page3 = cp24(sb, "/invoices", form={"per_page": "2", "page": "3"}).json()
    assert [i["id"] for i in page3["invoices"]] == [ids[0]]
    asc = cp24(sb, "/invoices", json={"sort": "created_at_asc"}).json()
    assert [i["id"] for i in asc["invoices"]] == ids
    assert asc["per_page"] == 100


@pytest.mark.parametrize(
    "params",
    [{"per_page": 101}, {"per_page": 0}, {"page": 0}, {"sort": "id"}, {"created_at[from]": "x"}],
)
def test_list_validation(sb: SandboxServer, params: dict) -> None:
    resp = cp24(sb, "/invoices", form=params)
    assert resp.status_code == 422 and resp.json()["errors"]


def test_list_date_filters_are_inclusive_utc_days(sb: SandboxServer) -> None:
    sb.advance_time(-2 * 86400)
    old = create_invoice(sb, order_id="old")
    sb.advance_time(2 * 86400)
    new = create_invoice(sb, order_id="new")
    today = datetime.now(UTC).date()
    two_days_ago = (today - timedelta(days=2)).isoformat()

    def ids(**params: str) -> list[int]:
        return [i["id"] for i in cp24(sb, "/invoices", form=params).json()["invoices"]]

    assert ids(**{"created_at[from]": today.isoformat()}) == [new["id"]]
    assert ids(**{"created_at[to]": two_days_ago}) == [old["id"]]
    assert ids(**{"created_at[from]": two_days_ago, "created_at[to]": two_days_ago}) == [old["id"]]
    # JSON clients may nest the filter
    nested = cp24(sb, "/invoices", json={"created_at": {"from": today.isoformat()}}).json()
    assert [i["id"] for i in nested["invoices"]] == [new["id"]]


# -- expiry -------------------------------------------------------------------------


def test_expiry_is_lazy_on_read() -> None:
    with SandboxServer(port=0, invoice_ttl_seconds=600) as sb:
        inv = create_invoice(sb)
        sb.advance_time(601)
        assert cp24(sb, f"/invoices/{inv['id']}").json()["status"] == "expired"


def test_background_sweep_expires_and_sends_callback(listener: Listener) -> None:
    with SandboxServer(port=0, invoice_ttl_seconds=0.3, time_scale=0.001) as sb:
        inv = create_invoice(sb, callback_url=listener.url)
        (cb,) = sb.wait_for_callbacks(1, timeout=5)
        assert cb["state"] == "delivered" and cb["event"] == "expired"
        fields = dict(listener.wait(1)[0]["pairs"])
        assert fields["status"] == "expired" and fields["txn_id"] == str(inv["id"])
        # no coin was chosen: no pay_* fields
        assert "pay_amount" not in fields and "pay_currency" not in fields


# -- callbacks ------------------------------------------------------------------------


def test_callback_is_form_posted_and_verifies(sb: SandboxServer, listener: Listener) -> None:
    inv = create_invoice(sb, order_id="shop-77", callback_url=listener.url)
    cp24(sb, f"/invoices/{inv['id']}/checkout", json={"pay_currency": "BTC"})
    sb.act("coinpay24", inv["id"], "pay")
    records = listener.wait(2)
    sb.wait_for_callbacks(2)
    assert [dict(r["pairs"])["status"] for r in records] == ["pending", "paid"]
    rec = records[1]
    assert rec["content_type"].startswith("application/x-www-form-urlencoded")
    fields = dict(rec["pairs"])
    assert fields["txn_id"] == str(inv["id"]) and fields["order_id"] == "shop-77"
    assert fields["price_amount"] == "100.00" and fields["price_currency"] == "USD"
    assert fields["pay_amount"] == "0.00200000" and fields["pay_currency"] == "BTC"
    assert fields["receive_currency"] == "USD" and fields["receive_amount"] == "100.00"
    assert fields["underpaid_amount"] == "0" and fields["overpaid_amount"] == "0"
    assert ISO.match(fields["created_at"])
    assert verify_callback(rec["pairs"], CP24_KEY)
    assert not verify_callback(rec["pairs"], "another-key")
    tampered = [(k, "999.00" if k == "price_amount" else v) for k, v in rec["pairs"]]
    assert not verify_callback(tampered, CP24_KEY)


def test_callback_signed_with_the_creating_key(listener: Listener) -> None:
    with SandboxServer(port=0, coinpay24_api_keys=("key-a", "key-b"), time_scale=0.001) as sb:
        resp = cp24(
            sb,
            "/invoices/create",
            key="key-b",
            json={
                "order_id": "1",
                "price_amount": "5",
                "price_currency": "EUR",
                "callback_url": listener.url,
            },
        )
        sb.act("coinpay24", resp.json()["id"], "pay")
        pairs = listener.wait(1)[0]["pairs"]
        assert verify_callback(pairs, "key-b") and not verify_callback(pairs, "key-a")


def test_callback_retries_on_500_then_succeeds(sb: SandboxServer, listener: Listener) -> None:
    listener.respond(500, 500, 503)
    inv = create_invoice(sb, callback_url=listener.url)
    sb.act("coinpay24", inv["id"], "pay")
    (cb,) = sb.wait_for_callbacks(1, timeout=5)
    assert cb["state"] == "delivered"
    assert [a["http_status"] for a in cb["attempts"]] == [500, 500, 503, 200]
    assert cb["attempts"][0]["response_body"] == "nope"
    assert len(listener.records) == 4


@pytest.mark.parametrize("status", [301, 302, 401])
def test_redirect_or_401_cancels_retries(
    sb: SandboxServer, listener: Listener, status: int
) -> None:
    listener.respond(status)
    inv = create_invoice(sb, callback_url=listener.url)
    sb.act("coinpay24", inv["id"], "pay")
    (cb,) = sb.wait_for_callbacks(1, timeout=5)
    assert cb["state"] == "cancelled"
    assert [a["http_status"] for a in cb["attempts"]] == [status]
    time.sleep(0.1)  # 3 retry intervals at this time_scale: nothing more may arrive
    assert len(listener.records) == 1


def test_time_scale_compresses_retries(listener: Listener) -> None:
    # 7 answers of 500: five 1-minute gaps and one 5-minute gap = 10 minutes
    # of provider time; at time_scale 0.0005 that is 0.3 s.
    listener.respond(*([500] * 7))
    with SandboxServer(port=0, time_scale=0.0005) as sb:
        inv = create_invoice(sb, callback_url=listener.url)
        started = time.monotonic()
        sb.act("coinpay24", inv["id"], "pay")
        (cb,) = sb.wait_for_callbacks(1, timeout=5)
        elapsed = time.monotonic() - started
    assert cb["state"] == "delivered" and len(cb["attempts"]) == 8
    assert elapsed >= 0.25  # the schedule kept (compressed: it came within the 5 s wait)
    stamps = [datetime.fromisoformat(a["at"]) for a in cb["attempts"]]
    gaps = [(b - a).total_seconds() for a, b in zip(stamps, stamps[1:], strict=False)]
    assert all(g >= 0.025 for g in gaps[:5])  # 60 s * 0.0005 = 30 ms (ms-rounded stamps)
    assert gaps[6] >= 0.14  # 300 s * 0.0005 = 150 ms


def test_exhausted_after_40_attempts(listener: Listener) -> None:
    listener.respond(*([500] * 45))
    # the whole 40-send schedule (6.5 days) in about 0.6 s
    with SandboxServer(port=0, time_scale=0.000001) as sb:
        inv = create_invoice(sb, callback_url=listener.url)
        sb.act("coinpay24", inv["id"], "pay")
        (cb,) = sb.wait_for_callbacks(1, timeout=10)
    assert cb["state"] == "exhausted" and len(cb["attempts"]) == 40


def test_unreachable_callback_records_the_error(sb: SandboxServer) -> None:
    inv = create_invoice(sb, callback_url="http://127.0.0.1:9/nothing-listens")
    sb.act("coinpay24", inv["id"], "pay")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        (cb,) = sb.callbacks(invoice=inv["id"])
        if cb["attempts"]:
            break
        time.sleep(0.01)
    assert cb["attempts"][0]["http_status"] is None and cb["attempts"][0]["error"]
    assert cb["state"] == "pending"  # still retrying


def test_http_callbacks_listing_and_retry(sb: SandboxServer, listener: Listener) -> None:
    listener.respond(401)
    inv = create_invoice(sb, callback_url=listener.url)
    sb.act("coinpay24", inv["id"], "pay")
    sb.wait_for_callbacks(1)
    listing = control(sb, f"/callbacks?invoice={inv['id']}", method="GET").json()
    assert len(listing) == 1 and listing[0]["state"] == "cancelled"
    assert listing[0]["invoice_id"] == inv["id"] and listing[0]["provider"] == "coinpay24"
    assert listing[0]["fields"]["status"] == "paid"
    assert control(sb, "/callbacks?invoice=1", method="GET").json() == []
    resp = control(sb, f"/callbacks/{listing[0]['id']}/retry")
    assert resp.status_code == 200
    deadline = time.monotonic() + 5
    while sb.callbacks(invoice=inv["id"])[0]["state"] != "delivered":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert len(listener.wait(2)) == 2
