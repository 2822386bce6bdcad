from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Optional, Protocol

from ..lifecycle import Observation
from ..models import Invoice
from ..providers.status import PaymentStatus


@dataclass(frozen=True)
class Created:
    """A freshly created (or updated) provider invoice: what the shopper needs."""

    provider_invoice_id: str
    status: PaymentStatus
    provider_ref: str = ""
    payment_url: str = ""
    address: str = ""
    pay_amount: Optional[Decimal] = None
    pay_currency: str = ""
    qr_data: Optional[str] = None  # base64 PNG
    expires_at: Optional[datetime] = None
    data: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Observed:
    """A fresh read of one invoice from the provider's API."""

    provider_invoice_id: str
    observation: Observation
    pay_amount: Optional[Decimal] = None
    pay_currency: str = ""
    address: str = ""
    expires_at: Optional[datetime] = None
    reference: str = ""  # our reference, when the provider echoes it
    data: dict = field(default_factory=dict)


class ProviderBridge(Protocol):
    provider: str
    verifies_locally: bool  # verify_callback needs no provider call

    def create(
        self,
        *,
        reference: str,
        amount: Decimal,
        currency: str,
        callback_url: str,
        success_url: Optional[str],
        cancel_url: Optional[str],
        title: str,
        description: str,
    ) -> Created: ...

    def update(self, invoice: Invoice, *, amount: Decimal, currency: str) -> Optional[Created]:
        """Change the amount keeping the address, or None when impossible."""

    def observe(self, invoice: Invoice) -> Observed: ...

    def callback_invoice_id(self, fields: dict[str, str]) -> Optional[str]: ...

    def claimed_state(self, fields: dict[str, str]) -> Optional[str]:
        """What the callback claims: "charged", "refunded" or None (never acted on)."""

    def verify_callback(self, pairs: list[tuple[str, str]]) -> bool:
        """May call the provider; raises ProviderError when it cannot tell."""

    def sweep(self, invoices: Iterable[Invoice], *, exhaustive: bool = False) -> Iterator[Observed]:
        """Fresh reads for many invoices, using list endpoints where possible
        (invoices it does not yield are read one by one by the caller). Also
        yields provider invoices we do not know; ``exhaustive`` lists them all."""


def json_safe(data: Any) -> Any:
    """Provider payloads as stored in JSONFields (Decimals and dates as text)."""
    if isinstance(data, dict):
        return {str(k): json_safe(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [json_safe(v) for v in data]
    if isinstance(data, (str, int, float, bool)) or data is None:
        return data
    return str(data)
