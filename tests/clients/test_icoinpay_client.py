"""iCoinPay client against the sandbox over real HTTP on loopback, plus the
provider doc's own JSON example."""

import json
import logging
import re
import socket
import ssl
import threading
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import pytest
import responses

from saleor_cryptopay.providers import ProviderError
from saleor_cryptopay.providers.http import MAX_RESPONSE_BYTES
from saleor_cryptopay.providers.icoinpay import (
    ERRORS,
    ICoinPayClient,
    PayoutOutcomeUnknown,
    PayoutRefused,
    from_units,
    to_units,
)

from ..checks.servers import json_answer, serve

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


def test_an_undocumented_rate_limit_on_send_is_unknown(icp, sb):
    """No iCoinPay doc lists 429: whoever answered it got the request."""
    sb.inject_fault("icoinpay", "rate_limit", endpoint="send", retry_after=3)
    with pytest.raises(PayoutOutcomeUnknown) as err:
        icp.send(ADDRESS, Decimal("0.001"))
    assert err.value.status_code == 429


def test_key_never_logged(icp, sb, caplog):
    caplog.set_level(logging.DEBUG)
    icp.send(ADDRESS, Decimal("0.001"))
    sb.inject_fault("icoinpay", "status", status=403)
    with pytest.raises(ProviderError):
        icp.balance()
    assert sb.icoinpay_api_key not in caplog.text
    assert json.dumps(sb.icoinpay_api_key)[1:-1] not in caplog.text


# "never sent" only when no byte left or the answer is a documented refusal ----------


def test_an_undocumented_status_in_a_json_answer_is_unknown(icp, sb):
    sb.inject_fault("icoinpay", "odd_status", endpoint="send", status=500)
    with pytest.raises(PayoutOutcomeUnknown) as err:
        icp.send(ADDRESS, Decimal("0.001"))
    assert err.value.code == "undocumented_answer"
    assert len(sb.payouts()) == 1  # the wallet had paid: a retry would pay twice


@pytest.mark.parametrize("status", [404, 500, 502])
def test_a_proxy_page_after_the_request_was_passed_on_is_unknown(icp, sb, status):
    sb.inject_fault("icoinpay", "proxy_page", endpoint="send", status=status)
    with pytest.raises(PayoutOutcomeUnknown) as err:
        icp.send(ADDRESS, Decimal("0.001"))
    assert err.value.status_code == status and err.value.code == f"http_{status}"
    assert len(sb.payouts()) == 1


def test_redirects_are_never_followed(sb):
    """A 307 would re-send the form, API key and payout included, elsewhere."""
    with serve(lambda *a: json_answer('{"status": 200, "payout_id": 9}')) as (other, seen):
        client = ICoinPayClient(sb.icoinpay_api_key, base_url=sb.icoinpay_base, timeout=(2, 2))
        sb.inject_fault("icoinpay", "redirect", endpoint="send", location=f"{other}/send")
        with pytest.raises(PayoutOutcomeUnknown) as err:
            client.send(ADDRESS, Decimal("0.001"))
        assert err.value.code == "redirect" and err.value.status_code == 307
        sb.inject_fault("icoinpay", "redirect", endpoint="balance", location=f"{other}/balance")
        with pytest.raises(ProviderError) as err:
            client.balance()
        assert err.value.code == "redirect"
    assert seen.requests == []


def test_a_dripping_answer_is_cut_at_the_total_deadline(sb):
    """One byte every 0.2 s never trips a 0.5 s read timeout; the deadline
    ends the call anyway, and the payout it made stays "unknown"."""
    client = ICoinPayClient(
        sb.icoinpay_api_key, base_url=sb.icoinpay_base, timeout=(2, 0.5), deadline=1.0
    )
    sb.inject_fault("icoinpay", "drip", endpoint="send", seconds=0.2)
    with pytest.raises(PayoutOutcomeUnknown) as err:
        client.send(ADDRESS, Decimal("0.001"))
    assert err.value.code == "deadline" and "answer was lost" in err.value.message
    assert len(sb.payouts()) == 1


def test_an_answer_over_the_size_cap_is_refused():
    big = json_answer('{"status": 200, "pad": "' + "x" * (MAX_RESPONSE_BYTES + 10) + '"}')
    with serve(lambda *a: big) as (url, seen):
        client = ICoinPayClient("k", base_url=url, timeout=(2, 2))
        with pytest.raises(PayoutOutcomeUnknown) as err:
            client.send(ADDRESS, Decimal("0.001"))
    assert err.value.code == "too_large" and len(seen.requests) == 1


@pytest.fixture(scope="module")
def ca():
    trustme = pytest.importorskip("trustme")
    return trustme.CA()


@pytest.fixture
def trusted(ca, tmp_path, monkeypatch):
    """requests trusts the test CA (verification stays on)."""
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))


@contextmanager
def tls_server_that_breaks_after_reading(ca):
    """A TLS server that reads the whole request, then answers raw bytes that
    are no TLS record (a broken stream) and hangs up. Yields (url, bodies)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(10)
    bodies: list[bytes] = []

    def run() -> None:
        try:
            raw, _ = listener.accept()
        except OSError:
            return
        with raw:
            try:
                conn = context.wrap_socket(raw, server_side=True)
            except (OSError, ssl.SSLError):
                return  # the client refused the handshake
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            head, _, body = data.partition(b"\r\n\r\n")
            length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
            while len(body) < length:
                body += conn.recv(65536)
            bodies.append(body)
            socket.socket.sendall(conn, b"\x17\x03\x03\x00\x10" + b"not-a-tls-record")

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{listener.getsockname()[1]}", bodies
    finally:
        thread.join(10)
        listener.close()


def test_tls_broken_after_the_request_was_written_is_unknown(ca, trusted):
    with tls_server_that_breaks_after_reading(ca) as (url, bodies):
        client = ICoinPayClient("k", base_url=url, timeout=(2, 2))
        with pytest.raises(PayoutOutcomeUnknown) as err:
            client.send(ADDRESS, Decimal("0.001"))
    assert len(bodies) == 1 and b"amount=100000" in bodies[0]  # it arrived
    assert err.value.code == "tls_after_send" and "answer was lost" in err.value.message


def test_tls_handshake_refused_is_never_sent(ca):
    """The certificate is refused during the handshake: no request byte left."""
    with tls_server_that_breaks_after_reading(ca) as (url, bodies):
        client = ICoinPayClient("k", base_url=url, timeout=(2, 2))
        with pytest.raises(PayoutRefused) as err:
            client.send(ADDRESS, Decimal("0.001"))
    assert err.value.code == "not_sent" and "certificate" in err.value.message
    assert bodies == []


def test_a_lost_connection_after_sending_says_the_answer_was_lost(sb):
    client = ICoinPayClient(sb.icoinpay_api_key, base_url=sb.icoinpay_base, timeout=(2, 2))
    sb.inject_fault("icoinpay", "drop", endpoint="send")
    with pytest.raises(PayoutOutcomeUnknown) as err:
        client.send(ADDRESS, Decimal("0.001"))
    assert "answer was lost" in err.value.message
    assert "could not connect" not in err.value.message
