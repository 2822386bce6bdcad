"""The clients against the providers' own documentation, not our sandbox.

A loopback server answers with the example bodies of the published docs
(``fixtures/docs/``, see its README) and records what the client sent, so a
mistake shared by the client and the sandbox (both written here) cannot pass
both. Signatures are recomputed here independently, from the docs' rules,
without the project's signing modules.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, quote_plus

import pytest

from saleor_cryptopay.providers.coinpay24 import CoinPay24Client
from saleor_cryptopay.providers.coinpay_th import DOCS_ACTIONS, CoinPayThClient
from saleor_cryptopay.providers.status import PaymentStatus

DOCS = Path(__file__).parent / "fixtures" / "docs"


class DocServer:
    """Answers each path with a documented body; keeps every request."""

    def __init__(self) -> None:
        self.answers: dict[str, str] = {}
        self.requests: list[tuple[str, str, bytes]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                server.requests.append((self.path, self.headers.get("Content-Type", ""), body))
                answer = server.answers.get(self.path)
                payload = (answer or '{"message": "no such doc example"}').encode()
                self.send_response(200 if answer else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def answer(self, path: str, fixture: str) -> None:
        self.answers[path] = (DOCS / fixture).read_text()

    def fields(self, index: int = -1) -> dict[str, str]:
        _, content_type, body = self.requests[index]
        if content_type.startswith("application/json"):
            return {k: str(v) for k, v in json.loads(body).items()}
        return dict(parse_qsl(body.decode(), keep_blank_values=True))


@pytest.fixture
def docs():
    server = DocServer()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


# CoinPay24 ---------------------------------------------------------------------


def test_coinpay24_create_sends_the_documented_fields_and_reads_the_documented_answer(docs):
    docs.answer("/v1/invoices/create", "coinpay24_create.json")
    client = CoinPay24Client("YOUR_API_KEY", base_url=f"{docs.url}/v1")
    invoice = client.create_invoice(
        order_id="123456",
        price_amount=Decimal("100"),
        price_currency="USD",
        title="Test Title",
        description="Test Description",
        callback_url="http://your-callback-url.com",
        cancel_url="http://your-cancel-url.com",
        success_url="http://your-success-url.com",
    )
    sent = docs.fields()
    # the doc's curl example, field by field (amount as price_amount, as its plugins send it)
    assert set(sent) == {
        "api_key",
        "order_id",
        "price_amount",
        "price_currency",
        "title",
        "description",
        "callback_url",
        "cancel_url",
        "success_url",
    }
    assert sent["api_key"] == "YOUR_API_KEY" and sent["order_id"] == "123456"
    assert Decimal(sent["price_amount"]) == Decimal("100") and sent["price_currency"] == "USD"
    # the documented answer has no id: the invoice is known by its payment_url token
    assert invoice.id == "39b3c1d8984385b44489dcac27ef0d0e"
    assert invoice.payment_url.endswith("/invoice/39b3c1d8984385b44489dcac27ef0d0e")
    assert invoice.created_at.isoformat() == "2021-05-14T17:37:18+00:00"


def test_coinpay24_checkout_get_and_list_read_the_documented_answers(docs):
    docs.answer("/v1/invoices/512472/checkout", "coinpay24_checkout.json")
    docs.answer("/v1/invoices/6587512", "coinpay24_get.json")
    docs.answer("/v1/invoices", "coinpay24_list.json")
    client = CoinPay24Client("YOUR_API_KEY", base_url=f"{docs.url}/v1")

    white_label = client.checkout("512472", pay_currency="btc")
    assert docs.fields()["pay_currency"] == "BTC"
    assert white_label.id == "1723" and white_label.status is PaymentStatus.WAITING
    assert white_label.pay_amount == Decimal("0.000023")
    assert white_label.payment_address == "3FZbgi29cpjq2GjdwV8eyHuJJnkLtktZc5"
    assert white_label.price_amount == Decimal("0.01") and white_label.price_currency == "USD"

    paid = client.get_invoice("6587512")
    assert docs.fields() == {"api_key": "YOUR_API_KEY"}
    assert paid.status is PaymentStatus.PAID and paid.order_id == "62315"
    assert paid.price_amount == Decimal("10.0") and paid.pay_amount == Decimal("0.001281")
    assert paid.underpaid_amount == Decimal(0) and paid.overpaid_amount == Decimal(0)

    page = client.list_invoices(page=1, per_page=2, sort="created_at_desc")
    assert {k: docs.fields()[k] for k in ("per_page", "page", "sort")} == {
        "per_page": "2",
        "page": "1",
        "sort": "created_at_desc",
    }
    assert (page.total_invoices, page.total_pages, page.per_page) == (940, 470, 2)
    assert [(i.id, i.status) for i in page.invoices] == [
        ("1195862", PaymentStatus.NEW),
        ("1195824", PaymentStatus.PAID),
    ]


def _php_urlencode(value: str) -> str:
    """PHP's urlencode, written from its manual: alphanumerics and ``-_.``
    stay, space becomes ``+``, everything else ``%XX`` in upper case."""
    return quote_plus(value, safe="").replace("~", "%7E")


def _docs_verify_hash(fields: dict[str, str], api_key: str) -> str:
    query = "&".join(f"{_php_urlencode(k)}={_php_urlencode(v)}" for k, v in sorted(fields.items()))
    return hmac.new(api_key.encode(), query.encode(), hashlib.sha256).hexdigest()


def test_coinpay24_callback_signed_by_the_documented_rule_verifies():
    # the doc's print_r example callback, with characters PHP and Python encode differently
    fields = {
        "txn_id": "309272569091632",
        "order_id": "14037 ~shop*",
        "status": "paid",
        "price_amount": "1050.99",
        "price_currency": "USD",
        "pay_amount": "4.81849315",
        "pay_currency": "BTC",
        "created_at": "2014-11-03T13:07:28+00:00",
    }
    client = CoinPay24Client("API_KEY", base_url="http://127.0.0.1:9/v1")
    signed = {**fields, "verify_hash": _docs_verify_hash(fields, "API_KEY")}
    assert client.verify_callback(list(signed.items()))
    forged = {**signed, "price_amount": "1.00"}
    assert not client.verify_callback(list(forged.items()))


# CoinPay.in.th -----------------------------------------------------------------


def _th_client(docs: DocServer) -> CoinPayThClient:
    return CoinPayThClient(
        "API_KEY", "API_SECRET", base_url=f"{docs.url}/api", actions=DOCS_ACTIONS
    )


def _assert_signed_per_docs(fields: dict[str, str]) -> None:
    """key, nonce, signature = sha256(api_key . nonce . api_secret), as the doc's PHP."""
    assert fields["key"] == "API_KEY" and fields["nonce"].isdigit()
    expected = hashlib.sha256(f"API_KEY{fields['nonce']}API_SECRET".encode()).hexdigest()
    assert fields["signature"] == expected


def test_coinpay_th_create_check_and_ipn_verify_follow_the_documented_fields(docs):
    docs.answer("/api/create/", "coinpay_th_create.json")
    docs.answer("/api/check/", "coinpay_th_check_paid.json")
    docs.answer("/api/verifyipn/", "coinpay_th_verifyipn.json")
    client = _th_client(docs)

    order = client.create_order(
        amount=Decimal("5000.50"), currency="thb", reference_id="R-1", ipn="https://shop/ipn"
    )
    sent = docs.fields()
    _assert_signed_per_docs(sent)
    assert {k: sent[k] for k in ("currency", "reference_id", "ipn")} == {
        "currency": "THB",
        "reference_id": "R-1",
        "ipn": "https://shop/ipn",
    }
    assert Decimal(sent["amount"]) == Decimal("5000.50")
    assert order.order_id == 10452 and order.address == "1BoatSLRHtKNngkdXEeobR76b53LETtpyT"
    # a float on the wire becomes the Decimal of its text, never a binary float
    assert order.btc_amount == Decimal("0.01536") and order.expire_minutes == Decimal(15)

    state = client.check_order(10452)
    _assert_signed_per_docs(docs.fields())
    assert docs.fields()["order_id"] == "10452"
    assert state.status is PaymentStatus.PAID and state.confirmed
    assert state.order_amount == Decimal("5000.5") and state.currency == "THB"

    assert client.verify_ipn(10452, "a-verify-string") is True
    assert {k: docs.fields()[k] for k in ("order_id", "verify")} == {
        "order_id": "10452",
        "verify": "a-verify-string",
    }
    paths = [path for path, _, _ in docs.requests]
    assert paths == ["/api/create/", "/api/check/", "/api/verifyipn/"]


def test_coinpay_th_short_payment_orders_and_balances(docs):
    docs.answer("/api/check/", "coinpay_th_check_short.json")
    docs.answer("/api/orders/", "coinpay_th_orders.json")
    docs.answer("/api/balance/", "coinpay_th_balance.json")
    client = _th_client(docs)

    short = client.check_order(10452)  # success false + error_code 3 "Insuffient payment"
    assert short.status is PaymentStatus.UNDERPAID and short.error_code == 3

    orders = client.list_orders(status_ids=[2, 5])
    assert docs.fields()["status_id"] == "2,5"
    assert [(o.order_id, o.status) for o in orders] == [
        (10452, PaymentStatus.PAID),
        (10453, PaymentStatus.UNDERPAID),
    ]
    assert orders[1].btc_received == Decimal("0.0015")

    balances = {b.currency: b for b in client.balance()}
    _assert_signed_per_docs(docs.fields())
    assert balances["THB"].balance == Decimal("12500.25")
    assert balances["BTC"].pending_withdraw == Decimal("0.01")
