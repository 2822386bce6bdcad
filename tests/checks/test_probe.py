"""The signed no-op probe: only a fresh probe signed with the key is answered."""

import time

import pytest

from saleor_cryptopay.setup_checks.probe import (
    FRESH_SECONDS,
    PROBE_FIELD,
    is_our_answer,
    make_probe,
    probe_answer,
)

FORM = "application/x-www-form-urlencoded"
KEY = "deployment-secret"


def body(fields: dict) -> bytes:
    from urllib.parse import urlencode

    return urlencode(fields).encode()


def test_a_fresh_probe_is_answered_with_a_proof_of_the_key():
    fields, nonce = make_probe(KEY)
    answer = probe_answer(FORM, body(fields), KEY)
    assert answer is not None and answer[PROBE_FIELD] == "ok"
    assert is_our_answer(answer, nonce, KEY)
    assert not is_our_answer(answer, nonce, "another deployment")
    assert not is_our_answer(answer, "another nonce", KEY)


def test_a_probe_signed_with_another_key_is_not_answered():
    fields, _ = make_probe("another deployment")
    assert probe_answer(FORM, body(fields), KEY) is None


@pytest.mark.parametrize("age", [FRESH_SECONDS + 5, -(FRESH_SECONDS + 5)])
def test_a_stale_or_future_probe_is_not_answered(age):
    fields, _ = make_probe(KEY, now=time.time() - age)
    assert probe_answer(FORM, body(fields), KEY) is None


def test_a_tampered_probe_is_not_answered():
    fields, _ = make_probe(KEY)
    stamp, nonce, mac = fields[PROBE_FIELD].split(".")
    for token in (f"{stamp}.{nonce}x.{mac}", f"{int(stamp) + 1}.{nonce}.{mac}", f"{stamp}.{nonce}"):
        assert probe_answer(FORM, body({PROBE_FIELD: token}), KEY) is None


def test_only_a_bare_form_probe_is_recognised():
    fields, _ = make_probe(KEY)
    assert probe_answer("multipart/form-data", body(fields), KEY) is None
    assert probe_answer(FORM, body({**fields, "txn_id": "1"}), KEY) is None
    assert probe_answer(FORM, body(fields) + b"&" + b"x" * 600, KEY) is None


def test_an_answer_must_say_ok_and_carry_the_proof():
    _, nonce = make_probe(KEY)
    assert not is_our_answer({"proof": "x"}, nonce, KEY)
    assert not is_our_answer("ok", nonce, KEY)
    assert not is_our_answer(None, nonce, KEY)
