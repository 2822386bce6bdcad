"""CoinPay.in.th wire protocol, base ``/coinpay_th/api``: ``POST /<action>/``.

Form fields (urlencoded or multipart, as the official PHP class sends),
``key``/``nonce``/``signature`` on every call. Bad credentials are an HTTP
401; everything else, including a stale nonce, is HTTP 200 with
``{"success": false, "error": ...}`` like the real API. Amounts are JSON
floats and dates ``YYYY-MM-DD HH:MM:SS`` in UTC+7 at this edge only.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Optional

from ..money import MoneyError, to_decimal
from ..providers.coinpay_th_auth import check_signature
from . import orders
from .httputil import Request, Response, json_response
from .orders import ICT, OrderError
from .rates import convert_q, fake_address, is_supported
from .state import Paylink, Store

BASE = "/coinpay_th/api"

# action as called -> canonical name (the official PHP class vs the docs)
ALIASES = {
    "paybox": "create", "create": "create",
    "checkorder": "check", "check": "check",
    "reference": "reference", "orders": "orders", "balance": "balance",
    "price": "price", "address": "address", "paylink": "paylink",
    "verifyipn": "verifyipn", "validate": "validate",
}  # fmt: skip


def names(action: str) -> tuple[str, ...]:
    """Every name the action goes by (for fault matching)."""
    canonical = ALIASES.get(action)
    return tuple(sorted({a for a, c in ALIASES.items() if c == canonical})) or (action,)


def action_of(sub: str) -> str:
    return sub.strip("/").lower()


def fail(message: str, **extra: Any) -> Response:
    return json_response({"success": False, "error": message, **extra})


def text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _authenticate(store: Store, params: dict[str, Any]) -> tuple[Optional[str], Optional[Response]]:
    key, nonce, signature = (text(params.get(n)) for n in ("key", "nonce", "signature"))
    secret = store.config.coinpay_th_credentials.get(key)
    if not key or secret is None or not check_signature(key, nonce, secret, signature):
        return None, json_response({"success": False, "error": "Invalid API key or signature"}, 401)
    if not nonce.isdigit():
        return None, fail("Invalid nonce: must be a positive integer")
    value = int(nonce)
    with store.mutate():  # check-and-set under the lock: concurrent calls race here
        last = store.nonces.get(key)
        if last is not None and value <= last:
            return None, fail(f"Invalid nonce: must be greater than {last}")
        store.nonces[key] = value
    return key, None


def handle(store: Store, req: Request, sub: str) -> Response:
    action = action_of(sub)
    canonical = ALIASES.get(action)
    if canonical is None:
        return json_response({"success": False, "error": f"Unknown action: {action}"}, 404)
    if req.method != "POST":
        return json_response({"success": False, "error": "POST required"}, 405)
    params = req.params()
    key, problem = _authenticate(store, params)
    if problem is not None or key is None:
        return problem or fail("Invalid API key or signature")
    orders.expire_due(store)
    handler = _HANDLERS[canonical]
    try:
        return handler(store, key, params)
    except OrderError as exc:
        return fail(str(exc))


def _amount(params: dict[str, Any], required: bool = True) -> Decimal:
    raw = text(params.get("amount"))
    if not raw:
        if required:
            raise OrderError("Amount is required")
        return Decimal(0)
    try:
        return to_decimal(raw)
    except MoneyError as exc:
        raise OrderError("Invalid amount") from exc


def _currency(params: dict[str, Any]) -> str:
    currency = text(params.get("currency")).upper()
    if not currency:
        raise OrderError("Currency is required")
    if not is_supported(currency):
        raise OrderError(f"Currency not supported: {currency}")
    return currency


def _keep(params: dict[str, Any]) -> Optional[int]:
    raw = text(params.get("keep"))
    if not raw:
        return None
    if not raw.isdigit() or not 0 <= int(raw) <= 100:
        raise OrderError("Invalid keep value: use an integer from 0 to 100")
    return int(raw)


def _opt(params: dict[str, Any], name: str) -> Optional[str]:
    return text(params[name]) if name in params else None


def _create(store: Store, key: str, params: dict[str, Any]) -> Response:
    amount, currency, keep = _amount(params), _currency(params), _keep(params)
    order_ref = text(params.get("order_id"))
    if order_ref and order_ref != "0":
        order = orders.find_order(store, key, order_ref)
        if order is None:
            return fail("Order not found")
        orders.update_order(
            store,
            order,
            amount=amount,
            currency=currency,
            reference_id=_opt(params, "reference_id"),
            ipn=_opt(params, "ipn"),
            notes=_opt(params, "notes"),
            keep=keep,
        )
    else:
        order = orders.create_order(
            store,
            api_key=key,
            amount=amount,
            currency=currency,
            reference_id=text(params.get("reference_id")),
            ipn=text(params.get("ipn")),
            notes=text(params.get("notes")),
            keep=keep,
        )
    with store.lock:
        return json_response(orders.create_json(store, order))


def _check(store: Store, key: str, params: dict[str, Any]) -> Response:
    ref = text(params.get("order_id"))
    order = orders.find_order(store, key, ref) if ref else None
    if order is None:
        return fail("Order not found", error_code=1)
    with store.mutate():
        if "reference_id" in params:
            order.reference_id = text(params["reference_id"])
        return json_response(orders.check_json(order))


def parse_th_datetime(raw: str, end: bool) -> datetime:
    """``YYYY-MM-DD[ HH:MM[:SS]]`` in UTC+7. A bare end date covers that whole day."""
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"):
        try:
            value = datetime.strptime(raw, fmt).replace(tzinfo=ICT)
        except ValueError:
            continue
        if fmt == "%Y-%m-%d" and end:
            value += timedelta(days=1) - timedelta(microseconds=1)
        return value
    raise OrderError(f"Invalid date: {raw}")


def _orders(store: Store, key: str, params: dict[str, Any]) -> Response:
    raw_status = text(params.get("status_id")) or "0,1,2,5"
    try:
        wanted = {int(s) for s in raw_status.split(",") if s.strip()}
    except ValueError:
        return fail("Invalid status_id")
    start_raw, end_raw = text(params.get("start_date")), text(params.get("end_date"))
    start = parse_th_datetime(start_raw, end=False) if start_raw else None
    end = parse_th_datetime(end_raw, end=True) if end_raw else None
    with store.lock:
        rows = [
            o
            for o in store.orders.values()
            if o.api_key == key
            and o.status in wanted
            and (start is None or o.created_at >= start)
            and (end is None or o.created_at <= end)
        ]
        rows.sort(key=lambda o: o.id, reverse=True)  # newest first
        return json_response({"success": True, "orders": [orders.list_json(o) for o in rows]})


def _reference(store: Store, key: str, params: dict[str, Any]) -> Response:
    ref = text(params.get("order_id"))
    if "reference_id" not in params:
        return fail("reference_id is required")
    order = orders.find_order(store, key, ref) if ref else None
    if order is None:
        return fail("Order not found")
    with store.mutate():
        order.reference_id = text(params["reference_id"])
    return json_response({"success": True})


def _price(store: Store, key: str, params: dict[str, Any]) -> Response:
    if not text(params.get("currency")) and not text(params.get("amount")):
        # no fields: the standard BTC -> THB rate, so the currency is THB
        rate = convert_q(Decimal(1), "BTC", "THB")
        return json_response({"success": True, "value": float(rate), "currency": "THB"})
    currency = text(params.get("currency")).upper() or "THB"
    if not is_supported(currency):
        return fail(f"Currency not supported: {currency}")
    amount = _amount(params, required=False) or Decimal(1)
    if amount <= 0:
        return fail("Invalid amount")
    value = convert_q(amount, currency, "BTC")
    return json_response({"success": True, "value": float(value), "currency": "BTC"})


def _balance(store: Store, key: str, params: dict[str, Any]) -> Response:
    return json_response({"success": True, "balances": orders.balances(store, key)})


def _address(store: Store, key: str, params: dict[str, Any]) -> Response:
    new = text(params.get("new")).lower() in ("1", "true", "yes")
    with store.mutate():
        if new or key not in store.th_addresses:
            store.th_addresses[key] = fake_address("BTC")
        return json_response({"success": True, "address": store.th_addresses[key]})


def _paylink(store: Store, key: str, params: dict[str, Any]) -> Response:
    amount, currency = _amount(params), _currency(params)
    orders.btc_amount_for(amount, currency)  # same rules as an order
    with store.mutate():
        link = Paylink(
            hash=secrets.token_hex(16),
            api_key=key,
            amount=amount,
            currency=currency,
            created_at=store.now(),
            reference_id=text(params.get("reference_id")),
            ipn=text(params.get("ipn")),
            redirect=text(params.get("redirect")),
        )
        store.paylinks[link.hash] = link
    url = f"{store.config.base_url}/coinpay_th/pay/{link.hash}"
    return json_response({"success": True, "link": url})


def _verifyipn(store: Store, key: str, params: dict[str, Any]) -> Response:
    order = orders.find_order(store, key, text(params.get("order_id")))
    with store.lock:
        if order is not None and orders.verify_ipn(order, text(params.get("verify"))):
            return json_response({"success": True})
    return fail("IPN verification failed")


def _validate(store: Store, key: str, params: dict[str, Any]) -> Response:
    orders.btc_amount_for(_amount(params), _currency(params))
    return json_response({"success": True})


_HANDLERS: dict[str, Callable[[Store, str, dict[str, Any]], Response]] = {
    "create": _create,
    "check": _check,
    "orders": _orders,
    "reference": _reference,
    "price": _price,
    "balance": _balance,
    "address": _address,
    "paylink": _paylink,
    "verifyipn": _verifyipn,
    "validate": _validate,
}
