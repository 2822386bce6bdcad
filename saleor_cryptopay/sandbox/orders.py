"""CoinPay.in.th orders: create/update, status changes, IPNs and their
verification, balances.

order_status: 0 Awaiting Payment, 1 Waiting Confirmations, 2 Completed,
4 Expired, 5 Partial Payment. The 15-minute rate lock is ``expire_at``; an
order still awaiting (0) or partly paid (5) when it ends becomes Expired (4),
keeping whatever was received.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from html import escape
from typing import Any, Optional

from ..money import format_amount, quantize
from ..qr import payment_uri, qr_png_base64
from .rates import convert_q, fake_address, fake_txid, is_supported
from .state import ActionError, Order, Paylink, Store

PROVIDER = "coinpay_th"
ICT = timezone(timedelta(hours=7))  # the provider's dates are UTC+7
OPEN = frozenset({0, 5})
DUST_BTC = Decimal("0.00000546")  # below this no order can be paid

STATUS_TEXT = {
    0: "Awaiting Payment",
    1: "Waiting Confirmations",
    2: "Completed",
    4: "Expired",
    5: "Partial Payment",
}
MESSAGE = {
    0: "Awaiting payment",
    1: "Payment received, waiting for confirmations",
    2: "Payment completed",
    4: "Order expired",
    5: "Partial payment received",
}
CONFIRMED = 6  # confirmations shown once an order completes


class OrderError(Exception):
    """A business error the API answers as ``{"success": false, "error": ...}``."""


def th_date(dt: datetime) -> str:
    return dt.astimezone(ICT).strftime("%Y-%m-%d %H:%M:%S")


def btc_amount_for(amount: Decimal, currency: str) -> Decimal:
    """Validate amount/currency and convert; raises OrderError."""
    if not is_supported(currency):
        raise OrderError(f"Currency not supported: {currency}")
    if amount <= 0:
        raise OrderError("Invalid amount")
    btc = convert_q(amount, currency, "BTC")
    if btc < DUST_BTC:
        raise OrderError(f"Amount too small: minimum is {DUST_BTC} BTC")
    return btc


def _expire_minutes(store: Store) -> float | int:
    minutes = store.config.order_ttl_seconds / 60
    return int(minutes) if float(minutes).is_integer() else minutes


def create_order(
    store: Store,
    *,
    api_key: str,
    amount: Decimal,
    currency: str,
    reference_id: str = "",
    ipn: str = "",
    notes: str = "",
    keep: Optional[int] = None,
    redirect: str = "",
    paylink: Optional[str] = None,
) -> Order:
    currency = currency.upper()
    btc = btc_amount_for(amount, currency)
    with store.mutate():
        now = store.now()
        order = Order(
            id=store.next_id("order"),
            order_hash=secrets.token_hex(16),
            api_key=api_key,
            amount=quantize(amount, currency),
            currency=currency,
            btc_amount=btc,
            address=fake_address("BTC"),
            created_at=now,
            expire_at=now + timedelta(seconds=store.config.order_ttl_seconds),
            reference_id=reference_id,
            ipn=ipn,
            notes=notes,
            keep=keep,
            redirect=redirect,
            paylink=paylink,
        )
        store.orders[order.id] = order
        store.order_hashes[order.order_hash] = order.id
    return order


def update_order(
    store: Store,
    order: Order,
    *,
    amount: Decimal,
    currency: str,
    reference_id: Optional[str] = None,
    ipn: Optional[str] = None,
    notes: Optional[str] = None,
    keep: Optional[int] = None,
) -> Order:
    """Same address, new amount, fresh rate lock. Only before any payment."""
    expire_due(store)
    currency = currency.upper()
    with store.mutate():
        if order.status != 0:
            raise OrderError(f"Order cannot be updated: {STATUS_TEXT[order.status]}")
        btc = btc_amount_for(amount, currency)
        order.amount, order.currency, order.btc_amount = quantize(amount, currency), currency, btc
        order.expire_at = store.now() + timedelta(seconds=store.config.order_ttl_seconds)
        if reference_id is not None:
            order.reference_id = reference_id
        if ipn is not None:
            order.ipn = ipn
        if notes is not None:
            order.notes = notes
        if keep is not None:
            order.keep = keep
    return order


def find_order(store: Store, api_key: Optional[str], ref: Any) -> Optional[Order]:
    """By numeric id or order_hash; only the key's own orders (None = any key)."""
    with store.lock:
        text = str(ref).strip()
        order = None
        if text.isdigit():
            order = store.orders.get(int(text))
        if order is None:
            oid = store.order_hashes.get(text.lower())
            order = store.orders.get(oid) if oid is not None else None
        if order is None or (api_key is not None and order.api_key != api_key):
            return None
        return order


def _f(amount: Decimal) -> float:
    # floats only here, at the wire edge, because the real API sends floats
    return float(amount)


def create_json(store: Store, order: Order) -> dict[str, Any]:
    btc = format_amount(order.btc_amount, "BTC")
    # like the real provider: a base64 PNG (no data: prefix) of the BIP 21 URI
    qr = qr_png_base64(payment_uri("BTC", order.address, order.btc_amount) or order.address)
    html = (
        '<div class="coinpay-order">'
        f"<p>Please send <strong>{escape(btc)} BTC</strong> to</p>"
        f"<p><code>{escape(order.address)}</code></p>"
        f'<img alt="QR code" src="data:image/png;base64,{qr}">'
        f"<p>This price is locked for {_expire_minutes(store)} minutes.</p>"
        "</div>"
    )
    return {
        "success": True,
        "order_id": order.id,
        "order_hash": order.order_hash,
        "address": order.address,
        "btc_amount": _f(order.btc_amount),
        "expire": _expire_minutes(store),
        "qr_data": qr,
        "html": html,
    }


def error_code(order: Order) -> int:
    if order.status in (1, 2):
        return 0  # payment received
    if order.status == 5 or (order.status == 4 and order.btc_received > 0):
        return 3  # insufficient payment
    return 2  # payment not received


ERROR_TEXT = {2: "Payment not received", 3: "Insufficient payment"}


def check_json(order: Order) -> dict[str, Any]:
    code = error_code(order)
    out: dict[str, Any] = {
        "success": order.status == 2,
        "status": STATUS_TEXT[order.status],
        "date": th_date(order.created_at),
        "btc_amount": _f(order.btc_amount),
        "order_amount": _f(order.amount),
        "currency": order.currency,
        "order_id": order.id,
        "order_hash": order.order_hash,
        "confirmed": order.status == 2,
        "error_code": code,
        "btc_received": _f(order.btc_received),
        "reference_id": order.reference_id,
        "order_status": order.status,
    }
    if order.status != 2:
        if order.status == 1:
            out["error"] = "Payment received, waiting for confirmations"
        elif order.status == 4:
            out["error"] = "Order expired" + (": insufficient payment" if code == 3 else "")
        else:
            out["error"] = ERROR_TEXT[code]
    return out


def list_json(order: Order) -> dict[str, Any]:
    return {
        "order_id": order.id,
        "order_hash": order.order_hash,
        "date": th_date(order.created_at),
        "btc_amount": _f(order.btc_amount),
        "btc_received": _f(order.btc_received),
        "order_amount": _f(order.amount),
        "currency": order.currency,
        "status": STATUS_TEXT[order.status],
        "order_status": order.status,
        "reference_id": order.reference_id,
        "transactions": [
            {"txid": t["txid"], "amount": float(t["amount"]), "confirmations": t["confirmations"]}
            for t in order.transactions
        ],
    }


def ipn_pairs(order: Order, verify: str) -> list[tuple[str, str]]:
    return [
        ("order_id", str(order.id)),
        ("order_hash", order.order_hash),
        ("verify", verify),
        ("success", "true" if order.status == 2 else "false"),
        ("status", STATUS_TEXT[order.status]),
        ("order_status", str(order.status)),
        ("reference_id", order.reference_id),
        ("btc_amount", format_amount(order.btc_amount, "BTC")),
        ("btc_received", format_amount(order.btc_received, "BTC")),
        ("message", MESSAGE[order.status]),
    ]


def notify(store: Store, order: Order) -> list[int]:
    """Queue an IPN for the current state, with a fresh verify token."""
    if not order.ipn:
        return []
    verify = secrets.token_hex(20)
    order.verify_tokens.append(verify)
    d = store.add_delivery(
        PROVIDER, order.id, order.ipn, ipn_pairs(order, verify), STATUS_TEXT[order.status]
    )
    return [d.id]


def verify_ipn(order: Order, verify: str) -> bool:
    given = str(verify).strip().encode("utf-8")
    ok = False
    for token in order.verify_tokens:
        ok |= hmac.compare_digest(token.encode("utf-8"), given)
    return ok


def expire_due(store: Store) -> list[int]:
    with store.lock:
        now = store.now()
        due = [o for o in store.orders.values() if o.status in OPEN and now >= o.expire_at]
        if not due:
            return []
        with store.mutate():
            ids: list[int] = []
            for order in due:
                order.status = 4
                ids += notify(store, order)
            return ids


def balances(store: Store, api_key: str) -> list[dict[str, Any]]:
    """Completed orders, converted to THB except the ``keep`` percent kept as BTC."""
    thb, btc = Decimal(0), Decimal(0)
    with store.lock:
        for order in store.orders.values():
            if order.api_key != api_key or order.status != 2:
                continue
            kept = quantize(order.btc_received * (order.keep or 0) / 100, "BTC")
            btc += kept
            thb += convert_q(order.btc_received - kept, "BTC", "THB")
    return [
        {"currency": "THB", "balance": _f(thb), "pending_withdraw": 0.0},
        {"currency": "BTC", "balance": _f(btc), "pending_withdraw": 0.0},
    ]


def paylink_order(store: Store, link: Paylink) -> Order:
    """The order behind a payment link; a fresh one if the last one expired."""
    with store.mutate():
        expire_due(store)
        order = store.orders.get(link.order_id) if link.order_id else None
        if order is None or order.status == 4:
            order = create_order(
                store,
                api_key=link.api_key,
                amount=link.amount,
                currency=link.currency,
                reference_id=link.reference_id,
                ipn=link.ipn,
                redirect=link.redirect,
                paylink=link.hash,
            )
            link.order_id = order.id
        return order


# -- control actions -----------------------------------------------------


def _fraction(opts: dict[str, Any], default: str) -> Decimal:
    try:
        return Decimal(str(opts.get("fraction", default)))
    except ArithmeticError as exc:
        raise ActionError("fraction must be a decimal number", 400) from exc


def _need(order: Order, allowed: frozenset[int], action: str) -> None:
    if order.status not in allowed:
        raise ActionError(f"cannot {action} an order that is {STATUS_TEXT[order.status]}")


def _receive(order: Order, total: Decimal, confirmations: int) -> None:
    """Money arrives: one transaction bringing btc_received up to ``total``."""
    extra = total - order.btc_received
    if extra > 0:
        order.transactions.append(
            {"txid": fake_txid(), "amount": str(extra), "confirmations": confirmations}
        )
        order.btc_received = total


def _set(store: Store, order: Order, status: int) -> list[int]:
    order.status = status
    if status == 2:
        for tx in order.transactions:
            tx["confirmations"] = max(tx["confirmations"], CONFIRMED)
    return notify(store, order)


def apply_action(store: Store, order: Order, action: str, opts: dict[str, Any]) -> list[int]:
    expire_due(store)
    with store.mutate():
        ids: list[int] = []
        if action == "pay":
            _need(order, OPEN | {1}, "pay (use pay_late after expiry)")
            if opts.get("confirmations") and order.status != 1:
                _receive(order, order.btc_amount, 0)
                ids += _set(store, order, 1)
            _receive(order, order.btc_amount, CONFIRMED)
            ids += _set(store, order, 2)
        elif action == "confirming":
            _need(order, OPEN, "move to Waiting Confirmations")
            _receive(order, order.btc_amount, 0)
            ids += _set(store, order, 1)
        elif action == "underpay":
            fraction = _fraction(opts, "0.5")
            if not 0 < fraction < 1:
                raise ActionError("underpay needs 0 < fraction < 1", 400)
            _need(order, OPEN, "underpay")
            total = quantize(order.btc_amount * fraction, "BTC")
            if total <= order.btc_received:
                raise ActionError("that much has already been received")
            _receive(order, total, CONFIRMED)
            ids += _set(store, order, 5)
        elif action == "overpay":
            fraction = _fraction(opts, "1.2")
            if fraction <= 1:
                raise ActionError("overpay needs fraction > 1", 400)
            _need(order, OPEN | {1}, "overpay")
            _receive(order, quantize(order.btc_amount * fraction, "BTC"), CONFIRMED)
            ids += _set(store, order, 2)
        elif action == "pay_late":
            if order.status in OPEN:
                order.expire_at = min(order.expire_at, store.now())
                ids += _set(store, order, 4)
            _need(order, frozenset({4}), "pay_late")
            _receive(order, order.btc_amount, CONFIRMED)
            ids += _set(store, order, 2)
        elif action in ("expire", "cancel"):
            # CoinPay.in.th has no cancelled state: an abandoned order expires
            _need(order, OPEN, action)
            order.expire_at = min(order.expire_at, store.now())
            ids += _set(store, order, 4)
        elif action in ("invalid", "refund"):
            raise ActionError(f"coinpay_th has no {action} state", 409)
        elif action == "resend":
            ids += notify(store, order)
        else:
            raise ActionError(f"unknown action {action!r}", 404)
        return ids


ACTIONS = ("pay", "confirming", "underpay", "overpay", "pay_late", "expire", "cancel", "resend")
