"""CoinPay.in.th wire protocol: auth, nonces, bodies, orders, IPN."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from sandbox_helpers import TH_KEY, TH_SECRET, Listener, next_nonce, th, th_ok

from saleor_cryptopay.providers.coinpay_th_auth import auth_fields
from saleor_cryptopay.sandbox import SandboxServer

TH_DATE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")


def new_order(sb: SandboxServer, **fields: Any) -> dict[str, Any]:
    return th_ok(sb, "paybox", **{"amount": "1000", "currency": "THB", **fields})


# -- auth and nonces ----------------------------------------------------------------


def test_bad_signature_and_unknown_key_are_401(sb: SandboxServer) -> None:
    resp = th(sb, "balance", secret="wrong-secret")
    assert resp.status_code == 401
    assert resp.json() == {"success": False, "error": "Invalid API key or signature"}
    resp = th(sb, "balance", key="nobody", secret="whatever")
    assert resp.status_code == 401
    resp = requests.post(sb.coinpay_th_base + "/balance/", data={"key": TH_KEY}, timeout=5)
    assert resp.status_code == 401


def test_nonce_must_strictly_increase(sb: SandboxServer) -> None:
    nonce = next_nonce()
    assert th(sb, "balance", nonce=nonce).json()["success"] is True
    for stale in (nonce, nonce - 1):
        resp = th(sb, "balance", nonce=stale)
        assert resp.status_code == 200
        body = resp.json()
        assert body["success"] is False
        assert "nonce" in body["error"].lower() and str(nonce) in body["error"]
    assert th(sb, "balance", nonce=nonce + 1).json()["success"] is True


def test_nonces_are_per_key() -> None:
    creds = {"k1": "s1", "k2": "s2"}
    with SandboxServer(port=0, coinpay_th_credentials=creds) as sb:
        assert th(sb, "balance", key="k1", secret="s1", nonce=100).json()["success"]
        assert th(sb, "balance", key="k2", secret="s2", nonce=5).json()["success"]
        assert not th(sb, "balance", key="k1", secret="s1", nonce=99).json()["success"]


def test_multipart_and_urlencoded_bodies(sb: SandboxServer) -> None:
    a = th(sb, "paybox", multipart=True, amount="500", currency="THB", reference_id="mp")
    b = th(sb, "create", amount="500", currency="THB", reference_id="form")
    assert a.status_code == b.status_code == 200
    assert a.json()["success"] and b.json()["success"]
    assert a.json()["btc_amount"] == b.json()["btc_amount"]


def test_unknown_action_and_get(sb: SandboxServer) -> None:
    assert th(sb, "nosuchthing").status_code == 404
    assert requests.get(sb.coinpay_th_base + "/balance/", timeout=5).status_code == 405
    # trailing slash optional
    data = auth_fields(TH_KEY, next_nonce(), TH_SECRET)
    assert requests.post(sb.coinpay_th_base + "/balance", data=data, timeout=5).json()["success"]


# -- create / update ------------------------------------------------------------------


def test_create_response(sb: SandboxServer) -> None:
    order = new_order(sb, reference_id="R-1", notes="hello")
    assert isinstance(order["order_id"], int)
    assert re.fullmatch(r"[0-9a-f]{32}", order["order_hash"])
    assert re.fullmatch(r"bc1q[a-z0-9]{38}", order["address"])
    assert order["btc_amount"] == pytest.approx(0.00057143)  # 1000 THB at 1 750 000 THB/BTC
    assert isinstance(order["btc_amount"], float)
    assert order["expire"] == 15
    png = base64.b64decode(order["qr_data"])
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and b"IEND" in png[-12:]
    assert order["address"] in order["html"] and order["html"].startswith("<div")


def test_update_keeps_address_and_resets_rate_lock(sb: SandboxServer) -> None:
    first = new_order(sb)
    sb.advance_time(600)  # 10 of the 15 minutes pass
    second = th_ok(sb, "paybox", order_id=first["order_id"], amount="2000", currency="THB")
    assert second["order_id"] == first["order_id"]
    assert second["address"] == first["address"]
    assert second["btc_amount"] == pytest.approx(0.00114286)
    sb.advance_time(600)  # 20 minutes after creation, 10 after the update: still open
    check = th(sb, "checkorder", order_id=first["order_id"]).json()
    assert check["order_status"] == 0 and check["order_amount"] == 2000.0


def test_update_unknown_or_paid_order(sb: SandboxServer) -> None:
    resp = th(sb, "paybox", order_id=424242, amount="10", currency="USD").json()
    assert resp == {"success": False, "error": "Order not found"}
    order = new_order(sb)
    sb.act("coinpay_th", order["order_id"], "pay")
    resp = th(sb, "paybox", order_id=order["order_id"], amount="10", currency="USD").json()
    assert resp["success"] is False
    assert resp["error"] == "Order cannot be updated: Completed"
    expired = new_order(sb)
    sb.act("coinpay_th", expired["order_id"], "expire")
    resp = th(sb, "paybox", order_id=expired["order_id"], amount="10", currency="USD").json()
    assert resp["error"] == "Order cannot be updated: Expired"


def test_order_id_zero_creates(sb: SandboxServer) -> None:
    a = new_order(sb, order_id=0)
    b = new_order(sb, order_id=0)
    assert a["order_id"] != b["order_id"]


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"amount": "", "currency": "THB"}, "Amount is required"),
        ({"amount": "-1", "currency": "THB"}, "Invalid amount"),
        ({"amount": "abc", "currency": "THB"}, "Invalid amount"),
        ({"amount": "100", "currency": ""}, "Currency is required"),
        ({"amount": "100", "currency": "XXX"}, "not supported"),
        ({"amount": "0.01", "currency": "THB"}, "too small"),
        ({"amount": "100", "currency": "THB", "keep": "101"}, "keep"),
    ],
)
def test_create_business_errors(sb: SandboxServer, fields: dict, fragment: str) -> None:
    resp = th(sb, "paybox", **fields)
    assert resp.status_code == 200
    assert resp.json()["success"] is False and fragment in resp.json()["error"]


# -- check --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "opts", "status", "text", "code", "success"),
    [
        (None, {}, 0, "Awaiting Payment", 2, False),
        ("confirming", {}, 1, "Waiting Confirmations", 0, False),
        ("pay", {}, 2, "Completed", 0, True),
        ("overpay", {"fraction": "1.5"}, 2, "Completed", 0, True),
        ("expire", {}, 4, "Expired", 2, False),
        ("underpay", {"fraction": "0.25"}, 5, "Partial Payment", 3, False),
    ],
)
def test_check_each_status(
    sb: SandboxServer,
    action: str | None,
    opts: dict,
    status: int,
    text: str,
    code: int,
    success: bool,
) -> None:
    order = new_order(sb, reference_id="ref-1")
    if action:
        sb.act("coinpay_th", order["order_id"], action, **opts)
    body = th(sb, "checkorder", order_id=order["order_id"]).json()
    assert body["order_status"] == status and body["status"] == text
    assert body["error_code"] == code and body["success"] is success
    assert body["confirmed"] is (status == 2)
    assert ("error" in body) is (not success)
    assert TH_DATE.match(body["date"])
    assert body["order_id"] == order["order_id"] and body["order_hash"] == order["order_hash"]
    assert body["currency"] == "THB" and body["order_amount"] == 1000.0
    assert body["reference_id"] == "ref-1"
    if action == "overpay":
        assert body["btc_received"] == pytest.approx(0.00057143 * 1.5, abs=1e-8)
    if action == "underpay":
        assert body["btc_received"] == pytest.approx(0.00014286)


def test_check_by_hash_not_found_and_reference_update(sb: SandboxServer) -> None:
    order = new_order(sb)
    body = th(sb, "check", order_id=order["order_hash"], reference_id="new-ref").json()
    assert body["order_id"] == order["order_id"] and body["reference_id"] == "new-ref"
    missing = th(sb, "check", order_id=1).json()
    assert missing["success"] is False and missing["error_code"] == 1
    assert "not found" in missing["error"].lower()


def test_expired_order_with_partial_payment_is_insufficient(sb: SandboxServer) -> None:
    order = new_order(sb)
    sb.act("coinpay_th", order["order_id"], "underpay")
    sb.advance_time(901)
    body = th(sb, "checkorder", order_id=order["order_id"]).json()
    assert body["order_status"] == 4 and body["error_code"] == 3
    assert body["btc_received"] > 0


def test_date_is_utc_plus_7(sb: SandboxServer) -> None:
    order = new_order(sb)
    body = th(sb, "checkorder", order_id=order["order_id"]).json()
    shown = datetime.strptime(body["date"], "%Y-%m-%d %H:%M:%S")
    expected = datetime.now(UTC).replace(tzinfo=None) + timedelta(hours=7)
    assert abs((expected - shown).total_seconds()) < 5


# -- orders, reference and the small calls --------------------------------------------


def test_orders_filters(sb: SandboxServer) -> None:
    sb.advance_time(-3 * 86400)
    old = new_order(sb)
    sb.advance_time(3 * 86400)
    awaiting, paid, expired = new_order(sb), new_order(sb), new_order(sb)
    sb.act("coinpay_th", paid["order_id"], "pay")
    sb.act("coinpay_th", expired["order_id"], "expire")

    def ids(**fields: str) -> set[int]:
        return {o["order_id"] for o in th_ok(sb, "orders", **fields)["orders"]}

    # default 0,1,2,5: the expired ones are left out (old expired lazily too)
    assert ids() == {awaiting["order_id"], paid["order_id"]}
    assert ids(status_id="4") == {old["order_id"], expired["order_id"]}
    assert ids(status_id="2") == {paid["order_id"]}
    now7 = datetime.now(UTC) + timedelta(hours=7)
    today = now7.strftime("%Y-%m-%d")
    earlier = (now7 - timedelta(days=3)).strftime("%Y-%m-%d")
    assert ids(status_id="0,1,2,4,5", start_date=today) == {
        awaiting["order_id"],
        paid["order_id"],
        expired["order_id"],
    }
    assert ids(status_id="4", end_date=earlier) == {old["order_id"]}
    assert ids(status_id="4", end_date=f"{earlier} 00:00:00") == set()
    listed = th_ok(sb, "orders", status_id="2")["orders"][0]
    assert listed["transactions"][0]["confirmations"] >= 1
    assert listed["transactions"][0]["amount"] == pytest.approx(listed["btc_amount"])
    assert th(sb, "orders", start_date="yesterday").json()["success"] is False


def test_reference_price_balance_address_validate(sb: SandboxServer) -> None:
    order = new_order(sb)
    th_ok(sb, "reference", order_id=order["order_id"], reference_id="R-9")
    assert th(sb, "checkorder", order_id=order["order_id"]).json()["reference_id"] == "R-9"
    assert th(sb, "reference", order_id=1, reference_id="x").json()["success"] is False

    assert th_ok(sb, "price") == {"success": True, "value": 1750000.0, "currency": "THB"}
    assert th_ok(sb, "price", currency="USD", amount="100") == {
        "success": True,
        "value": 0.002,
        "currency": "BTC",
    }

    assert th_ok(sb, "balance")["balances"][0] == {
        "currency": "THB",
        "balance": 0.0,
        "pending_withdraw": 0.0,
    }
    sb.act("coinpay_th", order["order_id"], "pay")
    thb = th_ok(sb, "balance")["balances"][0]
    assert thb["currency"] == "THB" and thb["balance"] == pytest.approx(1000.0, abs=0.01)

    a1 = th_ok(sb, "address")["address"]
    assert th_ok(sb, "address")["address"] == a1
    assert th_ok(sb, "address", new="true")["address"] != a1

    assert th_ok(sb, "validate", amount="100", currency="USD") == {"success": True}
    bad = th(sb, "validate", amount="100", currency="XYZ").json()
    assert bad["success"] is False and bad["error"]


def test_paylink_page_creates_an_order(sb: SandboxServer) -> None:
    link = th_ok(sb, "paylink", amount="250", currency="USD", reference_id="PL-1")["link"]
    assert link.startswith(sb.url + "/coinpay_th/pay/")
    page = requests.get(link, timeout=5)
    assert page.status_code == 200 and "0.00500000" in page.text  # 250 USD in BTC
    again = requests.get(link, timeout=5)
    orders = th_ok(sb, "orders")["orders"]
    assert len(orders) == 1 and orders[0]["reference_id"] == "PL-1"
    assert orders[0]["order_hash"] in again.text


# -- IPN ---------------------------------------------------------------------------


def test_ipn_delivered_and_verified(sb: SandboxServer, listener: Listener) -> None:
    order = new_order(sb, ipn=listener.url, reference_id="shop-5")
    sb.act("coinpay_th", order["order_id"], "pay", confirmations=True)
    records = listener.wait(2)
    sb.wait_for_callbacks(2, provider="coinpay_th")
    first, second = (dict(r["pairs"]) for r in records)
    assert first["order_status"] == "1" and first["success"] == "false"
    assert second["order_status"] == "2" and second["success"] == "true"
    assert second["status"] == "Completed" and second["message"]
    assert second["order_id"] == str(order["order_id"])
    assert second["order_hash"] == order["order_hash"]
    assert second["reference_id"] == "shop-5"
    assert second["btc_amount"] == second["btc_received"] == "0.00057143"
    assert records[1]["content_type"].startswith("application/x-www-form-urlencoded")

    for fields in (first, second):
        ok = th(sb, "verifyipn", order_id=fields["order_id"], verify=fields["verify"]).json()
        assert ok == {"success": True}
    forged = th(sb, "verifyipn", order_id=order["order_id"], verify="0" * 40).json()
    assert forged == {"success": False, "error": "IPN verification failed"}
    # a genuine token for another order does not verify this one
    other = new_order(sb)
    wrong = th(sb, "verifyipn", order_id=other["order_id"], verify=second["verify"]).json()
    assert wrong["success"] is False


def test_ipn_retries_like_coinpay24(sb: SandboxServer, listener: Listener) -> None:
    listener.respond(500, 502)
    order = new_order(sb, ipn=listener.url)
    sb.act("coinpay_th", order["order_id"], "underpay")
    (cb,) = sb.wait_for_callbacks(1, timeout=5)
    assert cb["state"] == "delivered" and len(cb["attempts"]) == 3
    verifies = {dict(r["pairs"])["verify"] for r in listener.wait(3)}
    assert len(verifies) == 1  # a retry re-sends the same IPN


def test_background_expiry_sends_ipn(listener: Listener) -> None:
    with SandboxServer(port=0, order_ttl_seconds=0.3, time_scale=0.001) as sb:
        order = new_order(sb, ipn=listener.url)
        assert order["expire"] == pytest.approx(0.005)
        (cb,) = sb.wait_for_callbacks(1, timeout=5)
        assert cb["event"] == "Expired"
        assert dict(listener.wait(1)[0]["pairs"])["order_status"] == "4"
