"""The callback inbox: store every callback as received, before acting on it.

Credentials never reach the database: secret-looking headers are dropped and
IPN verify tokens are masked (the re-read from the provider, not the token,
is what a replay relies on).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Optional
from urllib.parse import parse_qsl, urlencode

from .models import CallbackEvent

MAX_BODY = 64 * 1024
MAX_FIELDS = 100
MAX_VALUE = 2000
MAX_JSON_DEPTH = 20  # a genuine callback is one level deep
MASK = "***"
FORM = "application/x-www-form-urlencoded"


class RefusedCallback(ValueError):
    """A body no provider sends and the inbox will not store (answer 400)."""


# Form fields that are credentials or one-time verification tokens.
SECRET_FIELDS = frozenset({"verify", "api_key", "key", "secret", "signature", "password"})
_SECRET_HEADER_WORDS = ("authorization", "cookie", "token", "secret", "key", "signature")
_KEPT_HEADERS = 40


def clean_text(value: object) -> str:
    """Text PostgreSQL can store: NUL characters and lone surrogates (a JSON
    body may carry ``\\u0000`` or ``\\ud800``) become U+FFFD. A genuine
    callback has neither; a signed value changed here no longer verifies."""
    text = str(value)
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return text


def clean_pairs(pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(clean_text(k), clean_text(v)) for k, v in pairs]


def safe_headers(headers: Mapping[str, str]) -> dict[str, str]:
    kept = {}
    for name, value in list(headers.items())[:_KEPT_HEADERS]:
        lowered = name.lower()
        if any(word in lowered for word in _SECRET_HEADER_WORDS):
            continue
        kept[clean_text(name)] = clean_text(value)[:500]
    return kept


def parse_fields(body: bytes, content_type: str) -> list[tuple[str, str]]:
    """Fields in arrival order. Form bodies are read as pairs (duplicates kept,
    so verification can refuse them); JSON objects are flattened one level."""
    text = body[:MAX_BODY].decode("utf-8", errors="replace")
    ctype = (content_type or "").split(";")[0].strip().lower()
    if ctype == "application/json" or (not ctype and text.lstrip().startswith("{")):
        if _nested_deeper_than(text, MAX_JSON_DEPTH):
            # json.loads would raise RecursionError (a 500) long before this matters
            raise RefusedCallback(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
        try:
            data = json.loads(text)
        except ValueError:
            return []
        if not isinstance(data, dict) or len(data) > MAX_FIELDS:
            return []  # as a form with too many fields
        return [(str(k), _scalar(v)) for k, v in data.items()]
    try:
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except ValueError:  # more fields than allowed
        return []
    return pairs


def _nested_deeper_than(text: str, limit: int) -> bool:
    if text.count("[") + text.count("{") <= limit:
        return False  # the usual case, decided at C speed
    depth, in_string, escaped = 0, False, False
    for char in text:  # brackets inside strings do not count
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char in "]}":
            depth -= 1
    return False


def _scalar(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value)[:MAX_VALUE]
    return str(value)


def mask_fields(pairs: Iterable[tuple[str, str]]) -> list[list[str]]:
    return [[k[:200], MASK if k.lower() in SECRET_FIELDS else str(v)[:MAX_VALUE]] for k, v in pairs]


def store_callback(
    *,
    provider: str,
    channel_slug: str,
    path: str,
    headers: Mapping[str, str],
    body: bytes,
    content_type: str,
    remote_addr: str = "",
    pairs: Optional[list[tuple[str, str]]] = None,
) -> tuple[CallbackEvent, list[tuple[str, str]]]:
    """Save the callback and return it with the *unmasked* fields for this
    request only (verification needs the real token; the database never sees it).

    ``pairs`` already parsed (multipart) go through the form rules as a form
    body, so every encoding meets the same size and field caps. Raises
    ``RefusedCallback`` before storing anything for a body no provider sends."""
    if pairs is not None:
        body_as_form = urlencode(clean_pairs(pairs)).encode()
        pairs = parse_fields(body_as_form, FORM)
    else:
        pairs = parse_fields(body, content_type)
    pairs = clean_pairs(pairs)
    masked = mask_fields(pairs)
    raw = clean_text(body[:MAX_BODY].decode("utf-8", errors="replace"))
    stored_body = urlencode([tuple(p) for p in masked]) if pairs else raw
    event = CallbackEvent.objects.create(
        provider=provider,
        channel_slug=clean_text(channel_slug)[:255],
        path=clean_text(path)[:255],
        headers=safe_headers(headers),
        content_type=clean_text(content_type or "")[:255],
        body=stored_body,
        fields=masked,
        remote_addr=clean_text(remote_addr or "")[:64],
    )
    return event, pairs
