"""What the page shows for an invoice as stored: one of a few shopper-facing
states, and the numbers that go with it. Pure reads of our row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_UP, Decimal
from typing import Any, Optional

from django.utils import timezone

from ..contract import invoice_payment_uri
from ..lifecycle import CLOSED, Flag
from ..models import Invoice
from ..money import format_amount, plain_decimal, precision
from ..providers.status import PaymentStatus as S
from ..qr import payment_uri, qr_data_uri

WAITING = "waiting"
CONFIRMING = "confirming"
PAID = "paid"
OVERPAID = "overpaid"
PAID_LATE = "paid_late"
UNDERPAID = "underpaid"
EXPIRED = "expired"
REFUNDED = "refunded"

# the money arrived: the page sends the shopper back to the shop
PAID_STATES = frozenset({PAID, OVERPAID, PAID_LATE})
# nothing more can change for the shopper: the page stops polling (an expired
# one keeps polling: coins sent late still show up)
FINAL = PAID_STATES | {REFUNDED}


def shopper_state(invoice: Invoice) -> str:
    status = invoice.payment_status
    late = Flag.PAID_LATE.value in invoice.flags
    if status in (S.PAID, S.OVERPAID):
        if late:
            return PAID_LATE
        return OVERPAID if status is S.OVERPAID else PAID
    if status is S.UNDERPAID:
        return UNDERPAID
    if status is S.CONFIRMING:
        return CONFIRMING
    if status is S.REFUNDED:
        return REFUNDED
    if status in CLOSED:
        return EXPIRED
    return WAITING


def missing_coins(invoice: Invoice) -> Optional[Decimal]:
    """What is still to send, rounded up to the coin's unit (a shopper who
    sends it is never short by a rounding)."""
    due, received = invoice.pay_amount, invoice.received_amount
    if due is None or received is None or received >= due:
        return None
    exp = Decimal(1).scaleb(-precision(invoice.pay_currency or "BTC"))
    return (due - received).quantize(exp, rounding=ROUND_UP)


def seconds_left(invoice: Invoice, now: Optional[datetime] = None) -> Optional[int]:
    if invoice.expires_at is None:
        return None
    left = (invoice.expires_at - (now or timezone.now())).total_seconds()
    return max(0, int(left))


def safe_return_url(invoice: Invoice) -> Optional[str]:
    """The storefront's return URL, only as a web link (never ``javascript:``)."""
    url = invoice.return_url
    return url if url.startswith(("https://", "http://")) else None


@dataclass(frozen=True)
class PageFacts:
    """Everything the template and the status endpoint need; nothing secret."""

    state: str
    amount: str
    currency: str
    pay_amount: Optional[str]
    pay_currency: str
    address: str
    payment_uri: Optional[str]
    qr_code: Optional[str]
    opens_wallet: bool  # the URI has a scheme wallets agree on
    missing: Optional[str]
    seconds_left: Optional[int]
    expires_at: Optional[datetime]
    return_url: Optional[str]
    invoice_id: str

    @property
    def final(self) -> bool:
        return self.state in FINAL

    @property
    def paid(self) -> bool:
        return self.state in PAID_STATES

    def status_json(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "missing": self.missing,
            "pay_currency": self.pay_currency or None,
            "seconds_left": self.seconds_left,
            "final": self.final,
        }


def page_facts(invoice: Invoice) -> PageFacts:
    state = shopper_state(invoice)
    missing = missing_coins(invoice)
    uri = invoice_payment_uri(invoice)
    if state == UNDERPAID and missing is not None:
        # the wallet should ask for what is missing, not the whole amount again
        uri = payment_uri(invoice.pay_currency, invoice.address, missing)
    return PageFacts(
        state=state,
        amount=format_amount(invoice.amount, invoice.currency),
        currency=invoice.currency,
        pay_amount=plain_decimal(invoice.pay_amount) if invoice.pay_amount is not None else None,
        pay_currency=invoice.pay_currency,
        address=invoice.address,
        payment_uri=uri,
        qr_code=qr_data_uri(uri) if uri else None,
        opens_wallet=bool(uri and ":" in uri),
        missing=plain_decimal(missing) if missing is not None else None,
        seconds_left=seconds_left(invoice),
        expires_at=invoice.expires_at,
        return_url=safe_return_url(invoice),
        invoice_id=invoice.provider_invoice_id or "",
    )
