"""CoinPay24 invoice API client.

Requests are JSON bodies with ``api_key`` inside (what the provider's own shop
plugins send); the amount goes out as ``price_amount``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Optional
from urllib.parse import urlsplit

import requests

from ..money import MoneyError, format_amount, to_decimal
from . import coinpay24_hash
from .dates import parse_iso, utc_day
from .errors import ProviderError
from .http import DEFAULT_TIMEOUT, HttpTransport, first_message, text_or_none
from .status import PaymentStatus

PROVIDER = "coinpay24"
LIVE_BASE_URL = "https://api.coinpay24.com/v1"
TITLE_MAX = 150
PER_PAGE_MAX = 100

_STATUS = {
    "new": PaymentStatus.NEW,
    # The docs call pending "transferred, awaiting confirmation", but their own
    # checkout example answers "pending" the moment a coin is chosen, before
    # any transfer: so pending only means "waiting for the money".
    "pending": PaymentStatus.WAITING,
    "confirming": PaymentStatus.CONFIRMING,
    "paid": PaymentStatus.PAID,
    "completed": PaymentStatus.PAID,  # the provider's plugins accept it as paid
    "invalid": PaymentStatus.INVALID,
    "expired": PaymentStatus.EXPIRED,
    "canceled": PaymentStatus.CANCELED,
    "cancelled": PaymentStatus.CANCELED,
    "refunded": PaymentStatus.REFUNDED,
}


def normalise_status(
    raw: Optional[str],
    underpaid: Optional[Decimal] = None,
    overpaid: Optional[Decimal] = None,
) -> PaymentStatus:
    """Map a CoinPay24 status to the neutral one, refined by the amounts.

    Money that arrived short is UNDERPAID whatever the raw status (even
    expired or invalid): it must reach staff, not vanish as "expired".
    """
    status = _STATUS.get((raw or "").strip().lower())
    if status is None:
        # an unknown status never means paid; treat as still open
        status = PaymentStatus.NEW
    if status in (PaymentStatus.REFUNDED, PaymentStatus.CANCELED):
        return status
    if underpaid is not None and underpaid > 0:
        return PaymentStatus.UNDERPAID
    if status is PaymentStatus.PAID and overpaid is not None and overpaid > 0:
        return PaymentStatus.OVERPAID
    return status


def _decimal(value: Any) -> Optional[Decimal]:
    if value is None or value == "":
        return None
    try:
        return to_decimal(value)
    except MoneyError:
        return None


def _token_from_url(url: Optional[str]) -> Optional[str]:
    if not url:
        return None
    path = urlsplit(url).path.rstrip("/")
    return path.rsplit("/", 1)[-1] or None


@dataclass(frozen=True)
class Invoice:
    id: str
    status: PaymentStatus
    raw_status: Optional[str]
    order_id: Optional[str] = None
    price_amount: Optional[Decimal] = None
    price_currency: Optional[str] = None
    pay_amount: Optional[Decimal] = None
    pay_currency: Optional[str] = None
    payment_address: Optional[str] = None
    payment_url: Optional[str] = None
    receive_amount: Optional[Decimal] = None
    receive_currency: Optional[str] = None
    underpaid_amount: Optional[Decimal] = None
    overpaid_amount: Optional[Decimal] = None
    created_at: Optional[datetime] = None
    expire_at: Optional[datetime] = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(cls, body: Mapping[str, Any]) -> Invoice:
        payment_url = text_or_none(body.get("payment_url"))
        invoice_id = text_or_none(body.get("id")) or text_or_none(body.get("txn_id"))
        invoice_id = invoice_id or _token_from_url(payment_url)
        if not invoice_id:
            raise ProviderError(
                "response has neither an invoice id nor a payment_url",
                provider=PROVIDER,
                code="bad_response",
            )
        underpaid = _decimal(body.get("underpaid_amount"))
        overpaid = _decimal(body.get("overpaid_amount"))
        raw_status = text_or_none(body.get("status"))
        return cls(
            id=invoice_id,
            status=normalise_status(raw_status, underpaid, overpaid),
            raw_status=raw_status,
            order_id=text_or_none(body.get("order_id")),
            price_amount=_decimal(body.get("price_amount")),
            price_currency=text_or_none(body.get("price_currency")),
            pay_amount=_decimal(body.get("pay_amount")),
            pay_currency=text_or_none(body.get("pay_currency")),
            payment_address=text_or_none(body.get("payment_address")),
            payment_url=payment_url,
            receive_amount=_decimal(body.get("receive_amount")),
            receive_currency=text_or_none(body.get("receive_currency")),
            underpaid_amount=underpaid,
            overpaid_amount=overpaid,
            created_at=parse_iso(body.get("created_at")),
            expire_at=parse_iso(body.get("expire_at")),
            raw=dict(body),
        )


@dataclass(frozen=True)
class InvoicePage:
    invoices: list[Invoice]
    current_page: int
    per_page: int
    total_pages: int
    total_invoices: int


def _error_message(body: Mapping[str, Any]) -> Optional[str]:
    message = first_message(body, ("error_message", "message", "error", "reason"))
    details = first_message(body, ("errors",))
    if message and details and details not in message:
        return f"{message}: {details}"
    return message or details


class CoinPay24Client:
    """Create, read and list CoinPay24 invoices; verify their callbacks."""

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = LIVE_BASE_URL,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        session: Optional[requests.Session] = None,
    ) -> None:
        if not api_key:
            raise ValueError("CoinPay24 needs an API key")
        self._api_key = api_key
        self.http = HttpTransport(PROVIDER, base_url, timeout=timeout, session=session)

    def __repr__(self) -> str:  # never show the key
        return f"CoinPay24Client(base_url={self.http.base_url!r})"

    def _post(self, path: str, fields: Optional[dict] = None) -> Any:
        body = {"api_key": self._api_key}
        body.update({k: v for k, v in (fields or {}).items() if v is not None})
        return self.http.post(path, json_body=body, error_message=_error_message).body

    def _invoice(self, body: Any) -> Invoice:
        if not isinstance(body, dict):
            raise ProviderError(
                "expected an invoice object", provider=PROVIDER, code="bad_response"
            )
        message = _error_message(body) if "payment_url" not in body and "id" not in body else None
        if message:  # a 200 that still reports an error
            raise ProviderError(message, provider=PROVIDER, code="rejected")
        return Invoice.from_api(body)

    def create_invoice(
        self,
        *,
        order_id: str,
        price_amount: Decimal,
        price_currency: str,
        title: Optional[str] = None,
        description: Optional[str] = None,
        callback_url: Optional[str] = None,
        cancel_url: Optional[str] = None,
        success_url: Optional[str] = None,
    ) -> Invoice:
        amount = to_decimal(price_amount)
        if amount <= 0:
            raise ValueError("price_amount must be positive")
        fields = {
            "order_id": str(order_id),
            "price_amount": format_amount(amount, price_currency),
            "price_currency": price_currency.upper(),
            "title": title[:TITLE_MAX] if title else None,
            "description": description,
            "callback_url": callback_url,
            "cancel_url": cancel_url,
            "success_url": success_url,
        }
        return self._invoice(self._post("invoices/create", fields))

    def checkout(
        self,
        invoice_id: str,
        *,
        pay_currency: str,
        purchaser_fullname: Optional[str] = None,
        purchaser_email: Optional[str] = None,
    ) -> Invoice:
        """White-label step: fix the coin, get address and crypto amount."""
        fields = {
            "pay_currency": pay_currency.upper(),
            "purchaser_fullname": purchaser_fullname,
            "purchaser_email": purchaser_email,
        }
        return self._invoice(self._post(f"invoices/{_path_id(invoice_id)}/checkout", fields))

    def get_invoice(self, invoice_id: str) -> Invoice:
        return self._invoice(self._post(f"invoices/{_path_id(invoice_id)}"))

    def list_invoices(
        self,
        *,
        page: int = 1,
        per_page: int = PER_PAGE_MAX,
        sort: str = "created_at_desc",
        created_from: Optional[date | datetime] = None,
        created_to: Optional[date | datetime] = None,
    ) -> InvoicePage:
        if not 1 <= per_page <= PER_PAGE_MAX:
            raise ValueError(f"per_page must be 1..{PER_PAGE_MAX}")
        if sort not in ("created_at_asc", "created_at_desc"):
            raise ValueError("sort must be created_at_asc or created_at_desc")
        fields: dict[str, Any] = {"page": page, "per_page": per_page, "sort": sort}
        if created_from is not None:
            fields["created_at[from]"] = utc_day(created_from)
        if created_to is not None:
            fields["created_at[to]"] = utc_day(created_to)
        body = self._post("invoices", fields)
        if not isinstance(body, dict) or not isinstance(body.get("invoices"), list):
            raise ProviderError("expected an invoice list", provider=PROVIDER, code="bad_response")
        return InvoicePage(
            invoices=[
                Invoice.from_api(item) for item in body["invoices"] if isinstance(item, dict)
            ],
            current_page=_int(body.get("current_page"), page),
            per_page=_int(body.get("per_page"), per_page),
            total_pages=_int(body.get("total_pages"), page),
            total_invoices=_int(body.get("total_invoices"), len(body["invoices"])),
        )

    def iter_invoices(
        self,
        *,
        per_page: int = PER_PAGE_MAX,
        created_from: Optional[date | datetime] = None,
        created_to: Optional[date | datetime] = None,
        max_pages: Optional[int] = None,
    ) -> Iterator[Invoice]:
        """Every invoice, oldest first, one call per page."""
        page = 1
        while max_pages is None or page <= max_pages:
            result = self.list_invoices(
                page=page,
                per_page=per_page,
                sort="created_at_asc",
                created_from=created_from,
                created_to=created_to,
            )
            yield from result.invoices
            if page >= result.total_pages or not result.invoices:
                return
            page += 1

    def verify_callback(self, fields: Any) -> bool:
        """Check a callback's ``verify_hash`` (fields as ordered pairs)."""
        return coinpay24_hash.verify_callback(fields, self._api_key)


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _path_id(invoice_id: Any) -> str:
    text = str(invoice_id).strip()
    # ids go into the URL path: refuse anything that could change the path
    if not text or not all(c.isalnum() or c in "-_" for c in text):
        raise ValueError(f"not a CoinPay24 invoice id: {invoice_id!r}")
    return text
