"""iCoinPay client against the sandbox over real HTTP on loopback, plus the
provider doc's own JSON example."""

import json
import logging
from decimal import Decimal
from pathlib import Path

import pytest
import responses

from saleor_cryptopay.providers import ProviderError
from saleor_cryptopay.providers.icoinpay import (
    ERRORS,
    ICoinPayClient,
    PayoutOutcomeUnknown,
    PayoutRefused,
    from_units,
    to_units,
)

FIXTURES = Path(__file__).parent / "fixtures"
ADDRESS = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"


def test_units_at_the_edge():
    assert to_units(Decimal("0.00012345")) == 12345
    assert to_units(Decimal("1")) == 100_000_000
    assert from_units(12345) == Decimal("0.00012345")
    with pytest.raises(ValueError):
        to_units(Decimal("0.000000001"))  # finer than a satoshi: never rounded silently


def test_doc_balance_example_parses():
    body = (FIXTURES / "icoinpay_balance.json").read_text()
    with responses.RequestsMock() as mocked:
        mocked.post("https://icoinpay.com/api/v1/balance", body=body)
        balance = ICoinPayClient("k", currency="DOGE").balance()
        sent = mocked.calls[0].request.body
    assert balance.currency == "DOGE" and balance.balance == Decimal("10000")
    assert "api_key=k" in sent and "currency=DOGE" in sent


def test_balance_goes_down_with_each_send(icp, sb):
    before = icp.balance()
    assert before.balance == Decimal("1") and before.currency == "BTC"
    payout = icp.send(ADDRESS, Decimal("0.001"))
    assert payout.payout_id and payout.balance == Decimal("0.999")
    assert payout.user_hash and payout.amount == Decimal("0.001")
    assert icp.balance().balance == Decimal("0.999")
    (recorded,) = sb.payouts()
    assert recorded["amount"] == 100_000 and recorded["to"] == ADDRESS
    assert str(recorded["id"]) == payout.payout_id


def test_getbalance_alias_and_currency(icp, sb):
    status, body = icp._call("getbalance", currency="LTC")
    assert status == 200 and body["currency"] == "LTC" and body["balance"] == 10_000_000_000


def test_checkaddress_valid_and_unknown(icp, sb):
    ok = icp.check_address(ADDRESS)
    assert ok.valid and ok.user_hash
    sb.set_wallet(unlinked=(ADDRESS,))
    bad = icp.check_address(ADDRESS)
    assert not bad.valid and bad.user_hash is None and "does not belong" in bad.message


@pytest.mark.parametrize(
    "setup, code, status",
    [
        (lambda sb: sb.set_wallet(balance=10), "insufficient_funds", 402),
        (lambda sb: sb.set_wallet(send_limit=50_000), "send_limit", 450),
        (lambda sb: sb.set_wallet(unlinked=(ADDRESS,)), "invalid_address", 456),
    ],
)
def test_send_refusals_are_clear_and_pay_nothing(icp, sb, setup, code, status):
    setup(sb)
    with pytest.raises(PayoutRefused) as err:
        icp.send(ADDRESS, Decimal("0.001"))
    assert err.value.code == code and err.value.status_code == status
    assert not isinstance(err.value, PayoutOutcomeUnknown)
    assert sb.payouts() == []


def test_wrong_key_and_currency(sb):
    client = ICoinPayClient("wrong-key", base_url=sb.icoinpay_base)
    with pytest.raises(ProviderError) as err:
        client.balance()
    assert err.value.code == "invalid_key" and err.value.status_code == 403
    assert "wrong-key" not in str(err.value) and "wrong-key" not in repr(err.value)
    assert "wrong-key" not in repr(client)
    good = ICoinPayClient(sb.icoinpay_api_key, base_url=sb.icoinpay_base, currency="XYZ")
    with pytest.raises(PayoutRefused) as err:
        good.send(ADDRESS, Decimal("0.001"))
    assert err.value.code == "invalid_currency"


@pytest.mark.parametrize("status", sorted(ERRORS))
def test_every_documented_code_is_mapped(icp, sb, status):
    sb.inject_fault("icoinpay", "status", status=status, endpoint="send")
    with pytest.raises(PayoutRefused) as err:
        icp.send(ADDRESS, Decimal("0.001"))
    assert err.value.code == ERRORS[status][0] and err.value.status_code == status
    sb.inject_fault("icoinpay", "status", status=status, endpoint="balance")
    with pytest.raises(ProviderError) as err:
        icp.balance()
    assert err.value.code == ERRORS[status][0]


def test_success_only_on_status_200():
    with responses.RequestsMock() as mocked:
        mocked.post(
            "https://icoinpay.com/api/v1/balance",
            json={"status": 201, "message": "odd", "balance": 5},
        )
        with pytest.raises(ProviderError):
            ICoinPayClient("k").balance()


@pytest.mark.parametrize("mode", ["drop", "hang", "bad_json"])
def test_lost_answer_is_ambiguous_and_the_payout_happened(sb, mode):
    client = ICoinPayClient(sb.icoinpay_api_key, base_url=sb.icoinpay_base, timeout=(2, 0.5))
    sb.inject_fault("icoinpay", mode, endpoint="send", seconds=1.5)
    with pytest.raises(PayoutOutcomeUnknown):
        client.send(ADDRESS, Decimal("0.001"))
    (payout,) = sb.payouts()
    assert payout["answer"] == "lost"  # the money left: a retry would pay twice


@pytest.mark.parametrize("mode", ["html", "empty"])
def test_server_errors_on_send_are_ambiguous(icp, sb, mode):
    sb.inject_fault("icoinpay", mode, endpoint="send")
    with pytest.raises(PayoutOutcomeUnknown):
        icp.send(ADDRESS, Decimal("0.001"))


def test_no_connection_is_a_clear_refusal():
    client = ICoinPayClient("k", base_url="http://127.0.0.1:9/api/v1", timeout=(1, 1))
    with pytest.raises(PayoutRefused) as err:
        client.send(ADDRESS, Decimal("0.001"))
    assert err.value.code == "not_sent" and err.value.retryable


def test_rate_limit_on_send_is_a_retryable_refusal(icp, sb):
    sb.inject_fault("icoinpay", "rate_limit", endpoint="send", retry_after=3)
    with pytest.raises(PayoutRefused) as err:
        icp.send(ADDRESS, Decimal("0.001"))
    assert err.value.retryable and err.value.retry_after == 3
    assert sb.payouts() == []


def test_key_never_logged(icp, sb, caplog):
    caplog.set_level(logging.DEBUG)
    icp.send(ADDRESS, Decimal("0.001"))
    sb.inject_fault("icoinpay", "status", status=403)
    with pytest.raises(ProviderError):
        icp.balance()
    assert sb.icoinpay_api_key not in caplog.text
    assert json.dumps(sb.icoinpay_api_key)[1:-1] not in caplog.text
