"""Refund requests, claim links and addresses: the core's decisions (no Saleor)."""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import signing
from django.db import connection
from django.test import RequestFactory
from django.utils import timezone
from embit import bech32

from saleor_cryptopay.models import AddressCheck, RefundRequest
from saleor_cryptopay.providers.icoinpay import ICoinPayClient
from saleor_cryptopay.refunds import request as refunds
from saleor_cryptopay.refunds.addresses import address_problem, eip55
from saleor_cryptopay.refunds.claim_page import claim_view

pytestmark = pytest.mark.django_db

BTC = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"
BTC_2 = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"
S = RefundRequest.Status


# addresses ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "coin, address",
    [
        ("BTC", BTC),
        ("BTC", BTC.upper()),
        ("BTC", "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0"),  # taproot
        ("BTC", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"),
        ("BTC", "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"),
        ("LTC", bech32.encode("ltc", 0, bytes(range(20)))),
        ("LTC", "LM2WMpR1Rp6j3Sa59cMXMs1SPzj9eXpGc1"),
        ("ETH", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"),
        ("ETH", "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"),
        ("USDT", "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"),
    ],
)
def test_valid_addresses(coin, address):
    assert address_problem(coin, address) is None


@pytest.mark.parametrize(
    "coin, address, words",
    [
        ("BTC", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3", "not a valid Bitcoin"),  # checksum
        ("BTC", BTC[:-1] + "5", "not a valid Bitcoin"),  # bech32 checksum
        ("BTC", "bc1qw508d6qejxtdg4y5r3zarvaRy0c5xw7kv8f3t4", "not a valid"),  # mixed case
        ("BTC", "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx", "Bitcoin testnet"),
        ("BTC", "LM2WMpR1Rp6j3Sa59cMXMs1SPzj9eXpGc1", "Litecoin address"),
        ("LTC", BTC, "Bitcoin address"),
        ("ETH", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD", "checksum"),
        ("ETH", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeA", "40 hex"),
        ("BTC", "", "Enter"),
        ("BTC", "bc1q<script>", "not a valid address"),
        ("XMR", "44AFFq5kSiGBoZ", "not supported"),
    ],
)
def test_invalid_addresses_say_why(coin, address, words):
    assert words in address_problem(coin, address)


@pytest.mark.parametrize(
    "coin, version, size",
    [
        ("BTC", 2, 16),
        ("BTC", 16, 2),
        ("BTC", 1, 20),  # v1 but not a 32-byte taproot key
        ("BTC", 1, 40),
        ("LTC", 3, 32),
    ],
)
def test_segwit_kinds_no_wallet_receives_on_are_refused(coin, version, size):
    """Valid bech32m, but unassigned: anyone could spend what is sent there."""
    address = bech32.encode(coin.lower().replace("btc", "bc"), version, bytes(size))
    assert address is not None
    problem = address_problem(coin, address)
    assert problem and f"segwit version {version}" in problem and "lost" in problem


def test_every_receivable_segwit_kind_is_accepted():
    for version, size in [(0, 20), (0, 32), (1, 32)]:
        assert address_problem("BTC", bech32.encode("bc", version, bytes(size))) is None
        assert address_problem("LTC", bech32.encode("ltc", version, bytes(size))) is None


def test_eip55_known_vector():
    assert eip55("5aaeb6053f3e94c9b9a09f33669435e7ef1beaed") == (
        "5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
    )


# requests -----------------------------------------------------------------------


def test_refund_at_the_invoice_rate(paid_invoice):
    inv = paid_invoice()
    refund = refunds.request_refund(inv.pk, Decimal("5.00"), "USD", requested_by="staff@x")
    assert refund.status == S.AWAITING_ADDRESS and refund.coin == "BTC"
    assert refund.crypto_amount == Decimal("0.0001") and refund.rate_source == "invoice"
    assert refund.order_id == "order-1" and refund.payment_id == 77
    assert refund.claim_nonce and refund.claim_expires_at > timezone.now()


def test_coins_round_down_to_a_satoshi(paid_invoice):
    inv = paid_invoice(pay_amount=Decimal("0.00033333"))
    refund = refunds.request_refund(inv.pk, Decimal("3.33"), "USD")
    # 3.33 / 10 x 0.00033333 = 0.0001100...: never rounded up
    assert refund.crypto_amount == Decimal("0.00011099")


def test_current_rate_when_chosen(paid_invoice):
    inv = paid_invoice()
    seen = []

    def rate(coin, fiat):
        seen.append((coin, fiat))
        return Decimal("0.00004")  # BTC at 25 000 USD

    refund = refunds.request_refund(
        inv.pk, Decimal("4.00"), "USD", rate_source="current", current_rate=rate
    )
    assert seen == [("BTC", "USD")] and refund.crypto_amount == Decimal("0.00016")
    assert refund.rate_source == "current"


def test_never_more_coins_back_than_came_in(paid_invoice):
    """Underpaid within the tolerance (0.00018 of 0.0002 BTC), then refunded
    in full: 0.00018 back, not 0.0002; a higher current rate is capped too."""
    inv = paid_invoice(received_amount=Decimal("0.00018"))
    half = refunds.request_refund(inv.pk, Decimal("5.00"), "USD")
    assert half.crypto_amount == Decimal("0.00009")
    rest = refunds.request_refund(
        inv.pk, Decimal("5.00"), "USD", rate_source="current", current_rate=lambda c, f: 1
    )
    assert rest.crypto_amount == Decimal("0.00009")
    full = refunds.request_refund(paid_invoice(received_amount=Decimal("0.00018")).pk, 10, "USD")
    assert full.crypto_amount == Decimal("0.00018")


def test_an_invoice_the_provider_reports_refunded_is_not_refunded_again(paid_invoice):
    inv = paid_invoice(status="refunded")
    with pytest.raises(refunds.RefundError, match="refunded already"):
        refunds.request_refund(inv.pk, Decimal("1.00"), "USD")
    assert not RefundRequest.objects.exists()


def test_order_currency_amounts_never_round_up(paid_invoice):
    inv = paid_invoice()
    with pytest.raises(refunds.RefundError, match="positive"):
        refunds.request_refund(inv.pk, Decimal("0.005"), "USD")  # not 0.01
    assert refunds.request_refund(inv.pk, Decimal("4.999"), "USD").amount == Decimal("4.99")


def test_partial_refunds_add_up_and_never_exceed_the_capture(paid_invoice):
    inv = paid_invoice()
    refunds.request_refund(inv.pk, Decimal("4.00"), "USD")
    refunds.request_refund(inv.pk, Decimal("5.00"), "USD")
    with pytest.raises(refunds.RefundError, match="only 1.00 USD"):
        refunds.request_refund(inv.pk, Decimal("1.01"), "USD")
    refunds.request_refund(inv.pk, Decimal("1.00"), "USD")
    assert refunds.refundable(inv) == 0
    assert RefundRequest.objects.count() == 3


@pytest.mark.parametrize(
    "changes, amount, currency, words",
    [
        ({"charged_at": None, "status": "new"}, "1", "USD", "only 0"),
        ({}, "1", "EUR", "made in USD"),
        ({}, "0", "USD", "positive"),
        ({"pay_amount": None}, "1", "USD", "no crypto amount"),
        ({}, "0.00001", "USD", "positive"),  # quantised to 0.00 USD
    ],
)
def test_refusals(paid_invoice, changes, amount, currency, words):
    inv = paid_invoice(**changes)
    with pytest.raises(refunds.RefundError, match=words):
        refunds.request_refund(inv.pk, Decimal(amount), currency)
    assert not RefundRequest.objects.exists()


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs row locks (PostgreSQL, the Saleor side)"
)
@pytest.mark.django_db(transaction=True)
def test_concurrent_refunds_never_exceed_the_capture(paid_invoice):
    inv = paid_invoice()
    barrier = threading.Barrier(4)
    results = []

    def staff():
        try:
            barrier.wait()
            refunds.request_refund(inv.pk, Decimal("4.00"), "USD")
            results.append("ok")
        except refunds.RefundError:
            results.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=staff) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(results) == ["ok", "ok", "refused", "refused"]
    assert refunds.refunded_total(inv) == Decimal("8.00")


# claim links --------------------------------------------------------------------


def test_claim_link_single_use(paid_invoice, sb):
    refund = refunds.request_refund(paid_invoice().pk, Decimal("5"), "USD")
    token = refunds.claim_token(refund)
    assert refunds.open_claim(token).pk == refund.pk
    client = ICoinPayClient(sb.icoinpay_api_key, base_url=sb.icoinpay_base)
    claimed = refunds.claim(token, f"  {BTC} ", checker=client)
    assert claimed.status == S.QUEUED and claimed.address == BTC
    assert claimed.address_user_hash and claimed.claim_used_at and not claimed.claim_nonce
    assert claimed.address_set_by.startswith("shopper")
    with pytest.raises(refunds.ClaimError, match="already used"):
        refunds.open_claim(token)
    with pytest.raises(refunds.ClaimError):
        refunds.claim(token, BTC_2, checker=client)
    claimed.refresh_from_db()
    assert claimed.address == BTC


def test_claim_link_tampered_expired_and_renewed(paid_invoice):
    refund = refunds.request_refund(paid_invoice().pk, Decimal("5"), "USD")
    token = refunds.claim_token(refund)
    with pytest.raises(refunds.ClaimError, match="not valid"):
        refunds.open_claim(token[:-2] + ("AA" if token[-2:] != "AA" else "BB"))
    forged = signing.dumps([refund.pk, "guess"], salt="other-salt", compress=True)
    with pytest.raises(refunds.ClaimError, match="not valid"):
        refunds.open_claim(forged)
    RefundRequest.objects.filter(pk=refund.pk).update(
        claim_expires_at=timezone.now() - timedelta(seconds=1)
    )
    with pytest.raises(refunds.ClaimError, match="expired"):
        refunds.open_claim(token)
    renewed = refunds.renew_claim(refund.pk)
    with pytest.raises(refunds.ClaimError, match="replaced"):
        refunds.open_claim(token)
    assert refunds.open_claim(refunds.claim_token(renewed)).pk == refund.pk


def test_claim_checks_locally_then_with_the_provider_once(paid_invoice, sb):
    refund = refunds.request_refund(paid_invoice().pk, Decimal("5"), "USD")
    token = refunds.claim_token(refund)
    client = ICoinPayClient(sb.icoinpay_api_key, base_url=sb.icoinpay_base)
    with pytest.raises(refunds.AddressRejected, match="testnet"):
        refunds.claim(token, "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx", checker=client)
    assert sb.request_counts() == {}  # refused locally: no provider call
    sb.set_wallet(unlinked=(BTC_2,))
    with pytest.raises(refunds.AddressRejected, match="iCoinPay account"):
        refunds.claim(token, BTC_2, checker=client)
    # a second try with the same address is answered from the cache
    with pytest.raises(refunds.AddressRejected):
        refunds.claim(token, BTC_2, checker=client)
    assert sb.request_counts()["icoinpay"] == {"checkaddress": 1}
    assert AddressCheck.objects.get(address=BTC_2).valid is False
    refunds.claim(token, BTC, checker=client)
    assert sb.request_counts()["icoinpay"] == {"checkaddress": 2}
    assert AddressCheck.objects.get(address=BTC).valid is True


def test_a_link_may_cost_only_a_few_provider_checks(paid_invoice, sb):
    refund = refunds.request_refund(paid_invoice().pk, Decimal("5"), "USD")
    token = refunds.claim_token(refund)
    client = ICoinPayClient(sb.icoinpay_api_key, base_url=sb.icoinpay_base)
    addresses = [bech32.encode("bc", 0, bytes([i]) * 20) for i in range(8)]
    sb.set_wallet(unlinked=tuple(addresses))
    for address in addresses[: refunds.CLAIM_PROVIDER_CHECKS]:
        with pytest.raises(refunds.AddressRejected, match="iCoinPay account"):
            refunds.claim(token, address, checker=client)
    with pytest.raises(refunds.AddressRejected, match="Too many attempts"):
        refunds.claim(token, addresses[-1], checker=client)
    assert sb.request_counts()["icoinpay"]["checkaddress"] == refunds.CLAIM_PROVIDER_CHECKS


def test_staff_address_skips_the_link(paid_invoice):
    refund = refunds.request_refund(
        paid_invoice().pk, Decimal("5"), "USD", address=BTC, requested_by="staff@x"
    )
    assert refund.status == S.QUEUED and refund.address == BTC and not refund.claim_nonce
    with pytest.raises(refunds.RefundError, match="queued"):
        refunds.set_address(refund.pk, BTC_2, by="staff")
    with pytest.raises(refunds.RefundError, match="not a valid"):
        other = refunds.request_refund(paid_invoice().pk, Decimal("5"), "USD")
        refunds.set_address(other.pk, "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3", by="staff")


# the page -----------------------------------------------------------------------


def test_claim_page_get_post_and_spent(paid_invoice, sb):
    refund = refunds.request_refund(paid_invoice().pk, Decimal("5"), "USD")
    token = refunds.claim_token(refund)
    client = ICoinPayClient(sb.icoinpay_api_key, base_url=sb.icoinpay_base)
    factory = RequestFactory()
    page = claim_view(factory.get("/"), token, checker=client, shop="<Shop>")
    html = page.content.decode()
    assert page.status_code == 200 and "5.00 USD" in html and "0.0001 BTC" in html
    assert "&lt;Shop&gt;" in html and "<script" not in html
    assert page["Referrer-Policy"] == "no-referrer" and page["Cache-Control"] == "no-store"

    bad = claim_view(factory.post("/", {"address": "nope<b>"}), token, checker=client)
    assert bad.status_code == 400 and "not a valid" in bad.content.decode()
    assert "nope&lt;b&gt;" in bad.content.decode()

    done = claim_view(factory.post("/", {"address": BTC}), token, checker=client)
    assert done.status_code == 200 and BTC in done.content.decode()
    again = claim_view(factory.get("/"), token, checker=client)
    assert again.status_code == 410 and "already used" in again.content.decode()
