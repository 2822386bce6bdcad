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
