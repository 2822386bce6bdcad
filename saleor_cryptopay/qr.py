"""Payment URIs and their QR codes, for storefronts and the sandbox's pages.

Pure Python (``segno``), no Django: the sandbox and both editions use it.
"""

from __future__ import annotations

import base64
import io
import re
from decimal import Decimal
from typing import Optional

import segno

from .money import plain_decimal

# Coins whose wallets agree on a BIP 21 style URI (``<scheme>:<address>?amount=
# <coin units>``). Ethereum's EIP 681 counts in wei and names the token
# contract and chain, which wallets read inconsistently and an invoice does not
# give us; ETH, tokens and the rest get the plain address.
URI_SCHEMES: dict[str, str] = {
    "BTC": "bitcoin",  # BIP 21
    "LTC": "litecoin",
    "BCH": "bitcoincash",  # CashAddr carries the prefix itself
    "DOGE": "dogecoin",
    "DASH": "dash",
}

# Addresses are base58 / bech32 / hex; anything else would turn into URI syntax.
_ADDRESS = re.compile(r"[A-Za-z0-9]{20,128}")

_SCALE = 6  # pixels per module
_BORDER = 4  # the quiet zone the QR standard asks for, in modules


def payment_uri(coin: str, address: str, amount: Optional[Decimal]) -> Optional[str]:
    """What a wallet should scan to pay ``amount`` of ``coin`` to ``address``:
    a payment URI where the coin has a standard one, else the plain address.
    None when ``address`` does not look like an address."""
    address = (address or "").strip()
    scheme = URI_SCHEMES.get((coin or "").strip().upper())
    if scheme and address.lower().startswith(scheme + ":"):
        address = address[len(scheme) + 1 :]  # CashAddr with its prefix
    if not _ADDRESS.fullmatch(address):
        return None
    if scheme is None:
        return address
    uri = f"{scheme}:{address}"
    if amount is not None and amount.is_finite() and amount > 0:
        uri += f"?amount={plain_decimal(amount)}"
    return uri


def qr_png(text: str) -> bytes:
    """A 1-bit PNG QR code of ``text`` (error correction at least M)."""
    buffer = io.BytesIO()
    segno.make(text, error="m", micro=False).save(buffer, kind="png", scale=_SCALE, border=_BORDER)
    return buffer.getvalue()


def qr_png_base64(text: str) -> str:
    return base64.b64encode(qr_png(text)).decode("ascii")


def qr_data_uri(text: str) -> str:
    """``data:image/png;base64,…``, usable as an ``<img src>`` as is."""
    return "data:image/png;base64," + qr_png_base64(text)
