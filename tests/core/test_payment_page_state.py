"""What the payment page shows for an invoice as stored (no HTTP, no DB):
the shopper's state, what is missing, and the page's language choice."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import RequestFactory

from saleor_cryptopay.models import Invoice
from saleor_cryptopay.payment_page.state import missing_coins, page_facts, shopper_state
from saleor_cryptopay.payment_page.views import choose_language

ADDRESS = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"


def invoice(status: str = "waiting", **kw) -> Invoice:
    values = dict(
        provider="coinpay_th", channel_slug="main", provider_invoice_id="7", amount=Decimal("30"),
        currency="USD", status=status, pay_amount=Decimal("0.00060001"), pay_currency="BTC",
        address=ADDRESS, shopper_page=True,
    )  # fmt: skip
    values.update(kw)
    return Invoice(**values)


@pytest.mark.parametrize(
    ("status", "flags", "state"),
    [
        ("new", [], "waiting"),
        ("waiting", [], "waiting"),
        ("confirming", [], "confirming"),
        ("paid", [], "paid"),
        ("paid", ["underpaid_tolerated"], "paid"),
        ("overpaid", [], "overpaid"),
        ("paid", ["paid_late"], "paid_late"),
        ("underpaid", [], "underpaid"),
        ("expired", [], "expired"),
        ("canceled", [], "expired"),
        ("invalid", [], "expired"),
        ("refunded", [], "refunded"),
    ],
)
def test_shopper_state(status, flags, state):
    assert shopper_state(invoice(status, flags=flags)) == state


def test_missing_is_rounded_up_to_the_coins_unit():
    """A shopper who sends what the page says is never short by a rounding."""
    short = invoice("underpaid", received_amount=Decimal("0.000300005"))
    assert missing_coins(short) == Decimal("0.00030001")  # 0.000300005 → up
    facts = page_facts(short)
    assert facts.missing == "0.00030001"
    assert facts.payment_uri == f"bitcoin:{ADDRESS}?amount=0.00030001"
    assert missing_coins(invoice("paid", received_amount=Decimal("0.00060001"))) is None


def test_return_url_only_as_a_web_link():
    assert page_facts(invoice(return_url="javascript:alert(1)")).return_url is None
    assert page_facts(invoice(return_url="https://shop.example/r")).return_url == (
        "https://shop.example/r"
    )


@pytest.mark.parametrize(
    ("query", "header", "lang"),
    [
        ("", "th-TH,th;q=0.9,en;q=0.8", "th"),
        ("", "en-GB,en;q=0.9", "en"),
        ("", "de;q=0.9,th;q=0.5,en;q=0.4", "th"),
        ("", "fr, de", "en"),
        ("", "en;q=0.2,th;q=0.8", "th"),
        ("lang=en", "th", "en"),
        ("lang=th", "", "th"),
        ("lang=xx", "th", "th"),
        ("", "th;q=oops", "en"),
        ("", "th;q=0,en;q=0.1", "en"),
    ],
)
def test_language_choice(query, header, lang):
    request = RequestFactory().get(f"/pay/t?{query}", HTTP_ACCEPT_LANGUAGE=header)
    assert choose_language(request) == lang
