"""The sandbox's iCoinPay wallet API, over raw HTTP (independent of the client)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from saleor_cryptopay.sandbox import SandboxServer

KEY = "sandbox-icoinpay-key"
ADDRESS = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"


def call(sb: SandboxServer, method: str, **fields):
    data = {"api_key": KEY, "currency": "BTC", **fields}
    return requests.post(f"{sb.url}/icoinpay/api/v1/{method}", data=data, timeout=5)


def test_balance_and_getbalance(sb: SandboxServer) -> None:
    for method in ("balance", "getbalance"):
        resp = call(sb, method)
        assert resp.status_code == 200
        assert resp.json() == {
            "status": 200,
            "message": "OK",
            "currency": "BTC",
            "balance": 100_000_000,
            "balance_bitcoin": "1.00000000",
        }


def test_send_moves_money_and_numbers_payouts(sb: SandboxServer) -> None:
    first = call(sb, "send", to=ADDRESS, amount=1000).json()
    second = call(sb, "send", to=ADDRESS, amount=500).json()
    assert first["status"] == second["status"] == 200
    assert second["payout_id"] > first["payout_id"]
    assert second["balance"] == 100_000_000 - 1500
    assert {"rate_limit_remaining", "payout_user_hash", "balance_bitcoin"} <= first.keys()
    assert call(sb, "balance").json()["balance"] == 100_000_000 - 1500
    assert [p["amount"] for p in sb.payouts()] == [1000, 500]


@pytest.mark.parametrize(
    "fields, status",
    [
        ({"api_key": "nope"}, 403),
        ({"currency": "XYZ"}, 410),
        ({"amount": "1.5"}, 405),
        ({"amount": "0"}, 405),
        ({"to": "short"}, 456),
        ({"amount": "100000001"}, 402),
    ],
)
def test_send_errors_are_documented_codes_in_a_200(sb: SandboxServer, fields, status) -> None:
    data = {"to": ADDRESS, "amount": "1000", **fields}
    resp = call(sb, "send", **data)
    assert resp.status_code == 200 and resp.json()["status"] == status
    assert resp.json()["message"]
    assert sb.payouts() == [] and sb.wallet_balance() == 100_000_000


def test_unknown_method_is_404(sb: SandboxServer) -> None:
    assert call(sb, "withdraw").json()["status"] == 404


def test_control_wallet_limit_and_unlinked(sb: SandboxServer) -> None:
    resp = requests.post(
        f"{sb.url}/_sandbox/icoinpay/wallet",
        json={"balance": 5000, "send_limit": 2000, "unlinked": ADDRESS},
        timeout=5,
    )
    assert resp.status_code == 200 and resp.json()["send_limit"] == 2000
    assert call(sb, "checkaddress", address=ADDRESS).json()["status"] == 456
    other = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"
    assert call(sb, "checkaddress", address=other).json()["status"] == 200
    assert call(sb, "send", to=other, amount=3000).json()["status"] == 450
    assert call(sb, "send", to=other, amount=2000).json()["status"] == 200
    assert call(sb, "send", to=other, amount=2000).json()["status"] == 200
    assert call(sb, "send", to=other, amount=2000).json()["status"] == 402
    payouts = requests.get(f"{sb.url}/_sandbox/icoinpay/payouts", timeout=5).json()
    assert len(payouts) == 2 and "api_key" not in payouts[0]


def test_drop_fault_pays_then_closes_the_connection(sb: SandboxServer) -> None:
    sb.inject_fault("icoinpay", "drop", endpoint="send")
    with pytest.raises(requests.ConnectionError):
        call(sb, "send", to=ADDRESS, amount=1000)
    (payout,) = sb.payouts()
    assert payout["answer"] == "lost" and sb.wallet_balance() == 100_000_000 - 1000


def test_overview_shows_wallet_payouts_and_faults(sb: SandboxServer) -> None:
    call(sb, "send", to=ADDRESS, amount=1000)
    sb.inject_fault("icoinpay", "drop", endpoint="send", count=2)
    page = requests.get(f"{sb.url}/_sandbox/", timeout=5).text
    assert "iCoinPay wallet" in page and KEY in page
    assert "0.99999000" in page and ADDRESS in page
    assert "drop" in page and "Armed faults" in page


def test_state_file_keeps_wallet_and_payouts(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    with SandboxServer(port=0, state_file=str(state)) as sb:
        call(sb, "send", to=ADDRESS, amount=1000)
    assert json.loads(state.read_text())["payouts"][0]["amount"] == 1000
    with SandboxServer(port=0, state_file=str(state)) as sb:
        assert sb.wallet_balance() == 100_000_000 - 1000 and len(sb.payouts()) == 1
