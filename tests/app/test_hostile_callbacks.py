"""Hostile bodies at the App's provider callback URL, over real HTTP: refused
with a clear 400 before storing, or stored within the same caps whatever the
encoding (the plugin's handler shares the inbox: tests/saleor/test_hostile_input.py)."""

from __future__ import annotations

import json

import requests

from saleor_cryptopay.inbox import MAX_BODY
from saleor_cryptopay.models import CallbackEvent


def _row_size(event: CallbackEvent) -> int:
    return len(event.body) + len(json.dumps(event.fields))


def test_deeply_nested_json_is_a_clear_400_and_stores_nothing(configure):
    config = configure()
    body = '{"id": ' + "[" * 100_000 + "]" * 100_000 + "}"
    response = requests.post(
        config.callback_url,
        data=body,
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 400, response.text
    assert response.text.startswith("refused: JSON nested deeper than")
    assert not CallbackEvent.objects.exists()
    # brackets inside strings are not nesting
    body = json.dumps({"id": "[" * 5000, "status": "paid"})
    response = requests.post(
        config.callback_url, data=body, headers={"Content-Type": "application/json"}, timeout=30
    )
    assert response.status_code == 200, response.text
    assert CallbackEvent.objects.get().fields[0] == ["id", "[" * 2000]


def test_multipart_meets_the_same_caps_as_a_form(configure):
    """A 0.8 MB multipart callback used to skip the caps (stored as a 1.6 MB row)."""
    config = configure()
    pairs = [(f"field{i}", "x" * 2000) for i in range(400)]  # ~0.8 MB
    as_form = requests.post(config.callback_url, data=pairs, timeout=30)
    files = [(name, (None, value)) for name, value in pairs]  # multipart/form-data
    as_multipart = requests.post(config.callback_url, files=files, timeout=30)
    assert as_form.status_code == as_multipart.status_code == 200
    form_event, multipart_event = CallbackEvent.objects.order_by("pk")
    assert multipart_event.content_type.startswith("multipart/form-data")
    assert multipart_event.fields == form_event.fields
    assert multipart_event.body == form_event.body
    assert _row_size(multipart_event) < 3 * MAX_BODY


def test_multipart_with_too_many_fields_gives_no_fields_as_a_form_does(configure):
    config = configure()
    files = [(f"f{i}", (None, "v")) for i in range(500)]
    response = requests.post(config.callback_url, files=files, timeout=30)
    assert response.status_code == 200, response.text
    assert CallbackEvent.objects.get().fields == []
