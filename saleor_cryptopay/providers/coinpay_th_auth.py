"""CoinPay.in.th request authentication: ``key``, ``nonce``, ``signature``.

``signature = sha256_hex(key + nonce + secret)``: a plain SHA-256 of the
concatenation (the official PHP class), not an HMAC.
"""

from __future__ import annotations

import hashlib
import hmac


def request_signature(key: str, nonce: int | str, secret: str) -> str:
    return hashlib.sha256(f"{key}{nonce}{secret}".encode()).hexdigest()


def check_signature(key: str, nonce: int | str, secret: str, signature: str) -> bool:
    expected = request_signature(key, nonce, secret).encode("ascii")
    return hmac.compare_digest(expected, str(signature).strip().lower().encode("ascii", "replace"))


def auth_fields(key: str, nonce: int, secret: str) -> dict[str, str]:
    return {"key": key, "nonce": str(nonce), "signature": request_signature(key, nonce, secret)}
