"""iCoinPay wire protocol (FaucetPay v1 contract), base ``/icoinpay/api/v1``.

``POST /<method>`` with form fields ``api_key``, ``currency`` and the method's
own. Every answer is HTTP 200 with a JSON ``status``: 200 for success, else one
of the documented error codes with a ``message``. Amounts are integer base
units (coin x 10^8).
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from .httputil import Request, Response, json_response
from .state import Store, WalletPayout

BASE = "/icoinpay/api/v1"
CURRENCIES = ("BTC", "LTC", "ETH", "DOGE", "BCH", "DASH", "TRX", "USDT")
METHODS = ("balance", "getbalance", "checkaddress", "send")
_ADDRESS = re.compile(r"^[A-Za-z0-9:]{20,100}$")


def method_of(sub: str) -> str:
    return sub.strip("/").lower()


def names(method: str) -> tuple[str, ...]:
    """Every name a method goes by (for fault matching)."""
    return ("balance", "getbalance") if method in ("balance", "getbalance") else (method,)


def error(status: int, message: str) -> Response:
    return json_response({"status": status, "message": message})


def text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def user_hash(address: str) -> str:
    return hashlib.sha256(address.encode()).hexdigest()[:32]


def handle(store: Store, req: Request, sub: str) -> Response:
    method = method_of(sub)
    if method not in METHODS:
        return error(404, "Method not found")
    if req.method != "POST":
        return error(404, "Method not found: use POST")
    params = req.params()
    key = text(params.get("api_key"))
    if key not in store.config.icoinpay_api_keys:
        return error(403, "The API key is invalid")
    currency = text(params.get("currency")).upper() or "BTC"
    if currency not in CURRENCIES:
        return error(410, "The currency is invalid")
    if method in ("balance", "getbalance"):
        return _balance(store, key, currency)
    if method == "checkaddress":
        return _checkaddress(store, text(params.get("address")))
    return _send(store, key, currency, params)


def _balance(store: Store, key: str, currency: str) -> Response:
    with store.lock:
        units = store.wallet(key).get(currency, 0)
    return json_response(
        {
            "status": 200,
            "message": "OK",
            "currency": currency,
            "balance": units,
            "balance_bitcoin": f"{units / 10**8:.8f}",
        }
    )


def _linked(store: Store, address: str) -> bool:
    return bool(_ADDRESS.match(address)) and address not in store.unlinked


def _checkaddress(store: Store, address: str) -> Response:
    with store.lock:
        linked = _linked(store, address)
    if not linked:
        return error(456, "The address does not belong to any user.")
    return json_response({"status": 200, "message": "OK", "payout_user_hash": user_hash(address)})


def _send(store: Store, key: str, currency: str, params: dict[str, Any]) -> Response:
    to = text(params.get("to"))
    raw_amount = text(params.get("amount"))
    if not raw_amount.isdigit() or int(raw_amount) <= 0:
        return error(405, "The amount is invalid")
    amount = int(raw_amount)
    with store.mutate():
        if not _linked(store, to):
            return error(456, "The address does not belong to any user.")
        if store.send_limit is not None and amount > store.send_limit:
            return error(450, "Send limit reached")
        wallet = store.wallet(key)
        if wallet.get(currency, 0) < amount:
            return error(402, "Insufficient funds")
        wallet[currency] -= amount
        payout = WalletPayout(
            id=store.next_id("payout"),
            api_key=key,
            currency=currency,
            to=to,
            amount=amount,
            user_hash=user_hash(to),
            created_at=store.now().isoformat(timespec="seconds"),
            balance_after=wallet[currency],
        )
        store.payouts[payout.id] = payout
    return json_response(
        {
            "status": 200,
            "message": "Send successful",
            "rate_limit_remaining": 100,
            "currency": currency,
            "balance": payout.balance_after,
            "balance_bitcoin": f"{payout.balance_after / 10**8:.8f}",
            "payout_id": payout.id,
            "payout_user_hash": payout.user_hash,
        }
    )


def mark_lost(store: Store, body: bytes) -> None:
    """The answer to a processed send never reached the client: say so on the
    payout (the overview shows it)."""
    try:
        payout_id = json.loads(body.decode()).get("payout_id")
    except (ValueError, AttributeError, UnicodeDecodeError):
        return
    with store.mutate():
        payout = store.payouts.get(payout_id) if isinstance(payout_id, int) else None
        if payout is not None:
            payout.answer = "lost"
