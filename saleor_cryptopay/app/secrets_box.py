"""Secrets at rest: Saleor app tokens and provider credentials are stored
Fernet-encrypted with the key(s) from ``CRYPTOPAY_APP_SECRET_KEY``."""

from __future__ import annotations

import json

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class SecretKeyMissing(RuntimeError):
    pass


HOW_TO = (
    "Set CRYPTOPAY_APP_SECRET_KEY to a Fernet key, e.g. the output of: "
    'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
)


def _box() -> MultiFernet:
    keys = getattr(settings, "CRYPTOPAY_APP_SECRET_KEYS", None) or []
    if not keys:
        raise SecretKeyMissing("CRYPTOPAY_APP_SECRET_KEY is not set. " + HOW_TO)
    try:
        return MultiFernet([Fernet(k) for k in keys])
    except (ValueError, TypeError):
        raise SecretKeyMissing("CRYPTOPAY_APP_SECRET_KEY is not a Fernet key. " + HOW_TO) from None


def encrypt(value: str) -> str:
    return _box().encrypt(value.encode("utf-8")).decode("ascii")


def decrypt(token: str) -> str:
    try:
        return _box().decrypt(token.encode("ascii")).decode("utf-8")
    except InvalidToken:
        raise SecretKeyMissing(
            "A stored secret cannot be decrypted: CRYPTOPAY_APP_SECRET_KEY changed? "
            "List the old key after the new one to rotate."
        ) from None


def encrypt_json(values: dict) -> str:
    return encrypt(json.dumps(values))


def decrypt_json(token: str) -> dict:
    return json.loads(decrypt(token)) if token else {}
