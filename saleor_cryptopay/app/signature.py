"""Check a Saleor webhook signature: a detached RS256 JWS (RFC 7797,
``b64: false``) over the raw body, against a JWKS. Pure: no database, no
network (``jws.py`` adds the cached, refetched JWKS)."""

from __future__ import annotations

import jwt


def check(signature: str, body: bytes, jwks: dict) -> bool:
    if not signature or signature.count(".") != 2 or ".." not in signature:
        return False  # only the detached form is Saleor's
    try:
        header = jwt.get_unverified_header(signature)
        if header.get("alg") != "RS256":
            return False
        keys = jwt.PyJWKSet.from_dict(jwks).keys
    except jwt.PyJWTError:
        return False
    key = next((k for k in keys if k.key_id == header.get("kid")), None)
    if key is None:
        return False
    try:
        jwt.api_jws.decode_complete(
            signature, key=key.key, algorithms=["RS256"], detached_payload=body
        )
    except jwt.PyJWTError:
        return False
    return True
