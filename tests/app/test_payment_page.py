"""The shopper's payment page over real HTTP (the App's routes, the core's
page): what ``payment_url`` points to, the token, the status endpoint and
its cost in provider calls, the language. The browser tests are in
test_payment_page_browser.py."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import requests
from django.utils import timezone

from saleor_cryptopay.models import Invoice
from saleor_cryptopay.money import quantize
from saleor_cryptopay.payment_page.token import page_token

from .payment_page_helpers import start_payment, wait_for


def get(url: str, **headers) -> requests.Response:
    return requests.get(url, headers=headers, timeout=10, allow_redirects=False)


def status_of(page_url: str) -> dict:
    response = get(page_url + "/status")
    assert response.status_code == 200, response.text
    return response.json()


def test_hosted_coinpay24_keeps_the_providers_page(configure, hook, app):
    configure("coinpay24")
    data, invoice = start_payment(hook, "coinpay24")
    assert data["payment_url"] == invoice.payment_url and "/api/pay/" not in data["payment_url"]
    assert not invoice.shopper_page
    # no page for it, even with a correctly signed token
    assert get(f"{app}/api/pay/{page_token(invoice)}").status_code == 404


def test_white_label_coinpay24_gets_our_page(configure, hook, app):
    configure("coinpay24", white_label_currency="LTC")
    data, invoice = start_payment(hook, "coinpay24", return_url="https://shop.example/back")
    assert data["payment_url"] == f"{app}/api/pay/{page_token(invoice)}"
    page = get(data["payment_url"])
    assert page.status_code == 200
    assert data["address"] in page.text and f"{data['pay_amount']} LTC" in page.text
    assert 'href="https://shop.example/back"' in page.text
    assert invoice.return_url == "https://shop.example/back"


def test_wrong_or_tampered_token_is_404_and_reveals_nothing(configure, hook, app):
    configure("coinpay_th")
    data, invoice = start_payment(hook)
    token = page_token(invoice)
    other_data, other = start_payment(hook)
    body, signature = token.rsplit(":", 1)
    other_body = page_token(other).rsplit(":", 1)[0]
    flipped = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    forged = [
        f"{body}:{flipped}",  # tampered signature
        f"{other_body}:{signature}",  # another invoice's id under this signature
        body,  # no signature
        "x" * 40,
        token + "x",
        "A" * 500,
    ]
    pages = [get(f"{app}/api/pay/{bad}") for bad in forged]
    polls = [get(f"{app}/api/pay/{bad}/status") for bad in forged]
    assert {p.status_code for p in pages + polls} == {404}
    assert len({p.text for p in pages}) == 1 and len({p.text for p in polls}) == 1
    for response in pages + polls:
        for value in (data["address"], other_data["address"], data["pay_amount"], "30.00"):
            assert value not in response.text
    assert get(f"{app}/api/pay/{token}").status_code == 200


def test_page_shows_no_secret(configure, hook, sb):
    config = configure("coinpay_th")
    data, _ = start_payment(hook)
    page = get(data["payment_url"]).text + get(data["payment_url"] + "/status").text
    for secret in (sb.coinpay_th_key, sb.coinpay_th_secret, config.callback_key):
        assert secret not in page
    assert "30.00 USD" in page and data["address"] in page
    headers = get(data["payment_url"]).headers
    assert headers["Cache-Control"] == "no-store" and headers["Referrer-Policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]


def test_status_polls_make_no_provider_call(configure, hook, sb):
    configure("coinpay_th")
    data, invoice = start_payment(hook)
    before = sb.request_counts()
    states = {status_of(data["payment_url"])["state"] for _ in range(25)}
    for _ in range(3):
        assert get(data["payment_url"]).status_code == 200
    assert states == {"waiting"}
    assert sb.request_counts() == before
    # once the shared re-read slot is free (30 s after the last read), one
    # poll asks the provider, and the polls after it do not
    Invoice.objects.filter(pk=invoice.pk).update(
        last_checked_at=timezone.now() - timedelta(seconds=31),
        created_at=timezone.now() - timedelta(seconds=31),
    )
    for _ in range(10):
        status_of(data["payment_url"])
    after = sb.request_counts()["coinpay_th"]
    assert sum(after.values()) == sum(before["coinpay_th"].values()) + 1


def test_status_follows_the_stored_invoice(configure, hook, sb):
    configure("coinpay_th")
    data, invoice = start_payment(hook)
    sb.act("coinpay_th", invoice.provider_invoice_id, "underpay", fraction="0.4")
    state = wait_for(lambda: (s := status_of(data["payment_url"]))["state"] == "underpaid" and s)
    due = Decimal(data["pay_amount"])
    assert Decimal(state["missing"]) == due - quantize(due * Decimal("0.4"), "BTC")
    assert state["pay_currency"] == "BTC" and not state["final"]


def test_language_from_the_browser_and_the_switch(configure, hook):
    configure("coinpay_th")
    data, _ = start_payment(hook)
    url = data["payment_url"]
    thai = get(url, **{"Accept-Language": "th-TH,th;q=0.9,en;q=0.8"})
    assert thai.headers["Content-Language"] == "th" and '<html lang="th">' in thai.text
    assert "เปิดในกระเป๋าเงิน" in thai.text and "Open in wallet" not in thai.text
    english = get(url + "?lang=en", **{"Accept-Language": "th"})
    assert english.headers["Content-Language"] == "en" and "Open in wallet" in english.text
    assert "Open in wallet" in get(url, **{"Accept-Language": "de-DE,fr;q=0.5"}).text
    assert "เปิดในกระเป๋าเงิน" in get(url, **{"Accept-Language": "de;q=0.9,th;q=0.5"}).text
