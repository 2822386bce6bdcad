"""Decimal money helpers: parse at the edge, quantise to the currency's precision."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Union

# ISO 4217 minor units that differ from 2, plus the coins the providers quote.
_PRECISION = {
    # zero-decimal fiat
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0,
    "KRW": 0, "PYG": 0, "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0,
    "XAF": 0, "XOF": 0, "XPF": 0,
    # three-decimal fiat
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
    # coins
    "BTC": 8, "LTC": 8, "BCH": 8, "DOGE": 8, "DASH": 8, "ETH": 18,
    "USDT": 6, "USDC": 6, "TRX": 6, "XRP": 6,
}  # fmt: skip

_MAX_EXPONENT = 40

MoneyInput = Union[Decimal, str, int, float]


class MoneyError(ValueError):
    """A value that cannot be read as an amount of money."""


def precision(currency: str) -> int:
    return _PRECISION.get(currency.upper(), 2)


def to_decimal(value: MoneyInput) -> Decimal:
    """Read an amount from the wire. Floats go through ``repr`` (shortest
    round-trip form) so 0.1 becomes Decimal('0.1'), not its binary expansion."""
    if isinstance(value, bool) or value is None:
        raise MoneyError(f"not an amount: {value!r}")
    if isinstance(value, float):
        value = repr(value)
    try:
        result = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
    except (InvalidOperation, ValueError) as exc:
        raise MoneyError(f"not an amount: {value!r}") from exc
    if not result.is_finite():
        raise MoneyError(f"not a finite amount: {value!r}")
    if result and not -_MAX_EXPONENT <= result.adjusted() <= _MAX_EXPONENT:
        # no real price is 10^40; such input would only break quantize later
        raise MoneyError(f"amount out of range: {value!r}")
    return result


def quantize(amount: MoneyInput, currency: str, rounding: str = ROUND_HALF_UP) -> Decimal:
    """Round (half-up unless told) to the currency's minor unit."""
    exp = Decimal(1).scaleb(-precision(currency))
    return to_decimal(amount).quantize(exp, rounding=rounding)


def format_amount(amount: MoneyInput, currency: str) -> str:
    """The wire form: fixed-point, the currency's precision, no exponent."""
    return format(quantize(amount, currency), "f")


def plain_decimal(amount: Decimal) -> str:
    """Exactly ``amount``, fixed-point, without trailing zeros: the form for
    amounts whose precision we must not change (``0.00120000`` → ``0.0012``,
    ``5E+1`` → ``50``)."""
    text = format(amount, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text
