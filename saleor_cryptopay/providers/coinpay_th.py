"""CoinPay.in.th order API client.

Every call is a form POST to ``<base>/<action>/`` carrying ``key``, ``nonce``
and ``signature``. The docs and the official PHP class name some actions
differently (create/paybox, check/checkorder), so names are configurable.
Amounts arrive as JSON floats and are turned into ``Decimal`` here, at the edge.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Optional

import requests

from ..money import format_amount, to_decimal
from .coinpay_th_auth import auth_fields
from .dates import format_th, parse_th
from .errors import ProviderError
from .http import (
    DEFAULT_TIMEOUT,
    HttpTransport,
    decimal_or_none,
    first_message,
    int_or_none,
    text_or_none,
)
from .nonce import MonotonicNonce, NonceSource
from .status import PaymentStatus

logger = logging.getLogger("saleor_cryptopay.providers")

PROVIDER = "coinpay_th"
LIVE_BASE_URL = "https://coinpay.in.th/api"
DEFAULT_EXPIRE_MINUTES = 15
NONCE_RETRIES = 3

# Logical operation → remote action name (the official PHP class's names).
DEFAULT_ACTIONS = {
    "create": "paybox",
    "check": "checkorder",
    "reference": "reference",
    "orders": "orders",
    "balance": "balance",
    "price": "price",
    "address": "address",
    "paylink": "paylink",
    "verifyipn": "verifyipn",
    "validate": "validate",
}
# The names the published docs use instead.
DOCS_ACTIONS = {**DEFAULT_ACTIONS, "create": "create", "check": "check"}


class OrderStatusCode:
    AWAITING = 0
    CONFIRMING = 1
    COMPLETED = 2
    EXPIRED = 4
    PARTIAL = 5


_BY_CODE = {
    OrderStatusCode.AWAITING: PaymentStatus.WAITING,
    OrderStatusCode.CONFIRMING: PaymentStatus.CONFIRMING,
    OrderStatusCode.COMPLETED: PaymentStatus.PAID,
    OrderStatusCode.EXPIRED: PaymentStatus.EXPIRED,
    OrderStatusCode.PARTIAL: PaymentStatus.UNDERPAID,
}
_BY_TEXT = {
    "awaiting payment": PaymentStatus.WAITING,
    "waiting confirmations": PaymentStatus.CONFIRMING,
    "waiting confirmation": PaymentStatus.CONFIRMING,
    "completed": PaymentStatus.PAID,
    "paid": PaymentStatus.PAID,
    "expired": PaymentStatus.EXPIRED,
    "partial payment": PaymentStatus.UNDERPAID,
}
# check's error_code: 0 paid, 1 not found, 2 not received, 3 insufficient
ERROR_NOT_FOUND = 1


class OrderNotFound(ProviderError):
    """The order id is unknown to the provider (stale id: create a new order)."""


def _bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes")
    return bool(value)


def normalise_status(
    order_status: Optional[int],
    status_text: Optional[str],
    btc_amount: Optional[Decimal],
    btc_received: Optional[Decimal],
    confirmed: Optional[bool] = None,
) -> PaymentStatus:
    """The neutral status of an order.

    The numeric code wins over the text; ``confirmed`` alone (check's answer)
    means completed. Money received on an expired order is UNDERPAID (or PAID
    when it covers the amount): coins that arrived are never "expired".
    """
    status = _BY_CODE.get(order_status) if order_status is not None else None
    if status is None and status_text:
        status = _BY_TEXT.get(status_text.strip().lower())
    if confirmed and status in (None, PaymentStatus.WAITING, PaymentStatus.CONFIRMING):
        status = PaymentStatus.PAID
    if status is None:
        status = PaymentStatus.WAITING
    if btc_received is not None and btc_amount is not None and btc_received > 0:
        if status is PaymentStatus.PAID and btc_received > btc_amount:
            return PaymentStatus.OVERPAID
        if status is PaymentStatus.EXPIRED:
            return PaymentStatus.UNDERPAID if btc_received < btc_amount else PaymentStatus.PAID
    return status


@dataclass(frozen=True)
class Order:
    """What create/update answers: where and how much to pay."""

    order_id: int
    order_hash: Optional[str]
    address: str
    btc_amount: Decimal
    expire_minutes: Decimal
    expires_at: datetime
    qr_data: Optional[str] = None  # base64 PNG
    html: Optional[str] = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True)
class OrderState:
    """What check/orders/IPN say about an order."""

    order_id: Optional[int]
    status: PaymentStatus
    status_text: Optional[str] = None
    order_status: Optional[int] = None
    order_hash: Optional[str] = None
    confirmed: bool = False
    error_code: Optional[int] = None
    btc_amount: Optional[Decimal] = None
    btc_received: Optional[Decimal] = None
    order_amount: Optional[Decimal] = None
    currency: Optional[str] = None
    reference_id: Optional[str] = None
    date: Optional[datetime] = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(cls, body: Mapping[str, Any]) -> OrderState:
        btc_amount = decimal_or_none(body.get("btc_amount"))
        btc_received = decimal_or_none(body.get("btc_received"))
        order_status = int_or_none(body.get("order_status"))
        status_text = text_or_none(body.get("status"))
        confirmed = _bool(body.get("confirmed"))
        error_code = int_or_none(body.get("error_code"))
        status = normalise_status(order_status, status_text, btc_amount, btc_received, confirmed)
        if order_status is None and error_code == 3 and status is PaymentStatus.WAITING:
            status = PaymentStatus.UNDERPAID  # "insufficient payment"
        return cls(
            order_id=int_or_none(body.get("order_id")),
            status=status,
            status_text=status_text,
            order_status=order_status,
            order_hash=text_or_none(body.get("order_hash")),
            confirmed=confirmed,
            error_code=error_code,
            btc_amount=btc_amount,
            btc_received=btc_received,
            order_amount=decimal_or_none(body.get("order_amount")),
            currency=text_or_none(body.get("currency")),
            reference_id=text_or_none(body.get("reference_id")),
            date=parse_th(body.get("date")),
            raw=dict(body),
        )


@dataclass(frozen=True)
class Balance:
    currency: str
    balance: Decimal
    pending_withdraw: Decimal


def _error_text(body: Mapping[str, Any]) -> str:
    return first_message(body, ("error", "errors", "message")) or "request refused"


def _is_nonce_error(message: str) -> bool:
    return "nonce" in message.lower()


class CoinPayThClient:
    """Orders, IPN verification and account calls for CoinPay.in.th."""

    def __init__(
        self,
        key: str,
        secret: str,
        *,
        base_url: str = LIVE_BASE_URL,
        nonce_source: Optional[NonceSource] = None,
        actions: Optional[Mapping[str, str]] = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        session: Optional[requests.Session] = None,
        multipart: bool = False,
    ) -> None:
        if not key or not secret:
            raise ValueError("CoinPay.in.th needs an API key and secret")
        self._key = key
        self._secret = secret
        self.nonce_source = nonce_source or MonotonicNonce()
        self.actions = {**DEFAULT_ACTIONS, **(actions or {})}
        unknown = set(self.actions) - set(DEFAULT_ACTIONS)
        if unknown:
            raise ValueError(f"unknown CoinPay.in.th operations: {sorted(unknown)}")
        self.multipart = multipart
        self.http = HttpTransport(PROVIDER, base_url, timeout=timeout, session=session)

    def __repr__(self) -> str:
        return f"CoinPayThClient(base_url={self.http.base_url!r})"

    def call(
        self, operation: str, fields: Optional[dict] = None, *, must_succeed: bool = True
    ) -> dict:
        """One signed call. ``success: false`` raises unless ``must_succeed``
        is False (check answers success=false for "not paid yet")."""
        action = self.actions[operation]
        payload = {k: str(v) for k, v in (fields or {}).items() if v is not None}
        for attempt in range(1, NONCE_RETRIES + 1):
            with self._lease() as nonce:
                data = {**payload, **auth_fields(self._key, nonce, self._secret)}
                if self.multipart:
                    result = self.http.post(
                        f"{action}/",
                        files={k: (None, v) for k, v in data.items()},
                        error_message=_error_text,
                    )
                else:
                    result = self.http.post(f"{action}/", data=data, error_message=_error_text)
            body = result.body
            if not isinstance(body, dict):
                raise ProviderError(
                    "expected a JSON object", provider=PROVIDER, code="bad_response"
                )
            success = _bool(body.get("success"))
            message = "" if success else _error_text(body)
            if not success and _is_nonce_error(message):
                if attempt < NONCE_RETRIES:
                    # another worker's later nonce got there first: take a fresh one
                    logger.info("coinpay_th %s: nonce refused, retrying (%d)", operation, attempt)
                    continue
                raise ProviderError(
                    message,
                    provider=PROVIDER,
                    status_code=result.status_code,
                    retryable=True,
                    code="nonce",
                )
            if success or not must_succeed:
                return body
            raise ProviderError(
                message, provider=PROVIDER, status_code=result.status_code, code="rejected"
            )
        raise AssertionError("unreachable")

    def _lease(self) -> AbstractContextManager[int]:
        lease = getattr(self.nonce_source, "lease", None)
        return lease() if lease else nullcontext(self.nonce_source.next())

    # orders -----------------------------------------------------------------

    def _order(self, body: Mapping[str, Any]) -> Order:
        order_id = int_or_none(body.get("order_id"))
        address = text_or_none(body.get("address"))
        btc_amount = decimal_or_none(body.get("btc_amount"))
        if order_id is None or not address or btc_amount is None:
            raise ProviderError(
                "order response lacks order_id, address or btc_amount",
                provider=PROVIDER,
                code="bad_response",
            )
        expire = decimal_or_none(body.get("expire")) or Decimal(DEFAULT_EXPIRE_MINUTES)
        return Order(
            order_id=order_id,
            order_hash=text_or_none(body.get("order_hash")),
            address=address,
            btc_amount=btc_amount,
            expire_minutes=expire,
            expires_at=datetime.now(UTC) + timedelta(minutes=float(expire)),
            qr_data=text_or_none(body.get("qr_data")),
            html=text_or_none(body.get("html")),
            raw=dict(body),
        )

    def create_order(
        self,
        *,
        amount: Decimal,
        currency: str,
        reference_id: Optional[str] = None,
        ipn: Optional[str] = None,
        notes: Optional[str] = None,
        keep: Optional[int] = None,
        order_id: Optional[int] = None,
    ) -> Order:
        """Create an order (or, with ``order_id``, update it keeping its address)."""
        value = to_decimal(amount)
        if value <= 0:
            raise ValueError("amount must be positive")
        if keep is not None and not 0 <= keep <= 100:
            raise ValueError("keep must be 0..100")
        fields = {
            "amount": format_amount(value, currency),
            "currency": currency.upper(),
            "order_id": order_id,
            "reference_id": reference_id,
            "ipn": ipn,
            "notes": notes,
            "keep": keep,
        }
        try:
            return self._order(self.call("create", fields))
        except ProviderError as exc:
            if order_id and "not found" in exc.message.lower():
                raise OrderNotFound(
                    exc.message, provider=PROVIDER, status_code=exc.status_code, code="not_found"
                ) from None
            raise

    def update_order(
        self, order_id: int, *, amount: Decimal, currency: str, **kwargs: Any
    ) -> Order:
        """Change the amount; the address stays. ``OrderNotFound`` means the id
        is stale and a new order must be created."""
        if not order_id:
            raise ValueError("update_order needs the provider's order id")
        return self.create_order(amount=amount, currency=currency, order_id=order_id, **kwargs)

    def check_order(self, order_id: int | str, *, reference_id: Optional[str] = None) -> OrderState:
        body = self.call(
            "check", {"order_id": order_id, "reference_id": reference_id}, must_succeed=False
        )
        state = OrderState.from_api(body)
        if state.error_code == ERROR_NOT_FOUND or (
            not _bool(body.get("success")) and "not found" in _error_text(body).lower()
        ):
            raise OrderNotFound(_error_text(body), provider=PROVIDER, code="not_found")
        return state

    def list_orders(
        self,
        *,
        status_ids: Optional[Iterable[int]] = None,
        start: Optional[datetime] = None,
        end: Optional[datetime] = None,
    ) -> list[OrderState]:
        fields = {
            "status_id": ",".join(str(s) for s in status_ids) if status_ids is not None else None,
            "start_date": format_th(start) if start else None,
            "end_date": format_th(end) if end else None,
        }
        body = self.call("orders", fields)
        orders = body.get("orders") or []
        if isinstance(orders, dict):  # PHP arrays keyed by id come out as objects
            orders = list(orders.values())
        if not isinstance(orders, list):
            raise ProviderError("orders is not a list", provider=PROVIDER, code="bad_response")
        return [OrderState.from_api(o) for o in orders if isinstance(o, dict)]

    def save_reference(self, order_id: int, reference_id: str) -> None:
        self.call("reference", {"order_id": order_id, "reference_id": reference_id})

    def verify_ipn(self, order_id: Any, verify: Any) -> bool:
        """Ask the provider whether it sent this IPN. Only ``success: true``
        counts; a transport failure raises (the caller must not guess)."""
        if not order_id or not verify:
            return False
        body = self.call("verifyipn", {"order_id": order_id, "verify": verify}, must_succeed=False)
        return _bool(body.get("success"))

    # account and helpers ----------------------------------------------------

    def price(
        self, *, currency: Optional[str] = None, amount: Optional[Decimal] = None
    ) -> tuple[Decimal, str]:
        fields = {
            "currency": currency.upper() if currency else None,
            "amount": format_amount(amount, currency or "THB") if amount is not None else None,
        }
        body = self.call("price", fields)
        value = decimal_or_none(body.get("value"))
        if value is None:
            raise ProviderError(
                "price response lacks a value", provider=PROVIDER, code="bad_response"
            )
        return value, text_or_none(body.get("currency")) or "BTC"

    def paylink(
        self,
        *,
        amount: Decimal,
        currency: str,
        reference_id: Optional[str] = None,
        ipn: Optional[str] = None,
        redirect: Optional[str] = None,
    ) -> str:
        body = self.call(
            "paylink",
            {
                "amount": format_amount(amount, currency),
                "currency": currency.upper(),
                "reference_id": reference_id,
                "ipn": ipn,
                "redirect": redirect,
            },
        )
        link = text_or_none(body.get("link"))
        if not link:
            raise ProviderError(
                "paylink response lacks a link", provider=PROVIDER, code="bad_response"
            )
        return link

    def balance(self) -> list[Balance]:
        body = self.call("balance")
        balances = body.get("balances") or []
        if isinstance(balances, dict):
            balances = list(balances.values())
        return [
            Balance(
                currency=str(b.get("currency")),
                balance=decimal_or_none(b.get("balance")) or Decimal(0),
                pending_withdraw=decimal_or_none(b.get("pending_withdraw")) or Decimal(0),
            )
            for b in balances
            if isinstance(b, dict)
        ]

    def address(self, *, new: bool = False) -> str:
        body = self.call("address", {"new": "true" if new else None})
        address = text_or_none(body.get("address"))
        if not address:
            raise ProviderError(
                "address response lacks an address", provider=PROVIDER, code="bad_response"
            )
        return address

    def validate(self, *, amount: Decimal, currency: str) -> tuple[bool, Optional[str]]:
        body = self.call(
            "validate",
            {"amount": format_amount(amount, currency), "currency": currency.upper()},
            must_succeed=False,
        )
        ok = _bool(body.get("success"))
        return ok, None if ok else _error_text(body)


def parse_ipn(fields: Mapping[str, Any]) -> OrderState:
    """The IPN's claims. Only trust them after ``verify_ipn`` (and re-reading)."""
    return OrderState.from_api(fields)
