"""The signed no-op probe: "does the callback URL reach this very plugin?"

The checker POSTs one form field, ``cryptopay_probe=<time>.<nonce>.<mac>``, to
the callback URL, as the provider would post a callback. The callback handler
recognises a valid, fresh probe before storing anything and answers JSON with
a proof (a MAC over the nonce); anything else goes down the normal callback
path, so a forged probe learns nothing a forged callback would not.

The key is derived from Django's SECRET_KEY (salted): it works before the
configuration being saved exists in the database, needs no provider secret,
and a URL that reaches another deployment (staging pointed at production)
fails the proof.
"""

from __future__ import annotations

import hmac
import secrets
import time
from typing import Any, Optional
from urllib.parse import parse_qsl

from django.utils.crypto import salted_hmac

PROBE_FIELD = "cryptopay_probe"
FRESH_SECONDS = 120  # either way: the probe is answered within seconds
MAX_BODY = 512
_SALT = "saleor_cryptopay.setup_checks.probe"


def default_key() -> str:
    from django.conf import settings

    return settings.SECRET_KEY


def _mac(key: str, purpose: str, value: str) -> str:
    return salted_hmac(f"{_SALT}.{purpose}", value, secret=key, algorithm="sha256").hexdigest()


def make_probe(key: str, *, now: Optional[float] = None) -> tuple[dict[str, str], str]:
    """The form fields to POST and the nonce the answer must prove."""
    stamp = str(int(time.time() if now is None else now))
    nonce = secrets.token_hex(16)
    value = f"{stamp}.{nonce}"
    return {PROBE_FIELD: f"{value}.{_mac(key, 'probe', value)}"}, nonce


def probe_answer(
    content_type: str, body: bytes, key: str, *, now: Optional[float] = None
) -> Optional[dict[str, str]]:
    """The JSON to answer when ``body`` is a valid, fresh probe; else None
    (the caller then treats the request as any other callback)."""
    if content_type != "application/x-www-form-urlencoded" or len(body) > MAX_BODY:
        return None
    if PROBE_FIELD.encode() not in body:  # cheap exit for every real callback
        return None
    pairs = parse_qsl(body.decode("ascii", "replace"), keep_blank_values=True)
    if len(pairs) != 1 or pairs[0][0] != PROBE_FIELD:
        return None
    parts = pairs[0][1].split(".")
    if len(parts) != 3 or not parts[0].isdigit():
        return None
    stamp, nonce, mac = parts
    expected = _mac(key, "probe", f"{stamp}.{nonce}")
    if not hmac.compare_digest(expected.encode(), mac.encode("ascii", "replace")):
        return None
    if abs((time.time() if now is None else now) - int(stamp)) > FRESH_SECONDS:
        return None
    return {PROBE_FIELD: "ok", "proof": _mac(key, "answer", nonce)}


def is_our_answer(answer: Any, nonce: str, key: str) -> bool:
    """True when ``answer`` (parsed JSON) proves knowledge of the key."""
    if not isinstance(answer, dict) or answer.get(PROBE_FIELD) != "ok":
        return False
    proof = str(answer.get("proof") or "")
    return hmac.compare_digest(
        _mac(key, "answer", nonce).encode(), proof.encode("ascii", "replace")
    )
