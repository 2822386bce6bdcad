"""Hosted payment pages and the control API (HTTP and Python helpers)."""

from __future__ import annotations

import pytest
import requests
from sandbox_helpers import Listener, control, cp24, create_invoice, th, th_ok

from saleor_cryptopay.sandbox import ActionError, SandboxServer


def page_of(url: str) -> str:
    resp = requests.get(url, timeout=5)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("text/html")
    return resp.text


# -- pages ----------------------------------------------------------------------------


def test_invoice_page_shows_amounts_address_and_buttons(sb: SandboxServer) -> None:
    inv = create_invoice(
        sb,
        price_amount="100.00",
        success_url="https://shop.example/ok",
        cancel_url="https://shop.example/cart",
    )
    html = page_of(inv["payment_url"])
    assert "100.00" in html and "USD" in html
    assert 'name="pay_currency"' in html  # coin selector while new
    assert "https://shop.example/ok" in html and "https://shop.example/cart" in html
    data = cp24(sb, f"/invoices/{inv['id']}/checkout", json={"pay_currency": "BTC"}).json()
    html = page_of(inv["payment_url"])
    assert data["payment_address"] in html and data["pay_amount"] in html
    assert "data:image/png;base64," in html
    assert 'id="countdown"' in html
    for action in ("pay", "underpay", "overpay", "pay_late", "expire", "cancel", "invalid"):
        assert f'/_sandbox/coinpay24/invoices/{inv["id"]}/{action}"' in html


def test_coin_selector_and_buttons_redirect_303(sb: SandboxServer) -> None:
    inv = create_invoice(sb)
    back = "/coinpay24/invoice/" + inv["payment_url"].rsplit("/", 1)[1]
    resp = requests.post(
        f"{sb.url}/_sandbox/coinpay24/invoices/{inv['id']}/checkout",
        data={"pay_currency": "LTC", "_redirect": back},
        allow_redirects=False,
        timeout=5,
    )
    assert resp.status_code == 303 and resp.headers["Location"] == back
    assert cp24(sb, f"/invoices/{inv['id']}").json()["pay_currency"] == "LTC"
    resp = requests.post(
        f"{sb.url}/_sandbox/coinpay24/invoices/{inv['id']}/underpay",
        data={"fraction": "0.4", "_redirect": back},
        allow_redirects=False,
        timeout=5,
    )
    assert resp.status_code == 303
    assert (
        cp24(sb, f"/invoices/{inv['id']}").json()["underpaid_amount"] == "0.60000000"
    )  # 1 LTC due
    # following the redirect lands on the page again
    final = requests.post(
        f"{sb.url}/_sandbox/coinpay24/invoices/{inv['id']}/pay",
        data={"_redirect": back},
        timeout=5,
    )
    assert final.status_code == 200 and "paid" in final.text


def test_refused_button_redirects_with_error(sb: SandboxServer) -> None:
    inv = create_invoice(sb)
    sb.act("coinpay24", inv["id"], "cancel")
    back = "/coinpay24/invoice/" + inv["payment_url"].rsplit("/", 1)[1]
    resp = requests.post(
        f"{sb.url}/_sandbox/coinpay24/invoices/{inv['id']}/pay",
        data={"_redirect": back},
        allow_redirects=False,
        timeout=5,
    )
    assert resp.status_code == 303 and resp.headers["Location"].startswith(back + "?error=")
    assert "cannot pay" in requests.get(sb.url + resp.headers["Location"], timeout=5).text
    # an off-site _redirect is ignored: plain JSON instead
    resp = requests.post(
        f"{sb.url}/_sandbox/coinpay24/invoices/{inv['id']}/resend",
        data={"_redirect": "//evil.example/"},
        allow_redirects=False,
        timeout=5,
    )
    assert resp.status_code == 200 and resp.json()["status"] == "canceled"


def test_page_escapes_merchant_text(sb: SandboxServer) -> None:
    inv = create_invoice(sb, title="<script>alert(1)</script>", order_id='"><b>x')
    html = page_of(inv["payment_url"])
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert '"><b>x' not in html


def test_order_page_and_buttons(sb: SandboxServer) -> None:
    order = th_ok(sb, "paybox", amount="1000", currency="THB")
    url = f"{sb.url}/coinpay_th/order/{order['order_hash']}"
    html = page_of(url)
    assert order["address"] in html and "0.00057143" in html and "1000.00" in html
    assert "Awaiting Payment" in html and "data:image/png;base64," in html
    resp = requests.post(
        f"{sb.url}/_sandbox/coinpay_th/orders/{order['order_id']}/pay",
        data={"_redirect": f"/coinpay_th/order/{order['order_hash']}", "confirmations": "1"},
        allow_redirects=False,
        timeout=5,
    )
    assert resp.status_code == 303
    assert "Completed" in page_of(url)


def test_unknown_pages_are_404(sb: SandboxServer) -> None:
    for path in ("/coinpay24/invoice/nope", "/coinpay_th/order/nope", "/coinpay_th/pay/nope"):
        assert requests.get(sb.url + path, timeout=5).status_code == 404


# -- control actions ------------------------------------------------------------------


def statuses(listener: Listener, n: int) -> list[str]:
    return [dict(r["pairs"])["status"] for r in listener.wait(n)]


def test_pay_with_confirmations_sends_two_callbacks(sb: SandboxServer, listener: Listener) -> None:
    inv = create_invoice(sb, callback_url=listener.url)
    result = control(sb, f"/coinpay24/invoices/{inv['id']}/pay", {"confirmations": True}).json()
    assert result["status"] == "paid" and len(result["callbacks"]) == 2
    # pay on a `new` invoice picks BTC silently: no separate `pending` callback
    assert statuses(listener, 2) == ["confirming", "paid"]


@pytest.mark.parametrize(
    ("actions", "status", "under", "over"),
    [
        (["underpay"], "pending", "0.00100000", "0"),
        (["underpay", "expire"], "expired", "0.00100000", "0"),
        (["underpay", "pay"], "paid", "0", "0"),
        (["overpay"], "paid", "0", "0.00040000"),
        (["pay_late"], "paid", "0", "0"),
        (["confirming"], "confirming", "0", "0"),
        (["confirming", "invalid"], "invalid", "0", "0"),
        (["cancel"], "canceled", "0", "0"),
        (["pay", "refund"], "refunded", "0", "0"),
    ],
)
def test_coinpay24_actions(
    sb: SandboxServer, actions: list[str], status: str, under: str, over: str
) -> None:
    inv = create_invoice(sb)
    for action in actions:
        result = sb.act("coinpay24", inv["id"], action)
    assert result["status"] == status
    got = cp24(sb, f"/invoices/{inv['id']}").json()
    assert got["status"] == status
    assert got["underpaid_amount"] == under and got["overpaid_amount"] == over


def test_underpay_receive_amount_is_proportional(sb: SandboxServer, listener: Listener) -> None:
    inv = create_invoice(sb, callback_url=listener.url)
    sb.act("coinpay24", inv["id"], "underpay", fraction="0.25")
    fields = dict(listener.wait(1)[0]["pairs"])
    assert fields["status"] == "pending" and fields["underpaid_amount"] == "0.00150000"
    assert fields["receive_amount"] == "25.00"


def test_pay_late_sends_expired_then_paid(sb: SandboxServer, listener: Listener) -> None:
    inv = create_invoice(sb, callback_url=listener.url)
    sb.act("coinpay24", inv["id"], "pay_late")
    assert statuses(listener, 2) == ["expired", "paid"]
    order = th_ok(sb, "paybox", amount="1000", currency="THB", ipn=listener.url)
    result = sb.act("coinpay_th", order["order_id"], "pay_late")
    assert result["order_status"] == 2
    assert [dict(r["pairs"])["order_status"] for r in listener.wait(4)[2:]] == ["4", "2"]


def test_refused_actions(sb: SandboxServer) -> None:
    inv = create_invoice(sb)
    sb.act("coinpay24", inv["id"], "pay")
    with pytest.raises(ActionError) as err:
        sb.act("coinpay24", inv["id"], "expire")
    assert err.value.status == 409
    resp = control(sb, f"/coinpay24/invoices/{inv['id']}/cancel")
    assert resp.status_code == 409 and "error" in resp.json()
    assert control(sb, "/coinpay24/invoices/999999/pay").status_code == 404
    assert control(sb, f"/coinpay24/invoices/{inv['id']}/explode").status_code == 404
    order = th_ok(sb, "paybox", amount="1000", currency="THB")
    assert control(sb, f"/coinpay_th/orders/{order['order_id']}/refund").status_code == 409
    assert (
        control(
            sb, f"/coinpay_th/orders/{order['order_id']}/underpay", {"fraction": "1.5"}
        ).status_code
        == 400
    )


def test_cancel_on_coinpay_th_expires(sb: SandboxServer) -> None:
    order = th_ok(sb, "paybox", amount="1000", currency="THB")
    assert sb.act("coinpay_th", order["order_hash"], "cancel")["order_status"] == 4


def test_resend_sends_duplicates(sb: SandboxServer, listener: Listener) -> None:
    inv = create_invoice(sb, callback_url=listener.url)
    sb.act("coinpay24", inv["id"], "pay")
    sb.act("coinpay24", inv["id"], "resend")
    first, second = listener.wait(2)
    assert first["raw"] == second["raw"]  # byte-identical duplicate
    order = th_ok(sb, "paybox", amount="1000", currency="THB", ipn=listener.url)
    sb.act("coinpay_th", order["order_id"], "pay")
    sb.act("coinpay_th", order["order_id"], "resend")
    a, b = (dict(r["pairs"]) for r in listener.wait(4)[2:])
    assert a["order_status"] == b["order_status"] == "2"
    assert a["verify"] != b["verify"]  # each IPN sent gets its own verify token


def test_request_counts_reset_and_listings(sb: SandboxServer, listener: Listener) -> None:
    inv = create_invoice(sb, callback_url=listener.url)
    create_invoice(sb)
    cp24(sb, f"/invoices/{inv['id']}")
    cp24(sb, "/invoices")
    th_ok(sb, "paybox", amount="1000", currency="THB")
    th_ok(sb, "balance")
    counts = control(sb, "/requests", method="GET").json()
    assert counts == sb.request_counts()
    assert counts["coinpay24"] == {"invoices/create": 2, "invoices/get": 1, "invoices/list": 1}
    assert counts["coinpay_th"] == {"paybox": 1, "balance": 1}
    assert len(control(sb, "/invoices", method="GET").json()) == 2
    assert len(control(sb, "/orders", method="GET").json()) == 1
    sb.act("coinpay24", inv["id"], "pay")
    sb.wait_for_callbacks(1)
    assert control(sb, "/reset").json() == {"ok": True}
    assert sb.request_counts() == {} and sb.callbacks() == []
    assert control(sb, "/invoices", method="GET").json() == []
    assert cp24(sb, f"/invoices/{inv['id']}").status_code == 404


def test_reset_forgets_nonces(sb: SandboxServer) -> None:
    assert th(sb, "balance", nonce=10**18).json()["success"] is True
    assert th(sb, "balance", nonce=5).json()["success"] is False
    sb.reset()
    assert th(sb, "balance", nonce=5).json()["success"] is True


def test_wait_for_callbacks_times_out(sb: SandboxServer) -> None:
    with pytest.raises(TimeoutError):
        sb.wait_for_callbacks(1, timeout=0.2)


def test_http_time_advance(sb: SandboxServer) -> None:
    inv = create_invoice(sb)
    resp = control(sb, "/time", {"advance": 1201})
    assert resp.status_code == 200
    assert cp24(sb, f"/invoices/{inv['id']}").json()["status"] == "expired"
