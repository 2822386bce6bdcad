"""Local address checks: checksum and network, per coin, before any provider call.

Base58Check and bech32/bech32m (BIP 173/350) come from ``embit`` (the
reference implementations, maintained by the cryptoadvance project, pure
Python); Ethereum's mixed-case checksum (EIP-55) needs Keccak-256, from
``pycryptodome``. An address that passes here may still belong to no iCoinPay
user: ``checkaddress`` answers that.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from Crypto.Hash import keccak
from embit import base58, bech32


@dataclass(frozen=True)
class Network:
    name: str
    hrp: Optional[str]  # bech32 prefix, None when the coin has no segwit
    versions: frozenset[int]  # Base58Check version bytes (P2PKH, P2SH)


# Mainnet first: a payout goes to the coin's main network only. The others are
# there to tell the shopper *why* an address is refused.
NETWORKS: dict[str, Network] = {
    "BTC": Network("Bitcoin", "bc", frozenset({0x00, 0x05})),
    "LTC": Network("Litecoin", "ltc", frozenset({0x30, 0x32, 0x05})),
    "DOGE": Network("Dogecoin", None, frozenset({0x1E, 0x16})),
    "DASH": Network("Dash", None, frozenset({0x4C, 0x10})),
    "BCH": Network("Bitcoin Cash (legacy format)", None, frozenset({0x00, 0x05})),
}
OTHER_NETWORKS: list[Network] = [
    Network("Bitcoin testnet", "tb", frozenset({0x6F, 0xC4})),
    Network("Bitcoin regtest", "bcrt", frozenset()),
    Network("Litecoin testnet", "tltc", frozenset({0x6F, 0x3A})),
]
ETHEREUM_LIKE = frozenset({"ETH", "USDT", "USDC"})  # USDT/USDC as ERC-20 tokens
SUPPORTED = frozenset(NETWORKS) | ETHEREUM_LIKE
_HEX_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


def address_problem(coin: str, address: str) -> Optional[str]:
    """Why ``address`` cannot receive ``coin`` (a sentence for the shopper),
    or None when it can."""
    coin = coin.upper()
    address = address.strip()
    if not address:
        return "Enter an address."
    if len(address) > 100 or not address.isascii() or not address.isalnum():
        return "This is not a valid address."
    if coin in ETHEREUM_LIKE:
        return _ethereum_problem(address)
    network = NETWORKS.get(coin)
    if network is None:
        return f"Refunds in {coin} are not supported."
    if _matches(network, address):
        return _segwit_problem(network, address)
    for other in [*OTHER_NETWORKS, *(n for c, n in NETWORKS.items() if c != coin)]:
        if _matches(other, address):
            return f"This is a {other.name} address; a {network.name} address is needed."
    return f"This is not a valid {network.name} address (check for typing mistakes)."


# Witness programs a wallet can receive on today: v0 key hash and script hash,
# v1 taproot. Other versions and lengths are valid bech32m but unassigned:
# anyone could spend coins sent there, so a refund must never go to one.
_RECEIVABLE = {(0, 20), (0, 32), (1, 32)}


def _segwit_problem(network: Network, address: str) -> Optional[str]:
    if not (network.hrp and address.lower().startswith(network.hrp + "1")):
        return None  # a Base58Check address: P2PKH or P2SH, both receivable
    version, program = bech32.decode(network.hrp, address.lower())
    if (version, len(program)) in _RECEIVABLE:
        return None
    return (
        f"This {network.name} address (segwit version {version}, {len(program)} bytes) is of "
        "a kind no wallet can receive on yet, so coins sent there could be lost. Use a "
        f"{network.hrp}1q… (segwit), {network.hrp}1p… (taproot) or legacy address."
    )


def _matches(network: Network, address: str) -> bool:
    if network.hrp and address.lower().startswith(network.hrp + "1"):
        version, program = bech32.decode(network.hrp, address.lower())
        # mixed case is invalid in bech32 (BIP 173)
        return program is not None and address in (address.lower(), address.upper())
    if not network.versions:
        return False
    try:
        payload = base58.decode_check(address)
    except (ValueError, KeyError, IndexError):  # bad character, length or checksum
        return False
    return len(payload) == 21 and payload[0] in network.versions


def _ethereum_problem(address: str) -> Optional[str]:
    if not _HEX_ADDRESS.match(address):
        return "This is not a valid Ethereum address (0x followed by 40 hex digits)."
    body = address[2:]
    if body == body.lower() or body == body.upper():
        return None  # no checksum to check (EIP-55 allows single-case addresses)
    if body != eip55(body.lower()):
        return "This Ethereum address has a wrong checksum (check for typing mistakes)."
    return None


def eip55(hex_lower: str) -> str:
    """The EIP-55 mixed-case form of 40 lowercase hex digits (without 0x)."""
    digest = keccak.new(digest_bits=256, data=hex_lower.encode("ascii")).hexdigest()
    return "".join(
        c.upper() if int(d, 16) >= 8 else c for c, d in zip(hex_lower, digest[:40], strict=True)
    )
