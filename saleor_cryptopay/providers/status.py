"""Provider-neutral payment status."""

from __future__ import annotations

import enum


class PaymentStatus(enum.StrEnum):
    NEW = "new"  # created; shopper has not paid (or not chosen a coin) yet
    WAITING = "waiting"  # coin/address chosen, awaiting the transfer
    CONFIRMING = "confirming"  # transfer seen, awaiting network confirmations
    PAID = "paid"
    UNDERPAID = "underpaid"  # some money arrived, less than asked
    OVERPAID = "overpaid"  # paid, with more than asked
    EXPIRED = "expired"
    INVALID = "invalid"
    CANCELED = "canceled"
    REFUNDED = "refunded"

    @property
    def is_open(self) -> bool:
        """The shopper may still pay (or a payment is on its way)."""
        return self in _OPEN

    @property
    def has_money(self) -> bool:
        """Some money reached the merchant under this status."""
        return self in _MONEY


_OPEN = frozenset({PaymentStatus.NEW, PaymentStatus.WAITING, PaymentStatus.CONFIRMING})
_MONEY = frozenset({PaymentStatus.PAID, PaymentStatus.UNDERPAID, PaymentStatus.OVERPAID})
