"""Signature rules against vectors derived by hand and checked with openssl
(``printf '%s' MSG | openssl dgst -sha256 -hmac KEY``), plus published vectors."""

import pytest

from saleor_cryptopay.providers.coinpay24_hash import (
    canonical_query,
    compute_verify_hash,
    hmac_sha256_hex,
    php_urlencode,
    verify_callback,
)
from saleor_cryptopay.providers.coinpay_th_auth import (
    auth_fields,
    check_signature,
    request_signature,
)


def test_rfc4231_case_2():
    # RFC 4231 §4.3, HMAC-SHA-256
    assert (
        hmac_sha256_hex("Jefe", "what do ya want for nothing?")
        == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    )


@pytest.mark.parametrize(
    "raw,encoded",
    [
        ("a b", "a+b"),
        ("~", "%7E"),
        ("+", "%2B"),
        ("&", "%26"),
        ("=", "%3D"),
        ("*", "%2A"),  # PHP escapes it; Python's quote keeps it only with safe="*"
        ("-_.", "-_."),
        ("é", "%C3%A9"),
        ("", ""),
        ("/:?#", "%2F%3A%3F%23"),
    ],
)
def test_php_urlencode(raw, encoded):
    assert php_urlencode(raw) == encoded


# fields, key, canonical string written by hand from the rule, expected hex (openssl)
VECTORS = [
    (
        {"status": "paid", "order_id": "14037", "price_amount": "1050.99"},
        "secret-key",
        "order_id=14037&price_amount=1050.99&status=paid",
        "e7831c103865338af49e09785c0c22d86737df914a02658458002ed7905260de",
    ),
    (
        {"title": "A b~c", "note": "1+1=2&x", "name": "Zoë", "empty": ""},
        "k3y",
        "empty=&name=Zo%C3%AB&note=1%2B1%3D2%26x&title=A+b%7Ec",
        "e830c8374146363e6a29ab7e2261445454ad6d88eb038658e061f8fb530f2fad",
    ),
]


@pytest.mark.parametrize("fields,key,canonical,expected", VECTORS)
def test_coinpay24_vectors(fields, key, canonical, expected):
    assert canonical_query(fields) == canonical
    assert compute_verify_hash(fields, key) == expected
    signed = {**fields, "verify_hash": expected}
    assert verify_callback(signed, key)
    # upper-case hex (the docs' example is upper-case) is the same hash
    assert verify_callback({**fields, "verify_hash": expected.upper()}, key)


def test_verify_hash_is_excluded_from_what_is_signed():
    fields = {"b": "2", "a": "1", "verify_hash": "whatever"}
    assert canonical_query(fields) == "a=1&b=2"


def _signed():
    fields, key, _, expected = VECTORS[0]
    return dict(fields, verify_hash=expected), key


def test_tampered_field_rejected():
    signed, key = _signed()
    assert not verify_callback({**signed, "status": "expired"}, key)
    assert not verify_callback({**signed, "price_amount": "1050.98"}, key)


def test_added_field_rejected():
    signed, key = _signed()
    assert not verify_callback({**signed, "overpaid_amount": "1"}, key)


def test_missing_hash_rejected():
    signed, key = _signed()
    del signed["verify_hash"]
    assert not verify_callback(signed, key)


def test_wrong_key_rejected():
    signed, _ = _signed()
    assert not verify_callback(signed, "other-key")
    assert not verify_callback(signed, "")


def test_duplicate_keys_rejected():
    signed, key = _signed()
    pairs = list(signed.items()) + [("status", "paid")]
    assert not verify_callback(pairs, key)


def test_body_order_variant_accepted():
    # the docs' literal "hash_hmac(POST DATA)": the fields in the order sent
    pairs = [("status", "paid"), ("order_id", "7")]
    digest = hmac_sha256_hex("k", "status=paid&order_id=7")
    assert verify_callback(pairs + [("verify_hash", digest)], "k")


def test_non_ascii_hash_value_does_not_crash():
    signed, key = _signed()
    assert not verify_callback({**signed, "verify_hash": "ü" * 64}, key)


def test_coinpay_th_signature_vectors():
    # sha256("abc"), FIPS 180-2 appendix B.1: key "a" + nonce "b" + secret "c"
    assert (
        request_signature("a", "b", "c")
        == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )
    # checked with: printf '%s' sandbox-key1700000000000000sandbox-secret | sha256sum
    sig = "0094823e12073ebbc8779b9e48bf9ae24872b68070762b238d6db917bf4be17a"
    assert request_signature("sandbox-key", 1700000000000000, "sandbox-secret") == sig
    assert check_signature("sandbox-key", 1700000000000000, "sandbox-secret", sig)
    assert not check_signature("sandbox-key", 1700000000000001, "sandbox-secret", sig)
    assert auth_fields("sandbox-key", 1700000000000000, "sandbox-secret") == {
        "key": "sandbox-key",
        "nonce": "1700000000000000",
        "signature": sig,
    }
