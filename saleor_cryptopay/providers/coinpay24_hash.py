"""CoinPay24 callback signature (``verify_hash``).

The rule two of the provider's three shop plugins agree on: drop
``verify_hash``, sort the fields by key, join them the way PHP's
``http_build_query`` does (``urlencode``: space as ``+``, uppercase ``%XX``,
``~`` escaped), HMAC-SHA256 keyed with the API key, lowercase hex.

The docs also say ``hash_hmac('sha256', POST DATA, API_KEY)``, i.e. the body
as sent. ``verify_callback`` therefore also accepts the same encoding in the
order the fields arrived: both forms need the API key, so accepting the second
costs no security and survives the provider signing without sorting.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from typing import Union
from urllib.parse import quote_plus

HASH_FIELD = "verify_hash"

Fields = Union[Mapping[str, str], Iterable[tuple[str, str]]]


def php_urlencode(value: str) -> str:
    """PHP ``urlencode``: like ``quote_plus`` with no safe characters, except
    that PHP also escapes ``~`` (Python leaves it alone since 3.7)."""
    return quote_plus(value, safe="").replace("~", "%7E")


def _pairs(fields: Fields) -> list[tuple[str, str]]:
    items = fields.items() if isinstance(fields, Mapping) else fields
    return [(str(k), "" if v is None else str(v)) for k, v in items if k != HASH_FIELD]


def canonical_query(fields: Fields, *, sort: bool = True) -> str:
    """The string that is signed: ``k=v&k=v`` in PHP encoding."""
    pairs = _pairs(fields)
    if sort:
        pairs.sort(key=lambda kv: kv[0])
    return "&".join(f"{php_urlencode(k)}={php_urlencode(v)}" for k, v in pairs)


def hmac_sha256_hex(key: str, message: str) -> str:
    return hmac.new(key.encode("utf-8"), message.encode("utf-8"), hashlib.sha256).hexdigest()


def compute_verify_hash(fields: Fields, api_key: str) -> str:
    return hmac_sha256_hex(api_key, canonical_query(fields, sort=True))


def verify_callback(fields: Fields, api_key: str) -> bool:
    """True when ``verify_hash`` matches the fields under either accepted form.

    ``fields`` should keep the order the body arrived in (a list of pairs from
    ``urllib.parse.parse_qsl``); a repeated key is refused outright because PHP
    would have kept only the last value and we cannot know which was signed.
    """
    pairs = list(fields.items()) if isinstance(fields, Mapping) else list(fields)
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        return False
    received = [v for k, v in pairs if k == HASH_FIELD]
    if len(received) != 1 or not api_key:
        return False
    given = str(received[0]).strip().lower().encode("ascii", "replace")
    ok = False
    for sort in (True, False):
        expected = hmac_sha256_hex(api_key, canonical_query(pairs, sort=sort)).encode("ascii")
        # compare both forms regardless, so timing says nothing about which matched
        ok |= hmac.compare_digest(expected, given)
    return ok
