"""Reading Saleor's webhook payloads (the fields the manifest's subscriptions
select). Pure: no database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Optional

from ..money import MoneyError, to_decimal
from .saleor_api import from_global_id

Payload = dict[str, Any]


@dataclass(frozen=True)
class Source:
    """The checkout or order a transaction pays (``sourceObject``)."""

    type_name: str  # "Checkout" or "Order"
    pk: str  # the uuid inside the global id
    channel_slug: str
    currency: str
    channel_name: str = ""  # the shop, as the shopper knows it
    order_number: str = ""  # an Order's number


def source(payload: Payload) -> Optional[Source]:
    obj = payload.get("sourceObject") or {}
    type_name, pk = from_global_id(str(obj.get("id") or ""))
    channel = obj.get("channel") or {}
    if type_name not in ("Checkout", "Order") or not channel.get("slug"):
        return None
    return Source(
        type_name,
        pk,
        str(channel["slug"]),
        str(channel.get("currencyCode") or ""),
        channel_name=str(channel.get("name") or "")[:255],
        order_number=str(obj.get("number") or "")[:32] if type_name == "Order" else "",
    )


def action(payload: Payload) -> tuple[Optional[Decimal], str]:
    """Amount (Decimal, None if unreadable) and currency of ``action``."""
    act = payload.get("action") or {}
    currency = str(act.get("currency") or "").upper()
    try:
        return to_decimal(act.get("amount")), currency
    except MoneyError:
        return None, currency


def action_type(payload: Payload) -> str:
    """``CHARGE`` or ``AUTHORIZATION``: the channel's transaction flow strategy
    (or the storefront's choice) for this session."""
    act = payload.get("action") or {}
    return "AUTHORIZATION" if act.get("actionType") == "AUTHORIZATION" else "CHARGE"


def transaction_id(payload: Payload) -> str:
    return str((payload.get("transaction") or {}).get("id") or "")


def storefront_data(payload: Payload) -> dict:
    data = payload.get("data")
    return data if isinstance(data, dict) else {}


def issued_at(payload: Payload) -> Optional[datetime]:
    """``issuedAt`` as an aware datetime; None when missing or naive."""
    try:
        value = datetime.fromisoformat(str(payload.get("issuedAt") or ""))
    except ValueError:
        return None
    return value if value.tzinfo else None
