"""CoinPay24 invoices: creation, checkout, state changes and their callbacks.

Status model (what the sandbox does; the docs leave the details open):
``new`` (no coin chosen) -> ``pending`` (coin chosen, awaiting the transfer)
-> ``confirming`` (transfer seen) -> ``paid``; ``new``/``pending`` may also go
to ``expired`` (past expire_at), ``canceled`` or ``invalid``; ``paid`` may be
``refunded``. Money that arrives short leaves the invoice ``pending`` with
``underpaid_amount`` set; if it then expires it stays ``expired`` with the
underpaid amount kept.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

from ..money import format_amount, quantize
from ..providers.coinpay24_hash import compute_verify_hash
from .rates import PAY_CURRENCIES, convert_q, fake_address
from .state import ActionError, Invoice, Store, iso_utc

PROVIDER = "coinpay24"
OPEN = frozenset({"new", "pending"})
PAYABLE = frozenset({"new", "pending", "confirming"})


class CheckoutError(ActionError):
    """The checkout request itself is wrong (the API answers 422)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, status=422)


def create_invoice(
    store: Store,
    *,
    api_key: str,
    order_id: str,
    price_amount: Decimal,
    price_currency: str,
    title: str = "",
    description: str = "",
    callback_url: str = "",
    cancel_url: str = "",
    success_url: str = "",
) -> Invoice:
    with store.mutate():
        now = store.now()
        inv = Invoice(
            id=store.next_id("invoice"),
            token=secrets.token_hex(16),
            api_key=api_key,
            order_id=order_id,
            price_amount=price_amount,
            price_currency=price_currency,
            created_at=now,
            expire_at=now + timedelta(seconds=store.config.invoice_ttl_seconds),
            title=title,
            description=description,
            callback_url=callback_url,
            cancel_url=cancel_url,
            success_url=success_url,
        )
        store.invoices[inv.id] = inv
        store.invoice_tokens[inv.token] = inv.id
    return inv


def payment_url(store: Store, inv: Invoice) -> str:
    return f"{store.config.base_url}/coinpay24/invoice/{inv.token}"


def _coin(inv: Invoice, amount: Decimal) -> str:
    return format_amount(amount, inv.pay_currency or "BTC")


def underpaid(inv: Invoice) -> Decimal:
    if inv.pay_amount is None or inv.received <= 0 or inv.received >= inv.pay_amount:
        return Decimal(0)
    return inv.pay_amount - inv.received


def overpaid(inv: Invoice) -> Decimal:
    if inv.pay_amount is None or inv.received <= inv.pay_amount:
        return Decimal(0)
    return inv.received - inv.pay_amount


def receive_amount(inv: Invoice) -> Decimal:
    """What the merchant is credited, in the price currency (no fees in the
    sandbox). Proportional to the coin received rather than converted back
    through the rate, so a full payment credits exactly price_amount."""
    if inv.pay_amount is None or inv.received <= 0:
        return Decimal(0)
    if inv.received == inv.pay_amount:
        return inv.price_amount
    return quantize(inv.price_amount * inv.received / inv.pay_amount, inv.price_currency)


def _zero_or(amount: Decimal, fmt: Callable[[Decimal], str]) -> str:
    return "0" if amount == 0 else fmt(amount)


def created_json(store: Store, inv: Invoice) -> dict[str, Any]:
    return {
        "id": inv.id,
        "order_id": inv.order_id,
        "status": inv.status,
        "price_amount": format_amount(inv.price_amount, inv.price_currency),
        "price_currency": inv.price_currency,
        "created_at": iso_utc(inv.created_at),
        "expire_at": iso_utc(inv.expire_at),
        "payment_url": payment_url(store, inv),
    }


def checkout_json(store: Store, inv: Invoice) -> dict[str, Any]:
    assert inv.pay_amount is not None and inv.pay_currency  # noqa: S101 - after checkout
    return {
        "id": inv.id,
        "order_id": inv.order_id,
        "pay_amount": _coin(inv, inv.pay_amount),
        "pay_currency": inv.pay_currency,
        "payment_address": inv.payment_address,
        "payment_url": payment_url(store, inv),
        "price_amount": format_amount(inv.price_amount, inv.price_currency),
        "price_currency": inv.price_currency,
        "status": inv.status,
        "created_at": iso_utc(inv.created_at),
        "expire_at": iso_utc(inv.expire_at),
    }


def invoice_json(store: Store, inv: Invoice) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": inv.id,
        "order_id": inv.order_id,
        "status": inv.status,
        "price_amount": format_amount(inv.price_amount, inv.price_currency),
        "price_currency": inv.price_currency,
    }
    if inv.pay_currency and inv.pay_amount is not None:
        out["pay_amount"] = _coin(inv, inv.pay_amount)
        out["pay_currency"] = inv.pay_currency
        out["payment_address"] = inv.payment_address
    out.update(
        {
            "created_at": iso_utc(inv.created_at),
            "expire_at": iso_utc(inv.expire_at),
            "payment_url": payment_url(store, inv),
            "underpaid_amount": _zero_or(underpaid(inv), lambda a: _coin(inv, a)),
            "overpaid_amount": _zero_or(overpaid(inv), lambda a: _coin(inv, a)),
            "receive_currency": inv.price_currency,
            "receive_amount": _zero_or(
                receive_amount(inv), lambda a: format_amount(a, inv.price_currency)
            ),
        }
    )
    return out


def callback_pairs(inv: Invoice) -> list[tuple[str, str]]:
    """The callback body, in the docs' order, signed with the creating key."""
    pairs = [
        ("txn_id", str(inv.id)),
        ("order_id", inv.order_id),
        ("status", inv.status),
        ("price_amount", format_amount(inv.price_amount, inv.price_currency)),
        ("price_currency", inv.price_currency),
        ("receive_currency", inv.price_currency),
        (
            "receive_amount",
            _zero_or(receive_amount(inv), lambda a: format_amount(a, inv.price_currency)),
        ),
    ]
    if inv.pay_currency and inv.pay_amount is not None:
        pairs += [("pay_amount", _coin(inv, inv.pay_amount)), ("pay_currency", inv.pay_currency)]
    pairs += [
        ("underpaid_amount", _zero_or(underpaid(inv), lambda a: _coin(inv, a))),
        ("overpaid_amount", _zero_or(overpaid(inv), lambda a: _coin(inv, a))),
        ("created_at", iso_utc(inv.created_at)),
    ]
    pairs.append(("verify_hash", compute_verify_hash(pairs, inv.api_key)))
    return pairs


def notify(store: Store, inv: Invoice) -> list[int]:
    """Queue a callback with the invoice's current state (caller holds the lock)."""
    if not inv.callback_url:
        return []
    return [
        store.add_delivery(PROVIDER, inv.id, inv.callback_url, callback_pairs(inv), inv.status).id
    ]


def expire_due(store: Store) -> list[int]:
    """Expire every new/pending invoice past expire_at; returns callback ids."""
    with store.lock:
        now = store.now()
        due = [i for i in store.invoices.values() if i.status in OPEN and now >= i.expire_at]
        if not due:
            return []
        with store.mutate():
            ids: list[int] = []
            for inv in due:
                inv.status = "expired"
                ids += notify(store, inv)
            return ids


def checkout(
    store: Store,
    inv: Invoice,
    pay_currency: str,
    purchaser_fullname: str = "",
    purchaser_email: str = "",
    *,
    silent: bool = False,
) -> list[int]:
    """Choose the coin. Re-choosing while pending is allowed until money arrives."""
    coin = (pay_currency or "").strip().upper()
    with store.mutate():
        if inv.status not in OPEN:
            raise CheckoutError(f"Invoice is {inv.status}: checkout is not possible")
        if inv.received > 0:
            raise CheckoutError("Payment already received: pay_currency cannot change")
        if coin not in PAY_CURRENCIES:
            raise CheckoutError(
                f"pay_currency {pay_currency!r} is not supported (use {', '.join(PAY_CURRENCIES)})"
            )
        amount = convert_q(inv.price_amount, inv.price_currency, coin)
        if amount <= 0:
            raise CheckoutError("Invoice amount is too small to pay in " + coin)
        if inv.pay_currency != coin or not inv.payment_address:
            inv.payment_address = fake_address(coin)
        inv.pay_currency, inv.pay_amount = coin, amount
        if purchaser_fullname:
            inv.purchaser_fullname = purchaser_fullname
        if purchaser_email:
            inv.purchaser_email = purchaser_email
        was = inv.status
        inv.status = "pending"
        # new -> pending is a status change and gets its callback
        return [] if silent or was == "pending" else notify(store, inv)


# -- control actions -----------------------------------------------------


def _fraction(opts: dict[str, Any], default: str) -> Decimal:
    try:
        return Decimal(str(opts.get("fraction", default)))
    except ArithmeticError as exc:
        raise ActionError("fraction must be a decimal number", 400) from exc


def _need(inv: Invoice, allowed: frozenset[str], action: str) -> None:
    if inv.status not in allowed:
        raise ActionError(f"cannot {action} an invoice that is {inv.status}")


def _ensure_coin(store: Store, inv: Invoice) -> None:
    # Money actions on a `new` invoice stand for "the shopper picked BTC and
    # paid": the coin choice is folded into the action, with no callback of its own.
    if inv.pay_currency is None:
        checkout(store, inv, "BTC", silent=True)


def _set(store: Store, inv: Invoice, status: str) -> list[int]:
    inv.status = status
    if status == "paid" and inv.paid_at is None:
        inv.paid_at = store.now()
    return notify(store, inv)


def _received(inv: Invoice, fraction: Decimal) -> Decimal:
    assert inv.pay_amount is not None and inv.pay_currency  # noqa: S101 - _ensure_coin ran
    return quantize(inv.pay_amount * fraction, inv.pay_currency)


def apply_action(store: Store, inv: Invoice, action: str, opts: dict[str, Any]) -> list[int]:
    """Run a control action; returns the ids of the callbacks it queued."""
    expire_due(store)
    with store.mutate():
        ids: list[int] = []
        if action == "checkout":
            return checkout(
                store,
                inv,
                str(opts.get("pay_currency", "BTC")),
                str(opts.get("purchaser_fullname", "")),
                str(opts.get("purchaser_email", "")),
            )
        if action == "pay":
            _need(inv, PAYABLE, "pay (use pay_late after expiry)")
            _ensure_coin(store, inv)
            assert inv.pay_amount is not None  # noqa: S101
            if opts.get("confirmations") and inv.status != "confirming":
                inv.received = max(inv.received, inv.pay_amount)
                ids += _set(store, inv, "confirming")
            inv.received = max(inv.received, inv.pay_amount)
            ids += _set(store, inv, "paid")
        elif action == "confirming":
            _need(inv, OPEN, "move to confirming")
            _ensure_coin(store, inv)
            assert inv.pay_amount is not None  # noqa: S101
            inv.received = max(inv.received, inv.pay_amount)
            ids += _set(store, inv, "confirming")
        elif action == "underpay":
            fraction = _fraction(opts, "0.5")
            if not 0 < fraction < 1:
                raise ActionError("underpay needs 0 < fraction < 1", 400)
            _need(inv, OPEN, "underpay")
            _ensure_coin(store, inv)
            total = _received(inv, fraction)
            if total <= inv.received:
                raise ActionError("that much has already been received")
            inv.received = total
            # status stays pending; the callback carries underpaid_amount
            ids += _set(store, inv, "pending")
        elif action == "overpay":
            fraction = _fraction(opts, "1.2")
            if fraction <= 1:
                raise ActionError("overpay needs fraction > 1", 400)
            _need(inv, PAYABLE, "overpay")
            _ensure_coin(store, inv)
            inv.received = max(inv.received, _received(inv, fraction))
            ids += _set(store, inv, "paid")
        elif action == "pay_late":
            if inv.status in OPEN:
                _ensure_coin(store, inv)
                inv.expire_at = min(inv.expire_at, store.now())
                ids += _set(store, inv, "expired")
            _need(inv, frozenset({"expired"}), "pay_late")
            _ensure_coin(store, inv)
            assert inv.pay_amount is not None  # noqa: S101
            inv.received = max(inv.received, inv.pay_amount)
            ids += _set(store, inv, "paid")
        elif action == "expire":
            _need(inv, OPEN, "expire")
            inv.expire_at = min(inv.expire_at, store.now())
            ids += _set(store, inv, "expired")
        elif action == "cancel":
            _need(inv, OPEN, "cancel")
            ids += _set(store, inv, "canceled")
        elif action == "invalid":
            _need(inv, PAYABLE, "invalidate")
            ids += _set(store, inv, "invalid")
        elif action == "refund":
            _need(inv, frozenset({"paid"}), "refund")
            ids += _set(store, inv, "refunded")
        elif action == "resend":
            ids += notify(store, inv)
        else:
            raise ActionError(f"unknown action {action!r}", 404)
        return ids


ACTIONS = (
    "checkout", "pay", "confirming", "underpay", "overpay", "pay_late",
    "expire", "cancel", "invalid", "refund", "resend",
)  # fmt: skip
