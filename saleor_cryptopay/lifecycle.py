"""The payment state machine: pure functions, no I/O.

``decide`` takes what we last recorded for an invoice and what the provider
says now (always a fresh read, never a callback's claims) and answers what to
do. Rules that keep money safe:

* one-way: once charged, nothing but a refund moves the invoice again; a
  late "expired" or "pending" is ignored (callbacks arrive out of order);
* money that arrived is never dropped: paid after expiry still charges (and is
  flagged), short money on an expired invoice stays UNDERPAID for staff;
* nothing is charged when the provider's invoice is for another amount or
  currency than ours.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Optional

from .providers.status import PaymentStatus

S = PaymentStatus

CHARGED = frozenset({S.PAID, S.OVERPAID})
CLOSED = frozenset({S.EXPIRED, S.INVALID, S.CANCELED})
_PROGRESS = {S.NEW: 0, S.WAITING: 1, S.CONFIRMING: 2}


class Action(enum.StrEnum):
    NOTHING = "nothing"  # nothing new: record the observation, do not act
    TRACK = "track"  # progress towards payment: record status, no money moves
    CHARGE = "charge"  # money covers the amount: capture and complete the order
    HOLD = "hold"  # money or data needs a person: no charge, flag for staff
    CLOSE = "close"  # ended without money: cancel the payment, free the checkout
    REFUNDED = "refunded"  # the provider refunded a charged invoice: tell staff


class Flag(enum.StrEnum):
    OVERPAID = "overpaid"
    PAID_LATE = "paid_late"  # money arrived after the invoice was closed
    UNDERPAID = "underpaid"  # short beyond tolerance
    UNDERPAID_TOLERATED = "underpaid_tolerated"
    AMOUNT_MISMATCH = "amount_mismatch"  # provider's invoice is not for our amount
    REFUNDED_AT_PROVIDER = "refunded_at_provider"


@dataclass(frozen=True)
class Observation:
    """What the provider's API says now about one invoice/order."""

    status: PaymentStatus
    price_amount: Optional[Decimal] = None  # fiat the invoice is for, if reported
    price_currency: Optional[str] = None
    due: Optional[Decimal] = None  # crypto asked for
    received: Optional[Decimal] = None  # crypto received, if reported


@dataclass(frozen=True)
class Expected:
    """What we asked for."""

    amount: Decimal
    currency: str
    underpaid_tolerance: Decimal = Decimal(0)  # fraction of the due amount, e.g. 0.01


@dataclass(frozen=True)
class Decision:
    status: PaymentStatus
    action: Action
    flags: frozenset[Flag] = field(default_factory=frozenset)
    reason: str = ""


def within_tolerance(
    due: Optional[Decimal], received: Optional[Decimal], tolerance: Decimal
) -> bool:
    if due is None or received is None or due <= 0 or tolerance <= 0:
        return False
    return received >= due * (Decimal(1) - tolerance)


def amount_matches(observed: Observation, expected: Expected) -> bool:
    """The provider's invoice is for what we asked. Unreported fields pass:
    CoinPay.in.th's check does not always echo the fiat amount."""
    if observed.price_currency and observed.price_currency.upper() != expected.currency.upper():
        return False
    return observed.price_amount is None or observed.price_amount == expected.amount


def decide(current: PaymentStatus, observed: Observation, expected: Expected) -> Decision:
    new = observed.status

    if current in CHARGED:
        if new is S.REFUNDED:
            return Decision(
                S.REFUNDED,
                Action.REFUNDED,
                frozenset({Flag.REFUNDED_AT_PROVIDER}),
                "the provider reports the invoice refunded",
            )
        return Decision(current, Action.NOTHING, reason=f"already charged; provider says {new}")

    if current is S.REFUNDED:
        return Decision(current, Action.NOTHING, reason="already refunded")

    if new in CHARGED or new is S.UNDERPAID:
        if not amount_matches(observed, expected):
            return Decision(
                current,
                Action.HOLD,
                frozenset({Flag.AMOUNT_MISMATCH}),
                f"provider invoice is for {observed.price_amount} {observed.price_currency}, "
                f"expected {expected.amount} {expected.currency}",
            )
        late = {Flag.PAID_LATE} if current in CLOSED else set()
        if new in CHARGED:
            flags = late | ({Flag.OVERPAID} if new is S.OVERPAID else set())
            return Decision(new, Action.CHARGE, frozenset(flags), f"provider reports {new}")
        if within_tolerance(observed.due, observed.received, expected.underpaid_tolerance):
            return Decision(
                S.PAID,
                Action.CHARGE,
                frozenset(late | {Flag.UNDERPAID_TOLERATED}),
                f"received {observed.received} of {observed.due}, within tolerance",
            )
        if current is S.UNDERPAID:
            return Decision(S.UNDERPAID, Action.NOTHING, reason="still underpaid")
        return Decision(
            S.UNDERPAID,
            Action.HOLD,
            frozenset(late | {Flag.UNDERPAID}),
            f"received {observed.received} of {observed.due}",
        )

    if current is S.UNDERPAID:
        # short money stays in front of staff whatever the provider says next
        return Decision(current, Action.NOTHING, reason=f"underpaid; provider says {new}")

    if new in CLOSED or new is S.REFUNDED:
        if current in CLOSED:
            return Decision(current, Action.NOTHING, reason=f"already closed; provider says {new}")
        return Decision(new, Action.CLOSE, reason=f"provider reports {new}")

    # new is NEW / WAITING / CONFIRMING
    if current in CLOSED:
        return Decision(current, Action.NOTHING, reason=f"closed; provider says {new}")
    if _PROGRESS[new] > _PROGRESS.get(current, 0):
        return Decision(new, Action.TRACK, reason=f"provider reports {new}")
    return Decision(current, Action.NOTHING, reason=f"no progress ({new})")
