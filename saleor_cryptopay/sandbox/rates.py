"""Fixed exchange rates and fake-but-plausible identifiers.

Rates never move: a test can compute the expected crypto amount by hand and a
flow run twice gives the same numbers.
"""

from __future__ import annotations

import secrets
from decimal import Decimal, localcontext

from ..money import quantize

# How many units of each fiat currency one US dollar buys.
FIAT_PER_USD: dict[str, Decimal] = {
    code: Decimal(v)
    for code, v in {
        "USD": "1", "EUR": "0.9", "GBP": "0.8", "CHF": "0.9", "PLN": "4",
        "THB": "35", "JPY": "150", "AUD": "1.5", "CAD": "1.35", "SGD": "1.35",
    }.items()
}  # fmt: skip

# The price of one coin in US dollars (1 BTC = 50000 USD = 1 750 000 THB).
COIN_USD: dict[str, Decimal] = {
    "BTC": Decimal("50000"),
    "LTC": Decimal("100"),
    "ETH": Decimal("2500"),
    "USDT": Decimal("1"),
}

PAY_CURRENCIES: tuple[str, ...] = ("BTC", "LTC", "ETH", "USDT")
PRICE_CURRENCIES: frozenset[str] = frozenset(FIAT_PER_USD) | frozenset(COIN_USD)

_BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def is_supported(currency: str) -> bool:
    return currency.upper() in PRICE_CURRENCIES


def convert(amount: Decimal, src: str, dst: str) -> Decimal:
    """Exact-ish conversion (40 significant digits); callers quantise."""
    src, dst = src.upper(), dst.upper()
    with localcontext() as ctx:
        ctx.prec = 40
        usd = amount * COIN_USD[src] if src in COIN_USD else amount / FIAT_PER_USD[src]
        return usd / COIN_USD[dst] if dst in COIN_USD else usd * FIAT_PER_USD[dst]


def convert_q(amount: Decimal, src: str, dst: str) -> Decimal:
    """Convert and round half-up to the target currency's precision."""
    return quantize(convert(amount, src, dst), dst)


def fake_address(coin: str) -> str:
    """Random address with the right shape for the coin. It is not a valid
    address (no checksum): nothing must ever send real money to it."""
    coin = coin.upper()
    if coin in ("ETH", "USDT"):  # USDT as an ERC-20 token
        return "0x" + secrets.token_hex(20)
    body = "".join(secrets.choice(_BECH32) for _ in range(38))
    return ("ltc1q" if coin == "LTC" else "bc1q") + body


def fake_txid() -> str:
    return secrets.token_hex(32)
