"""The callback inbox (no Saleor needed)."""

import json
from urllib.parse import urlencode

import pytest

from saleor_cryptopay.inbox import MASK, parse_fields, store_callback
from saleor_cryptopay.models import CallbackEvent

pytestmark = pytest.mark.django_db


def store(body: bytes, content_type="application/x-www-form-urlencoded", headers=None):
    return store_callback(
        provider="coinpay_th",
        channel_slug="main",
        path="/plugins/channel/main/x/callback",
        headers=headers or {"Content-Type": content_type},
        body=body,
        content_type=content_type,
        remote_addr="127.0.0.1",
    )


def test_form_callback_is_stored_in_order_with_verify_token_masked():
    body = urlencode([("order_id", "42"), ("verify", "tok-SECRET-123"), ("status", "Completed")])
    event, pairs = store(body.encode())
    assert pairs == [("order_id", "42"), ("verify", "tok-SECRET-123"), ("status", "Completed")]
    event.refresh_from_db()
    assert event.fields == [["order_id", "42"], ["verify", MASK], ["status", "Completed"]]
    stored = json.dumps([event.body, event.fields, event.headers])
    assert "tok-SECRET-123" not in stored
    assert event.outcome == CallbackEvent.Outcome.RECEIVED


def test_secret_headers_are_dropped():
    event, _ = store(
        b"a=1",
        headers={
            "Authorization": "Basic c2VjcmV0",
            "Cookie": "sessionid=abc",
            "X-Api-Key": "k",
            "User-Agent": "provider/1.0",
        },
    )
    event.refresh_from_db()
    assert event.headers == {"User-Agent": "provider/1.0"}


def test_garbage_body_is_kept_not_lost():
    raw = b"\xff\xfe<html>not a form"
    event, pairs = store(raw, content_type="text/html")
    event.refresh_from_db()
    assert event.body  # kept (decoded with replacement characters)
    assert event.pk is not None


def test_json_body_is_read_one_level():
    assert parse_fields(b'{"order_id": 5, "success": true, "x": null}', "application/json") == [
        ("order_id", "5"),
        ("success", "true"),
        ("x", ""),
    ]


def test_too_many_fields_give_no_fields_but_the_event_is_kept():
    body = "&".join(f"f{i}=v" for i in range(500)).encode()
    event, pairs = store(body)
    assert pairs == []
    assert CallbackEvent.objects.filter(pk=event.pk).exists()


def test_duplicate_keys_are_preserved_for_verification_to_refuse():
    _, pairs = store(b"status=paid&status=expired")
    assert pairs == [("status", "paid"), ("status", "expired")]


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"order_id=1%00&status=paid%00", "application/x-www-form-urlencoded"),
        (b'{"order_id": "1\\u0000", "x\\ud800": "\\udc00"}', "application/json"),
    ],
    ids=["nul-in-form", "nul-and-lone-surrogates-in-json"],
)
def test_text_postgresql_cannot_store_is_replaced(body, content_type):
    """NUL and lone surrogates made PostgreSQL refuse the row (a 503 the
    provider retries forever): they become U+FFFD, in the stored copy and in
    the fields handed on."""
    event, pairs = store(body, content_type=content_type)
    for key, value in pairs:
        assert "\x00" not in key + value
        (key + value).encode("utf-8")  # no lone surrogate left
    assert pairs[0] == ("order_id", "1\ufffd")
    event.refresh_from_db()
    assert "\x00" not in event.body
